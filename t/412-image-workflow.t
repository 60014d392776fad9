#!/usr/bin/perl

# The seed's image workflow (conf-examples/image-workflow.asl.json behind
# conf-examples/image-origin.conf) end to end through nginx, started by
# uploads: a JPEG and a PNG published at the origin with the seed's shapes
# and sizes; then the failure paths (truncated, not a picture, too large
# in bytes and in pixels, decompression bombs, too small, a watermark that
# fails after the resize): the Catch is taken, the job row is marked
# failed, the topic is told, the upload and the job's outputs are
# deleted, nothing is served, the workers live on.  Then the upload path
# made hostile: empty, a huge Content-Length, a slow body cut short, keys
# with "..", NUL and invalid UTF-8, the same key twice at once; and ten
# uploads at once.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use Fcntl qw(:flock);
use IO::Socket::INET;
use POSIX qw(_exit);
use Time::HiRes qw(time sleep);

Sfn::Test::need_ffmpeg();
Sfn::Test::need_postgres();

my $t = Sfn::Test->new;
my $dir = $t->dir;
my $root = $Sfn::Test::ROOT;

# the SNS topic's endpoint, which image-origin.conf's sfn_integration
# names: a webhook that logs each POST (line, headers, body) as a line of
# JSON

my $hooks = "$dir/notifications.log";
my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Proto => 'tcp', Listen => 16,
                                   ReuseAddr => 1)
    or die "listen: $!";
my $hook_port = $listen->sockport;

my $hook_pid = fork // die "fork: $!";
if ($hook_pid == 0) {
    while (my $c = $listen->accept) {
        my ($line, $h, $body) = Sfn::Test::read_request($c);
        next unless defined $line;
        open my $f, '>>', $hooks or _exit(1);
        flock $f, LOCK_EX;
        print $f $t->json->encode({ line => $line, headers => $h,
                                    body => $body }), "\n";
        close $f;
        print $c "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                 . "Content-Type: application/json\r\nConnection: close"
                 . "\r\n\r\n{}";
        close $c;
    }
    _exit(0);
}
close $listen;

END { kill 'TERM', $hook_pid if $hook_pid; }

sub notifications {
    open my $f, '<', $hooks or return ();
    local $/ = "\n";
    return map { my $r = $t->json->decode($_);
                 $r->{json} = eval { $t->json->decode($r->{body}) } // {};
                 $r } <$f>;
}

# the example as it is; a variant whose watermark fails after the resize
# (a watermark picture that is not there)

my $asl = $t->read_file("$root/conf-examples/image-workflow.asl.json");
$t->write_file('conf/image-workflow.asl.json', $asl);
my $broken = $asl;
$broken =~ s{("watermarkText": "Processed by Image Platform",)}
            {$1 "watermarkImage": "marks/missing.png",} or die "no text";
$t->write_file('conf/broken.asl.json', $broken);

# the conf's topic endpoint on the test's webhook

my $http = $t->example_http('image-origin.conf');
like($http, qr{sfn_integration \s+ arn:aws:sns:\*:\*:image-processing-errors
               \s+ http://127\.0\.0\.1:8025/image-processing-errors;}x,
     'the example sends its topic to a webhook by sfn_integration');
$http =~ s{(sfn_integration \s+ \S+ \s+ http://127\.0\.0\.1:)8025/}
          {$1$hook_port/}x or die "no sfn_integration";
$http =~ s{(sfn_state_machine image-workflow [^;]+;)}
          {$1\n    sfn_state_machine broken %%DIR%%/conf/broken.asl.json;};
$http =~ s{(location /upload/ \{)}
          {location /broken/ { sfn_upload source; sfn_trigger broken; }
        $1};
like($http, qr/sfn_trigger \s+ image-workflow \s+ suffix=\.jpg \s+
               suffix=\.jpeg \s+ suffix=\.png \s+ suffix=\.webp;/x,
     'the example triggers on image suffixes');

$t->start($http, workers => 2,
          main => "thread_pool sfn threads=2 max_queue=1024;\n");

my @workers = sort $t->nginx_workers;
my $src = "$dir/media/source";
my $out = "$dir/media/output";

# what SNS's HTTP delivery POSTs to a subscribed endpoint (no signature:
# there are no SNS keys here), and the MessageId the task returned

sub notification_is {
    my ($n, $arn, $name) = @_;
    is($n->{line}, "POST /image-processing-errors HTTP/1.1\r\n",
       "$name: POSTed to the endpoint's path");
    is(join(',', sort keys %{ $n->{json} }),
       'Message,MessageId,Subject,Timestamp,TopicArn,Type',
       "$name: SNS's notification, no more");
    is($n->{json}{Type}, 'Notification', "$name: Type Notification");
    like($n->{json}{Timestamp} // '',
         qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/,
         "$name: an ISO 8601 Timestamp");
    is($n->{headers}{'x-amz-sns-message-type'}, 'Notification',
       "$name: x-amz-sns-message-type");
    like($n->{json}{MessageId} // '',
         qr/^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/, "$name: a MessageId");
    is($n->{headers}{'x-amz-sns-message-id'}, $n->{json}{MessageId},
       "$name: x-amz-sns-message-id is the MessageId");
    my ($ok) = grep { $_->{type} eq 'TaskSucceeded'
                      && ($_->{taskSucceededEventDetails}{resource} // '')
                         eq 'publish' } @{ history($arn) };
    my $res = eval {
        $t->json->decode($ok->{taskSucceededEventDetails}{output}) } // {};
    is_deeply($res, { MessageId => $n->{json}{MessageId} },
              "$name: SendErrorNotification's result is SNS's {MessageId}");
}

sub put {
    my ($key, $body, $prefix) = @_;
    return $t->http('PUT', ($prefix // '/upload/') . $key, $body);
}

sub probe {
    my ($file) = @_;
    my $cmd = 'ffprobe -v error -select_streams v:0 -show_entries '
              . "stream=width,height -of csv=p=0 '$file' 2>/dev/null";
    my $v = `$cmd`;
    chomp $v;
    return $v =~ s/,/x/r;
}

sub history {
    my ($arn) = @_;
    my (undef, $h) = $t->aws_api('GetExecutionHistory',
                                 { executionArn => $arn, maxResults => 1000 });
    return $h->{events} // [];
}

# --- the happy path: a 2000x1500 JPEG

$t->ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=2000x1500', '-frames:v', 1,
           '-q:v', 3, "$dir/photo.jpg");
my $jpeg = $t->read_file('photo.jpg');

my $r = put('user-1/vacation-photo.jpg', $jpeg);
is($r->{status}, 201, 'upload of a JPEG accepted') or diag explain $r;
my $job = $r->{json}{jobId};
my $arn = $r->{json}{executionArn};
my $e = $t->wait_execution($job, 60);
is($e->{status}, 'SUCCEEDED', 'the image workflow SUCCEEDED')
    or diag explain $e;

is($t->states_entered($arn),
   'InitializeImage,ValidateImage,CheckValidationResult,ResizeImage,'
   . 'CheckResizeResult,ApplyWatermark,CheckWatermarkResult,PublishImages,'
   . 'ProcessingComplete', 'through the seed\'s states, and the publish');

my $o = $e->{output} // {};
is_deeply([@{$o}{qw(imageId userId s3Key fileName fileSize)}],
          [$job, 'user-1', 'user-1/vacation-photo.jpg', 'vacation-photo.jpg',
           length $jpeg], 'the seed\'s input, from the upload');
is_deeply([@{$o->{validationResult}{imageMetadata}}{qw(width height format
                                                       colorSpace)}],
          [2000, 1500, 'JPEG', 'sRGB'], 'validationResult.imageMetadata');
is_deeply($o->{validationResult}{validationDetails},
          { fileSizeValid => JSON::PP::true, formatValid => JSON::PP::true,
            dimensionsValid => JSON::PP::true },
          'validationResult.validationDetails');
is($o->{validationResult}{result}, 'valid', 'validationResult.result');
is($o->{resizeResult}{status}, 'completed', 'resizeResult.status');
is_deeply([map { "$_->{size} $_->{dimensions} $_->{s3Key}" }
           @{$o->{resizeResult}{resizedImages}}],
          ["small 800x600 processed/$job/vacation-photo-small.jpg",
           "medium 1200x900 processed/$job/vacation-photo-medium.jpg"],
          'resizeResult.resizedImages: size, dimensions, s3Key');
is_deeply([map { "$_->{size} $_->{s3Key} $_->{watermarkType} "
                 . "$_->{watermarkText}" }
           @{$o->{watermarkResult}{watermarkedImages}}],
          ["small processed/$job/vacation-photo-small-watermarked.jpg text "
           . 'Processed by Image Platform',
           "medium processed/$job/vacation-photo-medium-watermarked.jpg text "
           . 'Processed by Image Platform'],
          'watermarkResult.watermarkedImages');
is($o->{publishResult}{status}, 'PUBLISHED', 'published');

# served at the origin, each with the size and bytes the result names

for my $img (@{$o->{resizeResult}{resizedImages}},
             @{$o->{watermarkResult}{watermarkedImages}})
{
    my $g = $t->http('GET', "/images/$img->{s3Key}");
    is($g->{status}, 200, "$img->{s3Key}: 200 at the origin");
    is($g->{headers}{'content-type'}, 'image/jpeg', "$img->{s3Key}: a JPEG");
    is(length($g->{content}), $img->{fileSize},
       "$img->{s3Key}: the fileSize of the result");
    $t->write_file('got.jpg', $g->{content});
    is(probe("$dir/got.jpg"), $img->{dimensions}
                              // { small => '800x600',
                                   medium => '1200x900' }->{$img->{size}},
       "$img->{s3Key}: its dimensions");
}

# the history: the tasks scheduled with the seed's parameters, in order

my $h = history($arn);
my @sched = map { $_->{taskScheduledEventDetails}{resource} }
            grep { $_->{type} eq 'TaskScheduled' } @$h;
is_deeply(\@sched, ['image:validate', 'image:resize', 'image:watermark',
                     'origin:publish'],
          'four tasks scheduled') or diag explain \@sched;
my ($rs) = grep { $_->{type} eq 'TaskScheduled'
                  && $_->{taskScheduledEventDetails}{resource} eq 'image:resize' }
           @$h;
my $rp = eval { $t->json->decode($rs->{taskScheduledEventDetails}{parameters}) }
         // {};
is($rp->{outputPrefix}, "processed/$job/", 'resize writes in the job\'s '
                                           . 'directory');
is($h->[-1]{type}, 'ExecutionSucceeded', 'the history ends in success');
is($t->psql("SELECT status FROM sfn_jobs WHERE job_id = '$job'"),
   'PUBLISHED', 'the job row PUBLISHED');
ok(-s "$src/user-1/vacation-photo.jpg", 'the upload is kept');
is(scalar(() = notifications()), 0, 'no notification on success');

# a PNG with alpha comes out as PNGs

$t->ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=1000x800,format=rgba',
           '-frames:v', 1, "$dir/logo.png");
$r = put('user-2/logo.png', $t->read_file('logo.png'));
$e = $t->wait_execution($r->{json}{jobId}, 60);
is($e->{status}, 'SUCCEEDED', 'a PNG: SUCCEEDED') or diag explain $e;
my $pjob = $r->{json}{jobId};
my $g = $t->http('GET',
                 "/images/processed/$pjob/logo-small-watermarked.png");
is($g->{status}, 200, 'the watermarked PNG is served');
is($g->{headers}{'content-type'}, 'image/png', 'as image/png');
$t->write_file('got.png', $g->{content});
is(probe("$dir/got.png"), '750x600', 'fitted in 800x600, aspect kept');

# a WebP comes out as WebPs

$t->ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=1600x1200', '-frames:v', 1,
           '-c:v', 'libwebp', "$dir/shot.webp");
$r = put('user-2/shot.webp', $t->read_file('shot.webp'));
$e = $t->wait_execution($r->{json}{jobId}, 60);
is($e->{status}, 'SUCCEEDED', 'a WebP: SUCCEEDED') or diag explain $e;
$g = $t->http('GET', "/images/processed/$r->{json}{jobId}/"
                     . 'shot-medium-watermarked.webp');
is($g->{status}, 200, 'the watermarked WebP is served');
is($g->{headers}{'content-type'}, 'image/webp', 'as image/webp');

# --- the failure paths

$t->ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=10000x8000', '-frames:v', 1,
           '-q:v', 10, "$dir/huge.jpg");
$t->ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=32x32', '-frames:v', 1,
           "$dir/tiny.jpg");
$t->ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=64x48', '-frames:v', 1,
           "$dir/small.png");

# decompression bombs: a JPEG and a PNG whose headers say 65535 x 65535
# (4.3 G pixels) in a few kilobytes

my $bomb = $jpeg;
my $sof = index($bomb, "\xff\xc0");
substr($bomb, $sof + 5, 4) = pack('nn', 65535, 65535);
my $pbomb = $t->read_file('small.png');
substr($pbomb, 16, 8) = pack('NN', 65535, 65535);
substr($pbomb, 29, 4) = pack('N', crc32(substr($pbomb, 12, 17)));

sub crc32 {
    my ($s) = @_;
    my $c = 0xffffffff;
    for my $b (unpack 'C*', $s) {
        $c ^= $b;
        $c = ($c >> 1) ^ (0xedb88320 & -($c & 1)) for 1 .. 8;
    }
    return $c ^ 0xffffffff;
}

my @fail = (
    [ 'cut.jpg', substr($jpeg, 0, int(length($jpeg) / 2)),
      'ImageValidationError', qr/truncated JPEG/ ],
    [ 'notes.jpg', "not a picture at all\n" x 100,
      'ImageValidationError', qr/not a JPEG, PNG or WebP/ ],
    [ 'huge.jpg', $t->read_file('huge.jpg'),
      'ImageValidationError', qr/larger than 50000000 pixels/ ],
    [ 'heavy.jpg', $jpeg . ("\0" x (51 * 1024 * 1024)),
      'ImageValidationError', qr/more than the limit of 52428800/ ],
    [ 'bomb.jpg', $bomb,
      'ImageValidationError', qr/larger than 50000000 pixels/ ],
    [ 'bomb.png', $pbomb,
      'ImageValidationError', qr/larger than 50000000 pixels/ ],
    [ 'tiny.jpg', $t->read_file('tiny.jpg'), 'ImageInvalid', qr/64/ ],
);

my %hwm = map { ($_ => hwm($_)) } @workers;

sub hwm {
    my ($pid) = @_;
    my $s = $t->read_file("/proc/$pid/status") // '';
    return $s =~ /^VmHWM:\s+(\d+)/m ? $1 : 0;
}

# every failing upload of this file is put at once: each waits out the
# seed's Retry (2, 4 and 8 s) before its Catch, side by side

my %failing = map { ($_->[0] => put("user-3/$_->[0]", $_->[1])) } @fail;
my $late = put('user-4/late.jpg', $jpeg, '/broken/');
my $zero = put('user-5/zero.jpg', '');
my $dotdot = put('user-5/%2e%2e/up.jpg', 'abc');

for my $c (@fail) {
    my ($name, $body, $error, $cause) = @$c;
    $r = $failing{$name};
    is($r->{status}, 201, "$name: stored");
    my $fj = $r->{json}{jobId} // 'none';
    $e = $t->wait_execution($fj, 60);
    is($e->{status}, 'FAILED', "$name: the execution FAILED");
    is($e->{error}, $error, "$name: $error");
    like($e->{cause} // '', $cause, "$name: the cause says why")
        or diag explain $e;
    # the cleanup's two branches run in either order

    my $path = $t->states_entered($r->{json}{executionArn});
    $path =~ s/DeleteOutputs,DeleteUpload/DeleteUpload,DeleteOutputs/;
    is($path, 'InitializeImage,ValidateImage,'
              . ($error eq 'ImageInvalid'
                 ? 'CheckValidationResult,ImageRejected,' : '')
              . 'HandleValidationError,SendErrorNotification,'
              . 'CleanupOnError,DeleteUpload,DeleteOutputs,ProcessingFailed',
       "$name: caught, handled, notified, cleaned up");
    ok(!-e "$src/user-3/$name", "$name: the upload is deleted");
    ok(!-e "$out/processed/$fj", "$name: no output left");
    is($t->http('GET', "/images/processed/$fj/$name")->{status}, 404,
       "$name: nothing served");
    my $row = $t->psql("SELECT status || ' ' || (attributes->'errorInfo'"
                       . "->>'step') FROM sfn_jobs WHERE job_id = '$fj'");
    is($row, 'failed validation', "$name: the job row failed at validation");
    my ($n) = grep { ($_->{json}{Message} // '') =~ /\Q$fj\E/ }
              notifications();
    ok($n, "$name: the topic is told");
    is($n->{json}{Subject}, 'Image Processing Error', "$name: the subject");
    like($n->{json}{Message} // '',
         qr/^\QImage processing failed for image $fj at step validation.\E
            [ ]Error:[ ].*\Q$error\E/x,
         "$name: the seed's message");
    my (undef, undef, undef, $region, $account) =
        split /:/, $r->{json}{executionArn} // '';
    is($n->{json}{TopicArn},
       "arn:aws:sns:$region:$account:image-processing-errors",
       "$name: the seed's topic, by its ARN");
    notification_is($n, $r->{json}{executionArn}, $name);
}

for my $pid (@workers) {
    ok(hwm($pid) - $hwm{$pid} < 400 * 1024,
       "worker $pid: the bombs were refused before their pixels were "
       . "allocated (peak RSS grew by " . (hwm($pid) - $hwm{$pid}) . " kB)");
}

# a watermark that fails after the resize: the resized pictures are
# deleted, never served

$r = $late;
$job = $r->{json}{jobId};
$e = $t->wait_execution($job, 60);
is($e->{status}, 'FAILED', 'a failed watermark: FAILED');
like($t->states_entered($r->{json}{executionArn}),
     qr/ApplyWatermark,HandleWatermarkError,SendErrorNotification,CleanupOnError,/,
     'through HandleWatermarkError');
my @ev = @{ history($r->{json}{executionArn}) };
my ($del) = grep { $_->{type} eq 'TaskSucceeded'
                   && ($_->{taskSucceededEventDetails}{output} // '')
                      =~ /"prefix"/ } @ev;
my $dres = eval { $t->json->decode($del->{taskSucceededEventDetails}{output}) }
           // {};
is($dres->{deleted}, 2, 'the cleanup deleted the two resized pictures');
ok(!-e "$out/processed/$job", 'the job\'s directory is gone');
is($t->http('GET', "/images/processed/$job/late-small.jpg")->{status}, 404,
   'the resized picture was never served');
is($t->psql("SELECT attributes->'errorInfo'->>'step' FROM sfn_jobs "
            . "WHERE job_id = '$job'"), 'watermark',
   'the job row names the step');

# --- the upload path, hostile

# an empty object: stored, refused by validate

$r = $zero;
is($r->{status}, 201, 'empty upload stored');
$e = $t->wait_execution($r->{json}{jobId}, 60);
like($e->{cause} // '', qr/is empty/, 'empty: ImageValidationError')
    or diag explain $e;

sub raw {
    my ($req, $then) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port)
        or die "connect: $!";
    print $s $req;
    $then->($s) if $then;
    local $/;
    my $reply = <$s> // '';
    return $reply;
}

# 1 GB announced: refused before a byte of the body is read

my ($t0, $first, $took) = (time);
raw("PUT /upload/user-5/giga.jpg HTTP/1.1\r\nHost: x\r\n"
    . "Content-Length: 1073741824\r\nConnection: close\r\n\r\n"
    . "\xff\xd8\xff", sub { local $/ = "\r\n"; $first = readline $_[0];
                            $took = time - $t0;
                            # no more body: nginx's lingering close ends
                            shutdown $_[0], 1 });
like($first // '', qr{^HTTP/1.1 413 }, '1 GB claimed: 413');
ok($took < 2, 'at once, without waiting for the body');

# a slow body cut short: nothing stored, nothing started

my $reply = raw("PUT /upload/user-5/slow.jpg HTTP/1.1\r\nHost: x\r\n"
             . "Content-Length: 1000000\r\nConnection: close\r\n\r\n",
             sub {
                 my ($s) = @_;
                 for (1 .. 5) { print $s substr($jpeg, 0, 1000); sleep 0.2; }
                 shutdown $s, 1;
             });
sleep 0.5;
ok(!-e "$src/user-5/slow.jpg", 'a body cut short: no object');
my @temps = grep { -f } glob("$src/.sfn-upload/* $src/.sfn-upload*");
ok(!@temps, 'and no temporary file left') or diag("@temps");
ok(!-e "$src/user-5/giga.jpg", '1 GB claimed: no object');

# keys the bucket cannot hold

for my $c (['user-5/..%2f..%2fetc%2fx.jpg', '.. through %2f'],
           ['user-5/a%00b.jpg', 'a NUL'],
           ['user-5/%ff%fe.jpg', 'invalid UTF-8'],
           ['user-5/.sfn-upload.jpg', 'a name of ours'])
{
    my $res = raw("PUT /upload/$c->[0] HTTP/1.1\r\nHost: x\r\n"
                  . "Content-Length: 3\r\nConnection: close\r\n\r\nabc");
    like($res, qr{^HTTP/1.1 4\d\d }, "$c->[1]: refused with a 4xx");
    unlike($res, qr/"jobId"/, "$c->[1]: no execution");
}
ok(!-e "$dir/media/etc", 'nothing written outside the bucket');

# nginx resolves an escaped ".." before the key is taken: inside the bucket

$r = $dotdot;
is($r->{json}{key}, 'up.jpg', 'a %2e%2e segment: resolved by nginx, the key '
                              . 'stays in the bucket');
$e = $t->wait_execution($r->{json}{jobId} // 'none', 60);
is($e->{status}, 'FAILED', 'and its execution fails cleanly');
ok(!-e "$src/up.jpg", 'and is cleaned up');

# PUTs at once, each from a process of its own: the decoded replies

sub put_at_once {
    my (@keys) = @_;
    my @pids;
    for my $n (0 .. $#keys) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            $t->write_file("at-once.$n", put($keys[$n], $jpeg)->{content});
            _exit(0);
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
    return map { eval { $t->json->decode($t->read_file("at-once.$_")) } // {} }
           0 .. $#keys;
}

# the same key twice at once: both stored whole, both run

my @twice = put_at_once(('user-6/twice.jpg') x 2);
my @st = map { ($t->wait_execution($_->{jobId} // 'none', 60) // {})->{status}
               // 'none' } @twice;
is_deeply(\@st, ['SUCCEEDED', 'SUCCEEDED'], 'the same key twice at once: '
                                            . 'both SUCCEEDED');
for my $tw (@twice) {
    is($t->http('GET', "/images/processed/$tw->{jobId}/"
                       . 'twice-medium-watermarked.jpg')->{status},
       200, "$tw->{jobId}: served");
}

# ten uploads at once, the workers and threads shared

my @ten = put_at_once(map { "user-7/p$_.jpg" } 1 .. 10);
my %got = map { ($_->{jobId} // "none$_" =>
                 ($t->wait_execution($_->{jobId} // 'none', 120) // {})
                 ->{status} // 'none') } @ten;
is_deeply([sort values %got], [('SUCCEEDED') x 10],
          'ten uploads at once: all SUCCEEDED');
my $served = grep { $t->http('GET', "/images/processed/$ten[$_ - 1]{jobId}/"
                                    . "p$_-small-watermarked.jpg")->{status}
                    == 200 } 1 .. 10;
is($served, 10, 'and all served');

is_deeply([sort $t->nginx_workers], \@workers, 'the same workers throughout');

my $log = $t->read_file('logs/error.log') // '';
my @bad = grep { /\[(crit|alert|emerg)\]|exited on signal/ } split /\n/, $log;
ok(!@bad, 'no [crit] or [alert] in error.log') or diag(join "\n", @bad);

$t->stop;

done_testing;
