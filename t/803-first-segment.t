# Watch it in seconds, the first segment: the seed's video workflow cuts a
# 1 s first HLS segment (FirstSegmentLength) on an IDR frame forced in
# every rung, so the preview shows the master and a segment of every rung
# after one second of output; SegmentLength holds for the rest, the key
# frames stay aligned across rungs, and after publish every media playlist
# is a valid VOD.  A workflow may ask for another first segment; a failed
# QC still withdraws the preview.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use Time::HiRes qw(time sleep);

Sfn::Test->need_ffmpeg;
Sfn::Test->need_postgres;

my $t = Sfn::Test->new;
my $dir = $t->dir;
my $root = $Sfn::Test::ROOT;

$t->copy_example('video-workflow.asl.json');

my $wf = $t->read_file('conf/video-workflow.asl.json');

(my $strict = $wf) =~ s/"minPsnr":\s*30/"minPsnr": 1000/ or die;
$t->write_file('conf/strict.asl.json', $strict);

(my $two = $wf) =~ s/"FirstSegmentLength":\s*1/"FirstSegmentLength": 2.5/
    or die;
$two =~ s/"SegmentLength":\s*6/"SegmentLength": 4/ or die;
$t->write_file('conf/two.asl.json', $two);

my $conf = $t->read_file("$root/conf-examples/video-origin.conf");
my ($http) = $conf =~ /^http \{\n(.*)^\}/ms or die "no http block";
$http =~ s/\@PREFIX\@/%%DIR%%/g;
$http =~ s/\@PORT\@/%%PORT%%/g;
$http =~ s/\@DATABASE\@/%%DATABASE%%/g;
$http =~ s{(sfn_state_machine video-workflow [^;]+;)}
          {$1
    sfn_state_machine strict %%DIR%%/conf/strict.asl.json;
    sfn_state_machine two %%DIR%%/conf/two.asl.json;};
$http =~ s{(location /upload/ \{)}
          {location /strict/ { sfn_upload source; sfn_trigger strict; }
        location /two/ { sfn_upload source; sfn_trigger two; }
        $1};
$http =~ s/access_log logs\/access.log;//;

$t->start($http, workers => 2,
          main => "thread_pool sfn threads=2 max_queue=1024;\n");

my $out = "$dir/media/output";

sub uris {
    return grep { length && !/^#/ } split /\r?\n/, $_[0] // '';
}

sub durations {
    return [map { sprintf '%.1f', $_ } ($_[0] // '') =~ /^#EXTINF:([\d.]+),/mg];
}

# polls until the master and a segment of every rung answer while the
# execution runs: (the master, { variant => its playlist }, the state)

sub first_playable {
    my ($job, $name) = @_;
    my $end = time + 600;
    while (time < $end) {
        my $m = $t->http('GET', "/vod/hls/$job/$name.m3u8");
        if ($m->{status} == 200) {
            my %pl;
            for my $v (uris($m->{content})) {
                my $pl = $t->http('GET', "/vod/hls/$job/$v");
                my ($s) = uris($pl->{content});
                $pl{$v} = $pl->{content}
                    if $pl->{status} == 200 && defined $s
                       && $t->http('HEAD', "/vod/hls/$job/$s")->{status}
                          == 200;
            }
            return ($m, \%pl, 'RUNNING')
                if %pl && keys %pl == uris($m->{content});
        }
        my $e = $t->http('GET', "/executions/$job")->{json} // {};
        return ($m, {}, $e->{status}) if ($e->{status} // '') ne 'RUNNING';
        sleep 0.05;
    }
    return (undef, {}, 'TIMEOUT');
}

# a 720p clip of 14 s: rungs 720p, 540p and 360p, and the audio only

$t->lavfi_clip("$dir/clip.mp4", size => '1280x720', rate => 30,
               duration => 14);

my $r = $t->http('PUT', '/upload/clip.mp4', $t->read_file('clip.mp4'));
my $put = time;
is($r->{status}, 201, 'upload accepted');
my $job = $r->{json}{jobId};

my ($m, $pl, $state) = first_playable($job, 'clip');
is($state, 'RUNNING', 'the master and a segment of every rung answer '
                      . 'while the transcode runs')
    or BAIL_OUT('no preview');
diag(sprintf 'first playable %.2f s after the PUT', time - $put);

my @variants = uris($m->{content});
is(scalar @variants, 4, 'three rungs and the audio only in the preview master')
    or diag($m->{content});
my ($audio) = $m->{content} =~ /CODECS="mp4a\.40\.2"\n(\S+)\n/;
ok($audio, 'the audio-only rendition, AAC only');
for my $v (@variants) {
    like($pl->{$v}, qr/^#EXT-X-PLAYLIST-TYPE:EVENT$/m, "$v: an EVENT");
    like($pl->{$v}, qr/^#EXT-X-TARGETDURATION:6$/m,
         "$v: the target duration of the whole, from the first version on");
    is(durations($pl->{$v})->[0], '1.0', "$v: the first EXTINF is 1 s");
}

my $e = $t->wait_execution($job, 900);
is($e->{status}, 'SUCCEEDED', 'the workflow SUCCEEDED') or diag(explain $e);

# published: VOD playlists, SegmentLength after the first, aligned keys

$m = $t->http('GET', "/vod/hls/$job/clip.m3u8");
is($m->{status}, 200, 'the published master');
my %keys;
for my $v (uris($m->{content})) {
    my $p = $t->http('GET', "/vod/hls/$job/$v")->{content} // '';
    like($p, qr/\A#EXTM3U\n/, "$v: #EXTM3U");
    like($p, qr/^#EXT-X-PLAYLIST-TYPE:VOD$/m, "$v: VOD");
    like($p, qr/#EXT-X-ENDLIST\n\z/, "$v: ENDLIST last");
    like($p, qr/^#EXT-X-INDEPENDENT-SEGMENTS$/m, "$v: independent segments");
    is_deeply(durations($p), ['1.0', '5.0', '6.0', '2.0'],
              "$v: 1 s, then cuts every 6 s");
    for my $s (uris($p)) {
        my $sr = $t->http('GET', "/vod/hls/$job/$s");
        ok($sr->{status} == 200 && length($sr->{content}) % 188 == 0
           && substr($sr->{content}, 0, 1) eq "\x47", "$s: whole");
    }
    $keys{$v} = join ',', @{ Sfn::Test::keyframes("$out/hls/$job/$v") }
        if $v ne ($audio // '');
}
my ($k0) = values %keys;
is($k0, '0.0,1.0,2.0,4.0,6.0,8.0,10.0,12.0',
   'key frames every 2 s and at the first cut');
is(scalar(keys %keys), 3, 'the key frames of the three rungs');
is(scalar(grep { $_ ne $k0 } values %keys), 0, 'aligned across rungs')
    or diag(explain \%keys);

my @ifr = $m->{content} =~ /#EXT-X-I-FRAME-STREAM-INF:[^\n]*URI="([^"]+)"/g;
is(scalar @ifr, 3, 'an I-frame playlist per rung');
my $ip = $t->http('GET', "/vod/hls/$job/$ifr[0]")->{content} // '';
is(scalar(() = $ip =~ /^#EXT-X-BYTERANGE/mg), 8,
   'every key frame in it, the one at 1 s too');

# another first segment, through the workflow's parameters

$t->lavfi_clip("$dir/two.mp4", size => '640x360', rate => 25, duration => 9);
$r = $t->http('PUT', '/two/two.mp4', $t->read_file('two.mp4'));
my $tjob = $r->{json}{jobId};
$e = $t->wait_execution($tjob, 600);
is($e->{status}, 'SUCCEEDED', 'FirstSegmentLength 2.5, SegmentLength 4')
    or diag(explain $e);
my ($v) = uris($t->http('GET', "/vod/hls/$tjob/two.m3u8")->{content});
is_deeply(durations($t->http('GET', "/vod/hls/$tjob/$v")->{content}),
          ['2.5', '1.5', '4.0', '1.0'], "$v: 2.5 s, then cuts every 4 s");

# a failed QC still withdraws the preview

$r = $t->http('PUT', '/strict/short.mp4', $t->read_file('clip.mp4'));
my $qjob = $r->{json}{jobId};
($m, $pl, $state) = first_playable($qjob, 'short');
is($state, 'RUNNING', 'the job that will fail QC is shown meanwhile');
my ($qv) = uris($m->{content});
$e = $t->wait_execution($qjob, 900);
is($e->{status}, 'FAILED', 'QC FAILED');
is($t->http('GET', "/vod/hls/$qjob/short.m3u8")->{status}, 404,
   'its master answers 404');
is($t->http('GET', "/vod/hls/$qjob/$qv")->{status}, 404,
   'its media playlist too');
ok(!-e "$out/.sfn-published/$qjob.preview", 'no preview marker');

$t->stop;

done_testing;
