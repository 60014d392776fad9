#!/usr/bin/perl

# sfn:media:qc through build/sfn-task: real PSNR/SSIM (a degraded rendition
# scores lower), HLS checks, a black source is caught, damaged outputs fail
# their checks but not the task, the seed's output paths resolve

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

Sfn::Test->lavfi_clip("$dir/src/clip.mp4", rate => 30, t => 8,
                       sine => 'frequency=440:sample_rate=48000',
                       args => [ '-qp', 10, '-pix_fmt', 'yuv420p' ]);

# one good and one starved rendition, MP4 and HLS

my ($r, $rc) = task('sfn:media:transcode', {
    input => { bucket => 'src', key => 'clip.mp4' },
    outputs => [
        { type => 'mp4', bucket => 'out', key => 'J/mp4/good.mp4',
          height => 180, crf => 18 },
        { type => 'mp4', bucket => 'out', key => 'J/mp4/bad.mp4',
          height => 180, crf => 51, maxBitrate => 20000 },
        { type => 'hls', bucket => 'out', prefix => 'J/hls/', name => 'index',
          segmentLength => 2,
          renditions => [{ name => '_180', height => 180, crf => 20 },
                         { name => '_90', height => 90, crf => 20 }] },
        { type => 'thumbnails', bucket => 'out', prefix => 'J/th/',
          count => 2, interval => 3 },
    ] });
is($rc, 0, 'transcode') or diag explain $r;

my ($probe) = task('sfn:media:probe', { bucket => 'src', key => 'clip.mp4' });
my $meta = $probe->{output}{metadata};

# the seed passes keys that are not files: "mp4/<job>/output" and so on

($r, $rc) = task('sfn:media:qc', {
    jobId => 'J',
    metadata => $meta,
    minPsnr => 30, minSsim => 0.9,
    outputs => [
        { format => 'mp4', bucket => 'out', key => 'J/mp4/good.mp4' },
        { format => 'mp4', bucket => 'out', key => 'J/mp4/bad.mp4' },
        { format => 'hls', bucket => 'out', key => 'J/hls/index.m3u8' },
        { format => 'thumbnails', bucket => 'out', key => 'J/th/thumbnails' },
    ] });
is($rc, 0, 'qc exit code') or diag explain $r;
my $o = $r->{output};
is($o->{jobId}, 'J', 'jobId');
is(scalar @{$o->{qualityResults}}, 4, 'qualityResults per output');
is(scalar @{$o->{outputs}}, 4, 'outputs passed on');
ok(defined $o->{qualityScore}, 'qualityScore');

my ($good, $bad, $hls, $th) = @{$o->{qualityResults}};
ok($good->{metrics}{psnr} > 35, "good PSNR $good->{metrics}{psnr}");
ok($good->{metrics}{ssim} > 0.95, "good SSIM $good->{metrics}{ssim}");
ok($bad->{metrics}{psnr} < $good->{metrics}{psnr} - 5,
   "degraded PSNR $bad->{metrics}{psnr} is lower");
ok($bad->{metrics}{ssim} < $good->{metrics}{ssim},
   "degraded SSIM $bad->{metrics}{ssim} is lower");
is($good->{passed}, JSON::PP::true, 'good rendition passes');
is($bad->{passed}, JSON::PP::false, 'degraded rendition fails');
is($bad->{checks}{psnr}, JSON::PP::false, 'on PSNR');
is($good->{renditions}[0]{frames}, 240, 'every frame decoded');
ok(abs($good->{renditions}[0]{duration} - 8) < 0.1, 'duration measured');

is($hls->{passed}, JSON::PP::true, 'HLS passes') or diag explain $hls;
is(scalar @{$hls->{renditions}}, 2, 'both variants checked');
is($hls->{checks}{aligned}, JSON::PP::true, 'aligned');
is($hls->{renditions}[0]{segments}, 5, 'segments counted (1 s, then 2 s)');
ok($hls->{renditions}[1]{psnr} > 30, 'variant PSNR');
is($th->{passed}, JSON::PP::true, 'thumbnails pass');
is($th->{metrics}{files}, 2, 'thumbnails found in the folder');
is($o->{passed}, JSON::PP::false, 'a failing output fails the job');

# the same against ffmpeg's own psnr filter

my $ref = `ffmpeg -nostdin -i $dir/out/J/mp4/good.mp4 -i $dir/src/clip.mp4 -lavfi "[1:v]scale=320:180:flags=bicubic,format=yuv420p[r];[0:v][r]psnr" -f null - 2>&1`;
my ($avg) = $ref =~ /average:([\d.]+)/;
ok(abs($good->{metrics}{psnr} - $avg) < 1,
   "PSNR $good->{metrics}{psnr} agrees with libavfilter's $avg");

# damaged outputs: a missing segment, a truncated MP4

unlink "$dir/out/J/hls/index_90_00002.ts" or die;
system("head -c 20000 $dir/out/J/mp4/good.mp4 > $dir/out/J/mp4/cut.mp4");
($r, $rc) = task('sfn:media:qc', {
    jobId => 'J', metadata => $meta,
    outputs => [
        { format => 'hls', bucket => 'out', key => 'J/hls/index.m3u8' },
        { format => 'mp4', bucket => 'out', key => 'J/mp4/cut.mp4' },
        { format => 'mp4', bucket => 'out', key => 'J/nothing/here.mp4' },
    ] });
is($rc, 0, 'damaged outputs do not fail the task');
($hls, my $cut, my $none) = @{$r->{output}{qualityResults}};
is($hls->{checks}{segments}, JSON::PP::false, 'missing segment found');
like(join(' ', @{$hls->{errors}}), qr/index_90_00002\.ts/, 'and named');
is($cut->{checks}{decodes}, JSON::PP::false, 'truncated MP4 fails');
like(join(' ', @{$cut->{errors}}), qr/truncated/, 'as truncated');
is($none->{checks}{exists}, JSON::PP::false, 'missing output');
is($r->{output}{passed}, JSON::PP::false, 'not passed');

# a black source is detected

ff("-f lavfi -i color=black:size=320x180:rate=25 -f lavfi -i sine -t 3 "
   . "-c:v libx264 -preset ultrafast -c:a aac $dir/src/black.mp4");
($r) = task('sfn:media:transcode', {
    input => { bucket => 'src', key => 'black.mp4' },
    outputs => [{ type => 'mp4', bucket => 'out', key => 'B/black.mp4' }] });
($r, $rc) = task('sfn:media:qc', {
    source => { bucket => 'src', key => 'black.mp4' },
    outputs => [{ format => 'mp4', bucket => 'out', key => 'B/black.mp4' }] });
my $b = $r->{output}{qualityResults}[0];
is($b->{renditions}[0]{blackRatio}, 1, 'all frames black');
is($b->{checks}{notBlack}, JSON::PP::false, 'black check fails');
is($r->{output}{passed}, JSON::PP::false, 'black output does not pass');

# silence

ff("-f lavfi -i testsrc2=size=320x180:rate=25 -f lavfi "
   . "-i anullsrc=r=48000:cl=stereo -t 3 -c:v libx264 -preset ultrafast "
   . "-c:a aac $dir/src/mute.mp4");
($r, $rc) = task('sfn:media:qc', {
    source => { bucket => 'src', key => 'mute.mp4' },
    outputs => [{ format => 'mp4', bucket => 'src', key => 'mute.mp4' }] });
$b = $r->{output}{qualityResults}[0];
ok($b->{renditions}[0]{silenceRatio} > 0.9, 'silence measured');
is($b->{checks}{notSilent}, JSON::PP::false, 'silence check fails');
ok($b->{metrics}{psnr} >= 99, 'the source against itself: PSNR 100');


# a source with no decodable frame: QC says so and does not pass

open my $y, '>', "$dir/src/cut.y4m" or die;
binmode $y;
print $y substr("YUV4MPEG2 W16000 H16000 F25:1 Ip A1:1 C420jpeg\nFRAME\n"
                . ("\x80" x 1000), 0, 1000);
close $y;

($r, $rc) = task('sfn:media:qc', {
    source => { bucket => 'src', key => 'cut.y4m' },
    outputs => [{ format => 'mp4', bucket => 'src', key => 'cut.y4m' }] });
is($rc, 0, 'undecodable output: a failed check, not a failed task');
$b = $r->{output}{qualityResults}[0];
is($b->{checks}{decodes}, JSON::PP::false, 'does not decode');
like(join(' ', @{$b->{errors}}), qr/no frame could be decoded/, 'and why');
is($r->{output}{passed}, JSON::PP::false, 'not passed');

($r, $rc) = task('sfn:media:probe', { bucket => 'src', key => 'cut.y4m' });
is($r->{output}{summary}{duration}, 0, 'probe: the header, no duration');


# PSNR and SSIM measured in the encode, and by QC's own decode, agree with
# libavfilter's psnr ("average") and ssim ("Y") filters on the same pair:
# the output decoded, the source scaled by the transcoder's chain

Sfn::Test->lavfi_clip("$dir/src/acc.mp4", rate => 25, t => 4,
                       args => [ '-qp', 4, '-pix_fmt', 'yuv420p' ]);

($r, $rc) = task('sfn:media:transcode', {
    input => { bucket => 'src', key => 'acc.mp4' },
    outputs => [
        { type => 'mp4', bucket => 'out', key => 'A/full.mp4', crf => 32 },
        { type => 'hls', bucket => 'out', prefix => 'A/hls/', name => 'index',
          segmentLength => 2,
          renditions => [{ name => '_small', width => 160, crf => 26 }] },
    ] });
is($rc, 0, 'transcode for the accuracy check') or diag explain $r;
my $tc = $r->{output};

sub lavfi_pair {
    my ($out, $w, $h) = @_;
    my $chain = "scale=$w:$h:flags=bicubic:force_original_aspect_ratio=decrease"
                . ":force_divisible_by=2,pad=$w:$h:(ow-iw)/2:(oh-ih)/2,"
                . "setsar=1,format=yuv420p";
    my $log = `ffmpeg -nostdin -i $out -i $dir/src/acc.mp4 -lavfi "[0:v]split[a][b];[1:v]$chain,split[r][s];[a][r]psnr;[b][s]ssim" -f null - 2>&1`;
    my ($psnr) = $log =~ /PSNR .* average:([\d.]+|inf)/;
    my ($ssim) = $log =~ /SSIM Y:([\d.]+)/;
    return ($psnr, $ssim);
}

my %fig = ('A/full.mp4' => $tc->{outputs}[0]{quality},
           'A/hls/index_small.m3u8' => $tc->{outputs}[1]{renditions}[0]{quality});
my %size = ('A/full.mp4' => [320, 180], 'A/hls/index_small.m3u8' => [160, 90]);

($r, $rc) = task('sfn:media:qc', {
    source => { bucket => 'src', key => 'acc.mp4' },
    outputs => [{ format => 'mp4', bucket => 'out', key => 'A/full.mp4' },
                { format => 'hls', bucket => 'out',
                  key => 'A/hls/index.m3u8' }] });
my %dec = ('A/full.mp4' => $r->{output}{qualityResults}[0]{renditions}[0],
           'A/hls/index_small.m3u8'
               => $r->{output}{qualityResults}[1]{renditions}[0]);

for my $k (sort keys %fig) {
    my ($psnr, $ssim) = lavfi_pair("$dir/out/$k", @{ $size{$k} });
    ok(defined $psnr && defined $ssim, "$k: libavfilter's figures")
        or next;
    my $f = $fig{$k};
    is($f->{measured}, 'encoder', "$k: measured in the encode");
    is($f->{frames}, 100, "$k: on every frame");
    ok($psnr < 45, "$k: a lossy pair (PSNR $psnr)");
    ok(abs($f->{psnr} - $psnr) <= 0.5,
       "$k: encode PSNR $f->{psnr} within 0.5 dB of libavfilter's $psnr");
    ok(abs($f->{ssim} - $ssim) <= 0.005,
       "$k: encode SSIM $f->{ssim} within 0.005 of libavfilter's $ssim");
    ok(abs($dec{$k}{psnr} - $psnr) <= 0.5,
       "$k: QC's decode PSNR $dec{$k}{psnr} within 0.5 dB of $psnr");
    ok(abs($dec{$k}{ssim} - $ssim) <= 0.005,
       "$k: QC's decode SSIM $dec{$k}{ssim} within 0.005 of $ssim");
    is($dec{$k}{comparedFrames}, 100, "$k: QC compared every frame");
}


# QC with the transcode's figures reads packets only; figures that do not
# describe the file (another frame count), or a damaged file, are decoded

my $qc_in = {
    source => { bucket => 'src', key => 'acc.mp4' },
    transcode => $tc->{outputs},
    outputs => [{ format => 'mp4', bucket => 'out', key => 'A/full.mp4' },
                { format => 'hls', bucket => 'out',
                  key => 'A/hls/index.m3u8' }] };

($r, $rc) = task('sfn:media:qc', $qc_in);
is($rc, 0, 'QC with the figures of the encode') or diag explain $r;
my ($fm, $fh) = @{$r->{output}{qualityResults}};
is($fm->{renditions}[0]{measured}, 'encoder', 'MP4: figures of the encode');
is($fm->{renditions}[0]{psnr}, $fig{'A/full.mp4'}{psnr}, 'MP4: its PSNR');
is($fm->{renditions}[0]{frames}, 100, 'MP4: frames counted in the file');
ok(!exists $fm->{renditions}[0]{comparedFrames}, 'MP4: nothing decoded');
ok(abs($fm->{renditions}[0]{duration} - 4) < 0.1, 'MP4: duration read');
is($fm->{passed}, JSON::PP::true, 'MP4 passes') or diag explain $fm;
is($fh->{renditions}[0]{measured}, 'encoder', 'HLS variant: figures used');
is($fh->{checks}{segments}, JSON::PP::true, 'HLS: playlist still checked');
is($fh->{passed}, JSON::PP::true, 'HLS passes') or diag explain $fh;
is($r->{output}{passed}, JSON::PP::true, 'QC passes');

my $lie = decode_json(encode_json($tc->{outputs}));
$lie->[0]{quality}{frames} = 99;
$lie->[0]{quality}{psnr} = 99;
$qc_in->{transcode} = $lie;
($r, $rc) = task('sfn:media:qc', $qc_in);
$fm = $r->{output}{qualityResults}[0]{renditions}[0];
ok(!exists $fm->{measured}, 'figures of another frame count: decoded');
ok($fm->{psnr} < 60, "and measured again ($fm->{psnr})");

system("head -c 30000 $dir/out/A/full.mp4 > $dir/out/A/cut.mp4");
$lie = decode_json(encode_json($tc->{outputs}));
$lie->[0]{key} = 'A/cut.mp4';
$qc_in->{transcode} = $lie;
$qc_in->{outputs} = [{ format => 'mp4', bucket => 'out', key => 'A/cut.mp4' }];
($r, $rc) = task('sfn:media:qc', $qc_in);
is($rc, 0, 'a damaged output with figures: a check, not the task');
is($r->{output}{qualityResults}[0]{checks}{decodes}, JSON::PP::false,
   'it does not decode');

# figures of the wrong shape are no figures: the output is decoded

for my $junk ('junk', [1, 'x', {}], { outputs => { a => 1 } },
              [{ bucket => 'out', key => 'A/full.mp4',
                 quality => { psnr => '99', ssim => 1, frames => 100 } }],
              [{ bucket => 'src', key => 'A/full.mp4',
                 quality => { psnr => 99, ssim => 1, frames => 100 } }])
{
    ($r, $rc) = task('sfn:media:qc', {
        source => { bucket => 'src', key => 'acc.mp4' }, transcode => $junk,
        outputs => [{ format => 'mp4', bucket => 'out',
                      key => 'A/full.mp4' }] });
    my $m = $r->{output}{qualityResults}[0]{renditions}[0];
    ok($rc == 0 && !exists $m->{measured} && $m->{psnr} < 60,
       'junk figures ' . encode_json($junk) . ': decoded');
}

# QC reports progress while it reads

($r, $rc, my $err) = Sfn::Test::run_task('sfn:media:qc', {
    source => { bucket => 'src', key => 'acc.mp4' },
    outputs => [{ format => 'mp4', bucket => 'out', key => 'A/full.mp4' },
                { format => 'hls', bucket => 'out',
                  key => 'A/hls/index.m3u8' }] },
    dir => $dir, args => ['--progress'], stderr => 1,
    buckets => { src => "$dir/src", out => "$dir/out" });
my @pct = ($r->{raw} // '') =~ /^progress ([\d.]+)%/mg;
ok(@pct > 4, scalar(@pct) . ' progress reports');
ok((grep { $_ > 0 && $_ < 50 } @pct), 'moving before the first output ends');

done_testing();
