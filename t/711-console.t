# The console (sfn_console) in headless Chromium, behind auth_request and
# sfn_api_key: the key is asked for and a wrong one refused; thousands of
# executions listed a page at a time through the API's own paging and
# filter; a failed execution's states in the failure and caught colours;
# a running one that moves on and is stopped without a reload; the seed
# workflow drawn with every state, each coloured from its run; its job
# page playing the HLS with hls.js, with thumbnails, QC and probe figures;
# the history reader on made-up histories (retried, caught, nested
# Parallel).  Nothing is fetched from another host.  The files: only known
# names, no way out of the console's directory.  Screenshots are kept in
# t/artifacts/.  Chromium is Debian's; playwright-core is installed into
# t/.node at test time, without a browser download.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use File::Path qw(make_path);
use Time::HiRes qw(sleep time);

my $root = $Sfn::Test::ROOT;
my $chromium = $ENV{SFN_CHROMIUM} || '/usr/bin/chromium';

plan skip_all => "no Chromium at $chromium (Debian's chromium package)"
    unless -x $chromium;
Sfn::Test::need_ffmpeg();
Sfn::Test::need_postgres();

my $pw = Sfn::Test::need_npm('playwright-core');

my $t = Sfn::Test->new;
my $dir = $t->dir;
my $artifacts = "$root/t/artifacts";
make_path($artifacts);

$t->copy_example('video-workflow.asl.json');

$t->write_file('conf/failing.asl.json', <<'END');
{"StartAt": "Prepare",
 "States": {
  "Prepare": {"Type": "Pass", "Next": "Probe"},
  "Probe": {"Type": "Task", "Resource": "sfn:media:probe",
            "Parameters": {"bucket": "source", "key": "missing.mp4"},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1,
                       "MaxAttempts": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Cleanup",
                       "ResultPath": "$.error"}],
            "Next": "Never"},
  "Never": {"Type": "Succeed"},
  "Cleanup": {"Type": "Pass", "Next": "Broken"},
  "Broken": {"Type": "Fail", "Error": "Broken",
             "Cause": "the clip is missing"}}}
END

$t->write_file('conf/waiter.asl.json', <<'END');
{"StartAt": "Sleep",
 "States": {
  "Sleep": {"Type": "Wait", "Seconds": 4, "Next": "After"},
  "After": {"Type": "Pass", "Next": "Hold"},
  "Hold": {"Type": "Wait", "Seconds": 120, "End": true}}}
END

$t->write_file('conf/bulk.asl.json',
               '{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}');

make_path(map { "$dir/media/$_" } qw(source output archive));

my $key = 'console-test-key';
my @cookie = ('sfn_session', 'letmein');

$t->start($t->sfn_http(zone => '16m',
                       buckets => [ source => 'media/source',
                                    output => 'media/output',
                                    archive => 'media/archive' ],
                       machines => [ 'video-workflow' => 'video-workflow.asl.json',
                                     failing => 'failing.asl.json',
                                     waiter => 'waiter.asl.json',
                                     bulk => 'bulk.asl.json' ],
                       server => <<"END"), workers => 2);
client_max_body_size 100m;
sfn_api_key $key;

# every location behind the gate but the gate itself
auth_request /auth;

location = /auth {
    internal;
    auth_request off;
    if (\$cookie_$cookie[0] = "$cookie[1]") {
        return 204;
    }
    return 401;
}

location /upload/      { sfn_upload source;
                         sfn_trigger video-workflow suffix=.mp4; }
location /executions/  { sfn_api; }
location = /           { client_max_body_size 2m; sfn_aws_api; }
location /vod/         { sfn_origin output; }
location /console/     { sfn_console; }
END

my %auth = ('X-Api-Key' => $key, Cookie => "$cookie[0]=$cookie[1]");

sub aws {
    my ($op, $body) = @_;
    return $t->aws_api($op, $body, \%auth);
}

# the gate and the files, by plain HTTP

my $r = $t->http('GET', '/console/');
is($r->{status}, 401, 'auth_request guards the console');
$r = $t->http('GET', '/console/', undef, \%auth);
is($r->{status}, 200, 'the page behind the gate');
like($r->{headers}{'content-type'}, qr{^text/html}, 'as HTML');
like($r->{headers}{'content-security-policy'} // '', qr/default-src 'self'/,
     'with a policy that allows nothing from elsewhere');
$r = $t->http('GET', '/console/config.json', undef, \%auth);
is($r->{content}, '{"awsApi":"/","api":"/executions/","origin":"/vod/"}',
   'config.json names the APIs');
$r = $t->http('GET', '/console/vendor/hls.light.min.js', undef, \%auth);
ok($r->{status} == 200 && length $r->{content} > 100000,
   'hls.js served from the module\'s files');
for my $bad ('.git/config', 'vendor/README.md', 'app.js/', '%2e%2e/config',
             'vendor/%2e%2e/%2e%2e/t/711-console.t', 'a%00.js', 'a%0a.js',
             '.hidden.js', 'vendor/.x.js', 'x' x 5000 . '.js', "\xff.js")
{
    $r = $t->http('GET', "/console/$bad", undef, \%auth);
    like($r->{status}, qr/^40[04]$/, "no file for /console/"
                                     . (length $bad > 60 ? 'x{5000}.js'
                                                         : $bad));
}
$r = $t->http('POST', '/console/index.html', 'x', \%auth);
is($r->{status}, 405, 'POST not allowed');
$r = $t->http('HEAD', '/console/app.js', undef, \%auth);
ok($r->{status} == 200 && !length $r->{content}, 'HEAD');
$r = $t->http('GET', '/console/app.js', undef,
              { %auth, 'If-None-Match' => $r->{headers}{etag} });
is($r->{status}, 304, 'revalidated by ETag');

# thousands of executions of "bulk", one in ten failed

$t->psql("INSERT INTO sfn_executions (arn, name, state_machine, type, "
         . "status, input, output, start_date, stop_date) "
         . "SELECT 'arn:aws:states:us-east-1:000000000000:execution:bulk:b'"
         . " || g, 'b' || g, 'bulk', 'STANDARD', CASE WHEN g % 10 = 0 THEN "
         . "'FAILED' ELSE 'SUCCEEDED' END, '{}', '{}', "
         . "now() - g * interval '1 s', "
         . "now() - g * interval '1 s' + interval '5 ms' "
         . "FROM generate_series(1, 3000) g");

# the seed workflow on a short clip, a failing run, a waiting one

$t->lavfi_clip("$dir/clip.mp4", size => '320x180', duration => 1);
$r = $t->http('PUT', '/upload/clip.mp4', $t->read_file('clip.mp4'), \%auth);
is($r->{status}, 201, 'clip uploaded');
my $seed = $r->{json}{executionArn};

my ($st, $failed) = aws('StartExecution', {
    stateMachineArn => 'arn:aws:states:us-east-1:000000000000:stateMachine:'
                       . 'failing', input => '{}' });
$failed = $failed->{executionArn};
my $e = $t->wait_execution($failed, 30, '/executions/', \%auth);
is($e->{status}, 'FAILED', 'the failing run FAILED');


# made-up histories for the reader: retried then succeeded, a branch
# failure caught by its Parallel, a Map iterated

my @outcome_rows = (
    { definition => { StartAt => 'T', States => {
          T => { Type => 'Task', Resource => 'x', End => \1 } } },
      status => 'SUCCEEDED',
      events => [
          { id => 1, previousEventId => 0, type => 'ExecutionStarted' },
          { id => 2, previousEventId => 1, type => 'TaskStateEntered',
            stateEnteredEventDetails => { name => 'T', input => '{}' } },
          { id => 3, previousEventId => 2, type => 'TaskScheduled' },
          { id => 4, previousEventId => 3, type => 'TaskFailed',
            taskFailedEventDetails => { error => 'E' } },
          { id => 5, previousEventId => 4, type => 'TaskScheduled' },
          { id => 6, previousEventId => 5, type => 'TaskSucceeded' },
          { id => 7, previousEventId => 6, type => 'TaskStateExited',
            stateExitedEventDetails => { name => 'T', output => '{}' } },
      ],
      expect => { T => 'retried' } },
    { definition => { StartAt => 'P', States => {
          P => { Type => 'Parallel', Next => 'Ok',
                 Catch => [ { ErrorEquals => ['States.ALL'],
                              Next => 'Handle' } ],
                 Branches => [
                     { StartAt => 'A', States => {
                         A => { Type => 'Pass', End => \1 } } },
                     { StartAt => 'B', States => {
                         B => { Type => 'Task', Resource => 'x',
                                End => \1 } } } ] },
          Ok => { Type => 'Succeed' },
          Handle => { Type => 'Pass', End => \1 } } },
      status => 'RUNNING',
      events => [
          { id => 1, previousEventId => 0, type => 'ExecutionStarted' },
          { id => 2, previousEventId => 1, type => 'ParallelStateEntered',
            stateEnteredEventDetails => { name => 'P' } },
          { id => 3, previousEventId => 2, type => 'ParallelStateStarted' },
          { id => 4, previousEventId => 3, type => 'PassStateEntered',
            stateEnteredEventDetails => { name => 'A' } },
          { id => 5, previousEventId => 4, type => 'PassStateExited',
            stateExitedEventDetails => { name => 'A' } },
          { id => 6, previousEventId => 3, type => 'TaskStateEntered',
            stateEnteredEventDetails => { name => 'B' } },
          { id => 7, previousEventId => 6, type => 'TaskScheduled' },
          { id => 8, previousEventId => 7, type => 'TaskFailed',
            taskFailedEventDetails => { error => 'Boom' } },
          { id => 9, previousEventId => 8, type => 'ParallelStateFailed' },
          { id => 10, previousEventId => 9, type => 'PassStateEntered',
            stateEnteredEventDetails => { name => 'Handle' } },
      ],
      expect => { P => 'caught', A => 'succeeded', B => 'failed',
                  Handle => 'running' } },
    { definition => { StartAt => 'M', States => {
          M => { Type => 'Map', End => \1,
                 ItemProcessor => { StartAt => 'I', States => {
                     I => { Type => 'Task', Resource => 'x',
                            End => \1 } } } } } },
      status => 'FAILED',
      events => [
          { id => 1, previousEventId => 0, type => 'ExecutionStarted' },
          { id => 2, previousEventId => 1, type => 'MapStateEntered',
            stateEnteredEventDetails => { name => 'M' } },
          { id => 3, previousEventId => 2, type => 'MapStateStarted' },
          { id => 4, previousEventId => 3, type => 'MapIterationStarted' },
          { id => 5, previousEventId => 4, type => 'TaskStateEntered',
            stateEnteredEventDetails => { name => 'I' } },
          { id => 6, previousEventId => 5, type => 'TaskSucceeded' },
          { id => 7, previousEventId => 6, type => 'TaskStateExited',
            stateExitedEventDetails => { name => 'I' } },
          { id => 8, previousEventId => 7, type => 'MapIterationSucceeded' },
          { id => 9, previousEventId => 3, type => 'MapIterationStarted' },
          { id => 10, previousEventId => 9, type => 'TaskStateEntered',
            stateEnteredEventDetails => { name => 'I' } },
          { id => 11, previousEventId => 10, type => 'TaskFailed',
            taskFailedEventDetails => { error => 'E' } },
          { id => 12, previousEventId => 11, type => 'MapIterationFailed' },
          { id => 13, previousEventId => 12, type => 'MapStateFailed' },
          { id => 14, previousEventId => 13, type => 'ExecutionFailed' },
      ],
      expect => { M => 'failed', I => 'failed' } },
);

my $plan = {
    playwright => "$pw/index.mjs",
    chromium => $chromium,
    base => 'http://127.0.0.1:' . $t->port,
    cookie => \@cookie,
    key => $key,
    artifacts => $artifacts,
    bulk => 'arn:aws:states:us-east-1:000000000000:stateMachine:bulk',
    failed => $failed,
    failState => 'Broken',
    caughtState => 'Probe',
    waiter => 'arn:aws:states:us-east-1:000000000000:stateMachine:waiter',
    runningLater => 'Hold',
    seed => $seed,
    seedTimeout => 180000,
    outcomeRows => [ map { { %$_{qw(definition status events)} } }
                     @outcome_rows ],
};

$t->write_file('plan.json', $t->json->encode($plan));

my $t0 = time;
my $json = `node '$root/t/lib/console-driver.mjs' '$dir/plan.json'`;
my $secs = time - $t0;
my $o = eval { $t->json->decode($json) } // { errors => [ "no JSON: $json" ] };
diag(sprintf 'the browser part took %.1f s (%s)', $secs,
     join ', ', map { "$_->[0] $_->[1] ms" } @{ $o->{steps} // [] });

is_deeply($o->{errors}, [], 'no page or driver errors')
    or diag(explain $o->{errors});
is_deeply($o->{external}, [], 'nothing requested from another host');

ok($o->{keyAsked}, 'the key was asked for');
ok($o->{wrongKeyRefused}, 'a wrong key refused');
my @reqs = @{ $o->{requests} // [] };
shift @reqs while @reqs && ($reqs[0]{key} // '') ne $key;
ok(@reqs > 10 && !grep({ ($_->{key} // '') ne $key } @reqs),
   'once given, the key goes with every API call');
is_deeply([ sort @{ $o->{machines} // [] } ],
          [ sort qw(video-workflow failing waiter bulk) ],
          'the state machines listed');

# paging: 50 a page through the API's token, never the whole list

is(scalar @{ $o->{bulkPage1} // [] }, 50, 'first page: 50 executions');
is(scalar @{ $o->{bulkPage2} // [] }, 50, 'second page: 50 more');
my %p1 = map { $_->[0] => 1 } @{ $o->{bulkPage1} // [] };
ok(!grep({ $p1{ $_->[0] } } @{ $o->{bulkPage2} // [] }),
   'the second page holds others');
is($o->{bulkPage1}[0][0],
   'arn:aws:states:us-east-1:000000000000:execution:bulk:b1',
   'newest first');
my @lists = grep { $_->{target} =~ /ListExecutions/ } @{ $o->{requests} };
ok(@lists && !grep({ ($t->json->decode($_->{body})->{maxResults} // 0) > 100 }
                   @lists), 'each list asks for a page, never more')
    or diag(explain \@lists);
ok(grep({ $t->json->decode($_->{body})->{nextToken} } @lists),
   'the next page through nextToken');
ok(@{ $o->{bulkFailed} // [] } == 50
   && !grep({ $_->[1] ne 'FAILED' } @{ $o->{bulkFailed} }),
   'filter FAILED: only failed executions');
cmp_ok($o->{$_} // 1e9, '<', 3000, "$_ under 3 s among 3000")
    for qw(bulkFirstMs bulkNextMs bulkFailedMs);

# the failed execution

is_deeply($o->{failedStatuses},
          { Prepare => 'succeeded', Probe => 'caught', Never => 'not-started',
            Cleanup => 'succeeded', Broken => 'failed' },
          'failed execution: each state coloured from its history')
    or diag(explain $o->{failedStatuses});
is($o->{failColour}, 'rgb(239, 68, 68)', 'the failed state in red');
like($o->{statePanel} // '', qr/States\.|missing/,
     "a state's panel shows its error");

# the running one, without a reload

is($o->{runningFirst}{Sleep}, 'running', 'the waiting state runs');
is($o->{runningLater}{Sleep}, 'succeeded', 'then succeeds');
is($o->{runningLater}{After}, 'succeeded', 'the next one too');
is($o->{runningLater}{Hold}, 'running', 'the third runs');
ok($o->{liveShown}, 'the page says it is live');
is($o->{afterStop}{Hold}, 'failed', 'stopped: its state ends failed');
is($o->{sameDocument}, 'yes', 'all of it without a reload');
ok(grep({ $_ eq 'ExecutionAborted' } @{ $o->{eventTypes} // [] }),
   'the event table shows the abort');
$e = $t->wait_execution($o->{running} // 'none', 10, '/executions/',
                       \%auth);
is($e->{status}, 'ABORTED', 'started from the console, stopped by its button');
is($e->{input}{from}, 'the console', 'with the input given');

# the seed workflow: every state of the definition in the graph

my $def = $t->json->decode($t->read_file('conf/video-workflow.asl.json'));
my @names;
my $walk;
$walk = sub {
    my ($m) = @_;
    for my $n (keys %{ $m->{States} }) {
        push @names, $n;
        $walk->($_) for @{ $m->{States}{$n}{Branches} // [] };
    }
};
$walk->($def);
is_deeply([ sort keys %{ $o->{seedStatuses} // {} } ], [ sort @names ],
          'the graph shows every state of the seed workflow');
my %want = map { $_ => 'succeeded' } qw(InitializeJob RecordJobStart
    ParallelProcessing ExtractMetadata TranscodeVideo ProcessingComplete
    QualityControl QualityDecision PublishContent ArchiveSource
    WorkflowSuccess);
$want{$_} = 'not-started'
    for qw(HandleProcessingFailure QualityControlFailed WorkflowFailure);
is_deeply($o->{seedStatuses}, \%want, 'coloured from its run')
    or diag(explain $o->{seedStatuses});

# the job page

cmp_ok($o->{video}{currentTime} // 0, '>', 0.5, 'the player plays');
ok(($o->{video}{width} // 0) > 0, 'a picture: '
   . ($o->{video}{width} // 0) . 'x' . ($o->{video}{height} // 0));

# what the run published: its frame captures (the sprite sheet, the image
# of the WebVTT track, apart) and its renditions, the MP4s and the
# variants of the master playlist

$e = $t->wait_execution($seed, 10, '/executions/', \%auth);
my $play = $e->{output}{playback} // {};
(my $sheet = $play->{thumbnailsVtt} // '') =~ s/\.vtt$/.jpg/;
my @captures = grep { $_ ne $sheet && $_ ne ($play->{sprite} // '') }
               @{ $play->{thumbnails} // [] };
$r = $t->http('GET', $play->{hls} // '/vod/none.m3u8', undef, \%auth);
my $variants = () = ($r->{content} // '') =~ /^#EXT-X-STREAM-INF:/mg;
my $renditions = @{ $play->{mp4} // [] } + $variants;
ok(@captures && $variants, 'published: ' . scalar(@captures)
   . " captures, $renditions renditions");

my @thumbs = @{ $o->{thumbnails} // [] };
ok(@thumbs == @captures && !grep({ !$_ } @thumbs),
   'thumbnails load (' . scalar(@thumbs) . ')');
# the QC table measures pictures: a row per rendition with video (the
# audio-only variant of the ladder has none)
my $pictures = @{ $play->{mp4} // [] }
               + (() = ($r->{content} // '')
                        =~ /^#EXT-X-STREAM-INF:[^\n]*RESOLUTION=/mg);
my @qc = @{ $o->{qc} // [] };
is(scalar @qc, $pictures, "QC: a row per rendition with video ($pictures)");
is($o->{poster} // '', $play->{poster} // 'a poster', 'the player\'s poster');
ok(!grep({ $_->{psnr} !~ /^\d+\.\d\d dB$/ || $_->{ssim} !~ /^0\.\d{4}|1\.0+$/
           || $_->{bitrate} !~ /Mb\/s$/ } @qc),
   'PSNR, SSIM and bitrate of each') or diag(explain \@qc);
like($o->{probe}{duration} // '', qr/^1(\.\d+)? s$/, 'the source probed');
like($o->{probe}{width} // '', qr/^320\D+180$/, 'its resolution');

# the reader on made-up histories

for my $i (0 .. $#outcome_rows) {
    is_deeply($o->{outcomes}[$i], $outcome_rows[$i]{expect},
              "history reader, case $i");
}

ok(-s "$artifacts/console-$_.png", "screenshot $_ kept")
    for qw(machines executions execution-failed execution-running
           execution-seed job);

$t->stop;
done_testing;
