# Issue 11 defect 10: a source that yields no decoded frame (a Y4M whose
# header says 16000x16000, cut off after 1,000 bytes) fails the task with a
# cause, as MediaConvert fails such a job; it is not a success with an MP4
# that has no streams, nor thumbnails with no image.  Run through
# build/sfn-task: no nginx, so the clean log here is the tool's own exit
# (no signal, no sanitizer report) and nothing left in the bucket.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use File::Find;
use JSON::PP;


my $tool = 'build/sfn-task';
plan skip_all => "$tool not built" unless -x $tool;

my $dir = tempdir('sfn-test-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$dir/src";
mkdir "$dir/out";

sub task {
    my ($resource, $input) = @_;
    open my $f, '>', "$dir/in.json" or die;
    print $f encode_json($input);
    close $f;
    my $out = `$tool $resource $dir/in.json --bucket src=$dir/src \\
               --bucket out=$dir/out 2>$dir/err`;
    my $status = $?;
    open $f, '<', "$dir/err" or die;
    my $err = do { local $/; <$f> } // '';
    close $f;
    return (eval { decode_json($out) } // {}, $status, $err);
}

sub files {
    my @f;
    find(sub { push @f, $File::Find::name if -f $_ }, "$dir/out");
    return sort @f;
}

# the header promises 16000x16000 4:2:0, the file ends after 1,000 bytes

my $y4m = "YUV4MPEG2 W16000 H16000 F25:1 Ip A1:1 C420jpeg\nFRAME\n";
$y4m .= "\x80" x (1000 - length $y4m);
open my $f, '>', "$dir/src/cut.y4m" or die;
binmode $f;
print $f $y4m;
close $f;

sub clean_exit {
    my ($what, $status, $err) = @_;
    ok(!($status & 127), "$what: no signal")
        or diag('signal ' . ($status & 127));
    unlike($err, qr/AddressSanitizer|runtime error:/,
           "$what: no sanitizer report");
}

my ($r, $status, $err) = task('sfn:media:transcode', {
    input => { bucket => 'src', key => 'cut.y4m' },
    outputs => [{ type => 'mp4', bucket => 'out', key => 'cut/a.mp4',
                  height => 180, quality => 8 }] });
clean_exit('transcode', $status, $err);
{
    is($r->{error}, 'States.TaskFailed', 'transcode: the task fails');
    ok(length($r->{cause} // ''), 'transcode: with a cause');
    ok(!-e "$dir/out/cut/a.mp4", 'transcode: no MP4 without streams');
}

($r, $status, $err) = task('arn:aws:states:::mediaconvert:createJob.sync', {
    Settings => { Inputs => [{ FileInput => 's3://src/cut.y4m' }],
                  OutputGroups => [{
                      Name => 'MP4_Output',
                      OutputGroupSettings => {
                          Type => 'FILE_GROUP_SETTINGS',
                          FileGroupSettings => {
                              Destination => 's3://out/mc/' } },
                      Outputs => [{ NameModifier => '_a',
                                    ContainerSettings => { Container => 'MP4' },
                                    VideoDescription => {
                                        Width => 160, Height => 90,
                                        CodecSettings => {
                                            Codec => 'H_264' } } }] }] } });
clean_exit('createJob', $status, $err);
{
    isnt($r->{output}{Job}{Status} // '', 'COMPLETE',
         'createJob: not COMPLETE');
    is($r->{error}, 'States.TaskFailed', 'createJob: the task fails');
}

($r, $status, $err) = task('sfn:media:thumbnails', {
    bucket => 'src', key => 'cut.y4m', count => 4, outputBucket => 'out',
    prefix => 'th/cut/', width => 160, height => 90 });
clean_exit('thumbnails', $status, $err);
{
    is($r->{error}, 'States.TaskFailed', 'thumbnails: the task fails');
    ok(length($r->{cause} // ''), 'thumbnails: with a cause');
}

{
    is_deeply([files()], [], 'nothing left in the bucket')
        or diag(join "\n", files());
}

done_testing;
