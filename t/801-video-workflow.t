# The seed's video workflow end to end, inside nginx: PUT a 1080p clip,
# probe + one-decode transcode ladder in parallel, QC that measures,
# publish to the origin, archive the source.  Then the failure paths: a
# truncated upload and a QC threshold no encode can meet.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;

my $t = Sfn::Test->new;

my $dir = $t->dir;
my $root = $Sfn::Test::ROOT;

$t->copy_example('video-workflow.asl.json');

# the same workflow with a PSNR threshold no encode reaches

my $strict = $t->read_file('conf/video-workflow.asl.json');
$strict =~ s/"minPsnr":\s*30/"minPsnr": 1000/ or die "no minPsnr";
$t->write_file('conf/strict.asl.json', $strict);

# conf-examples/video-origin.conf, with the test's paths

my $conf = $t->read_file("$root/conf-examples/video-origin.conf");
my ($http) = $conf =~ /^http \{\n(.*)^\}/ms or die "no http block";
$http =~ s/\@PREFIX\@/%%DIR%%/g;
$http =~ s/\@PORT\@/%%PORT%%/g;
$http =~ s/\@DATABASE\@/%%DATABASE%%/g;
$http =~ s{(sfn_state_machine video-workflow [^;]+;)}
          {$1\n    sfn_state_machine strict %%DIR%%/conf/strict.asl.json;};
$http =~ s{(location /upload/ \{)}
          {location /strict/ { sfn_upload source; sfn_trigger strict; }\n        $1};
$http =~ s/access_log logs\/access.log;//;

$t->start($http, workers => 2,
                main => "thread_pool sfn threads=2 max_queue=1024;\n");

# a 20 s 1080p clip with audio

$t->lavfi_clip("$dir/clip.mp4", size => '1920x1080', duration => 20,
               args => [ '-crf', 23 ]);

my $clip = $t->read_file('clip.mp4');
my $r = $t->http('PUT', '/upload/clip.mp4', $clip);
is($r->{status}, 201, 'upload accepted');
my $job = $r->{json}{jobId};
my $arn = $r->{json}{executionArn};

# a truncated upload beside it: its probe waits out the seed's Retry (5
# and 10 s) while the clip transcodes; its failure path is checked below

my $half = substr($clip, 0, int(length($clip) / 3));
my $broken = $t->http('PUT', '/upload/broken.mp4', $half);

# progress of the transcode is visible while it runs

my ($e, $progress, %seen);
for (1 .. 6000) {
    $e = $t->http('GET', "/executions/$job")->{json};
    last if ($e->{status} // '') ne 'RUNNING';
    # the transcode reports frames/s, QC only percent
    $progress = $e->{progress}
        if $e->{progress} && $e->{progress}{percent} > 0
           && $e->{progress}{percent} < 100
           && $e->{progress}{framesPerSecond} > 0;
    $seen{ $e->{currentState} // '' }++;
    select undef, undef, undef, 0.1;
}

ok($progress && $progress->{framesPerSecond} > 0,
   'progress (percent, frames/s) visible while it runs')
    or diag(explain [ $progress, \%seen ]);
is($e->{status}, 'SUCCEEDED', 'the workflow SUCCEEDED')
    or diag(explain $e);
is($e->{output}{status}, 'SUCCESS', 'WorkflowSuccess result');

my $states = $t->states_entered($arn);
is($states, 'InitializeJob,RecordJobStart,ParallelProcessing,'
            . 'ExtractMetadata,TranscodeVideo,ProcessingComplete,'
            . 'QualityControl,QualityDecision,PublishContent,ArchiveSource,'
            . 'WorkflowSuccess', 'through every state of the seed')
    or diag($states);

# the ladder: MP4 1080p and 720p, HLS 1080p and 720p, 5 thumbnails

my $out = "$dir/media/output";

sub probe {
    my ($file) = @_;
    my $json = `ffprobe -v error -show_format -show_streams -of json '$file'`;
    return eval { $t->json->decode($json) } // {};
}

my @mp4 = sort glob("$out/mp4/$job/*.mp4");
is(scalar @mp4, 2, 'two MP4 renditions') or diag(`find $out`);
my %sizes;
for my $f (@mp4) {
    my $p = probe($f);
    my ($v) = grep { $_->{codec_type} eq 'video' } @{ $p->{streams} };
    $sizes{"$v->{width}x$v->{height}"}++;
    ok(abs($p->{format}{duration} - 20) < 0.5, "$f lasts 20 s");
}
ok($sizes{'1920x1080'} && $sizes{'1280x720'}, 'MP4 1080p and 720p');

my @m3u8 = glob("$out/hls/$job/*.m3u8");
my ($master) = grep { !/_hls_/ } @m3u8;
ok($master, 'an HLS master playlist') or diag("@m3u8");
my $m = $master ? $t->read_file($master) : '';
like($m, qr/RESOLUTION=1920x1080/, 'master lists 1080p');
like($m, qr/RESOLUTION=1280x720/, 'master lists 720p');
like($m, qr/CODECS="avc1\.[0-9a-fA-F]+,mp4a\.40\.2"/, 'with CODECS');

my @thumbs = glob("$out/thumbnails/$job/*_thumb_*.jpg");
is(scalar @thumbs, 20, 'twenty thumbnails');
my $tp = probe($thumbs[0] // '/nonexistent');
is("$tp->{streams}[0]{width}x$tp->{streams}[0]{height}", '640x360',
   'thumbnails are 640x360');
like($m, qr/RESOLUTION=960x540/, 'master lists 540p');
like($m, qr/RESOLUTION=640x360/, 'master lists 360p');

# a sprite sheet of 5 x 4 tiles, its WebVTT track, a poster

my $sp = probe("$out/thumbnails/$job/clip_thumbs.jpg");
is("$sp->{streams}[0]{width}x$sp->{streams}[0]{height}", '800x360',
   'sprite sheet of 5 x 4 tiles of 160x90');
my $vtt = -f "$out/thumbnails/$job/clip_thumbs.vtt"
          ? $t->read_file("$out/thumbnails/$job/clip_thumbs.vtt") : '';
like($vtt, qr/^WEBVTT\n/, 'WebVTT thumbnail track');
my @cues = $vtt =~ /^(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\nclip_thumbs\.jpg#xywh=(\d+),(\d+),160,90$/mg;
is(scalar @cues, 80, 'a cue per thumbnail, into the sheet');
is($cues[0], '00:00:00.000', 'from the start');
like($cues[-3], qr/^00:00:(19\.9|20\.0)\d\d$/, 'to the end');
ok(-s "$out/thumbnails/$job/clip_poster.jpg", 'a poster');

# the published HLS plays through the origin

my ($mname) = ($master // '') =~ m{([^/]+)$};
my $url = "http://127.0.0.1:" . $t->port . "/vod/hls/$job/$mname";
my $err = `ffmpeg -v error -i '$url' -f null - 2>&1`;
is($?, 0, 'ffmpeg plays the HLS through the origin');
is($err, '', 'without errors') or diag($err);

$r = $t->http('GET', "/vod/hls/$job/$mname");
is($r->{status}, 200, 'master playlist served');
like($r->{headers}{'content-type'}, qr/mpegurl/, 'as an m3u8');

# the job row: PUBLISHED with real metadata and QC figures

my $row = $t->psql("SELECT status || '|' || attributes::text FROM sfn_jobs "
                   . "WHERE job_id = '$job'");
my ($status, $attrs) = split /\|/, $row, 2;
is($status, 'PUBLISHED', 'job row PUBLISHED');
$attrs = eval { $t->json->decode($attrs) } // {};
like($t->json->encode($attrs), qr/"duration":\s*20(\.0+)?[,}]/,
     'real metadata in the job row') or diag(explain $attrs);
like($t->json->encode($attrs), qr/"psnr"|"PSNR"|qualityScore/i,
     'QC figures in the job row');
like($t->json->encode($attrs), qr/"measured":"encoder"/,
     'measured while encoding, not decoded again');

# the source is archived

ok(-s "$dir/media/archive/archived/$job/clip.mp4", 'source archived');

# a truncated upload takes the failure path

$r = $broken;
$e = $t->wait_execution($r->{json}{jobId}, 300);
is($e->{status}, 'FAILED', 'truncated upload FAILED');
is($t->psql("SELECT status FROM sfn_jobs WHERE job_id = "
            . "'$r->{json}{jobId}'"), 'FAILED_PROCESSING',
   'job row FAILED_PROCESSING');
ok(!-e "$dir/media/output/.sfn-published/$r->{json}{jobId}.json",
   'nothing published');

# an impossible QC threshold takes QualityControlFailed

$t->lavfi_clip("$dir/short.mp4", size => '640x360', duration => 3);
$r = $t->http('PUT', '/strict/short.mp4', $t->read_file('short.mp4'));
$e = $t->wait_execution($r->{json}{jobId}, 300);
is($e->{status}, 'FAILED', 'strict QC FAILED');
$arn = $r->{json}{executionArn};
like($t->states_entered($arn),
     qr/QualityDecision,QualityControlFailed,WorkflowFailure$/,
     'through QualityControlFailed');
is($t->psql("SELECT status FROM sfn_jobs WHERE job_id = "
            . "'$r->{json}{jobId}'"), 'FAILED_QC', 'job row FAILED_QC');
$r = $t->http('GET', "/vod/hls/$r->{json}{jobId}/index.m3u8");
is($r->{status}, 404, 'unpublished job answers 404 at the origin');

$t->stop;

done_testing;
