#!/usr/bin/perl

# Database tasks inside nginx share a pool of connections per worker
# (sfn_database_pool): many concurrent tasks on 8 threads use 2
# connections at most (pg_stat_activity), kept idle between tasks and
# counted in the metrics; a connection left in a transaction (a failed
# condition) is not handed out again; after PostgreSQL restarts, the dead
# idle connections are replaced, not reused.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use Sfn::Test;

Sfn::Test::need_postgres();

my $t = Sfn::Test->new;
$t->pg_start;

my $map = '{"StartAt":"Each","States":{"Each":{"Type":"Map",'
          . '"ItemsPath":"$.items","MaxConcurrency":0,'
          . '"Iterator":{"StartAt":"Put","States":{"Put":{"Type":"Task",'
          . '"Resource":"sfn:db:put","Parameters":{"jobId.$":"$.id",'
          . '"status":"DONE"},"End":true}}},"End":true}}}';

# a DynamoDB update whose condition fails: its transaction is open then
my $cond = '{"StartAt":"U","States":{"U":{"Type":"Task",'
           . '"Resource":"arn:aws:states:::dynamodb:updateItem",'
           . '"Parameters":{"TableName":"VideoJobs",'
           . '"Key":{"JobId":{"S":"c-1"}},'
           . '"UpdateExpression":"SET JobStatus = :s",'
           . '"ConditionExpression":"JobStatus = :old",'
           . '"ExpressionAttributeValues":{":s":{"S":"B"},'
           . '":old":{"S":"nope"}}},"End":true}}}';

$t->write_file('conf/map.json', $map);
$t->write_file('conf/cond.json', $cond);

$t->nginx_start($t->sfn_http(
    machines => [ map => 'map.json', cond => 'cond.json' ],
    http => "    sfn_database_pool 2;\n",
    server => "location = / { sfn_aws_api; }\n"
              . "location = /metrics { sfn_metrics; }\n"),
    main => "thread_pool sfn threads=8 max_queue=1024;\n");

my $acct = 'arn:aws:states:us-east-1:000000000000';

sub start {
    my ($sm, $name, $input) = @_;
    my ($st, $j) = $t->aws_api('StartExecution',
                               { stateMachineArn => "$acct:stateMachine:$sm",
                                 name => $name, input => $input });
    is($st, 200, "$name started") or diag(explain($j));
    return $j->{executionArn};
}

sub status {
    my ($arn) = @_;
    return $t->psql("SELECT status FROM sfn_executions WHERE arn = '$arn'");
}

my $tasks = "SELECT count(*) FROM pg_stat_activity "
            . "WHERE application_name = 'ngx_sfn tasks'";

sub run_map {
    my ($name, $n) = @_;
    my $items = join ',', map { "{\"id\":\"$name-$_\"}" } 1 .. $n;
    my $arn = start('map', $name, "{\"items\":[$items]}");
    my ($max, $samples) = (0, 0);
    my $deadline = time + 60;
    while (time < $deadline) {
        my $c = $t->psql($tasks);
        $max = $c if $c > $max;
        $samples++;
        last if status($arn) ne 'RUNNING';
    }
    return ($arn, $max, $samples);
}

my ($arn, $max, $samples) = run_map('a', 300);
is(status($arn), 'SUCCEEDED', '300 puts on 8 threads succeed');
is($t->psql("SELECT count(*) FROM sfn_jobs WHERE job_id LIKE 'a-%' "
            . "AND status = 'DONE'"), 300, 'every row written');
cmp_ok($max, '<=', 2, "at most 2 connections ($samples samples, max $max)");
is($t->psql($tasks), 2, 'two connections kept idle for the next tasks');

my $pids = $t->psql("SELECT string_agg(pid::text, ',' ORDER BY pid) "
                    . "FROM pg_stat_activity "
                    . "WHERE application_name = 'ngx_sfn tasks'");

($arn) = run_map('b', 20);
is(status($arn), 'SUCCEEDED', 'a second run');
is($t->psql("SELECT string_agg(pid::text, ',' ORDER BY pid) "
            . "FROM pg_stat_activity "
            . "WHERE application_name = 'ngx_sfn tasks'"), $pids,
   'on the same connections');

my $m = $t->http('GET', '/metrics')->{content};
like($m, qr/^sfn_database_connections\{worker="0",use="tasks"\} 2$/m,
     'the metrics count them');
like($m, qr/^sfn_database_connections\{worker="0",use="writer"\} 1$/m,
     'and the writer');

# a failed condition leaves its transaction open: the connection is closed

$t->psql("INSERT INTO sfn_jobs (job_id, status) VALUES ('c-1', 'A')");
$arn = start('cond', 'cond-1', '{}');
$t->wait_sql("SELECT status FROM sfn_executions WHERE arn = '$arn'",
             'FAILED', 30);
is(status($arn), 'FAILED', 'the conditional update fails');
like($t->psql("SELECT error FROM sfn_executions WHERE arn = '$arn'"),
     qr/ConditionalCheckFailed/, 'as DynamoDB says');
is($t->psql("SELECT count(*) FROM pg_stat_activity "
            . "WHERE application_name = 'ngx_sfn tasks' "
            . "AND state LIKE 'idle in transaction%'"), 0,
   'no pooled connection is left inside a transaction');

($arn) = run_map('c', 10);
is(status($arn), 'SUCCEEDED', 'the pool serves again after it');

# PostgreSQL restarts: the idle connections are dead, new ones are made

$t->pg_restart(0.5) or diag('the writers did not connect again');

($arn) = run_map('d', 50);
is(status($arn), 'SUCCEEDED', 'after a restart, the tasks succeed');
is($t->psql("SELECT count(*) FROM sfn_jobs WHERE job_id LIKE 'd-%'"), 50,
   'every row written');
cmp_ok($t->psql($tasks), '<=', 2, 'still 2 connections at most');
is($t->psql("SELECT count(*) FROM sfn_executions "
            . "WHERE error = 'States.TaskFailed'"), 0,
   'no task was handed a dead connection');

$t->stop;

done_testing;
