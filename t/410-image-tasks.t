#!/usr/bin/perl

# sfn:image:validate, sfn:image:resize and sfn:image:watermark through
# build/sfn-task: the seed's shapes (003_6b2533164b88df5e.txt, "State
# Execution Flow") on pictures made with lavfi, and the hostile ones

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Sfn::Test;
use File::Temp qw(tempdir);
use JSON::PP;
use Digest::MD5 qw(md5_hex);

Sfn::Test::need_tool('sfn-task');
Sfn::Test::need_ffmpeg();

my $dir = tempdir(CLEANUP => 1);
my $b = "$dir/img";
mkdir $b;
mkdir "$b/uploads";
mkdir "$b/uploads/user-id";
mkdir "$dir/out";

sub task {
    my ($resource, $input) = @_;
    return Sfn::Test::run_task($resource, $input, dir => $dir,
                               buckets => { img => $b,
                                            out => "$dir/out" });
}

sub lavfi {
    my ($src, $path, @args) = @_;
    Sfn::Test->ffmpeg('-f', 'lavfi', '-i', $src, '-frames:v', 1, @args,
                      $path);
}

sub probe {
    my ($path) = @_;
    my $p = decode_json(scalar `ffprobe -v error -print_format json -show_streams '$path'`);
    return $p->{streams}[0];
}

# the raw RGB of a region of a picture
sub region {
    my ($path, $crop) = @_;
    open my $f, '-|', 'ffmpeg', '-nostdin', '-v', 'error', '-i', $path,
        '-vf', "crop=$crop", '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'
        or die "ffmpeg: $!\n";
    local $/;
    my $raw = <$f>;
    close $f;
    return md5_hex($raw // '');
}

# PSNR of two pictures of one size
sub psnr {
    my ($x, $y) = @_;
    my $log = `ffmpeg -nostdin -i '$x' -i '$y' -lavfi psnr -f null - 2>&1`;
    return $log =~ /average:([0-9.]+|inf)/ ? ($1 eq 'inf' ? 99 : $1) : -1;
}

sub slurp {
    my ($path) = @_;
    open my $f, '<:raw', $path or die "$path: $!\n";
    local $/;
    return scalar <$f>;
}

sub spew {
    my ($path, $data) = @_;
    open my $f, '>:raw', $path or die "$path: $!\n";
    print $f $data;
    close $f;
}

lavfi('testsrc=size=640x480', "$b/uploads/user-id/image-id.jpg");
lavfi('testsrc=size=640x480', "$b/uploads/user-id/p.png");
lavfi('testsrc=size=640x480', "$b/uploads/user-id/w.webp");
lavfi('testsrc=size=4000x3000', "$b/uploads/user-id/big.jpg", '-q:v', 3);
lavfi('testsrc=size=320x240,format=gray', "$b/uploads/user-id/gray.png");
lavfi('color=c=red@0.5:size=320x240,format=rgba',
      "$b/uploads/user-id/alpha.png");


# validate: the seed's validationResult, read from the file

my %seed = (imageId => 'img_1234567890abcdef',
            userId => 'user-id', fileName => 'image-id.jpg',
            fileSize => 2048576, fileType => 'image/jpeg');

my ($r, $rc) = task('sfn:image:validate',
                    { %seed, bucket => 'img',
                      s3Key => 'uploads/user-id/image-id.jpg' });
is($rc, 0, 'validate: exit code') or diag explain $r;
my $o = $r->{output};
is($o->{result}, 'valid', 'validate: valid');
is_deeply([@{$o->{imageMetadata}}{qw(width height format colorSpace)}],
          [640, 480, 'JPEG', 'sRGB'], 'validate: the seed\'s imageMetadata');
is($o->{imageMetadata}{fileSize}, -s "$b/uploads/user-id/image-id.jpg",
   'validate: the file\'s size, not the input\'s fileSize');
is_deeply($o->{validationDetails},
          { fileSizeValid => JSON::PP::true, formatValid => JSON::PP::true,
            dimensionsValid => JSON::PP::true },
          'validate: the seed\'s validationDetails');
ok(!exists $o->{errors}, 'validate: no errors when valid');

for my $c (['p.png', 'PNG', 'sRGB', 0], ['w.webp', 'WEBP', 'sRGB', 0],
           ['gray.png', 'PNG', 'Gray', 0], ['alpha.png', 'PNG', 'sRGB', 1])
{
    ($r, $rc) = task('sfn:image:validate',
                     { bucket => 'img', key => "uploads/user-id/$c->[0]" });
    is($rc, 0, "validate $c->[0]") or diag explain $r;
    is($r->{output}{result}, 'valid', "validate $c->[0]: valid");
    is($r->{output}{imageMetadata}{format}, $c->[1], "validate $c->[0]: format");
    is($r->{output}{imageMetadata}{colorSpace}, $c->[2],
       "validate $c->[0]: colour space");
    is(!!$r->{output}{imageMetadata}{hasAlpha}, !!$c->[3],
       "validate $c->[0]: alpha");
}

# the rules of the input: an "invalid" result that says which

($r, $rc) = task('sfn:image:validate',
                 { bucket => 'img', key => 'uploads/user-id/image-id.jpg',
                   formats => ['png', 'webp'], maxWidth => 320 });
is($rc, 0, 'validate with rules: exit code');
$o = $r->{output};
is($o->{result}, 'invalid', 'validate: a JPEG wider than 320 is invalid');
ok(!$o->{validationDetails}{formatValid}, 'formatValid false');
ok(!$o->{validationDetails}{dimensionsValid}, 'dimensionsValid false');
ok($o->{validationDetails}{fileSizeValid}, 'fileSizeValid true');
is(scalar @{$o->{errors}}, 2, 'two errors named') or diag explain $o;

($r, $rc) = task('sfn:image:validate',
                 { bucket => 'img', key => 'uploads/user-id/p.png',
                   fileType => 'image/jpeg', minWidth => 641 });
is($o = $r->{output}{result}, 'invalid', 'a PNG uploaded as image/jpeg');
like(join(' ', @{$r->{output}{errors}}), qr/image\/png, not its fileType/,
     'the content type named');
like(join(' ', @{$r->{output}{errors}}), qr/640x480 is outside 641x1/,
     'the minimum named');


# resize: the seed's two sizes of a 12-megapixel picture

($r, $rc) = task('sfn:image:resize',
                 { %seed, bucket => 'img', s3Key => 'uploads/user-id/big.jpg',
                   validationResult => { result => 'valid' } });
is($rc, 0, 'resize: exit code') or diag explain $r;
$o = $r->{output};
is($o->{status}, 'completed', 'resize: completed');
is_deeply([map { [@{$_}{qw(size dimensions s3Key)}] } @{$o->{resizedImages}}],
          [['small', '800x600', 'processed/user-id/big-small.jpg'],
           ['medium', '1200x900', 'processed/user-id/big-medium.jpg']],
          'resize: the seed\'s resizedImages');

for my $i (@{$o->{resizedImages}}) {
    my $p = probe("$b/$i->{s3Key}");
    is($p->{codec_name}, 'mjpeg', "$i->{size}: JPEG");
    is("$p->{width}x$p->{height}", $i->{dimensions}, "$i->{size}: dimensions");
    is($i->{fileSize}, -s "$b/$i->{s3Key}", "$i->{size}: fileSize");
}

my @tmp = glob("$b/processed/user-id/.sfn-tmp*");
is(scalar @tmp, 0, 'no temporary file left');

# fit keeps the aspect and does not enlarge; fill crops; other formats

($r, $rc) = task('sfn:image:resize',
                 { bucket => 'img', key => 'uploads/user-id/p.png',
                   outputBucket => 'out', outputPrefix => 'thumbs/',
                   sizes => [{ name => 'wide', width => 400, height => 100 },
                             { name => 'big', width => 2000,
                               height => 2000 }] });
is($rc, 0, 'resize fit: exit code') or diag explain $r;
is_deeply([map { $_->{dimensions} } @{$r->{output}{resizedImages}}],
          ['133x100', '640x480'], 'fit: aspect kept, never enlarged');
is($r->{output}{resizedImages}[0]{s3Key}, 'thumbs/user-id/p-wide.png',
   'fit: prefix and size name');
ok(-s "$dir/out/thumbs/user-id/p-wide.png", 'written into outputBucket');

($r, $rc) = task('sfn:image:resize',
                 { bucket => 'img', key => 'uploads/user-id/p.png',
                   fit => 'fill', sizes => [{ name => 'sq', width => 100,
                                              height => 100 }] });
is($rc, 0, 'resize fill: exit code') or diag explain $r;
is($r->{output}{resizedImages}[0]{dimensions}, '100x100', 'fill: the box');
is(probe("$b/processed/user-id/p-sq.png")->{codec_name}, 'png', 'fill: PNG');

($r, $rc) = task('sfn:image:resize',
                 { bucket => 'img', key => 'uploads/user-id/alpha.png',
                   sizes => { s => '160x120' } });
is(probe("$b/processed/user-id/alpha-s.png")->{pix_fmt}, 'rgba',
   'alpha kept');

my %q;
for my $q (30, 95) {
    ($r, $rc) = task('sfn:image:resize',
                     { bucket => 'img', key => 'uploads/user-id/image-id.jpg',
                       format => 'webp', quality => $q, outputPrefix => "q$q/",
                       sizes => { s => '320x240' } });
    is($rc, 0, "webp quality $q") or diag explain $r;
    is(probe("$b/q$q/user-id/image-id-s.webp")->{codec_name}, 'webp',
       "webp quality $q: WebP");
    $q{$q} = $r->{output}{resizedImages}[0]{fileSize};
}
cmp_ok($q{30}, '<', $q{95}, 'quality 30 is smaller than quality 95');


# watermark: the seed's watermarkResult from the resize's output

($r, $rc) = task('sfn:image:resize',
                 { bucket => 'img', s3Key => 'uploads/user-id/image-id.jpg' });
is($rc, 0, 'resize of the seed\'s key') or diag explain $r;
my $resized = $r->{output};

($r, $rc) = task('sfn:image:watermark',
                 { imageId => 'img_1', userId => 'user-id', bucket => 'img',
                   resizeResult => $resized });
is($rc, 0, 'watermark: exit code') or diag explain $r;
$o = $r->{output};
is($o->{status}, 'completed', 'watermark: completed');
is_deeply([map { [@{$_}{qw(size s3Key watermarkType watermarkText)}] }
           @{$o->{watermarkedImages}}],
          [['small', 'processed/user-id/image-id-small-watermarked.jpg',
            'text', 'Processed by Image Platform'],
           ['medium', 'processed/user-id/image-id-medium-watermarked.jpg',
            'text', 'Processed by Image Platform']],
          'watermark: the seed\'s watermarkedImages');
ok(-s "$b/$_->{s3Key}", "$_->{s3Key} written") for @{$o->{watermarkedImages}};

# on a PNG (lossless) the text changes its corner and nothing else

for my $c (['bottom-right', '200:60:440:420', '200:60:0:0'],
           ['top-left', '200:60:0:0', '200:60:440:420'])
{
    ($r, $rc) = task('sfn:image:watermark',
                     { bucket => 'img', key => 'uploads/user-id/p.png',
                       position => $c->[0], opacity => 1,
                       watermarkText => 'Copyright' });
    is($rc, 0, "watermark $c->[0]") or diag explain $r;
    my $w = "$b/uploads/user-id/p-watermarked.png";
    isnt(region($w, $c->[1]), region("$b/uploads/user-id/p.png", $c->[1]),
         "$c->[0]: the text is there");
    is(region($w, $c->[2]), region("$b/uploads/user-id/p.png", $c->[2]),
       "$c->[0]: the opposite corner untouched");
}

# the text is the text: filter graph and drawtext syntax are not read

my $text = q{a'b:c,d;[e]\\f %{pts} %{localtime} caf} . "\x{e9}";
($r, $rc) = task('sfn:image:watermark',
                 { bucket => 'img', key => 'uploads/user-id/p.png',
                   watermarkText => $text });
is($rc, 0, 'metacharacters in the text') or diag explain $r;
is($r->{output}{watermarkedImages}[0]{watermarkText}, $text,
   'the text as given');

($r, $rc) = task('sfn:image:watermark',
                 { bucket => 'img', key => 'uploads/user-id/p.png',
                   opacity => 0 });
is($rc, 0, 'opacity 0') or diag explain $r;
is(region("$b/uploads/user-id/p-watermarked.png", '640:480:0:0'),
   region("$b/uploads/user-id/p.png", '640:480:0:0'),
   'opacity 0 leaves the picture as it was');


# a camera's picture turned on its side: EXIF orientation 6 (turn it a
# quarter clockwise to show it) is applied, and its sizes are upright

my $exif = "Exif\0\0II*\0" . pack('V', 8) . pack('v', 1)
           . pack('vvVvv', 0x0112, 3, 1, 6, 0) . pack('V', 0);
my $stored = slurp("$b/uploads/user-id/image-id.jpg");
spew("$b/uploads/user-id/side.jpg", substr($stored, 0, 2) . "\xff\xe1"
     . pack('n', length($exif) + 2) . $exif . substr($stored, 2));

($r, $rc) = task('sfn:image:validate',
                 { bucket => 'img', key => 'uploads/user-id/side.jpg' });
is("$r->{output}{imageMetadata}{width}x$r->{output}{imageMetadata}{height}",
   '480x640', 'orientation 6: the picture as shown') or diag explain $r;
is($r->{output}{imageMetadata}{orientation}, 6, 'orientation reported');

($r, $rc) = task('sfn:image:resize',
                 { bucket => 'img', key => 'uploads/user-id/side.jpg',
                   format => 'png', sizes => { s => '480x640' } });
is($r->{output}{resizedImages}[0]{dimensions}, '480x640',
   'orientation 6: resized upright');
my $side = "$b/processed/user-id/side-s.png";
my %turn;
for my $t (qw(clock cclock clock_flip cclock_flip)) {
    Sfn::Test->ffmpeg('-i', "$b/uploads/user-id/image-id.jpg",
                      '-vf', "transpose=$t", "$dir/$t.png");
    $turn{$t} = psnr($side, "$dir/$t.png");
}
cmp_ok($turn{clock}, '>', 35, 'turned clockwise: as ffmpeg turns it')
    or diag explain \%turn;
cmp_ok($turn{$_}, '<', 20, "not $_") for qw(cclock clock_flip cclock_flip);


# a picture as the mark: its alpha kept, times the opacity; on a PNG, its
# opaque half changes what is under it, its transparent half nothing

lavfi("color=c=red:size=200x100,format=rgba,"
      . "geq=r=255:g=0:b=0:a='if(lt(X\\,100)\\,255\\,0)'", "$b/logo.png");

($r, $rc) = task('sfn:image:watermark',
                 { bucket => 'img', key => 'uploads/user-id/p.png',
                   watermarkImage => 'logo.png', opacity => 1 });
is($rc, 0, 'image watermark') or diag explain $r;
is_deeply([@{$r->{output}{watermarkedImages}[0]}{qw(watermarkType
                                                     watermarkImage)}],
          ['image', 'logo.png'], 'watermarkType image');

# 640x480: the mark fits 160x120 (a quarter) as 160x80, 12 px from the
# bottom right corner, at 468,388
my $wm = "$b/uploads/user-id/p-watermarked.png";
my $orig = "$b/uploads/user-id/p.png";
isnt(region($wm, '60:60:478:398'), region($orig, '60:60:478:398'),
     'under the opaque half: the mark');
is(region($wm, '60:60:558:398'), region($orig, '60:60:558:398'),
   'under the transparent half: the picture');
is(region($wm, '400:300:0:0'), region($orig, '400:300:0:0'),
   'elsewhere: the picture');

($r, $rc) = task('sfn:image:watermark',
                 { bucket => 'img', key => 'uploads/user-id/p.png',
                   watermarkImage => { bucket => 'img', key => 'bomb.png' } });
is($r->{error}, 'ImageValidationError', 'a bomb as the mark');
($r, $rc) = task('sfn:image:watermark',
                 { bucket => 'img', key => 'uploads/user-id/p.png',
                   watermarkImage => 'logo.png', watermarkText => 'x' });
like($r->{cause} // '', qr/exclude each other/, 'text or picture, not both');
($r, $rc) = task('sfn:image:watermark',
                 { bucket => 'img', key => 'uploads/user-id/p.png',
                   watermarkImage => 'logo.png', watermarkScale => 0 });
like($r->{cause} // '', qr/"watermarkScale"/, 'watermarkScale 0 refused');
($r, $rc) = task('sfn:image:watermark',
                 { bucket => 'img', key => 'uploads/user-id/p.png',
                   watermarkImage => { key => '../logo.png' } });
like($r->{cause} // '', qr/invalid key/, 'the mark\'s key is checked');

# hostile pictures: each fails the task with a cause, nothing crashes

spew("$b/zero.jpg", '');
spew("$b/text.jpg", "hello, this is not a picture\n");
my $jpeg = slurp("$b/uploads/user-id/image-id.jpg");
spew("$b/trunc.jpg", substr($jpeg, 0, int(length($jpeg) / 2)));
spew("$b/noeoi.jpg", substr($jpeg, 0, length($jpeg) - 2));
my $png = slurp("$b/uploads/user-id/p.png");
spew("$b/trunc.png", substr($png, 0, int(length($png) / 2)));
my $webp = slurp("$b/uploads/user-id/w.webp");
spew("$b/trunc.webp", substr($webp, 0, int(length($webp) / 2)));

my $bad = $png;
substr($bad, 2000, 100) = 'x' x 100;
spew("$b/crc.png", $bad);
$bad = $jpeg;
substr($bad, 10000, 300) = substr($bad, 10000, 300) ^ ("\x5a" x 300);
spew("$b/damaged.jpg", $bad);

# a PNG header declaring 100000 x 100000 (10 gigapixels) in 80 bytes
sub chunk {
    my ($type, $data) = @_;
    require Compress::Zlib;
    return pack('N', length $data) . $type . $data
           . pack('N', Compress::Zlib::crc32($type . $data));
}
spew("$b/bomb.png", "\x89PNG\r\n\x1a\n"
     . chunk('IHDR', pack('NNCCCCC', 100000, 100000, 8, 2, 0, 0, 0))
     . chunk('IDAT', Compress::Zlib::compress("\0" x 1000))
     . chunk('IEND', ''));

# a JPEG whose frame header says 65000 x 65000
$bad = $jpeg;
my $sof = index($bad, "\xff\xc0");
substr($bad, $sof + 5, 4) = pack('nn', 65000, 65000);
spew("$b/bomb.jpg", $bad);

lavfi('testsrc=size=64x64', "$b/anim.gif");
Sfn::Test->ffmpeg('-f', 'lavfi', '-i', 'sine', '-t', 1, '-f', 'mp3',
                  "$b/sound.jpg");
mkdir "$b/dir.jpg";

my @hostile = (
    ['zero.jpg', qr/"zero.jpg" is empty/],
    ['text.jpg', qr/is not a JPEG, PNG or WebP image/],
    ['trunc.jpg', qr/truncated JPEG/],
    ['noeoi.jpg', qr/truncated JPEG/],
    ['trunc.png', qr/truncated PNG/],
    ['trunc.webp', qr/truncated WEBP/],
    ['crc.png', qr/damaged PNG image.*CRC/],
    ['damaged.jpg', qr/damaged JPEG/],
    ['bomb.png', qr/larger than 50000000 pixels.*100000x100000/],
    ['bomb.jpg', qr/larger than 50000000 pixels.*65000x65000/],
    ['anim.gif', qr/not a JPEG, PNG or WebP image \(it reads as gif\)/],
    ['sound.jpg', qr/not a JPEG, PNG or WebP image \(it reads as mp3\)/],
    ['dir.jpg', qr/is not a file/],
    ['missing.jpg', qr/does not exist/],
);

for my $h (@hostile) {
    for my $t (qw(validate resize watermark)) {
        ($r, $rc) = task("sfn:image:$t", { bucket => 'img', key => $h->[0] });
        is($rc, 1, "$t $h->[0]: fails, no crash") or diag explain $r;
        is($r->{error}, 'ImageValidationError', "$t $h->[0]: error name");
        like($r->{cause} // '', $h->[1], "$t $h->[0]: cause");
    }
}

($r, $rc) = task('sfn:image:validate',
                 { bucket => 'img', key => 'uploads/user-id/big.jpg',
                   maxFileSize => 1000 });
like($r->{cause}, qr/more than the limit of 1000/, 'maxFileSize');
($r, $rc) = task('sfn:image:resize',
                 { bucket => 'img', key => 'uploads/user-id/big.jpg',
                   maxPixels => 1_000_000 });
like($r->{cause}, qr/larger than 1000000 pixels.*4000x3000/, 'maxPixels');

# hostile keys and parameters

for my $c (['../x.jpg', qr/invalid key/],
           ["a\x01b.jpg", qr/invalid key/],
           ['.sfn-published/x.jpg', qr/invalid key/])
{
    ($r, $rc) = task('sfn:image:validate', { bucket => 'img', key => $c->[0] });
    is($rc, 1, "key \"$c->[0]\" refused");
    like($r->{cause} // '', $c->[1], 'the cause');
}

($r, $rc) = task('sfn:image:validate',
                 '{"bucket":"img","key":"uploads/user-id/p.png\u0000.jpg"}');
isnt($rc, 0, 'a key with a NUL is refused');

($r, $rc) = task('sfn:image:validate', { bucket => 'nope', key => 'x.jpg' });
is($rc, 1, 'an unknown bucket');

my $src = { bucket => 'img', key => 'uploads/user-id/p.png' };
for my $c ([resize => { sizes => { '../up' => '10x10' } }, qr/key segment/],
           [resize => { sizes => { a => '0x10' } }, qr/width and a height/],
           [resize => { sizes => { a => '99999x10' } }, qr/width and a height/],
           [resize => { sizes => [] }, qr/is empty/],
           [resize => { sizes => { map { ("s$_" => '1x1') } 1 .. 17 } },
            qr/more than 16/],
           [resize => { quality => 0 }, qr/"quality"/],
           [resize => { quality => '90' }, qr/"quality"/],
           [resize => { format => 'gif' }, qr/"format"/],
           [resize => { fit => 'stretch' }, qr/"fit"/],
           [resize => { outputPrefix => '../' }, qr/not a valid key/],
           [resize => { outputPrefix => '.sfn-published/' },
            qr/not a valid key/],
           [validate => { maxPixels => -1 }, qr/"maxPixels" is a positive/],
           [validate => { maxFileSize => '10' }, qr/"maxFileSize"/],
           [validate => { maxWidth => 1.5 }, qr/"maxWidth"/],
           [validate => { minHeight => 1e300 }, qr/"minHeight"/],
           [resize => { maxPixels => 0 }, qr/"maxPixels"/],
           [watermark => { position => 'middle' }, qr/"position"/],
           [watermark => { opacity => 2 }, qr/"opacity"/],
           [watermark => { opacity => 'x' }, qr/"opacity"/],
           [watermark => { fontSize => 1e9 }, qr/"fontSize"/],
           [watermark => { watermarkText => '' }, qr/"watermarkText"/],
           [watermark => { watermarkText => 'x' x 257 }, qr/"watermarkText"/],
           [watermark => { watermarkText => "a\nb" }, qr/control/],
           [watermark => { color => 'white:x=0' }, qr/"color"/],
           [watermark => { resizeResult => { resizedImages => 'x' } },
            qr/resizedImages/],
           [watermark => { resizeResult => { resizedImages => [{}] } },
            qr/"s3Key"/],
           [watermark => { resizeResult => { resizedImages =>
                               [{ s3Key => '../../etc/passwd' }] } },
            qr/invalid key/])
{
    ($r, $rc) = task("sfn:image:$c->[0]", { %$src, %{$c->[1]} });
    is($rc, 1, "$c->[0] " . encode_json($c->[1]) . ' refused')
        or diag explain $r;
    like($r->{cause} // '', $c->[2], 'the cause') or diag explain $r;
}

# invalid UTF-8 in the text (JSON text written as bytes)
($r, $rc) = task('sfn:image:watermark',
                 qq({"bucket":"img","key":"uploads/user-id/p.png","watermarkText":"a\xff\xfeb"}));
is($rc, 1, 'invalid UTF-8 in the text refused');

done_testing();
