#!/usr/bin/perl

# A worker's memory across media tasks (issue 11, the soak's RSS): the
# same transcode run again and again through a synchronous Express
# execution.  Between jobs the worker holds what it keeps, not what the
# codecs freed: its anonymous RSS at rest is under half of what a job
# added at its peak, and it does not grow from one job to the next.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use Time::HiRes qw(sleep time);

Sfn::Test::need_ffmpeg();

# ASan's allocator is not glibc's: its heap is not what is measured here
plan skip_all => 'RSS under ASan is its allocator\'s' if $Sfn::Test::SAN;

my $JOBS = 6;

my $t = Sfn::Test->new;
mkdir $t->dir . "/$_" for qw(src out);

$t->lavfi_clip($t->dir . '/src/clip.mp4', t => 2);

$t->write_file('conf/transcode.json', $t->json->encode({
    StartAt => 'T',
    States => { T => {
        Type => 'Task', Resource => 'sfn:media:transcode',
        Parameters => {
            input => { bucket => 'src', key => 'clip.mp4' },
            outputs => [
                { type => 'mp4', bucket => 'out', key => 'm/a.mp4',
                  height => 180, quality => 8 },
                { type => 'hls', bucket => 'out', prefix => 'm/hls/',
                  renditions => [{ name => '_a', height => 144 },
                                 { name => '_b', height => 90 }] } ] },
        End => JSON::PP::true } } }));

$t->nginx_start($t->sfn_http(
    database => 0,
    buckets => [ src => 'src', out => 'out' ],
    http => "    sfn_state_machine transcode %%DIR%%/conf/transcode.json "
            . "type=express;\n",
    server => "location = / { sfn_aws_api; }\n"), workers => 1);

my ($worker) = $t->nginx_workers;
ok($worker, 'one worker');

# VmHWM, RssAnon, RssFile + RssShmem and Threads of the worker, in kB

sub status {
    open my $fh, '<', "/proc/$worker/status" or return {};
    my %s = map { /^(\w+):\s+(\d+)/ ? ($1, $2) : () } <$fh>;
    return \%s;
}

# at rest: the thread pool's threads only, as before the first job

my $threads = status()->{Threads};

sub at_rest {
    my $s;
    for (1 .. 100) {
        $s = status();
        last if $s->{Threads} <= $threads;
        sleep 0.05;
    }
    return $s;
}

my $idle = at_rest();
my @rest;

for my $n (1 .. $JOBS) {
    my ($code, $r) = $t->aws_api('StartSyncExecution', {
        stateMachineArn =>
            'arn:aws:states:us-east-1:000000000000:stateMachine:transcode',
        input => '{}' });
    is($r->{status}, 'SUCCEEDED', "job $n succeeded")
        or diag explain $r;
    push @rest, at_rest();
}

my $last = $rest[-1];
is($last->{Threads}, $threads, 'the codec threads are gone');

# what a job added at its peak: the high-water mark less what stays
# mapped (the libraries' pages, the zone) and the idle worker's heap

my $peak = $last->{VmHWM} - $last->{RssFile} - ($last->{RssShmem} // 0)
           - $idle->{RssAnon};
my $kept = $last->{RssAnon} - $idle->{RssAnon};

diag(sprintf('anonymous RSS at rest, kB: idle %d, after each job %s; '
             . 'a job added up to %d', $idle->{RssAnon},
             join(' ', map { $_->{RssAnon} } @rest), $peak));

ok($peak > 0 && $kept < $peak / 2,
   "at rest the worker keeps under half of a job's peak ($kept of $peak kB)");

# flat: the last job's rest against the second's (the first maps the
# codecs' tables), with 10 % and a page table's worth of slack

my $second = $rest[1]{RssAnon};
ok($last->{RssAnon} <= $second * 1.1 + 1024,
   "no growth from job 2 to job $JOBS ($second -> $last->{RssAnon} kB)");

$t->stop;

done_testing();
