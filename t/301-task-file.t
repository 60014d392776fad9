#!/usr/bin/perl

# sfn:file:copy/move/delete through build/sfn-task: our shape and the
# aws-sdk:s3 copyObject/deleteObject shape, keys that try to escape their
# bucket, missing sources (S3.NoSuchKeyException), no temporary leftovers

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Sfn::Test;
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $tool = Sfn::Test::need_tool('sfn-task');

my $dir = tempdir(CLEANUP => 1);
make_path("$dir/src/source", "$dir/archive", "$dir/out");

my @buckets = map { ('--bucket', "$_=$dir/$_") } qw(src archive out);

sub put {
    my ($path, $content) = @_;
    open my $f, '>', $path or die "$path: $!";
    binmode $f;
    print $f $content;
    close $f;
}

sub slurp {
    my ($path) = @_;
    open my $f, '<', $path or return undef;
    binmode $f;
    local $/;
    return scalar <$f>;
}

sub task {
    my ($resource, $input) = @_;
    return Sfn::Test::run_task($resource, $input, dir => $dir, stderr => 1,
                               buckets => { map { ($_ => "$dir/$_") }
                                            qw(src archive out) });
}

sub truncate_file {
    my ($path, $size) = @_;
    open my $f, '>', $path or die "$path: $!";
    truncate $f, $size or die "truncate: $!";
    close $f;
}

sub leftovers {
    my @tmp = grep { m{/\.sfn-tmp-} } split /\n/, `find $dir -name '.sfn-*'`;
    return scalar @tmp;
}

my $data = join '', map { chr(($_ * 7) % 256) } 0 .. 300_000;
put("$dir/src/source/clip.mp4", $data);
put("$dir/src/source/a b+c%.mp4", 'odd name');

# our shape

my ($r, $rc) = task('sfn:file:copy', {
    source => { bucket => 'src', key => 'source/clip.mp4' },
    destination => { bucket => 'archive', key => 'deep/er/clip.mp4' } });
is($rc, 0, 'copy: exit code') or diag explain $r;
is_deeply([ @{$r->{output}}{qw(bucket key size)} ],
          [ 'archive', 'deep/er/clip.mp4', length $data ], 'copy: result');
like($r->{output}{etag}, qr/^"[0-9a-f]+-[0-9a-f]+"$/, 'copy: nginx-style etag');
is(slurp("$dir/archive/deep/er/clip.mp4"), $data,
   'copy: same bytes, directories created');
ok(-e "$dir/src/source/clip.mp4", 'copy: source kept');
is((stat "$dir/archive/deep/er/clip.mp4")[2] & 07777, 0644, 'copy: mode 0644');

# overwrite an existing object

put("$dir/archive/old.bin", 'old contents, longer than the new ones');
($r, $rc) = task('sfn:file:copy', {
    source => { bucket => 'src', key => 'source/a b+c%.mp4' },
    destination => { bucket => 'archive', key => 'old.bin' } });
is($rc, 0, 'copy over an object');
is(slurp("$dir/archive/old.bin"), 'odd name', 'copy over: replaced whole');

# copy onto itself keeps the data

($r, $rc) = task('sfn:file:copy', {
    source => { bucket => 'src', key => 'source/clip.mp4' },
    destination => { bucket => 'src', key => 'source/clip.mp4' } });
is($rc, 0, 'copy onto itself');
is(slurp("$dir/src/source/clip.mp4"), $data, 'copy onto itself: data kept');

# the aws-sdk:s3:copyObject shape, CopySource URL-encoded as S3 wants it

($r, $rc) = task('arn:aws:states:::aws-sdk:s3:copyObject', {
    Bucket => 'archive', CopySource => 'src/source/clip.mp4',
    Key => 'archived/j1/source/clip.mp4' });
is($rc, 0, 'copyObject: exit code') or diag explain $r;
like($r->{output}{CopyObjectResult}{ETag}, qr/^"[0-9a-f]+-[0-9a-f]+"$/,
     'copyObject: ETag');
like($r->{output}{CopyObjectResult}{LastModified},
     qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'copyObject: LastModified');
is(slurp("$dir/archive/archived/j1/source/clip.mp4"), $data,
   'copyObject: copied');

($r, $rc) = task('arn:aws:states:::aws-sdk:s3:copyObject', {
    Bucket => 'archive', CopySource => '/src/source/a%20b%2Bc%25.mp4',
    Key => 'odd.mp4' });
is($rc, 0, 'copyObject: encoded CopySource with leading slash')
    or diag explain $r;
is(slurp("$dir/archive/odd.mp4"), 'odd name', 'copyObject: decoded key');

# missing sources

($r, $rc) = task('arn:aws:states:::aws-sdk:s3:copyObject', {
    Bucket => 'archive', CopySource => 'src/source/nope.mp4', Key => 'x' });
is($rc, 1, 'missing source: fails');
is($r->{error}, 'S3.NoSuchKeyException', 'missing source: error name');
like($r->{cause}, qr/source\/nope\.mp4.*does not exist/, 'missing source: cause');

($r, $rc) = task('sfn:file:copy', {
    source => { bucket => 'src', key => 'source' },
    destination => { bucket => 'archive', key => 'x' } });
is($r->{error}, 'S3.NoSuchKeyException', 'a directory is no object');

($r, $rc) = task('sfn:file:copy', {
    source => { bucket => 'nobucket', key => 'a' },
    destination => { bucket => 'archive', key => 'x' } });
is($r->{error}, 'S3.NoSuchBucketException', 'unknown bucket');

# the seed's ArchiveSource: CopySource "<jobId>/<key>" names no bucket

($r, $rc) = task('arn:aws:states:::aws-sdk:s3:copyObject', {
    Bucket => 'archive', CopySource => 'job-1/source/clip.mp4',
    Key => 'archived/job-1/source/clip.mp4' });
is($r->{error}, 'S3.NoSuchBucketException', 'seed CopySource: no bucket');

# keys never escape their bucket

for my $bad ('../src/source/clip.mp4', '/etc/passwd', 'a/../../x', 'a//b',
             './x', 'x/.', '')
{
    ($r, $rc) = task('sfn:file:copy', {
        source => { bucket => 'src', key => 'source/clip.mp4' },
        destination => { bucket => 'archive', key => $bad } });
    is($rc, 1, "destination key \"$bad\" rejected");
    is($r->{error}, 'States.TaskFailed', "destination key \"$bad\": error");
}

($r, $rc) = task('sfn:file:copy', {
    source => { bucket => 'src', key => '../archive/odd.mp4' },
    destination => { bucket => 'archive', key => 'y' } });
like($r->{cause}, qr/invalid key/, 'source key escape rejected');

($r, $rc) = task('arn:aws:states:::aws-sdk:s3:copyObject', {
    Bucket => 'archive', CopySource => 'src/..%2Farchive%2Fodd.mp4',
    Key => 'z' });
like($r->{cause}, qr/invalid key/, 'encoded escape in CopySource rejected');

($r, $rc) = task('arn:aws:states:::aws-sdk:s3:copyObject', {
    Bucket => 'archive', CopySource => 'src/a%00b', Key => 'z' });
is($rc, 1, 'NUL in CopySource rejected');

($r, $rc) = task('arn:aws:states:::aws-sdk:s3:copyObject', {
    Bucket => 'archive', CopySource => 'src/source/clip.mp4?versionId=3',
    Key => 'z' });
like($r->{cause}, qr/versions/, 'versionId rejected with a cause');

ok(!-e "$dir/z" && !-e "$dir/archive/z", 'nothing written by rejects');

# move

($r, $rc) = task('sfn:file:move', {
    source => { bucket => 'archive', key => 'odd.mp4' },
    destination => { bucket => 'out', key => 'moved/odd.mp4' } });
is($rc, 0, 'move: exit code') or diag explain $r;
is($r->{output}{size}, 8, 'move: size');
ok(!-e "$dir/archive/odd.mp4", 'move: source gone');
is(slurp("$dir/out/moved/odd.mp4"), 'odd name', 'move: destination');

($r, $rc) = task('sfn:file:move', {
    source => { bucket => 'archive', key => 'odd.mp4' },
    destination => { bucket => 'out', key => 'again.mp4' } });
is($r->{error}, 'S3.NoSuchKeyException', 'move: missing source');

# delete: ours and deleteObject; deleting nothing succeeds, as in S3

($r, $rc) = task('sfn:file:delete', { bucket => 'out', key => 'moved/odd.mp4' });
is($rc, 0, 'delete: exit code');
is_deeply($r->{output}, { bucket => 'out', key => 'moved/odd.mp4',
                          deleted => JSON::PP::true }, 'delete: result');
ok(!-e "$dir/out/moved/odd.mp4", 'delete: gone');

($r, $rc) = task('sfn:file:delete', { bucket => 'out', key => 'moved/odd.mp4' });
is($r->{output}{deleted}, JSON::PP::false, 'delete again: deleted false');

($r, $rc) = task('arn:aws:states:::aws-sdk:s3:deleteObject',
                 { Bucket => 'archive', Key => 'old.bin' });
is($rc, 0, 'deleteObject: exit code');
is_deeply($r->{output}, {}, 'deleteObject: {}');
ok(!-e "$dir/archive/old.bin", 'deleteObject: gone');

($r, $rc) = task('sfn:file:delete', { bucket => 'src', key => 'source' });
like($r->{cause}, qr/directory/, 'delete: a directory is refused');

($r, $rc) = task('sfn:file:delete', { bucket => 'src', key => '../archive' });
like($r->{cause}, qr/invalid key/, 'delete: escape rejected');

# a cancelled copy (StopExecution, timeouts) leaves no object and no
# temporary file.  The source is a 16 GiB sparse file; the tool is frozen
# with SIGSTOP once its temporary file has grown, so the copy is seen in
# flight, then SIGTERM (the tool's cancel, as StopExecution's) and
# SIGCONT: the next chunk boundary must see the cancel

my $big = 16 << 30;
truncate_file("$dir/src/big.bin", $big);
put("$dir/in.json", encode_json({
    source => { bucket => 'src', key => 'big.bin' },
    destination => { bucket => 'out', key => 'big.bin' } }));

my $pid = fork // die "fork: $!";
if ($pid == 0) {
    open STDOUT, '>', "$dir/cancel.out" or POSIX::_exit(127);
    exec { $tool } $tool, 'sfn:file:copy', "$dir/in.json", @buckets
        or POSIX::_exit(127);
}

my ($tmp, $gone);
for (1 .. 20000) {
    ($tmp) = glob("$dir/out/.sfn-tmp-*");
    last if $tmp && -s $tmp;
    $gone = waitpid($pid, WNOHANG) == $pid and last;
    sleep 0.0005;
}
kill 'STOP', $pid unless $gone;
my $copied = $tmp ? -s $tmp : undef;
ok(!$gone && defined $copied && $copied < $big,
   'the copy is in flight when the stop arrives')
    or diag('copied ' . ($copied // 'nothing'));
note('copied ' . ($copied // 'nothing') . ' bytes when stopped');
kill 'TERM', $pid;
kill 'CONT', $pid;

# a copy that ignored the cancel would write 16 GiB: give it 20 s

my $deadline = time + 20;
while (!$gone && time < $deadline) {
    $gone = waitpid($pid, WNOHANG) == $pid;
    sleep 0.01 unless $gone;
}
if (!$gone) {
    kill 'KILL', $pid;
    waitpid $pid, 0;
    unlink glob("$dir/out/.sfn-tmp-*"), "$dir/out/big.bin";
}

$r = eval { decode_json(slurp("$dir/cancel.out") // '') } || {};
is($r->{error}, 'States.Timeout', 'cancelled copy: States.Timeout')
    or diag explain $r;
ok(!-e "$dir/out/big.bin", 'cancelled copy: no object');
unlink "$dir/src/big.bin";

is(leftovers(), 0, 'no temporary files left');


# names ngx_sfn writes itself are out of every task's reach: a copy onto
# the publish marker would publish a job that never passed QC

for my $bad ('.sfn-published/J.json', 'x/.sfn-published/J.json',
             '.sfn-upload/1', '.sfn-tmp-abc', 'mp4/.sfn-job-x/a.mp4',
             "a\nb", "a\x{7f}", "a\\b", ('s' x 256) . '/x',
             join('/', ('abcdefgh') x 120))
{
    (my $name = $bad) =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    $name = substr($name, 0, 40);
    ($r, $rc) = task('sfn:file:copy', {
        source => { bucket => 'src', key => 'source/clip.mp4' },
        destination => { bucket => 'out', key => $bad } });
    is($r->{error}, 'States.TaskFailed', "copy to \"$name\": refused");
    like($r->{cause}, qr/invalid key/, "copy to \"$name\": cause");
    unlike($r->{cause}, qr/[\x00-\x1f\x7f]/, "copy to \"$name\": clean cause");
}

for my $res ('sfn:file:move', 'sfn:file:delete') {
    ($r, $rc) = task($res, $res eq 'sfn:file:delete'
        ? { bucket => 'out', key => '.sfn-published/J.json' }
        : { source => { bucket => 'out', key => '.sfn-published/J.json' },
            destination => { bucket => 'out', key => 'stolen.json' } });
    like($r->{cause}, qr/invalid key/, "$res of the marker refused");
}

($r, $rc) = task('arn:aws:states:::aws-sdk:s3:copyObject', {
    Bucket => 'out', CopySource => 'src/source/clip.mp4',
    Key => '.sfn-published/J.json' });
like($r->{cause}, qr/invalid key/, 'copyObject onto the marker refused');

($r, $rc) = task('arn:aws:states:::aws-sdk:s3:copyObject', {
    Bucket => 'out', CopySource => 'src/%2Esfn-upload%2Fx', Key => 'y' });
like($r->{cause}, qr/invalid key/, 'encoded reserved CopySource refused');

# unicode and '%' are ordinary key bytes

($r, $rc) = task('sfn:file:copy', {
    source => { bucket => 'src', key => 'source/clip.mp4' },
    destination => { bucket => 'out', key => "u/caf\x{e9}-%41.bin" } });
is($rc, 0, 'unicode and % in a key') or diag explain $r;
ok(-e "$dir/out/u/caf\xc3\xa9-%41.bin", 'written under its UTF-8 name');

# a NUL cannot ride in a key: the input is refused, not cut at the NUL

put("$dir/in.json", '{"source":{"bucket":"src","key":"source/clip.mp4"},'
    . '"destination":{"bucket":"out","key":"nul\u0000tail"}}');
my $out = `$tool sfn:file:copy $dir/in.json @buckets 2>&1`;
isnt($? >> 8, 0, 'a \u0000 in a key: refused');
ok(!-e "$dir/out/nul", 'and no object under the cut key');

# 0-byte sources copy

put("$dir/src/empty.bin", '');
($r, $rc) = task('sfn:file:copy', {
    source => { bucket => 'src', key => 'empty.bin' },
    destination => { bucket => 'out', key => 'empty.bin' } });
is($r->{output}{size}, 0, '0-byte copy');
is(-s "$dir/out/empty.bin", 0, '0-byte object');

# the same through a state machine: a clean task failure, nothing written

my $sfn = 'build/sfn';
SKIP: {
    skip "$sfn not built", 6 unless -x $sfn;

    put("$dir/machine.json", encode_json({
        StartAt => 'Copy',
        States => { Copy => {
            Type => 'Task', Resource => 'sfn:file:copy',
            Parameters => {
                source => { bucket => 'src', key => 'source/clip.mp4' },
                destination => { bucket => 'out', 'key.$' => '$.key' } },
            End => JSON::PP::true } } }));

    put("$dir/input.json", encode_json({ key => '.sfn-published/x.json' }));
    $out = `$sfn run @buckets $dir/machine.json $dir/input.json 2>&1`;
    my $x = eval { decode_json($out) } || { raw => $out };
    is($x->{status}, 'FAILED', 'machine copying onto the marker: FAILED')
        or diag explain $x;
    is($x->{error}, 'States.TaskFailed', 'with States.TaskFailed');
    like($x->{cause}, qr/invalid key "\.sfn-published\/x\.json"/,
         'and a cause naming the key');
    ok(!-e "$dir/out/.sfn-published", 'no marker written');

    put("$dir/input.json", encode_json({ key => 'published/x.json' }));
    $out = `$sfn run @buckets $dir/machine.json $dir/input.json 2>&1`;
    $x = eval { decode_json($out) } || { raw => $out };
    is($x->{status}, 'SUCCEEDED', 'the same machine, an ordinary key');
    is(slurp("$dir/out/published/x.json"), $data, 'copied');
}

is(leftovers(), 0, 'no temporary files left by the rejects');

done_testing();
