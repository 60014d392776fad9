# Two nginx nodes (their own prefixes and ports) share one PostgreSQL:
# executions started on one node are leased to it; when the node dies
# (kill -9 of master and workers), the other claims them and finishes.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use Sfn::Test;

my $a = Sfn::Test->new;
$a->pg_start;

# node b uses node a's database

my $b = $a->node;

my $def = '{"StartAt":"Hold","States":{'
          . '"Hold":{"Type":"Wait","Seconds":3,"Next":"Done"},'
          . '"Done":{"Type":"Pass","Result":"ok","End":true}}}';

my $http = $a->sfn_http(buckets => [ source => 'source' ],
                        machines => [ hold => 'hold.json' ],
                        server => <<'END');
location /start/      { sfn_start; }
location /executions/ { sfn_api; }
END

for my $node ($a, $b) {
    $node->write_file('conf/hold.json', $def);
    $node->nginx_start($http, workers => 1);
}

my @jobs;
for (1 .. 20) {
    my $r = $a->http('POST', '/start/hold', '{"bucket":"source","key":"k"}');
    push @jobs, $r->{json}{jobId} if $r->{status} == 200;
}
is(scalar @jobs, 20, '20 executions started on node a');

my $list = join ',', map { "'$_'" } @jobs;
my $host = `hostname`;
chomp $host;
my @pids = ($a->nginx_pid, $a->nginx_workers);
is($a->psql("SELECT count(*) FROM sfn_executions WHERE name IN ($list) "
            . "AND owner = '$host:$pids[1]'"), 20, 'all leased to node a');

# node a dies at once, master and worker

kill 'KILL', @pids;
$a->{nginx} = 0;
my $killed = time;

my $done = $a->wait_sql("SELECT count(*) FROM sfn_executions "
                         . "WHERE name IN ($list) AND status = 'SUCCEEDED'",
                         20, 30);

is($done, 20, 'node b finished all of them');
ok(time - $killed < 15, sprintf('within %.1f s of the kill', time - $killed));

my ($bw) = $b->nginx_workers;
is($a->psql("SELECT count(*) FROM sfn_executions WHERE name IN ($list) "
            . "AND owner = '$host:$bw'"), 20, 'now owned by node b');
is($a->psql("SELECT count(*) FROM sfn_events h JOIN sfn_executions e "
            . "ON e.arn = h.execution_arn WHERE e.name IN ($list) "
            . "AND h.type = 'ExecutionSucceeded'"), 20,
   'one ExecutionSucceeded each');

my $r = $b->http('GET', "/executions/$jobs[0]");
is($r->{json}{status}, 'SUCCEEDED', 'node b describes it');
is($r->{json}{output}, 'ok', 'with its output');

$b->stop;
$a->stop(no_check => 1);

done_testing;
