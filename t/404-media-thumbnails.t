#!/usr/bin/perl

# sfn:media:thumbnails through build/sfn-task: the frame capture of the
# transcoder on its own

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
mkdir "$dir/out";

sub task {
    my ($resource, $input) = @_;
    return Sfn::Test::run_task($resource, $input, dir => $dir,
                               buckets => { src => "$dir/src",
                                            out => "$dir/out" });
}

Sfn::Test->lavfi_clip("$dir/src/clip.mp4", rate => 30, t => 8, audio => 0);

# spread over the duration: 4 captures of 8 s at 1, 3, 5, 7 s

my ($r, $rc) = task('sfn:media:thumbnails',
                    { bucket => 'src', key => 'clip.mp4', count => 4,
                      outputBucket => 'out', prefix => 'th/clip/',
                      width => 160, height => 90, quality => 90 });
is($rc, 0, 'exit code') or diag explain $r;
my $o = $r->{output};
is($o->{count}, 4, 'four thumbnails');
is_deeply([map { $_->{time} } @{$o->{thumbnails}}], [1, 3, 5, 7],
          'evenly spread');
is_deeply([map { $_->{key} } @{$o->{thumbnails}}],
          [map { sprintf 'th/clip/clip_thumb_%04d.jpg', $_ } 1 .. 4],
          'keys');

for my $t (@{$o->{thumbnails}}) {
    my $p = decode_json(scalar `ffprobe -v error -print_format json -show_streams $dir/out/$t->{key}`);
    is($p->{streams}[0]{codec_name}, 'mjpeg', "$t->{key} JPEG");
    is("$p->{streams}[0]{width}x$p->{streams}[0]{height}", '160x90',
       "$t->{key} size");
    is(-s "$dir/out/$t->{key}", $t->{size}, "$t->{key} size reported");
}

# a sprite sheet of the same captures, its WebVTT track and a poster

($r, $rc) = task('sfn:media:thumbnails',
                 { bucket => 'src', key => 'clip.mp4', count => 4,
                   outputBucket => 'out', prefix => 'th/sprite/',
                   width => 160, height => 90,
                   sprite => { width => 80, columns => 2 } });
is($rc, 0, 'sprite sheet') or diag explain $r;
$o = $r->{output};
is($o->{sprite}{key}, 'th/sprite/clip_thumbs.jpg', 'sheet key');
is("$o->{sprite}{columns}x$o->{sprite}{rows}", '2x2', '2 x 2 tiles');
my $sp = decode_json(scalar `ffprobe -v error -print_format json -show_streams $dir/out/th/sprite/clip_thumbs.jpg`);
is("$sp->{streams}[0]{width}x$sp->{streams}[0]{height}", '160x88',
   'a JPEG of 2 x 2 tiles of 80x44');
my $vtt = do { local $/; open my $f, '<', "$dir/out/$o->{vtt}{key}"; <$f> };
is($vtt, "WEBVTT\n"
         . "\n00:00:00.000 --> 00:00:02.000\nclip_thumbs.jpg#xywh=0,0,80,44\n"
         . "\n00:00:02.000 --> 00:00:04.000\nclip_thumbs.jpg#xywh=80,0,80,44\n"
         . "\n00:00:04.000 --> 00:00:06.000\nclip_thumbs.jpg#xywh=0,44,80,44\n"
         . "\n00:00:06.000 --> 00:00:08.000\nclip_thumbs.jpg#xywh=80,44,80,44\n",
   'WebVTT cues cover the clip, one tile each');
is($o->{poster}{key}, 'th/sprite/clip_poster.jpg', 'poster key');
is($o->{poster}{time}, 1, 'the first capture that is not black');
ok(-s "$dir/out/th/sprite/clip_poster.jpg", 'poster written');

# a fixed interval, default size and folder

($r, $rc) = task('sfn:media:thumbnails',
                 { bucket => 'src', key => 'clip.mp4', count => 10,
                   interval => 3 });
is($rc, 0, 'interval');
is_deeply([map { $_->{time} } @{$r->{output}{thumbnails}}], [0, 3, 6],
          'every 3 s while the clip lasts');
is($r->{output}{width}, 320, 'default width 640, not above the source');
ok(-s "$dir/src/thumbnails/clip/clip_thumb_0001.jpg",
   'default folder in the source bucket');

# failures

($r, $rc) = task('sfn:media:thumbnails', { bucket => 'src', key => 'no.mp4' });
is($r->{error}, 'States.TaskFailed', 'missing source');
like($r->{cause}, qr/does not exist/, 'cause');

($r, $rc) = task('sfn:media:thumbnails',
                 { bucket => 'src', key => 'clip.mp4', count => 0 });
like($r->{cause}, qr/invalid "count"/, 'invalid count');


# no decodable frame: a failure with a cause, not success with 0 images

open my $y, '>', "$dir/src/cut.y4m" or die;
binmode $y;
print $y substr("YUV4MPEG2 W16000 H16000 F25:1 Ip A1:1 C420jpeg\nFRAME\n"
                . ("\x80" x 1000), 0, 1000);
close $y;

($r, $rc) = task('sfn:media:thumbnails',
                 { bucket => 'src', key => 'cut.y4m', outputBucket => 'out',
                   count => 3 });
is($rc, 1, 'undecodable source: fails');
is($r->{error}, 'States.TaskFailed', 'with States.TaskFailed');
like($r->{cause}, qr/no video frame could be decoded/, 'and a cause');
ok(!-e "$dir/out/thumbnails/cut", 'no image written');

# an offset past the end captures nothing: a failure too

($r, $rc) = task('sfn:media:thumbnails',
                 { bucket => 'src', key => 'clip.mp4', outputBucket => 'out',
                   prefix => 'late/', count => 2, interval => 1,
                   offset => 60 });
is($rc, 1, 'offset past the end: fails');
like($r->{cause}, qr/no frame to capture at or after 60 s/, 'and says why');
ok(!-e "$dir/out/late", 'nothing written');

done_testing();
