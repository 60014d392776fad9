#!/usr/bin/perl

# sfn:origin:publish/unpublish through build/sfn-task: a real output tree
# (the seed's MediaConvert job, scaled down) is published with one manifest
# rename; incomplete trees (a missing prefix, an empty one, a lost segment,
# a lost variant playlist, an empty file) publish nothing; qualityPassed
# false unpublishes; the job row is updated when there is a database

use strict;
use warnings;

use lib 't/lib';

use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path remove_tree);
use JSON::PP;
use Sfn::Test;

Sfn::Test::need_tool('sfn-task');
Sfn::Test::need_ffmpeg();

my $dir = tempdir(CLEANUP => 1);
make_path("$dir/src", "$dir/out");


sub task {
    my ($resource, $input) = @_;
    return Sfn::Test::run_task($resource, $input, dir => $dir, stderr => 1,
                               buckets => { src => "$dir/src",
                                            out => "$dir/out" });
}

sub manifest {
    my ($job) = @_;
    open my $f, '<', "$dir/out/.sfn-published/$job.json" or return undef;
    local $/;
    return decode_json(<$f>);
}

sub files {
    my ($job) = @_;
    my @f;
    for my $kind (qw(hls mp4 thumbnails)) {
        push @f, map { s{^\Q$dir/out/\E}{}r }
                 split /\n/, `find $dir/out/$kind/$job -type f ! -name '.*'`;
    }
    return sort @f;
}

sub seed_outputs {
    my ($job) = @_;
    return [ { format => 'mp4', bucket => 'out', key => "mp4/$job/output" },
             { format => 'hls', bucket => 'out',
               key => "hls/$job/index.m3u8" },
             { format => 'thumbnails', bucket => 'out',
               key => "thumbnails/$job/thumbnails" } ];
}

# the outputs of the seed's job, scaled down: MP4, HLS ladder, thumbnails

Sfn::Test->lavfi_clip("$dir/src/clip.mp4", size => '320x180', duration => 4);

my $h264 = sub {
    my ($w, $h, $name, $container) = @_;
    return { NameModifier => $name,
             ContainerSettings => { Container => $container },
             VideoDescription => { Width => $w, Height => $h,
                 CodecSettings => { Codec => 'H_264', H264Settings => {
                     RateControlMode => 'QVBR',
                     QvbrSettings => { QvbrQualityLevel => 7 },
                     MaxBitrate => 500000 } } },
             AudioDescriptions => [ { CodecSettings => { Codec => 'AAC',
                 AacSettings => { Bitrate => 64000, SampleRate => 48000,
                                  CodingMode => 'CODING_MODE_2_0' } } } ] };
};

my ($r, $rc) = task('arn:aws:states:::mediaconvert:createJob.sync', {
    Settings => {
        Inputs => [ { FileInput => 's3://src/clip.mp4' } ],
        OutputGroups => [
            { OutputGroupSettings => { Type => 'FILE_GROUP_SETTINGS',
                  FileGroupSettings => { Destination => 's3://out/mp4/j1/' } },
              Outputs => [ $h264->(320, 180, '_180p', 'MP4') ] },
            { OutputGroupSettings => { Type => 'HLS_GROUP_SETTINGS',
                  HlsGroupSettings => { Destination => 's3://out/hls/j1/',
                                        SegmentLength => 2 } },
              Outputs => [ $h264->(320, 180, '_hls_180p', 'M3U8'),
                           $h264->(256, 144, '_hls_144p', 'M3U8') ] },
            { OutputGroupSettings => { Type => 'FILE_GROUP_SETTINGS',
                  FileGroupSettings => {
                      Destination => 's3://out/thumbnails/j1/' } },
              Outputs => [ { NameModifier => '_thumb_%04d',
                             ContainerSettings => { Container => 'RAW' },
                             VideoDescription => { Width => 160,
                                 Height => 90, CodecSettings => {
                                     Codec => 'FRAME_CAPTURE',
                                     FrameCaptureSettings => {
                                         FramerateNumerator => 1,
                                         FramerateDenominator => 1,
                                         MaxCaptures => 2 } } } } ] } ] } });
is($rc, 0, 'the outputs to publish were made') or diag explain $r;

# clones of the tree for the incomplete cases, before anything is published

for my $job (qw(j2 j3 j4 j5 j6 j7 j8 j9)) {
    for my $kind (qw(hls mp4 thumbnails)) {
        system('cp', '-r', "$dir/out/$kind/j1", "$dir/out/$kind/$job") == 0
            or die;
    }
}

# a temporary file of a writer in progress is not part of the job

open my $tmp, '>', "$dir/out/hls/j1/.sfn-tmp-abc123" or die;
print $tmp 'partial';
close $tmp;

# the seed's PublishContent input

($r, $rc) = task('sfn:origin:publish', {
    jobId => 'j1', outputs => seed_outputs('j1'),
    qualityResults => [ { score => 1 } ], qualityPassed => JSON::PP::true });
is($rc, 0, 'publish: exit code') or diag explain $r;

my $o = $r->{output};
is($o->{statusCode}, 200, 'publish: statusCode as the seed Lambda');
is($o->{jobId}, 'j1', 'publish: jobId');
is($o->{status}, 'PUBLISHED', 'publish: status');
is($o->{message}, 'Video processing completed successfully for job j1',
   'publish: message');
is($o->{playlist}, 'hls/j1/clip.m3u8', 'publish: the master playlist');
is_deeply($o->{urls}, {
    hls => [ 'hls/j1/clip.m3u8' ],
    mp4 => [ 'mp4/j1/clip_180p.mp4' ],
    thumbnails => [ 'thumbnails/j1/clip_thumb_0001.jpg',
                    'thumbnails/j1/clip_thumb_0002.jpg' ] },
    'publish: URLs relative to the origin');
is($o->{manifest}, '.sfn-published/j1.json', 'publish: manifest key');

my $m = manifest('j1');
ok($m, 'manifest written');
is($m->{jobId}, 'j1', 'manifest: jobId');
like($m->{publishedAt}, qr/^\d{4}-\d\d-\d\dT[\d:.]+Z$/, 'manifest: publishedAt');
is_deeply($m->{prefixes}, [ 'mp4/j1/', 'hls/j1/', 'thumbnails/j1/' ],
          'manifest: prefixes from the outputs');
is_deeply([ map { $_->{key} } @{$m->{files}} ], [ files('j1') ],
          'manifest: every file, temporary ones left out');
ok(!(grep { $_->{size} != -s "$dir/out/$_->{key}" } @{$m->{files}}),
   'manifest: sizes');
is($o->{fileCount}, scalar @{$m->{files}}, 'publish: fileCount');
my @left = glob("$dir/out/.sfn-published/.*tmp*");
is(scalar @left, 0, 'manifest: no temporary file left');

# a sprite sheet is the image a WebVTT track points into, whatever its
# name; the thumbnails are the other images

for my $kind (qw(hls mp4 thumbnails)) {
    system('cp', '-r', "$dir/out/$kind/j1", "$dir/out/$kind/js") == 0 or die;
}
system('cp', "$dir/out/thumbnails/js/clip_thumb_0001.jpg",
       "$dir/out/thumbnails/js/clip_tiles.jpg") == 0 or die;
system('cp', "$dir/out/thumbnails/js/clip_thumb_0002.jpg",
       "$dir/out/thumbnails/js/clip_poster.jpg") == 0 or die;
open my $vtt, '>', "$dir/out/thumbnails/js/clip_track.vtt" or die;
print $vtt "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n"
           . "clip_tiles.jpg#xywh=0,0,160,90\n\n"
           . "00:00:02.000 --> 00:00:04.000\n"
           . "clip_tiles.jpg#xywh=160,0,160,90\n";
close $vtt;

($r, $rc) = task('sfn:origin:publish', {
    jobId => 'js', outputs => seed_outputs('js'),
    qualityPassed => JSON::PP::true });
is($rc, 0, 'publish with a sprite sheet') or diag explain $r;
my $pb = $r->{output}{playback} // {};
is($pb->{sprite}, 'thumbnails/js/clip_tiles.jpg',
   'playback: the sheet the WebVTT track points into is the sprite');
is($pb->{thumbnailsVtt}, 'thumbnails/js/clip_track.vtt',
   'playback: the WebVTT track');
is($pb->{poster}, 'thumbnails/js/clip_poster.jpg', 'playback: the poster');
is_deeply($pb->{thumbnails}, [ 'thumbnails/js/clip_thumb_0001.jpg',
                               'thumbnails/js/clip_thumb_0002.jpg' ],
          'playback: the thumbnails are the other images');

# our shape, default prefixes; publishing again is harmless

($r, $rc) = task('sfn:origin:publish', { bucket => 'out', jobId => 'j1' });
is($rc, 0, 'publish ours, again');
is_deeply(manifest('j1')->{prefixes},
          [ 'mp4/j1/', 'hls/j1/', 'thumbnails/j1/' ],
          'default prefixes');

($r, $rc) = task('sfn:origin:publish', { bucket => 'out', jobId => 'j1',
                                         prefixes => [ 'hls/j1' ] });
is($rc, 0, 'publish one prefix');
is_deeply(manifest('j1')->{prefixes}, [ 'hls/j1/' ], 'prefix normalised');

# incomplete trees publish nothing

remove_tree("$dir/out/hls/j2");
remove_tree("$dir/out/thumbnails/j3");
make_path("$dir/out/thumbnails/j3");
unlink "$dir/out/hls/j4/clip_hls_144p_00002.ts" or die;
open my $e, '>', "$dir/out/mp4/j5/clip_180p.mp4" or die;
close $e;
unlink "$dir/out/hls/j6/clip_hls_180p.m3u8" or die;

my @incomplete = (
    [ 'j2', qr{"hls/j2/" is not in the bucket "out"} ],
    [ 'j3', qr{"thumbnails/j3/" in the bucket "out" is empty} ],
    [ 'j4', qr{playlist "hls/j4/clip_hls_144p.m3u8" names "clip_hls_144p_00002.ts", which is not there} ],
    [ 'j5', qr{"mp4/j5/clip_180p.mp4" is empty} ],
    [ 'j6', qr{playlist "hls/j6/clip.m3u8" names "clip_hls_180p.m3u8"} ],
);

for my $c (@incomplete) {
    my ($job, $cause) = @$c;
    ($r, $rc) = task('sfn:origin:publish', {
        jobId => $job, outputs => seed_outputs($job),
        qualityPassed => JSON::PP::true });
    is($rc, 1, "$job incomplete: fails");
    is($r->{error}, 'States.TaskFailed', "$job incomplete: TaskFailed");
    like($r->{cause}, $cause, "$job incomplete: cause");
    like($r->{cause}, qr/nothing was published/, "$job: says so");
    ok(!-e "$dir/out/.sfn-published/$job.json", "$job: no manifest");
}

# relative URIs resolve inside the job; a playlist may name only files
# that are published with it

sub rewrite_master {
    my ($job, $from, $to) = @_;
    my $path = "$dir/out/hls/$job/clip.m3u8";
    open my $f, '<', $path or die;
    my $text = do { local $/; <$f> };
    close $f;
    $text =~ s/^\Q$from\E$/$to/m or die "no $from in $path";
    open $f, '>', $path or die;
    print $f $text;
    close $f;
}

rewrite_master('j8', 'clip_hls_180p.m3u8', './clip_hls_180p.m3u8');
rewrite_master('j8', 'clip_hls_144p.m3u8', '../j8/x/../clip_hls_144p.m3u8');
($r, $rc) = task('sfn:origin:publish', { bucket => 'out', jobId => 'j8' });
is($rc, 0, 'dot segments in playlist URIs resolve') or diag explain $r;

rewrite_master('j9', 'clip_hls_180p.m3u8', '../j1/clip_hls_180p.m3u8');
($r, $rc) = task('sfn:origin:publish', { bucket => 'out', jobId => 'j9' });
like($r->{cause}, qr{names "../j1/clip_hls_180p.m3u8"},
     'a URI into another job is refused');

rewrite_master('j9', '../j1/clip_hls_180p.m3u8', '../../../../etc/passwd');
($r, $rc) = task('sfn:origin:publish', { bucket => 'out', jobId => 'j9' });
like($r->{cause}, qr{names "../../../../etc/passwd"},
     'a URI out of the bucket is refused');
ok(!-e "$dir/out/.sfn-published/j9.json", 'j9: no manifest');

# bad requests

my @bad = (
    [ { bucket => 'out', jobId => '../j1' }, qr/"jobId"/ ],
    [ { bucket => 'out', jobId => '.hidden' }, qr/"jobId"/ ],
    [ { bucket => 'out', jobId => 'a/b' }, qr/"jobId"/ ],
    [ { bucket => 'out', jobId => 'j7', prefixes => [ 'hls/j1/' ] },
      qr{not "<dir>/j7/"} ],
    [ { bucket => 'out', jobId => 'j7', prefixes => [ 'hls/j7/sub/' ] },
      qr{not "<dir>/j7/"} ],
    [ { bucket => 'out', jobId => 'j7', prefixes => [ '../j7/' ] },
      qr/invalid key|not "<dir>/ ],
    [ { bucket => 'out', jobId => 'j7', prefixes => [ '.sfn-published/j7/' ] },
      qr{not "<dir>/j7/"} ],
    [ { bucket => 'nobucket', jobId => 'j7' }, qr/unknown bucket/ ],
    [ { jobId => 'j7' }, qr/"bucket"/ ],
    [ { jobId => 'j7', outputs => [
          { bucket => 'out', key => 'mp4/j7/a' },
          { bucket => 'src', key => 'hls/j7/b' } ] }, qr/two buckets/ ],
);

for my $b (@bad) {
    ($r, $rc) = task('sfn:origin:publish', $b->[0]);
    is($rc, 1, 'rejected: ' . encode_json($b->[0]));
    like($r->{cause}, $b->[1], "cause $b->[1]");
}

ok(!-e "$dir/out/.sfn-published/j7.json", 'rejects published nothing');

# qualityPassed false: nothing served, as the seed's QualityControlFailed

ok(-e "$dir/out/.sfn-published/j1.json", 'j1 is published');
($r, $rc) = task('sfn:origin:publish', {
    jobId => 'j1', outputs => seed_outputs('j1'),
    qualityPassed => JSON::PP::false });
is($rc, 0, 'failed QC: exit code') or diag explain $r;
is($r->{output}{status}, 'FAILED_QC', 'failed QC: status');
is($r->{output}{message},
   'Video processing failed quality control for job j1', 'failed QC: message');
ok(!-e "$dir/out/.sfn-published/j1.json", 'failed QC: unpublished');

# unpublish

($r, $rc) = task('sfn:origin:publish', { bucket => 'out', jobId => 'j7' });
is($rc, 0, 'publish j7');
($r, $rc) = task('sfn:origin:unpublish', { bucket => 'out', jobId => 'j7' });
is($rc, 0, 'unpublish');
is_deeply($r->{output}, { jobId => 'j7', bucket => 'out',
                          status => 'UNPUBLISHED',
                          wasPublished => JSON::PP::true }, 'unpublish result');
ok(!-e "$dir/out/.sfn-published/j7.json", 'unpublish: manifest gone');
($r, $rc) = task('sfn:origin:unpublish', { bucket => 'out', jobId => 'j7' });
is($r->{output}{wasPublished}, JSON::PP::false, 'unpublish again: harmless');

# with a database: the job row, and the source key for ArchiveSource

SKIP: {
    skip 'no PostgreSQL server binaries', 9
        unless -x Sfn::Test::pg_bin('initdb');

    my $t = Sfn::Test->new;
    local $ENV{SFN_DB_CONNINFO} = $t->pg_start;
    system(Sfn::Test::pg_bin('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1',
           '-h', '127.0.0.1', '-p', $t->{pg_port}, '-U', 'postgres',
           '-d', 'sfn', '-f', 'sql/001_init.sql') == 0 or die;

    ($r, $rc) = task('arn:aws:states:::dynamodb:putItem', {
        TableName => 'jobs',
        Item => { JobId => { S => 'j1' }, JobStatus => { S => 'STARTED' },
                  SourceBucket => { S => 'src' },
                  SourceKey => { S => 'clip.mp4' } } });
    is($rc, 0, 'job row recorded');

    ($r, $rc) = task('sfn:origin:publish', {
        jobId => 'j1', outputs => seed_outputs('j1'),
        qualityPassed => JSON::PP::true });
    is($rc, 0, 'publish with a database') or diag explain $r;
    is($r->{output}{key}, 'clip.mp4', 'the source key for ArchiveSource');
    is($r->{output}{sourceBucket}, 'src', 'the source bucket');

    my $row = decode_json($t->psql(
        "SELECT row_to_json(j) FROM sfn_jobs j WHERE job_id = 'j1'"));
    is($row->{status}, 'PUBLISHED', 'row: PUBLISHED');
    like($row->{attributes}{PublishedAt}, qr/Z$/, 'row: PublishedAt');
    is_deeply($row->{attributes}{OutputLocations}, $r->{output}{playback},
              'row: OutputLocations name what answers (the playback URLs)');
    like($row->{attributes}{OutputLocations}{hls} // '', qr{^hls/j1/.+\.m3u8$},
         'row: the master playlist');

    ($r, $rc) = task('sfn:origin:publish', {
        jobId => 'j1', outputs => seed_outputs('j1'),
        qualityPassed => JSON::PP::false });
    is($t->psql("SELECT status FROM sfn_jobs WHERE job_id = 'j1'"),
       'FAILED_QC', 'row: FAILED_QC');
    is($t->psql("SELECT attributes->>'FailureReason' FROM sfn_jobs "
                . "WHERE job_id = 'j1'"),
       'Quality control validation failed', 'row: FailureReason');
}

done_testing();
