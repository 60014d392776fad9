#!/usr/bin/perl

# sfn:media:transcode through build/sfn-task: the seed's MediaConvert job
# on a small source, outputs checked with ffprobe; no audio, odd size,
# 10-bit, fMP4 HLS, cancellation and failure leave nothing behind

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Sfn::Test;
use File::Temp qw(tempdir);
use File::Find;
use JSON::PP;
use Time::HiRes qw(time);

Sfn::Test::need_tool('sfn-task');
Sfn::Test::need_ffmpeg();

my $seed = '../shared/seeds/000-video-workflow-definition.json.tmpl';
$seed = 'conf-examples/video-workflow.asl.json' unless -f $seed;

my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/src";
mkdir "$dir/out";

sub ff {
    my $cmd = shift;
    system("ffmpeg -nostdin -v error -y $cmd") == 0 or die "ffmpeg $cmd";
}

sub task {
    my ($resource, $input, @args) = @_;
    return Sfn::Test::run_task($resource, $input, dir => $dir, args => \@args,
                               buckets => { src => "$dir/src",
                                            out => "$dir/out" });
}

sub probe {
    my $file = shift;
    return decode_json(scalar `ffprobe -v error -print_format json -show_format -show_streams "$file"`);
}

sub files {
    my $root = shift;
    my @f;
    find(sub { push @f, $File::Find::name if -f $_ }, $root) if -d $root;
    return sort @f;
}

sub tmpdirs {
    my @d;
    find(sub { push @d, $_ if /^\.sfn-job/ }, "$dir/out");
    return scalar @d;
}

# a workflow's TranscodeVideo parameters, "$" paths resolved for the
# source "src" KEY and the job JOB, and (the seed's) ladder shrunk by SHRINK

sub transcode_params {
    my ($file, $key, $job, $shrink) = @_;
    local $/;
    open my $f, '<', $file or die "$file: $!";
    my $text = <$f>;
    $text =~ s/\$\{OUTPUT_BUCKET\}/out/g;
    my $def = decode_json($text);
    my $p = $def->{States}{ParallelProcessing}{Branches}[1]{States}
                {TranscodeVideo}{Parameters};
    my $fix;
    $fix = sub {
        my $o = shift;
        if (ref $o eq 'HASH') {
            for my $k (keys %$o) {
                if ($k =~ /^(.*)\.\$$/) {
                    my ($n, $v) = ($1, delete $o->{$k});
                    if ($n eq 'Destination') {
                        my ($sub) = $v =~ m{s3://\w+/(\w+)/};
                        $o->{$n} = "s3://out/$sub/$job/";
                    } elsif ($n eq 'FileInput') {
                        $o->{$n} = "s3://src/$key";
                    } else {
                        $o->{$n} = $job;
                    }
                } else {
                    $fix->($o->{$k});
                }
            }
            if ($shrink && defined $o->{Width}) {
                $o->{Width} = { 1920 => 320, 1280 => 256, 640 => 160 }
                              ->{$o->{Width}};
                $o->{Height} = { 1080 => 180, 720 => 144, 360 => 90 }
                               ->{$o->{Height}};
            }
        } elsif (ref $o eq 'ARRAY') {
            $fix->($_) for @$o;
        }
    };
    $fix->($p);
    delete $p->{Role};
    return $p;
}

sub seed_job { return transcode_params($seed, @_, 1) }

Sfn::Test->lavfi_clip("$dir/src/clip.mp4", rate => 30, t => 14,
                       sine => 'frequency=440:sample_rate=44100',
                       args => [ '-pix_fmt', 'yuv420p' ]);

# the seed's job

my ($r, $rc) = task('arn:aws:states:::mediaconvert:createJob.sync',
                    seed_job('clip.mp4', 'J1'));
is($rc, 0, 'seed job exit code') or diag explain $r;
my $job = $r->{output}{Job};
is($job->{Status}, 'COMPLETE', 'Job.Status');
like($job->{Id}, qr/^\d+-[0-9a-f]{6}$/, 'Job.Id');
is(scalar @{$job->{OutputGroupDetails}}, 3, 'three output groups');
is($job->{Settings}{OutputGroups}[0]{Name}, 'MP4_Output', 'Settings echoed');
is($job->{UserMetadata}{WorkflowJobId}, 'J1', 'UserMetadata echoed');

my $od = $job->{OutputGroupDetails}[0]{OutputDetails}[0];
is($od->{OutputFilePaths}[0], 's3://out/mp4/J1/clip_1080p.mp4',
   'OutputFilePaths');
is($od->{VideoDetails}{WidthInPx}, 320, 'WidthInPx');
ok(abs($od->{DurationInMs} - 14000) < 100, 'DurationInMs');
is($job->{OutputGroupDetails}[1]{PlaylistFilePaths}[0],
   's3://out/hls/J1/clip.m3u8', 'PlaylistFilePaths');

my @outs = @{$r->{output}{outputs}};
is_deeply([map { $_->{format} } @outs], [qw(mp4 mp4 hls thumbnails)],
          'plain list of outputs');

for my $o (@outs[0, 1]) {
    my $p = probe("$dir/out/$o->{key}");
    my ($v) = grep { $_->{codec_type} eq 'video' } @{$p->{streams}};
    my ($a) = grep { $_->{codec_type} eq 'audio' } @{$p->{streams}};
    ok(abs($p->{format}{duration} - 14) < 0.1, "$o->{key} duration");
    is($p->{format}{size}, $o->{size}, "$o->{key} size");
    is($v->{codec_name}, 'h264', "$o->{key} h264");
    is($v->{profile}, 'High', "$o->{key} profile");
    is($v->{width}, $o->{width}, "$o->{key} width");
    is($a->{codec_name}, 'aac', "$o->{key} aac");
    is($a->{sample_rate}, 48000, "$o->{key} 48 kHz");
    is($a->{channels}, 2, "$o->{key} stereo");
    is_deeply(Sfn::Test::keyframes("$dir/out/$o->{key}"),
              ['0.0', '1.0', map { sprintf '%.1f', 2 * $_ } 1 .. 6],
              "$o->{key} key frames every 2 s, and at the first cut");

    # faststart: moov before mdat
    open my $f, '<:raw', "$dir/out/$o->{key}" or die;
    read $f, my $head, 64;
    like($head, qr/moov/, "$o->{key} faststart");
}
is($outs[0]{width}, 320, '1080p rung shrunk to 320');
is($outs[1]{width}, 256, '720p rung shrunk to 256');

my $master = do { local $/; open my $f, '<', "$dir/out/hls/J1/clip.m3u8"; <$f> };
like($master, qr/^#EXTM3U/, 'master playlist');
my @inf = $master =~ /^#EXT-X-STREAM-INF:(.*)$/mg;
is(scalar @inf, 2, 'two variants');
for (@inf) {
    like($_, qr/BANDWIDTH=\d+,AVERAGE-BANDWIDTH=\d+,RESOLUTION=\d+x\d+,CODECS="avc1\.64[0-9a-f]{4},mp4a\.40\.2",FRAME-RATE=30\.000/,
         'STREAM-INF attributes');
}

my @kf;
for my $v (@{$outs[2]{renditions}}) {
    my $pl = do { local $/; open my $f, '<', "$dir/out/$v->{key}"; <$f> };
    like($pl, qr/#EXT-X-PLAYLIST-TYPE:VOD/, "$v->{key} VOD");
    like($pl, qr/#EXT-X-TARGETDURATION:6\n/, "$v->{key} target 6");
    like($pl, qr/#EXT-X-ENDLIST/, "$v->{key} ENDLIST");
    my @segs = $pl =~ /^([^#\n].*)$/mg;
    my @durs = $pl =~ /^#EXTINF:([\d.]+),/mg;
    is(scalar @segs, 4, "$v->{key} four segments");
    is_deeply([map { sprintf '%.1f', $_ } @durs], ['1.0', '5.0', '6.0', '2.0'],
              "$v->{key} a 1 s first segment, then cuts every 6 s");
    ok(!grep({ !-s "$dir/out/hls/J1/$_" } @segs), "$v->{key} segments exist");
    my $p = probe("$dir/out/$v->{key}");
    ok(abs($p->{format}{duration} - 14) < 0.2, "$v->{key} duration");
    push @kf, Sfn::Test::keyframes("$dir/out/$v->{key}");
}
is_deeply($kf[0], $kf[1], 'key frames aligned across renditions');
is_deeply($kf[0], ['0.0', '1.0', map { sprintf '%.1f', 2 * $_ } 1 .. 6],
          'every 2 s, segment boundaries among them');

my $th = $outs[3];
is($th->{count}, 2, '14 s at one capture per 10 s: 2 thumbnails');
for my $t (@{$th->{files}}) {
    my $p = probe("$dir/out/$t->{key}");
    is($p->{streams}[0]{codec_name}, 'mjpeg', "$t->{key} is a JPEG");
    is($p->{streams}[0]{width}, 160, "$t->{key} width");
    is($p->{streams}[0]{height}, 90, "$t->{key} height");
}
is($th->{files}[1]{key}, 'thumbnails/J1/clip_thumb_0002.jpg',
   'NameModifier numbering');
is(tmpdirs(), 0, 'no temporary directory left');

# our own job spec: no audio, odd size, 10-bit, fMP4

Sfn::Test->lavfi_clip("$dir/src/odd.mp4", size => '321x181', audio => 0, t => 3,
                       args => [ '-pix_fmt', 'yuv444p' ]);
Sfn::Test->lavfi_clip("$dir/src/ten.mp4", rate => 24, t => 3,
                       args => [ '-pix_fmt', 'yuv420p10le' ]);

my $spec = sub {
    my ($key, $pre) = @_;
    return {
        input => { bucket => 'src', key => $key },
        outputs => [
            { type => 'mp4', bucket => 'out', key => "$pre/a.mp4",
              height => 180, quality => 8 },
            { type => 'hls', bucket => 'out', prefix => "$pre/hls/",
              name => 'index', segmentLength => 1, segmentType => 'fmp4',
              renditions => [{ name => '_a', height => 180 },
                             { name => '_b', width => 160 }] },
            { type => 'thumbnails', bucket => 'out', prefix => "$pre/th/",
              count => 3, interval => 1, width => 96, height => 54 },
        ],
    };
};

($r, $rc) = task('sfn:media:transcode', $spec->('odd.mp4', 'odd'));
is($rc, 0, 'odd-size source, no audio') or diag explain $r;
my $p = probe("$dir/out/odd/a.mp4");
is(scalar @{$p->{streams}}, 1, 'no audio stream');
is($p->{streams}[0]{width} % 2, 0, 'even width');
is($p->{streams}[0]{height}, 180, 'height as asked');
is($p->{streams}[0]{pix_fmt}, 'yuv420p', '4:2:0 output');
my $idx = do { local $/; open my $f, '<', "$dir/out/odd/hls/index.m3u8"; <$f> };
like($idx, qr/CODECS="avc1\.[0-9a-f]{6}"/, 'video-only CODECS');
my $pl = do { local $/; open my $f, '<', "$dir/out/odd/hls/index_b.m3u8"; <$f> };
like($pl, qr/#EXT-X-MAP:URI="index_b_init\.mp4"/, 'fMP4 init segment');
ok(-s "$dir/out/odd/hls/index_b_init.mp4", 'init segment written');
is(scalar(() = $pl =~ /\.m4s$/mg), 3, 'three 1 s fMP4 segments');
is(scalar(() = glob("$dir/out/odd/th/*.jpg")), 3, 'three thumbnails');

($r, $rc) = task('sfn:media:transcode', $spec->('ten.mp4', 'ten'));
is($rc, 0, '10-bit source') or diag explain $r;
$p = probe("$dir/out/ten/a.mp4");
is($p->{streams}[0]{pix_fmt}, 'yuv420p', '10-bit to 8-bit 4:2:0');
is($p->{streams}[0]{profile}, 'High', 'High profile');
is($p->{streams}[0]{r_frame_rate}, '24/1', 'frame rate kept');

# variable frame rate: timestamps kept, nothing dropped

ff("-f lavfi -i \"testsrc2=size=320x180:rate=30,"
   . "setpts='if(lt(N,40),N/30,(N+N/3)/30)/TB'\" -t 4 -c:v libx264 "
   . "-preset ultrafast -vsync vfr $dir/src/vfr.mkv");
($r, $rc) = task('sfn:media:transcode', $spec->('vfr.mkv', 'vfr'));
is($rc, 0, 'VFR source') or diag explain $r;
my $src = probe("$dir/src/vfr.mkv");
$p = probe("$dir/out/vfr/a.mp4");
ok(abs($p->{format}{duration} - $src->{format}{duration}) < 0.1,
   'VFR duration kept');
my @pts = split /\n/, `ffprobe -v error -select_streams v -show_entries frame=pts_time -of csv=p=0 $dir/out/vfr/a.mp4`;
my @spts = split /\n/, `ffprobe -v error -select_streams v -show_entries frame=pts_time -of csv=p=0 $dir/src/vfr.mkv`;
is(scalar @pts, scalar @spts, 'every VFR frame encoded once');

# failures and cancellation leave nothing

open my $f, '>', "$dir/src/junk.mp4" or die;
print $f "junk\n" x 1000;
close $f;

my @before = files("$dir/out");
($r, $rc) = task('sfn:media:transcode', $spec->('junk.mp4', 'junk'));
is($r->{error}, 'States.TaskFailed', 'non-media source fails');
like($r->{cause}, qr/"junk\.mp4" is not a media file/, 'with a cause');
ok(!-e "$dir/out/junk", 'and writes nothing');

Sfn::Test->lavfi_clip("$dir/src/long.mp4", size => '640x360', rate => 30,
                      t => 20);
my $t0 = time;
($r, $rc) = task('sfn:media:transcode', $spec->('long.mp4', 'long'),
                 '--cancel-after', '0.7');
my $el = time - $t0;
is($r->{error}, 'States.Timeout', 'cancelled job fails with States.Timeout');
ok($el < 1.7 + 0.5, "cancelled within a second ($el s)");
ok(!-e "$dir/out/long", 'cancelled job leaves no output');
is(tmpdirs(), 0, 'and no temporary directory');
is_deeply([files("$dir/out")], [@before], 'bucket unchanged');

($r, $rc) = task('sfn:media:transcode',
                 { input => { bucket => 'src', key => 'clip.mp4' },
                   outputs => [{ type => 'mp4', bucket => 'out',
                                 key => '../escape.mp4' }] });
is($r->{error}, 'States.TaskFailed', 'a destination cannot escape');


# undecodable media: a Y4M whose header says 16000x16000, cut off after
# 1,000 bytes, fails with a cause and leaves nothing (MediaConvert fails
# such a job); so does a picture larger than we encode

sub y4m_cut {
    my $path = shift;
    open my $y, '>', $path or die "$path: $!";
    binmode $y;
    my $h = "YUV4MPEG2 W16000 H16000 F25:1 Ip A1:1 C420jpeg\nFRAME\n";
    print $y substr($h . ("\x80" x 1000), 0, 1000);
    close $y;
}

y4m_cut("$dir/src/cut.y4m");
@before = files("$dir/out");

($r, $rc) = task('sfn:media:transcode', {
    input => { bucket => 'src', key => 'cut.y4m' },
    outputs => [
        { type => 'mp4', bucket => 'out', key => 'cut/a.mp4', height => 180 },
        { type => 'hls', bucket => 'out', prefix => 'cut/hls/',
          renditions => [{ name => '_90', height => 90 }] },
        { type => 'thumbnails', bucket => 'out', prefix => 'cut/th/' } ] });
is($rc, 1, 'no decodable frame: the job fails');
is($r->{error}, 'States.TaskFailed', 'with States.TaskFailed');
like($r->{cause}, qr/"cut\.y4m": no video frame could be decoded/,
     'and a cause');
ok(!exists $r->{output}, 'no COMPLETE job reported');
ok(!-e "$dir/out/cut", 'no partial output');
is(tmpdirs(), 0, 'no temporary directory');

($r, $rc) = task('sfn:media:transcode', {
    input => { bucket => 'src', key => 'cut.y4m' },
    outputs => [{ type => 'mp4', bucket => 'out', key => 'cut/b.mp4' }] });
is($r->{error}, 'States.TaskFailed', 'a 16000x16000 rendition fails');
like($r->{cause}, qr/16000x16000 is larger than 8192x8192/, 'as too large');
is_deeply([files("$dir/out")], [@before], 'bucket unchanged');

# the seed's MediaConvert Settings on the same source

($r, $rc) = task('sfn:media:transcode', seed_job('cut.y4m', 'CUT'));
is($r->{error}, 'States.TaskFailed', 'seed job on it fails');
is_deeply([files("$dir/out")], [@before], 'and writes nothing');
is(tmpdirs(), 0, 'nor leaves a temporary directory');


# hostile sources and names: a clean task error each, nothing written

open my $z, '>', "$dir/src/empty.mp4" or die;
close $z;
mkdir "$dir/src/folder.mp4";
@before = files("$dir/out");

for my $case (
    [ 'a 0-byte source', 'empty.mp4', {}, qr/"empty\.mp4" is not a media file/ ],
    [ 'a directory as source', 'folder.mp4', {}, qr/Is a directory/ ],
    [ 'a vanished source', 'gone.mp4', {}, qr/"gone\.mp4"/ ],
    [ 'a NameModifier with a newline', 'clip.mp4',
      { NameModifier => "_a\nb" }, qr/invalid NameModifier "_a\\x0ab"/ ],
    [ 'a reserved output name', 'clip.mp4',
      { Destination => 's3://out/.sfn-published/' }, qr/invalid key/ ],
    [ q{'%' in an HLS name}, 'clip.mp4',
      { Type => 'HLS_GROUP_SETTINGS', NameModifier => '_%05d' },
      qr/HLS file names cannot hold '%'/ ],
    [ 'a Width no int holds', 'clip.mp4', { Width => 1e300 },
      qr/VideoDescription\.Width must be a number/ ],
    [ 'a Width of the wrong type', 'clip.mp4', { Width => [1] },
      qr/VideoDescription\.Width must be a number/ ])
{
    my ($name, $key, $o, $cause) = @$case;
    my $type = $o->{Type} || 'FILE_GROUP_SETTINGS';
    my $gs = $type eq 'FILE_GROUP_SETTINGS' ? 'FileGroupSettings'
                                             : 'HlsGroupSettings';
    ($r, $rc) = task('sfn:media:transcode', { Settings => {
        Inputs => [{ FileInput => "s3://src/$key" }],
        OutputGroups => [{
            Name => 'G',
            OutputGroupSettings => { Type => $type, $gs => {
                Destination => $o->{Destination} || 's3://out/hostile/' } },
            Outputs => [{
                NameModifier => $o->{NameModifier} // '_a',
                VideoDescription => { Width => $o->{Width} // 160,
                    CodecSettings => { Codec => 'H_264' } } }] }] } });
    is($r->{error}, 'States.TaskFailed', "$name: States.TaskFailed");
    like($r->{cause}, $cause, "$name: cause");
}

is_deeply([files("$dir/out")], [@before], 'hostile jobs wrote nothing');
is(tmpdirs(), 0, 'and left no temporary directory');


# conf-examples' TranscodeVideo (the ladder made for players) on small and
# hostile sources: a sensible result or a clean task error each

sub example_job {
    return transcode_params('conf-examples/video-workflow.asl.json', @_, 0);
}

sub rungs {
    my $out = shift;
    return join ' ', map {
        $_->{format} eq 'hls'
            ? 'hls[' . join(',', map { $_->{width}
                                       ? "$_->{width}x$_->{height}"
                                       : 'audio' }
                                 @{ $_->{renditions} }) . ']'
            : $_->{format} eq 'mp4' ? "mp4:$_->{width}x$_->{height}"
            : "th:$_->{count}"
    } @{ $out->{outputs} };
}

Sfn::Test->lavfi_clip("$dir/src/hd.mp4", size => '1280x720', rate => 25,
                       t => 3);
Sfn::Test->lavfi_clip("$dir/src/nhd.mp4", size => '640x360', rate => 25,
                       t => 3);
Sfn::Test->lavfi_clip("$dir/src/tall.mp4", size => '360x640', rate => 25,
                       t => 2);
Sfn::Test->lavfi_clip("$dir/src/one.mp4", rate => 25,
                       args => [ '-frames:v', 1, '-t', '0.04' ]);
Sfn::Test->lavfi_clip("$dir/src/mute.mp4", audio => 0, t => 2);
Sfn::Test->lavfi_clip("$dir/src/odd2.mp4", size => '321x181', t => 2);
ff("-f lavfi -i sine -t 2 -c:a aac $dir/src/sound.m4a");
ff("-f lavfi -i testsrc2=size=320x180:rate=25 -frames:v 0 -c:v libx264 "
   . "$dir/src/zero.mp4");
ff("-f lavfi -i testsrc2=size=320x180:rate=25 -t 2 -c:v libx264 "
   . "-f h264 $dir/src/raw.h264");

my %ladder;

for my $case (
    [ '720p source: no 1080p, HLS rungs down to 360p', 'hd.mp4',
      'mp4:1280x720 hls[1280x720,960x540,640x360,audio] th:20' ],
    [ '640x360 source: nothing upscaled', 'nhd.mp4',
      'mp4:640x360 hls[640x360,audio] th:20' ],
    [ 'portrait 360x640: the landscape boxes shrink, not the picture',
      'tall.mp4', 'mp4:1136x640 hls[360x640,audio] th:20' ],
    [ 'one frame', 'one.mp4', 'mp4:320x180 hls[320x180] th:1' ],
    [ 'no audio: no audio-only rung', 'mute.mp4',
      'mp4:320x180 hls[320x180] th:20' ],
    [ 'odd size', 'odd2.mp4', 'mp4:320x180 hls[320x180,audio] th:20' ],
    [ 'variable frame rate: no frame at the last instant spread to',
      'vfr.mkv', 'mp4:320x180 hls[320x180] th:19' ],
    [ 'no duration (raw H.264)', 'raw.h264', 'mp4:320x180 hls[320x180] th:1' ])
{
    my ($name, $key, $want) = @$case;
    (my $job = $key) =~ s/\W/_/g;
    ($r, $rc) = task('sfn:media:transcode', example_job($key, "X$job"));
    is($rc, 0, "$name: done") or diag explain $r;
    is(rungs($r->{output}), $want, "$name: $want");
    $ladder{$key} = $r;
}

# the 720p source's ladder, its encodes shared, key frames aligned

$r = $ladder{'hd.mp4'};
my ($m720, $hls) = @{ $r->{output}{outputs} }[0, 1];
is($hls->{renditions}[0]{quality}{psnr}, $m720->{quality}{psnr},
   '720p MP4 and HLS: one encode');
my @k = map { Sfn::Test::keyframes("$dir/out/$_->{key}") }
        grep { $_->{width} } @{ $hls->{renditions} };
is_deeply($k[0], ['0.0', '1.0', '2.0'],
          'key frames every 2 s and at the end of the first segment');
is_deeply($k[$_], $k[0], "rung $_ aligned") for 1 .. $#k;
my ($th2) = grep { $_->{format} eq 'thumbnails' } @{ $r->{output}{outputs} };
is_deeply([map { $_->{time} } @{ $th2->{files} }[0, 1, -1]],
          [0.08, 0.24, 2.92], 'captures over the whole duration');
ok(-s "$dir/out/$th2->{sprite}{key}" && -s "$dir/out/$th2->{vtt}{key}"
   && -s "$dir/out/$th2->{poster}{key}", 'sprite, WebVTT and poster');

for my $case (
    [ 'no video', 'sound.m4a', qr/"sound\.m4a" has no video stream/ ],
    [ 'no stream at all', 'zero.mp4', qr/"zero\.mp4" is not a media file/ ],
    [ 'a huge declared size, no frame', 'cut.y4m',
      qr/no video frame could be decoded/ ])
{
    my ($name, $key, $cause) = @$case;
    ($r, $rc) = task('sfn:media:transcode', example_job($key, 'BAD'));
    is($r->{error}, 'States.TaskFailed', "$name: States.TaskFailed");
    like($r->{cause}, $cause, "$name: cause");
}
ok(!-e "$dir/out/mp4/BAD", 'failed jobs wrote nothing');
is(tmpdirs(), 0, 'and left no temporary directory');

done_testing();
