#!/usr/bin/perl

# sfn:media:probe through build/sfn-task: exact fields of a generated clip,
# a non-media file and truncated files fail with States.TaskFailed

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Sfn::Test;
use File::Temp qw(tempdir);
use JSON::PP;

Sfn::Test::need_tool('sfn-task');
Sfn::Test::need_ffmpeg();

my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/src";

sub ff {
    my $cmd = shift;
    system("ffmpeg -nostdin -v error -y $cmd") == 0 or die "ffmpeg $cmd failed";
}

sub task {
    my ($resource, $input) = @_;
    return Sfn::Test::run_task($resource, $input, dir => $dir,
                               buckets => { src => "$dir/src" });
}

# the foundation's clip: 10 s 1280x720 H.264 + AAC

Sfn::Test->lavfi_clip("$dir/src/clip.mp4", size => '1280x720', rate => 30,
                       sine => 'frequency=440:sample_rate=48000', t => 10,
                       args => [ '-pix_fmt', 'yuv420p', '-ac', 2 ]);

my ($r, $rc) = task('sfn:media:probe',
                    { bucket => 'src', key => 'clip.mp4', jobId => 'j1' });
is($rc, 0, 'probe exit code');
my $o = $r->{output};
ok($o, 'probe output') or diag explain $r;

is($o->{jobId}, 'j1', 'jobId echoed');
like($o->{format}{format_name}, qr/mp4/, 'format_name');
ok(abs($o->{format}{duration} - 10) < 0.1, 'format duration is a number, 10 s');
is($o->{format}{size}, -s "$dir/src/clip.mp4", 'format size');
ok($o->{format}{bit_rate} > 0, 'format bit_rate');
is($o->{format}{nb_streams}, 2, 'nb_streams');

my ($v) = grep { $_->{codec_type} eq 'video' } @{$o->{streams}};
my ($a) = grep { $_->{codec_type} eq 'audio' } @{$o->{streams}};
is($v->{codec_name}, 'h264', 'video codec');
is($v->{width}, 1280, 'width');
is($v->{height}, 720, 'height');
is($v->{pix_fmt}, 'yuv420p', 'pix_fmt');
is($v->{r_frame_rate}, '30/1', 'r_frame_rate');
is($v->{avg_frame_rate}, '30/1', 'avg_frame_rate');
is($v->{fps}, 30, 'numeric fps');
is($v->{rotation}, 0, 'rotation');
is($a->{codec_name}, 'aac', 'audio codec');
is($a->{sample_rate}, 48000, 'sample_rate is a number');
is($a->{channels}, 2, 'channels');
is($a->{channel_layout}, 'stereo', 'channel_layout');

# the same figures as ffprobe

my $fp = decode_json(scalar `ffprobe -v error -print_format json -show_format -show_streams $dir/src/clip.mp4`);
is($o->{format}{duration}, $fp->{format}{duration} + 0, 'duration as ffprobe');
is($v->{profile}, $fp->{streams}[0]{profile}, 'profile as ffprobe');
is($v->{nb_frames}, $fp->{streams}[0]{nb_frames}, 'nb_frames as ffprobe');

my $s = $o->{summary};
ok(abs($s->{duration} - 10) < 0.1, 'summary duration');
is($s->{width}, 1280, 'summary width');
is($s->{height}, 720, 'summary height');
is($s->{videoCodec}, 'h264', 'summary videoCodec');
is($s->{audioCodec}, 'aac', 'summary audioCodec');
is($s->{fps}, 30, 'summary fps');
ok($s->{bitrate} > 100000, 'summary bitrate');
is_deeply($o->{metadata}, $s, 'metadata as the seed Lambda names it');

# rotation and 10-bit

Sfn::Test->lavfi_clip("$dir/src/hi.mp4", audio => 0, t => 1,
                       args => [ '-pix_fmt', 'yuv420p10le' ]);
($r) = task('sfn:media:probe', { bucket => 'src', key => 'hi.mp4' });
is($r->{output}{summary}{bitDepth}, 10, '10-bit source');
is($r->{output}{summary}{hasAudio}, JSON::PP::false, 'no audio');
is($r->{output}{summary}{audioCodec}, undef, 'audioCodec null');

# failures: the tool reports them and keeps working

open my $f, '>', "$dir/src/notes.mp4" or die;
print $f "this is not a video\n" x 100;
close $f;

($r, $rc) = task('sfn:media:probe', { bucket => 'src', key => 'notes.mp4' });
is($rc, 1, 'non-media exit code');
is($r->{error}, 'States.TaskFailed', 'non-media error');
like($r->{cause}, qr/"notes\.mp4" is not a media file: Invalid data/,
     'non-media cause');

system("head -c 200000 $dir/src/clip.mp4 > $dir/src/cut.mp4");
($r) = task('sfn:media:probe', { bucket => 'src', key => 'cut.mp4' });
is($r->{error}, 'States.TaskFailed', 'truncated error');
like($r->{cause}, qr/"cut\.mp4" is truncated/, 'truncated cause');

ff("-i $dir/src/clip.mp4 -c copy -movflags +faststart $dir/src/fs.mp4");
system("head -c 400000 $dir/src/fs.mp4 > $dir/src/cut2.mp4");
($r) = task('sfn:media:probe', { bucket => 'src', key => 'cut2.mp4' });
is($r->{error}, 'States.TaskFailed', 'truncated faststart error');
like($r->{cause}, qr/"cut2\.mp4" is truncated: stream \d needs \d+ bytes/,
     'truncated faststart cause');

($r) = task('sfn:media:probe', { bucket => 'src', key => 'missing.mp4' });
like($r->{cause}, qr/"missing\.mp4" does not exist/, 'missing file');

($r) = task('sfn:media:probe', { bucket => 'src', key => '../in.json' });
like($r->{cause}, qr/invalid key/, 'a key cannot escape its bucket');

($r) = task('sfn:media:probe', { bucket => 'nope', key => 'clip.mp4' });
like($r->{cause}, qr/unknown bucket "nope"/, 'unknown bucket');

($r, $rc) = task('sfn:media:probe', { bucket => 'src', key => 'clip.mp4' });
is($rc, 0, 'the next task runs after failures');
is($r->{output}{streams}[0]{width}, 1280, 'and probes again');

done_testing();
