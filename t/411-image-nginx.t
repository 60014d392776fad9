#!/usr/bin/perl

# The image tasks on nginx's thread pool: the seed's chain (validate, the
# Choice on validationResult.result, resize, watermark) runs to the seed's
# shapes; hostile pictures fail their execution with ImageValidationError
# while the one worker lives on and runs the next; a clean error log.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;

Sfn::Test::need_ffmpeg();

my $t = Sfn::Test->new;
my $dir = $t->dir;

mkdir "$dir/img";
mkdir "$dir/img/uploads";
mkdir "$dir/img/uploads/user-id";

Sfn::Test->ffmpeg('-f', 'lavfi', '-i', 'testsrc=size=1600x1200',
                  '-frames:v', 1, "$dir/img/uploads/user-id/image-id.jpg");

my $true = JSON::PP::true;

$t->write_file('conf/image.asl.json', $t->json->encode({
    StartAt => 'ValidateImage',
    States => {
        ValidateImage => {
            Type => 'Task', Resource => 'sfn:image:validate',
            Parameters => { 'bucket' => 'img', 's3Key.$' => '$.s3Key',
                            'fileType.$' => '$.fileType' },
            ResultPath => '$.validationResult',
            Next => 'CheckValidationResult' },
        CheckValidationResult => {
            Type => 'Choice',
            Choices => [{ Variable => '$.validationResult.result',
                          StringEquals => 'valid', Next => 'ResizeImage' }],
            Default => 'Invalid' },
        ResizeImage => {
            Type => 'Task', Resource => 'sfn:image:resize',
            Parameters => { 'bucket' => 'img', 's3Key.$' => '$.s3Key',
                            'validationResult.$' => '$.validationResult' },
            ResultPath => '$.resizeResult',
            Next => 'ApplyWatermark' },
        ApplyWatermark => {
            Type => 'Task', Resource => 'sfn:image:watermark',
            Parameters => { 'bucket' => 'img',
                            'resizeResult.$' => '$.resizeResult' },
            ResultPath => '$.watermarkResult',
            End => $true },
        Invalid => { Type => 'Fail', Error => 'InvalidImage',
                     Cause => 'the picture breaks a rule' } } }));

$t->nginx_start(<<'END', workers => 1);
    sfn_zone          sfn 4m;
    sfn_thread_pool   sfn;
    sfn_bucket        img %%DIR%%/img;
    sfn_state_machine image %%DIR%%/conf/image.asl.json;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /start/      { sfn_start; }
        location /executions/ { sfn_api; }
    }
END

my ($worker) = $t->nginx_workers;

sub run {
    my ($key, $type) = @_;
    my $r = $t->http('POST', '/start/image', $t->json->encode({
        bucket => 'img', key => $key,
        imageId => 'img_1', userId => 'user-id', s3Key => $key,
        fileName => $key, fileSize => 1, fileType => $type // 'image/jpeg' }));
    is($r->{status}, 200, "$key: started") or diag explain $r;
    return $t->wait_execution($r->{json}{jobId}, 30);
}

my $e = run('uploads/user-id/image-id.jpg');
is($e->{status}, 'SUCCEEDED', 'the seed\'s chain succeeds') or diag explain $e;
my $o = $e->{output};
is_deeply([@{$o->{validationResult}{imageMetadata}}{qw(width height format
                                                       colorSpace)}],
          [1600, 1200, 'JPEG', 'sRGB'], 'validationResult.imageMetadata');
is_deeply([map { "$_->{size} $_->{dimensions} $_->{s3Key}" }
           @{$o->{resizeResult}{resizedImages}}],
          ['small 800x600 processed/user-id/image-id-small.jpg',
           'medium 1200x900 processed/user-id/image-id-medium.jpg'],
          'resizeResult.resizedImages');
is_deeply([map { "$_->{size} $_->{s3Key} $_->{watermarkType}" }
           @{$o->{watermarkResult}{watermarkedImages}}],
          ['small processed/user-id/image-id-small-watermarked.jpg text',
           'medium processed/user-id/image-id-medium-watermarked.jpg text'],
          'watermarkResult.watermarkedImages');
ok(-s "$dir/img/processed/user-id/image-id-medium-watermarked.jpg",
   'the watermarked picture is in the bucket');

# an "invalid" result takes the Choice's Default

$e = run('uploads/user-id/image-id.jpg', 'image/png');
is($e->{status}, 'FAILED', 'a JPEG sent as image/png: invalid');
is($e->{error}, 'InvalidImage', 'through the Choice');

# hostile pictures fail the task, the worker runs the next execution

$t->write_file('img/uploads/user-id/text.jpg', "not a picture\n");
$t->write_file('img/uploads/user-id/zero.jpg', '');
my $jpeg = $t->read_file('img/uploads/user-id/image-id.jpg');
$t->write_file('img/uploads/user-id/cut.jpg',
               substr($jpeg, 0, int(length($jpeg) / 3)));

# a lossy WebP whose frame header says 16383 x 16383 (268 megapixels),
# under a .jpg name: the content decides
Sfn::Test->ffmpeg('-f', 'lavfi', '-i', 'testsrc=size=64x48', '-frames:v', 1,
                  "$dir/small.webp");
my $webp = $t->read_file('small.webp');
substr($webp, 0x1a, 4) = pack('vv', 16383, 16383);
$t->write_file('img/uploads/user-id/bomb.jpg', $webp);

for my $c (['text.jpg', qr/not a JPEG, PNG or WebP/],
           ['zero.jpg', qr/is empty/],
           ['cut.jpg', qr/truncated JPEG/],
           ['bomb.jpg', qr/larger than 50000000 pixels/])
{
    $e = run("uploads/user-id/$c->[0]");
    is($e->{status}, 'FAILED', "$c->[0]: the execution fails");
    is($e->{error}, 'ImageValidationError', "$c->[0]: error");
    like($e->{cause} // '', $c->[1], "$c->[0]: cause") or diag explain $e;
}

# at once on the thread pool: pictures and hostile files side by side

my %want;
for my $n (1 .. 3) {
    for my $k ('image-id.jpg', 'bomb.jpg') {
        my $r = $t->http('POST', '/start/image', $t->json->encode({
            bucket => 'img', key => "uploads/user-id/$k",
            s3Key => "uploads/user-id/$k", fileType => 'image/jpeg' }));
        $want{$r->{json}{jobId} // "none$n$k"} =
            $k eq 'bomb.jpg' ? 'FAILED' : 'SUCCEEDED';
    }
}
is_deeply({ map { ($_ => ($t->wait_execution($_, 60) // {})->{status}) }
            keys %want },
          \%want, 'six at once: each ends as it should');

is(($t->nginx_workers)[0], $worker, 'the same worker throughout');

$e = run('uploads/user-id/image-id.jpg');
is($e->{status}, 'SUCCEEDED', 'and it runs the next picture');

my $log = $t->read_file('logs/error.log') // '';
my @bad = grep { !/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[([a-z]+)\] /
                 || $1 =~ /^(crit|alert|emerg)$/
                 || /exited on signal/ }
          split /\n/, $log;
ok(!@bad, 'a clean error log') or diag(join "\n", @bad);

done_testing();
