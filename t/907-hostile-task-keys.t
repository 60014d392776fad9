# Issue 11 defect 6: the reserved names of a bucket (.sfn-published, the
# publish markers; .sfn-upload, the upload temporaries) are as unreachable
# from a state machine's file tasks as from an upload: a copy, move or
# delete naming one fails the task and touches nothing.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;


my $t = Sfn::Test->new;
my $dir = $t->dir;

my $job = 'job-six';
$t->write_file('output/src.json', qq({"jobId":"$job","published":true}\n));
$t->write_file("output/hls/$job/master.m3u8", "#EXTM3U\n");
$t->write_file('output/.sfn-published/kept.json', qq({"jobId":"kept"}\n));
$t->write_file('output/hls/kept/master.m3u8', "#EXTM3U\n");

sub machine {
    my ($name, $resource, $params) = @_;
    $t->write_file("conf/$name.asl.json", $t->json->encode({
        StartAt => 'T', States => { T => {
            Type => 'Task', Resource => $resource, Parameters => $params,
            End => JSON::PP::true } } }));
}

my %src = (bucket => 'output', key => 'src.json');
machine('copy', 'sfn:file:copy', { source => \%src, destination => {
    bucket => 'output', key => ".sfn-published/$job.json" } });
machine('move', 'sfn:file:move', { source => \%src, destination => {
    bucket => 'output', key => ".sfn-published/$job.json" } });
machine('sdkcopy', 'arn:aws:states:::aws-sdk:s3:copyObject', {
    Bucket => 'output', Key => ".sfn-published/$job.json",
    CopySource => 'output/src.json' });
machine('unpublish', 'sfn:file:delete', {
    bucket => 'output', key => '.sfn-published/kept.json' });
machine('tempdir', 'sfn:file:copy', { source => \%src, destination => {
    bucket => 'output', key => '.sfn-upload/planted' } });

$t->nginx_start(<<'END', workers => 1);
    sfn_zone          sfn 4m;
    sfn_thread_pool   sfn;
    sfn_bucket        output %%DIR%%/output;
    sfn_state_machine copy      %%DIR%%/conf/copy.asl.json;
    sfn_state_machine move      %%DIR%%/conf/move.asl.json;
    sfn_state_machine sdkcopy   %%DIR%%/conf/sdkcopy.asl.json;
    sfn_state_machine unpublish %%DIR%%/conf/unpublish.asl.json;
    sfn_state_machine tempdir   %%DIR%%/conf/tempdir.asl.json;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /start/      { sfn_start; }
        location /executions/ { sfn_api; }
        location /vod/        { sfn_origin output; }
    }
END

my $r = $t->http('GET', "/vod/hls/$job/master.m3u8");
is($r->{status}, 404, 'the job is not published');
$r = $t->http('GET', '/vod/hls/kept/master.m3u8');
is($r->{status}, 200, 'the kept job is');

for my $m (qw(copy sdkcopy tempdir unpublish move)) {
    $t->write_file('output/src.json', qq({"jobId":"$job","published":true}\n));
    $r = $t->http('POST', "/start/$m", '{"bucket":"output","key":"src.json"}');
    is($r->{status}, 200, "$m: started");
    my $e = $t->wait_execution($r->{json}{jobId}, 20);
    {
        is($e->{status}, 'FAILED', "$m: the task fails");
    }
    unlike($e->{cause} // '', qr/NoSuchKey|does not exist/,
           "$m: not for want of a source");
}

{
    ok(!-e "$dir/output/.sfn-published/$job.json", 'no marker written');
    ok(-e "$dir/output/src.json", 'the source is still there');
    ok(-e "$dir/output/.sfn-published/kept.json", 'the kept marker is kept');
    ok(!-e "$dir/output/.sfn-upload/planted", 'nothing planted in .sfn-upload');
    $r = $t->http('GET', "/vod/hls/$job/master.m3u8");
    is($r->{status}, 404, 'the job is still not published');
    $r = $t->http('GET', '/vod/hls/kept/master.m3u8');
    is($r->{status}, 200, 'the kept job still is');
}

my $log = $t->read_file('logs/error.log') // '';
my @bad = grep { !/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[([a-z]+)\] /
                 || $1 =~ /^(crit|alert|emerg)$/
                 || /exited on signal/ }
          split /\n/, $log;
ok(!@bad, 'defect 6: a clean error log') or diag(join "\n", @bad);

# defect 8 for the origin: a path with %0a in it is logged escaped

my $forged = '2026/01/01%2000:00:00%20%5bnotice%5d%20forged';
$r = $t->http('GET', "/vod/hls/x%0a$forged/a.ts");
is($r->{status}, 404, 'an unpublished path with %0a: 404');
$log = $t->read_file('logs/error.log') // '';
unlike($log, qr/^2026\/01\/01 00:00:00 \[notice\] forged/m,
       'no forged log line from the origin');

# a key that is valid but holds quotes is logged with them escaped, so the
# quoted name in the line cannot be closed early

$r = $t->http('GET', '/vod/hls/q%22%20forged%22/a.ts');
is($r->{status}, 404, 'an unpublished path with quotes: 404');
$log = $t->read_file('logs/error.log') // '';
like($log, qr/"hls\/q\\x22 forged\\x22\/a\.ts" is not published/,
     'the quotes logged escaped');

$t->stop;

done_testing;
