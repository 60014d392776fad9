# Watch it in seconds: the seed's video workflow with the progressive
# publish.  While the transcode runs, the origin serves each rung's
# segments and EVENT playlists and the master, and hls.js in headless
# Chromium plays them and switches rungs; after QC the same URLs are VOD
# and the execution output and the job row name what answers.  A failed QC,
# a stopped execution and a preview marker of an execution that does not
# run withdraw the preview (404); a workflow without "Preview" shows
# nothing before publish.  Hostile: other jobs, traversal, our temporary
# names, concurrent requests while segments are written.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use POSIX ();
use Time::HiRes qw(time sleep);

Sfn::Test->need_ffmpeg;
Sfn::Test->need_postgres;

my $t = Sfn::Test->new;
my $dir = $t->dir;
my $root = $Sfn::Test::ROOT;

# the browser: Debian's chromium, hls.js and puppeteer-core from npm into
# t/.node (gitignored), as t/602 does for the AWS SDK

my $node_dir = "$root/t/.node";
my $chromium = $ENV{SFN_CHROMIUM} // '/usr/bin/chromium';
my $browser = '';

if (!-x $chromium) {
    $browser = "chromium is not installed ($chromium; tools/install-deps)";

} elsif (system('node -v >/dev/null 2>&1') != 0) {
    $browser = 'node is not installed';

} else {
    if (!-d "$node_dir/node_modules/hls.js"
        || !-d "$node_dir/node_modules/puppeteer-core")
    {
        system("npm install --no-save --no-package-lock --no-audit "
               . "--no-fund --prefix '$node_dir' hls.js puppeteer-core "
               . ">/dev/null 2>&1");
    }

    $browser = 'npm install hls.js puppeteer-core failed (no registry?)'
        unless -d "$node_dir/node_modules/hls.js"
               && -d "$node_dir/node_modules/puppeteer-core";
}

sub play {
    my ($url) = @_;
    local $ENV{SFN_NODE_DIR} = $node_dir;
    local $ENV{SFN_CHROMIUM} = $chromium;
    my $out = `timeout 240 node '$root/t/lib/hls-play.mjs' '$url' 2>&1`;
    my ($json) = $out =~ /^(\{.*\})\s*$/m;
    my $r = eval { $t->json->decode($json // '') };
    diag("the player: $out") unless $r;
    return $r // {};
}

$t->copy_example('video-workflow.asl.json');

my $wf = $t->read_file('conf/video-workflow.asl.json');

(my $strict = $wf) =~ s/"minPsnr":\s*30/"minPsnr": 1000/ or die;
$t->write_file('conf/strict.asl.json', $strict);

(my $noprev = $wf) =~ s/"Preview":\s*true/"Preview": false/ or die;
$t->write_file('conf/noprev.asl.json', $noprev);

my $conf = $t->read_file("$root/conf-examples/video-origin.conf");
my ($http) = $conf =~ /^http \{\n(.*)^\}/ms or die "no http block";
$http =~ s/\@PREFIX\@/%%DIR%%/g;
$http =~ s/\@PORT\@/%%PORT%%/g;
$http =~ s/\@DATABASE\@/%%DATABASE%%/g;
$http =~ s{(sfn_state_machine video-workflow [^;]+;)}
          {$1
    sfn_state_machine strict %%DIR%%/conf/strict.asl.json;
    sfn_state_machine noprev %%DIR%%/conf/noprev.asl.json;};
$http =~ s{(location /upload/ \{)}
          {location /strict/ { sfn_upload source; sfn_trigger strict; }
        location /noprev/ { sfn_upload source; sfn_trigger noprev; }
        $1};
$http =~ s/access_log logs\/access.log;//;

$t->start($http, workers => 2,
          main => "thread_pool sfn threads=2 max_queue=1024;\n");

my $port = $t->port;
my $out = "$dir/media/output";

# polls the origin until path answers 200 while the execution runs:
# (the reply, the execution's state then)

sub preview_of {
    my ($job, $path, $timeout) = @_;
    my $end = time + ($timeout // 600);
    while (time < $end) {
        my $r = $t->http('GET', $path);
        return ($r, 'RUNNING') if $r->{status} == 200;
        my $e = $t->http('GET', "/executions/$job")->{json} // {};
        return ($r, $e->{status}) if ($e->{status} // '') ne 'RUNNING';
        sleep 0.05;
    }
    return (undef, 'TIMEOUT');
}

sub uris {
    my ($text) = @_;
    return grep { length && !/^#/ } split /\r?\n/, $text // '';
}

# The rungs the HLS group's AbrSettings give a w x h source, top down, by
# MediaConvert's rules as the module applies them: the source's shorter
# side (at most 2160) and the usual ones more than 15 % below it; a rung's
# rate MaxAbrBitrate * (pixels / 1080p) ** 0.75, at most MaxAbrBitrate; the
# ladder stops at the first under MinAbrBitrate; MaxRenditions keeps the
# top, the bottom and evenly spaced ones between.  As "WxH".

sub ladder {
    my ($w, $h) = @_;
    my $def = $t->json->decode($wf);
    my ($abr) = map { $_->{AutomatedEncodingSettings}{AbrSettings} // () }
        @{ $def->{States}{ParallelProcessing}{Branches}[1]{States}
               {TranscodeVideo}{Parameters}{Settings}{OutputGroups} };
    my ($max, $min, $most) = ($abr->{MaxAbrBitrate} // 8e6,
                              $abr->{MinAbrBitrate} // 6e5,
                              $abr->{MaxRenditions} // 15);
    my ($s, $l) = $w < $h ? ($w, $h) : ($h, $w);
    my @cand = (($s > 2160 ? 2160 : $s) & ~1);
    push @cand, grep { $_ * 1.15 < $cand[0] } 1440, 1080, 720, 540, 360, 234;
    my @rungs;
    for my $c (@cand) {
        my $lw = int($c * $l / $s + 0.5) & ~1;
        my $rate = $max * ($lw * $c / (1920 * 1080)) ** 0.75;
        last if $rate < $min && @rungs;
        push @rungs, $w < $h ? "${c}x$lw" : "${lw}x$c";
    }
    my $m = @rungs < $most ? @rungs : $most;
    return map { $rungs[ $m == 1 ? 0 : int($_ * $#rungs / ($m - 1) + 0.5) ] }
           0 .. $m - 1;
}

# the master's variants by RESOLUTION, in order: a middle rung first, as
# players start with the first, then the others from the top down

sub master_order {
    my @r = @_;
    my ($mid) = splice @r, @r / 2, 1;
    return ($mid, @r);
}

sub resolutions {
    my ($text) = @_;
    return join ',', ($text // '') =~ /^#EXT-X-STREAM-INF:.*?RESOLUTION=(\d+x\d+)/mg;
}

# a 40 s 1080p clip: the transcode outlasts the first segment of each rung

$t->lavfi_clip("$dir/clip.mp4", size => '1920x1080', duration => 40,
               args => [ '-crf', 23 ]);
my @rungs = ladder(1920, 1080);
my $order = join ',', master_order(@rungs);
my $heights = join ',', sort map { (split /x/)[1] } @rungs;
diag("the ladder for 1920x1080: @rungs");

my $t0 = time;
my $r = $t->http('PUT', '/upload/clip.mp4', $t->read_file('clip.mp4'));
my $put = time;
is($r->{status}, 201, 'upload accepted');
my $job = $r->{json}{jobId};
my $arn = $r->{json}{executionArn};

my ($m, $state) = preview_of($job, "/vod/hls/$job/clip.m3u8");
my $first = time - $put;
is($state, 'RUNNING', 'the master answers while the execution runs')
    or BAIL_OUT('no preview');
diag(sprintf 'first playable %.1f s after the PUT', $first);

like($m->{headers}{'cache-control'}, qr/no-cache/,
     'a preview is revalidated by caches');
my @variants = uris($m->{content});
ok(@rungs > 1, 'a ladder of ' . scalar(@rungs) . ' rungs');
is(scalar @variants, @rungs + 1,
   'the preview master lists every rung and the audio-only rendition')
    or diag($m->{content});
like($m->{content}, qr/CODECS="mp4a\.40\.2"\n[^\n]*_hls_audio\.m3u8\n\z/,
     'the audio-only rendition last, AAC only');
is(resolutions($m->{content}), $order,
   'every rung in it, the middle one first');

my $live = 0;
for my $v (@variants) {
    my $pl = $t->http('GET', "/vod/hls/$job/$v");
    is($pl->{status}, 200, "$v answers");
    like($pl->{content}, qr/#EXT-X-PLAYLIST-TYPE:EVENT/, "$v is an EVENT")
        or diag($pl->{content});
    $live++ if $pl->{content} !~ /#EXT-X-ENDLIST/;
    my @segs = uris($pl->{content});
    ok(@segs >= 1, "$v has a segment");
    for my $s (@segs) {
        my $sr = $t->http('GET', "/vod/hls/$job/$s");
        is($sr->{status}, 200, "$s answers");
        is(length $sr->{content}, -s "$out/hls/$job/$s", "$s is whole");
    }
}
is($live, scalar @variants, 'all are still being written (no ENDLIST)');
ok(-e "$out/.sfn-published/$job.preview", 'the preview marker');
ok(!-e "$out/.sfn-published/$job.json", 'not published yet');

# hostile: another job, traversal, our own names, other methods

my @hostile = (
    "/vod/hls/not-$job/clip.m3u8",
    "/vod/hls/$job/../../.sfn-published/$job.preview",
    "/vod/hls/$job/%2e%2e/%2e%2e/.sfn-published/$job.preview",
    "/vod/.sfn-published/$job.preview",
    "/vod/hls/$job/.sfn-tmp-clip.m3u8.XXXXXX",
    "/vod/hls/.sfn-published/$job.preview",
    "/vod/hls/$job",
);
for my $p (@hostile) {
    is($t->http('GET', $p)->{status}, 404, "GET $p: 404");
}
is($t->http('PUT', "/vod/hls/$job/x.ts", 'x')->{status}, 405,
   'PUT at the origin: 405');

# concurrent readers while segments are written: every segment a player
# can see is whole

my @kids;
for my $k (1 .. 4) {
    my $pid = fork // die;
    if ($pid == 0) {
        my $bad = 0;
        for (1 .. 20) {
            # the newest segment a playlist names, the one being written
            my $pl = $t->http('GET', "/vod/hls/$job/$variants[$k % @variants]");
            my ($s) = reverse uris($pl->{content});
            my $sr = $t->http('GET', "/vod/hls/$job/$s");
            # a TS segment is whole: 188-byte packets, sync bytes
            $bad++ if $sr->{status} != 200
                      || length($sr->{content}) % 188
                      || substr($sr->{content}, 0, 1) ne "\x47";
            sleep 0.2;
        }
        POSIX::_exit($bad ? 1 : 0);
    }
    push @kids, $pid;
}

# hls.js plays the preview while the transcode runs

SKIP: {
    skip $browser, 9 if $browser;

    my $p = play("http://127.0.0.1:$port/vod/hls/$job/clip.m3u8");
    ok($p->{parsed}, 'hls.js parses the preview master');
    is(scalar @{ $p->{levels} // [] }, scalar @rungs,
       'hls.js reports every rung');
    is(join(',', sort map { $_->{height} } @{ $p->{levels} // [] }),
       $heights, "the rungs: $heights");
    ok($p->{live}, 'it saw the playlist while it was being written');
    ok($p->{started}, 'playback starts');
    ok(($p->{advanced} // 0) > 0.3, 'currentTime advances')
        or diag(explain $p);
    ok($p->{switched}, "the player switched rung ($p->{from} -> $p->{to})")
        or diag(explain $p);
    ok(($p->{advancedAfterSwitch} // 0) > 0.3, 'and plays on');
    is($p->{fatal}, undef, 'no fatal error') or diag(explain $p);
}

for my $pid (@kids) {
    waitpid $pid, 0;
    is($?, 0, "concurrent reader $pid saw only whole segments");
}

# published: VOD, the URLs of the output and of the job row answer

my $e = $t->wait_execution($job, 900);
is($e->{status}, 'SUCCEEDED', 'the workflow SUCCEEDED') or diag(explain $e);
diag(sprintf 'PUT -> SUCCEEDED %.1f s', time - $put);

my $pb = $e->{output}{playback} // {};
is($pb->{hls}, "/vod/hls/$job/clip.m3u8", 'the output names the master');
is(scalar @{ $pb->{mp4} // [] }, 2, 'and both MP4s');
ok(@{ $pb->{thumbnails} // [] } >= 1, 'and the thumbnails');
my @urls = ($pb->{hls}, @{ $pb->{mp4} // [] }, @{ $pb->{thumbnails} // [] },
            $pb->{poster}, $pb->{thumbnailsVtt}, $pb->{sprite});
for my $u (grep { defined } @urls) {
    is($t->http('GET', $u)->{status}, 200, "$u answers");
}

my $row = $t->psql("SELECT attributes->'OutputLocations' FROM sfn_jobs "
                   . "WHERE job_id = '$job'");
my $loc = eval { $t->json->decode($row) } // {};
is_deeply($loc, $pb, 'the job row carries the same URLs');

ok(!-e "$out/.sfn-published/$job.preview", 'the preview marker is gone');
ok(-e "$out/.sfn-published/$job.json", 'published');

$m = $t->http('GET', "/vod/hls/$job/clip.m3u8");
like($m->{headers}{'cache-control'}, qr/max-age=60/, 'a published master');
is(resolutions($m->{content}), $order,
   'every rung in the published master, the middle one first');
my @iframes = $m->{content} =~ /#EXT-X-I-FRAME-STREAM-INF:[^\n]*URI="([^"]+)"/g;
is(join(',', sort $m->{content} =~
            /#EXT-X-I-FRAME-STREAM-INF:[^\n]*RESOLUTION=(\d+x\d+)/g),
   join(',', sort @rungs), 'an I-frame playlist per rung');

for my $v (uris($m->{content}), @iframes) {
    my $pl = $t->http('GET', "/vod/hls/$job/$v");
    like($pl->{content}, qr/#EXT-X-PLAYLIST-TYPE:VOD\n/, "$v is VOD");
    like($pl->{content}, qr/#EXT-X-ENDLIST\s*\z/, "$v ends");
}

# each I-frame range starts on a TS packet holding a key frame's PES

my $ifr = $t->http('GET', "/vod/hls/$job/$iframes[0]")->{content} // '';
my ($len, $off, $seg) = $ifr =~ /#EXT-X-BYTERANGE:(\d+)\@(\d+)\n(\S+)/;
my $sr = $t->http('GET', "/vod/hls/$job/$seg", undef,
                  { Range => "bytes=$off-" . ($off + $len - 1) });
is($sr->{status}, 206, 'an I-frame range is served');
is(length $sr->{content}, $len, 'whole');
is(length($sr->{content}) % 188, 0, 'in TS packets');

SKIP: {
    skip $browser, 5 if $browser;

    my $p = play("http://127.0.0.1:$port/vod/hls/$job/clip.m3u8");
    is(join(',', sort map { $_->{height} } @{ $p->{levels} // [] }),
       $heights, 'published: every rung');
    ok(defined $p->{live} && !$p->{live}, 'a VOD now');
    ok($p->{started} && ($p->{advanced} // 0) > 0.3, 'it plays');
    ok($p->{switched}, 'and switches rung') or diag(explain $p);
    is($p->{fatal}, undef, 'no fatal error') or diag(explain $p);
}

# a failed QC withdraws the preview

$t->lavfi_clip("$dir/short.mp4", size => '1280x720', duration => 14);
$r = $t->http('PUT', '/strict/short.mp4', $t->read_file('short.mp4'));
my $qjob = $r->{json}{jobId};
($m, $state) = preview_of($qjob, "/vod/hls/$qjob/short.m3u8");
is($state, 'RUNNING', 'the job that will fail QC is shown meanwhile');
my ($qv) = uris($m->{content});
$e = $t->wait_execution($qjob, 900);
is($e->{status}, 'FAILED', 'QC FAILED');
like($t->states_entered($r->{json}{executionArn}),
     qr/QualityControlFailed,WorkflowFailure$/, 'through QualityControlFailed');
is($t->http('GET', "/vod/hls/$qjob/short.m3u8")->{status}, 404,
   'its master answers 404');
is($t->http('GET', "/vod/hls/$qjob/$qv")->{status}, 404,
   'its media playlist too');
ok(!-e "$out/.sfn-published/$qjob.preview", 'no preview marker');

# a preview marker of an execution that does not run shows nothing

$t->write_file("media/output/.sfn-published/$qjob.preview",
               "$r->{json}{executionArn}\n");
is($t->http('GET', "/vod/hls/$qjob/short.m3u8")->{status}, 404,
   'a marker naming a failed execution: 404');
$t->write_file("media/output/.sfn-published/$qjob.preview",
               "arn:aws:states:us-east-1:000000000000:execution:x:y\n");
is($t->http('GET', "/vod/hls/$qjob/short.m3u8")->{status}, 404,
   'a marker naming an unknown execution: 404');
$t->write_file("media/output/.sfn-published/$qjob.preview",
               "\x00\xff" x 300);
is($t->http('GET', "/vod/hls/$qjob/short.m3u8")->{status}, 404,
   'a garbage marker: 404');
unlink "$out/.sfn-published/$qjob.preview";

# a stopped execution withdraws its preview at once

$r = $t->http('PUT', '/upload/stopme.mp4', $t->read_file('clip.mp4'));
my $sjob = $r->{json}{jobId};
($m, $state) = preview_of($sjob, "/vod/hls/$sjob/stopme.m3u8");
is($state, 'RUNNING', 'a preview before the stop');
my ($st) = $t->aws_api('StopExecution',
                       { executionArn => $r->{json}{executionArn} });
is($st, 200, 'StopExecution');
my $code;
for (1 .. 50) {
    last if ($code = $t->http('GET', "/vod/hls/$sjob/stopme.m3u8")->{status})
            == 404;
    sleep 0.1;
}
is($code, 404, 'the stopped job answers 404');
$e = $t->wait_execution($sjob, 60);
is($e->{status}, 'ABORTED', 'ABORTED');
my $gone;
for (1 .. 100) {
    last if $gone = !-e "$out/.sfn-published/$sjob.preview"
                    && !-e "$out/hls/$sjob/stopme.m3u8";
    sleep 0.1;
}
ok($gone, 'its marker, then its files, are removed');

# "Preview": false shows nothing before publish

$t->lavfi_clip("$dir/quiet.mp4", size => '640x360', duration => 8);
$r = $t->http('PUT', '/noprev/quiet.mp4', $t->read_file('quiet.mp4'));
my $njob = $r->{json}{jobId};
($m, $state) = preview_of($njob, "/vod/hls/$njob/quiet.m3u8");
ok(!-e "$out/.sfn-published/$njob.preview", 'without Preview no marker');
# the execution may still run ArchiveSource once it is published
ok(-e "$out/.sfn-published/$njob.json"
   && ($m->{headers}{'cache-control'} // '') !~ /no-cache/,
   'without Preview the first answer is the published master')
    or diag(explain [ $state, $m->{headers} ]);
is($t->wait_execution($njob, 600)->{status}, 'SUCCEEDED', 'then SUCCEEDED');
is($t->http('GET', "/vod/hls/$njob/quiet.m3u8")->{status}, 200,
   'and published');

$t->stop;

done_testing;
