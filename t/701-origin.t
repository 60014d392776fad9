# The publish-gated origin: an HLS ladder made by ffmpeg plays through
# sfn_origin once its job is published; byte ranges, HEAD, ETag and
# conditional requests come from nginx's static path; types, Cache-Control
# and CORS are the origin's; an unpublished job is 404.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;

my $t = Sfn::Test->new;
my $dir = $t->dir;

my $job = 'b0c1d2e3-0000-4000-8000-000000000001';
my $hidden = 'b0c1d2e3-0000-4000-8000-000000000002';

for my $j ($job, $hidden) {
    my $out = "$dir/output/hls/$j";
    system('mkdir', '-p', "$out/360p") == 0 or die;
    $t->lavfi_clip("$out/360p/index.m3u8", size => '640x360', duration => 6,
                   args => [ '-g', 50, '-b:a', '64k',
                             '-f', 'hls', '-hls_time', 2,
                             '-hls_playlist_type', 'vod',
                             '-hls_segment_filename',
                             "$out/360p/segment_%03d.ts" ]);
    $t->write_file("$out/master.m3u8", <<'END');
#EXTM3U
#EXT-X-VERSION:3
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.42c01e,mp4a.40.2"
360p/index.m3u8
END
}

$t->write_file("output/.sfn-published/$job.json",
               qq({"jobId":"$job","published":true}\n));

$t->nginx_start(<<'END');
    sfn_bucket output %%DIR%%/output;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /vod/ { sfn_origin output; }
    }
END

my $base = "http://127.0.0.1:" . $t->port . "/vod/hls";

# it plays

my $rc = system('ffmpeg', '-v', 'error', '-i', "$base/$job/master.m3u8",
                '-f', 'null', '-');
is($rc, 0, 'ffmpeg plays the published HLS through the origin');

my $probe = `ffprobe -v error -show_entries format=duration -of csv=p=0 '$base/$job/master.m3u8'`;
ok(abs($probe - 6) < 0.5, "duration $probe ~ 6 s");

# types and cache policy

my $r = $t->http('GET', "/vod/hls/$job/master.m3u8");
is($r->{status}, 200, 'master playlist 200');
is($r->{headers}{'content-type'}, 'application/vnd.apple.mpegurl',
   'playlist type');
is($r->{headers}{'cache-control'}, 'public, max-age=60',
   'playlists are revalidated');
is($r->{headers}{'access-control-allow-origin'}, '*', 'CORS on GET');

my $seg = "/vod/hls/$job/360p/segment_001.ts";
my $size = -s "$dir/output/hls/$job/360p/segment_001.ts";

$r = $t->http('GET', $seg);
is($r->{status}, 200, 'segment 200');
is($r->{headers}{'content-type'}, 'video/mp2t', 'segment type');
is($r->{headers}{'cache-control'}, 'public, max-age=31536000, immutable',
   'segments are immutable');
is(length $r->{content}, $size, 'the whole segment');
my $etag = $r->{headers}{etag};
ok($etag, 'ETag');
ok($r->{headers}{'last-modified'}, 'Last-Modified');

# ranges, HEAD, conditional

$r = $t->http('GET', $seg, undef, { Range => 'bytes=0-187' });
is($r->{status}, 206, 'range 206');
is(length $r->{content}, 188, '188 bytes');
is($r->{headers}{'content-range'}, "bytes 0-187/$size", 'Content-Range');
is(substr($r->{content}, 0, 1), "\x47", 'a TS sync byte');

$r = $t->http('GET', $seg, undef, { Range => "bytes=-100" });
is(length $r->{content}, 100, 'suffix range');

$r = $t->http('HEAD', $seg);
is($r->{status}, 200, 'HEAD 200');
is($r->{headers}{'content-length'}, $size, 'HEAD Content-Length');
is($r->{content} // '', '', 'HEAD has no body');

$r = $t->http('GET', $seg, undef, { 'If-None-Match' => $etag });
is($r->{status}, 304, 'If-None-Match: 304');

# CORS preflight

$r = $t->http('OPTIONS', $seg, undef, {
    Origin => 'https://player.example',
    'Access-Control-Request-Method' => 'GET',
    'Access-Control-Request-Headers' => 'range' });
is($r->{status}, 204, 'preflight 204');
like($r->{headers}{'access-control-allow-methods'}, qr/GET/, 'methods');
like($r->{headers}{'access-control-allow-headers'}, qr/Range/, 'headers');
is($r->{headers}{'access-control-allow-origin'}, '*', 'origin');

# unpublished, missing, not allowed

$r = $t->http('GET', "/vod/hls/$hidden/master.m3u8");
is($r->{status}, 404, 'an unpublished job is 404');
$r = $t->http('GET', "/vod/hls/$hidden/360p/segment_000.ts");
is($r->{status}, 404, 'its segments too');
$rc = system('ffmpeg', '-v', 'quiet', '-i', "$base/$hidden/master.m3u8",
             '-f', 'null', '-');
isnt($rc, 0, 'and it does not play');

$r = $t->http('GET', "/vod/hls/$job/360p/nope.ts");
is($r->{status}, 404, 'a missing file of a published job is 404');
$r = $t->http('GET', "/vod/hls/$job/../$hidden/master.m3u8");
is($r->{status}, 404, 'no way round the gate with ..');
$r = $t->http('GET', "/vod/.sfn-published/$job.json");
isnt($r->{status}, 200, 'the markers are not served');
$r = $t->http('DELETE', $seg);
is($r->{status}, 405, 'DELETE 405');

# publishing is one rename: the hidden job appears at once

rename "$dir/output/.sfn-published/$job.json",
       "$dir/output/.sfn-published/$hidden.json" or die;
$r = $t->http('GET', "/vod/hls/$hidden/master.m3u8");
is($r->{status}, 200, 'published: 200');
$r = $t->http('GET', "/vod/hls/$job/master.m3u8");
is($r->{status}, 404, 'unpublished: 404');

$t->stop;


# a state machine cannot publish by writing the marker itself: its
# sfn:file:copy onto .sfn-published/<job>.json fails as a task, nothing is
# written and the job stays hidden

my $u = Sfn::Test->new;
$u->pg_start;
my $udir = $u->dir;
my $thief = 'b0c1d2e3-0000-4000-8000-000000000003';

system('mkdir', '-p', "$udir/output/hls") == 0 or die;
system('cp', '-r', "$dir/output/hls/$hidden", "$udir/output/hls/$thief") == 0
    or die;

$u->write_file('conf/steal.asl.json', <<"END");
{"StartAt": "Publish",
 "States": {"Publish": {
   "Type": "Task", "Resource": "sfn:file:copy",
   "Parameters": {
     "source": {"bucket": "output", "key": "hls/$thief/master.m3u8"},
     "destination": {"bucket": "output",
                     "key": ".sfn-published/$thief.json"}},
   "End": true}}}
END

$u->nginx_start(<<'END');
    sfn_zone          sfn 4m;
    sfn_database      "%%DATABASE%%";
    sfn_thread_pool   sfn;
    sfn_bucket        output %%DIR%%/output;
    sfn_state_machine steal %%DIR%%/conf/steal.asl.json;

    server {
        listen 127.0.0.1:%%PORT%%;

        location = /steal     { sfn_start steal; }
        location /executions/ { sfn_api; }
        location /vod/        { sfn_origin output; }
    }
END

$r = $u->http('POST', '/steal', '{"bucket":"output","key":"hls/x"}');
is($r->{status}, 200, 'the thief machine starts');
my $e = $u->wait_execution($r->{json}{jobId}, 30);
is($e->{status}, 'FAILED', 'and fails') or diag(explain $e);
is($e->{error}, 'States.TaskFailed', 'with States.TaskFailed');
like($e->{cause}, qr/invalid key "\.sfn-published\//,
     'naming the reserved key');
ok(!-e "$udir/output/.sfn-published/$thief.json", 'no marker written');
opendir my $od, "$udir/output" or die;
is_deeply([grep { /^\.sfn-/ } readdir $od], [], 'no temporary file either');
closedir $od;
$r = $u->http('GET', "/vod/hls/$thief/master.m3u8");
is($r->{status}, 404, 'the job is not served');

$u->stop;

done_testing;
