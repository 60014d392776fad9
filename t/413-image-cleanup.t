#!/usr/bin/perl

# The image workflow's cleanup through build/sfn-task: sfn:file:delete of
# a prefix (a job's outputs) removes the tree under it and nothing else;
# symbolic links are removed, never followed; prefixes that are not a key
# and "/", that reach out of the bucket or into the module's own names,
# that name an object or nest too deeply fail the task; an absent prefix
# is deleted without error, as S3 does.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Sfn::Test;
use File::Temp qw(tempdir);
use File::Path qw(make_path);

Sfn::Test::need_tool('sfn-task');

my $dir = tempdir(CLEANUP => 1);
make_path("$dir/out/processed/job-1/user", "$dir/out/processed/job-2",
          "$dir/outside");

sub put {
    my ($path, $content) = @_;
    open my $f, '>', $path or die "$path: $!";
    print $f $content;
    close $f;
}

sub task {
    my ($input) = @_;
    return Sfn::Test::run_task('sfn:file:delete', $input, dir => $dir,
                               stderr => 1,
                               buckets => { out => "$dir/out" });
}

put("$dir/out/processed/job-1/a-small.jpg", 'a');
put("$dir/out/processed/job-1/a-medium.jpg", 'b');
put("$dir/out/processed/job-1/.sfn-tmp-XYZ", 'half written');
put("$dir/out/processed/job-1/user/b-small.jpg", 'c');
put("$dir/out/processed/job-2/keep.jpg", 'd');
put("$dir/outside/precious", 'e');
symlink("$dir/outside", "$dir/out/processed/job-1/link") or die "symlink: $!";
symlink("$dir/outside/precious", "$dir/out/processed/job-1/file-link")
    or die "symlink: $!";

my ($r, $rc) = task({ bucket => 'out', prefix => 'processed/job-1/' });
is($rc, 0, 'a prefix is deleted') or diag explain $r;
is_deeply($r->{output}, { bucket => 'out', prefix => 'processed/job-1/',
                          deleted => 6 },
          'six entries: the pictures, a temporary file, two links');
ok(!-e "$dir/out/processed/job-1", 'the job\'s directory is gone');
ok(-d "$dir/out/processed", 'its parent stays');
is(-s "$dir/out/processed/job-2/keep.jpg", 1, 'another job is untouched');
is(-s "$dir/outside/precious", 1, 'links were not followed');

($r, $rc) = task({ bucket => 'out', prefix => 'processed/job-1/' });
is($rc, 0, 'again: nothing there, no error');
is($r->{output}{deleted}, 0, 'nothing deleted');

# hostile prefixes

for my $c (['', 'empty'], ['/', 'the root'], ['processed', 'without "/"'],
           ['../outside/', 'out of the bucket'],
           ['processed/../../outside/', '".." inside'],
           ['/processed/', 'absolute'], ['./processed/', 'a "." segment'],
           ['.sfn-published/', 'the module\'s manifests'],
           ["processed/a\nb/", 'a newline'],
           ['processed//', 'an empty segment'])
{
    ($r, $rc) = task({ bucket => 'out', prefix => $c->[0] });
    isnt($rc, 0, "$c->[1]: refused");
    like($r->{cause} // '', qr/is not a key followed by/,
         "$c->[1]: the cause says why") or diag explain $r;
}

# a NUL: the engine carries U+0000 inside a string as C0 80, an overlong
# form the key check refuses; sfn-task refuses \u0000 in its input itself

for my $c (["processed/\x00/", 'a NUL'],
           ["processed/\xc0\x80/", 'the engine\'s U+0000 (C0 80)'],
           ["processed/\xff/", 'invalid UTF-8'])
{
    ($r, $rc) = task('{"bucket":"out","prefix":"'
                     . ($c->[0] =~ s/\x00/\\u0000/r) . '"}');
    isnt($rc, 0, "$c->[1]: refused") or diag explain $r;
}
ok(-d "$dir/out/processed", 'and processed/ is still there');

is(-s "$dir/outside/precious", 1, 'nothing outside was touched');
ok(-e "$dir/out/processed/job-2/keep.jpg", 'nor inside');

# an object, not a directory

($r, $rc) = task({ bucket => 'out', prefix => 'processed/job-2/keep.jpg/' });
isnt($rc, 0, 'a prefix through an object fails');
ok(-e "$dir/out/processed/job-2/keep.jpg", 'and leaves it');

# a link to a directory as the prefix itself is not followed

symlink("$dir/outside", "$dir/out/processed/job-3") or die "symlink: $!";
($r, $rc) = task({ bucket => 'out', prefix => 'processed/job-3/' });
isnt($rc, 0, 'a prefix that is a link fails');
like($r->{cause} // '', qr/names an object/, 'as an object');
is(-s "$dir/outside/precious", 1, 'the link\'s target is untouched');

# deeper than 16 directories

my $deep = 'processed/deep/' . join('/', ('d') x 20);
make_path("$dir/out/$deep");
put("$dir/out/$deep/x.jpg", 'x');
($r, $rc) = task({ bucket => 'out', prefix => 'processed/deep/' });
isnt($rc, 0, 'too deep: refused');
like($r->{cause} // '', qr/deeper than 16/, 'the cause says why');

($r, $rc) = task({ bucket => 'nope', prefix => 'processed/x/' });
is($r->{error}, 'S3.NoSuchBucketException', 'an unknown bucket');

done_testing;
