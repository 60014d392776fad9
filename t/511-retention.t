#!/usr/bin/perl

# sfn_retention: closed executions past retention leave PostgreSQL (their
# row, history, payloads, tokens, mail) and the shared zone, and answer
# ExecutionDoesNotExist; running and recent ones stay; job rows follow
# jobs=; deletion goes in bounded batches, one session at a time, while
# the worker keeps answering; the metrics count it.  Then
# sfn_retention_sweep() itself: the bound, a long history over several
# batches (what is left is a prefix), the lock, the jobs rule.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use Sfn::Test;

Sfn::Test::need_postgres();

my $t = Sfn::Test->new;
$t->pg_start;

my $quick = '{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}';

my $hold = '{"StartAt":"Hold","States":{'
           . '"Hold":{"Type":"Wait","Seconds":120,"End":true}}}';

# 4 events a turn: 300 turns, about 1,200 history rows
my $loop = '{"StartAt":"Init","States":{'
           . '"Init":{"Type":"Pass","Result":{"i":0},"Next":"Inc"},'
           . '"Inc":{"Type":"Pass","Parameters":'
           . '{"i.$":"States.MathAdd($.i, 1)"},"Next":"Check"},'
           . '"Check":{"Type":"Choice","Choices":[{"Variable":"$.i",'
           . '"NumericLessThan":300,"Next":"Inc"}],"Default":"Done"},'
           . '"Done":{"Type":"Succeed"}}}';

my $ask = '{"StartAt":"Ask","States":{"Ask":{"Type":"Task",'
          . '"Resource":"sfn:file:delete.waitForTaskToken",'
          . '"Parameters":{"bucket":"scratch","key":"none.txt",'
          . '"token.$":"$$.Task.Token"},"End":true}}}';

$t->write_file('conf/quick.json', $quick);
$t->write_file('conf/hold.json', $hold);
$t->write_file('conf/loop.json', $loop);
$t->write_file('conf/ask.json', $ask);
mkdir "$t->{dir}/scratch";

my ($rc, $out) = $t->nginx_test($t->sfn_http(
    http => "    sfn_retention 500ms;\n"));
isnt($rc, 0, 'a retention under a second is refused');
like($out, qr/invalid retention "500ms"/, 'and named');

($rc, $out) = $t->nginx_test($t->sfn_http(
    http => "    sfn_retention 3s jobs=soon;\n"));
like($out, qr/invalid jobs retention "soon"/, 'a bad jobs= is refused');

($rc, $out) = $t->nginx_test($t->sfn_http(
    database => 0, http => "    sfn_retention 3s;\n",
    machines => [ quick => 'quick.json' ]));
like($out, qr/"sfn_retention" requires "sfn_database"/,
     'retention needs a database');

($rc, $out) = $t->nginx_test($t->sfn_http(
    http => "    sfn_retention off;\n    sfn_retention 3s;\n"));
like($out, qr/is duplicate/, 'a second sfn_retention is refused');

$t->start($t->sfn_http(
    buckets => [ scratch => 'scratch' ],
    machines => [ quick => 'quick.json', hold => 'hold.json',
                  loop => 'loop.json', ask => 'ask.json' ],
    http => "    sfn_retention 3s jobs=3s;\n",
    server => "location = / { sfn_aws_api; }\n"
              . "location = /ping { return 204; }\n"
              . "location = /metrics { sfn_metrics; }\n"),
    workers => 2);

my $acct = 'arn:aws:states:us-east-1:000000000000';

sub start {
    my ($sm, $name) = @_;
    my ($st, $j) = $t->aws_api('StartExecution',
                               { stateMachineArn => "$acct:stateMachine:$sm",
                                 name => $name, input => '{"n":1}' });
    is($st, 200, "$name started") or diag(explain($j));
    return $j->{executionArn};
}

sub count {
    my ($table, $arns) = @_;
    my $col = $table eq 'sfn_executions' ? 'arn' : 'execution_arn';
    my $in = join ',', map { "'$_'" } @$arns;
    return $t->psql("SELECT count(*) FROM $table WHERE $col IN ($in)");
}

sub closed {
    my ($arns) = @_;
    my $in = join ',', map { "'$_'" } @$arns;
    return $t->wait_sql("SELECT count(*) FROM sfn_executions WHERE arn IN "
                        . "($in) AND status <> 'RUNNING'", scalar @$arns,
                        60);
}

my $running = start('hold', 'held');

# old: quick ones, long histories, a task answered by token, a stopped one

my @old = map { start('quick', "old-$_") } 1 .. 10;
push @old, map { start('loop', "loop-$_") } 1 .. 5;

my $asked = start('ask', 'asked');
my $token;
for (1 .. 100) {
    my $p = $t->psql("SELECT details->'taskScheduledEventDetails'"
                     . "->>'parameters' FROM sfn_history "
                     . "WHERE execution_arn = '$asked' "
                     . "AND type = 'TaskScheduled'");
    if ($p) {
        $token = Sfn::Test::json()->decode($p)->{token};
        last;
    }
    sleep 0.1;
}
my ($st) = $t->aws_api('SendTaskSuccess', { taskToken => $token,
                                            output => '{"ok":true}' });
is($st, 200, 'the task answered by its token');
push @old, $asked;

my $stopped = start('hold', 'stopped');
($st) = $t->aws_api('StopExecution', { executionArn => $stopped });
is($st, 200, 'one stopped');
push @old, $stopped;

is(closed(\@old), scalar @old, 'the old ones closed');
my $t_old = time;

cmp_ok(count('sfn_history', \@old), '>', 5000, 'long histories written');
is(count('sfn_tokens', [ $asked ]), 1, 'a closed token row');

# job rows: an old one, one of the running execution, one kept fresh

$t->psql("INSERT INTO sfn_jobs (job_id, status, execution_arn, updated_at) "
         . "VALUES ('job-old', 'DONE', NULL, now() - interval '1 hour'), "
         . "('job-run', 'RUNNING', '$running', now() - interval '1 hour')");

sleep 1.5;

my @recent = map { start('quick', "recent-$_") } 1 .. 5;
is(closed(\@recent), 5, 'the recent ones closed');

# while retention runs: the worker answers at once

my ($max, $n, $gone_at) = (0, 0, undef);
my $deadline = time + 20;
while (time < $deadline) {
    my $t0 = time;
    my $r = $t->http('GET', '/ping');
    my $dt = time - $t0;
    $max = $dt if $dt > $max;
    $n++;
    die "ping: $r->{status}\n" unless $r->{status} == 204;
    if ($n % 10 == 0 && count('sfn_executions', \@old) == 0) {
        $gone_at = time;
        last;
    }
    sleep 0.01;
}

ok($gone_at, 'the old executions are deleted');
my $age_recent = time - $t_old - 1.5;
cmp_ok($gone_at - $t_old, '>=', 3, 'not before their retention');
is(count('sfn_executions', \@recent), 5, 'the recent ones are kept')
    or diag("recent ones $age_recent s old");
diag(sprintf "ping: %d requests while deleting, the slowest %.1f ms",
             $n, $max * 1000);
cmp_ok($max, '<', 0.25, 'the worker answers while retention deletes');

is(count('sfn_history', \@old), 0, 'their history is deleted');
is(count('sfn_payloads', \@old), 0, 'their payloads');
is(count('sfn_tokens', \@old), 0, 'their tokens');

for my $arn ($old[0], $old[12], $asked) {
    my ($s, $j) = $t->aws_api('DescribeExecution', { executionArn => $arn });
    is($s, 400, "describe of an expired execution: 400");
    is($j->{__type}, 'ExecutionDoesNotExist', '... ExecutionDoesNotExist');

    ($s, $j) = $t->aws_api('GetExecutionHistory', { executionArn => $arn });
    is($j->{__type}, 'ExecutionDoesNotExist', 'its history too');
}

my ($s, $j) = $t->aws_api('DescribeExecution', { executionArn => $running });
is($j->{status}, 'RUNNING', 'the running one is kept');
cmp_ok(count('sfn_history', [ $running ]), '>', 0, 'with its history');

is($t->wait_sql("SELECT count(*) FROM sfn_executions WHERE arn IN ("
                . join(',', map { "'$_'" } @recent) . ")", 0, 20),
   0, 'the recent ones go in their turn');

is($t->psql("SELECT string_agg(job_id, ',' ORDER BY job_id) FROM sfn_jobs"),
   'job-run', 'an old job row goes, the running execution\'s stays');

# a name can be used again once its execution has expired

my $again = start('quick', 'old-1');
ok($again, 'an expired name is free again');

# metrics

my $m;
for (1 .. 50) {
    $m = $t->http('GET', '/metrics')->{content};
    last if $m =~ /^sfn_store_rows/m;
    sleep 0.2;
}
my ($deleted) = $m =~ /^sfn_retention_executions_deleted_total (\d+)$/m;
cmp_ok($deleted // 0, '>=', @old + @recent, 'deletions counted')
    or diag($m);
my ($rows) = $m =~ /^sfn_retention_rows_deleted_total (\d+)$/m;
cmp_ok($rows // 0, '>', 5000, 'deleted rows counted');
like($m, qr/^sfn_store_bytes\{table="sfn_history"\} [1-9]\d*$/m,
     'bytes per table');
like($m, qr/^sfn_store_rows\{table="sfn_executions"\} \d+$/m,
     'rows per table');
like($m, qr/^sfn_store_oldest_stop_timestamp_seconds \d+$/m,
     'the oldest kept');
like($m, qr/^sfn_database_connections\{worker="1",use="writer"\} 1$/m,
     'each worker counts its connections');

$t->stop(allow => 'invalid retention|invalid jobs retention'
                  . '|requires "sfn_database"|is duplicate');

# the sweep itself, nginx gone: a long history over bounded batches

$t->pg_start_again;

$t->psql(q{INSERT INTO sfn_executions (arn, name, state_machine, type,
    status, input, start_date, stop_date) SELECT 'x-' || i, 'x-' || i, 'm',
    'STANDARD', 'SUCCEEDED', '{}', now() - interval '2 hours',
    now() - interval '2 hours' FROM generate_series(1, 4) i});
$t->psql(q{INSERT INTO sfn_history (execution_arn, id, previous_id, type, ts)
    SELECT 'x-1', i, i - 1, 'PassStateEntered', now()
    FROM generate_series(1, 2500) i});
$t->psql(q{INSERT INTO sfn_history (execution_arn, id, previous_id, type, ts)
    SELECT 'x-' || e, i, i - 1, 'PassStateEntered', now()
    FROM generate_series(2, 4) e, generate_series(1, 10) i});

# what a node that died may leave: mail (the pollers drop the mail of
# ended executions, but only while some node runs), a closed token
$t->psql(q{INSERT INTO sfn_mailbox (execution_arn, kind) VALUES ('x-2', 1)});
$t->psql(q{INSERT INTO sfn_tokens (token, execution_arn, task, closed)
    VALUES ('tok-x-3', 'x-3', 1, true)});
$t->psql(q{INSERT INTO sfn_payloads (execution_arn, hash, body)
    VALUES ('x-4', 'abc', 'body')});

my $sweep = "SELECT executions || ' ' || deleted || ' ' || more FROM "
            . "sfn_retention_sweep(interval '1 hour', NULL, 1000)";

my @batches;
for (1 .. 10) {
    my $r = $t->psql($sweep);
    push @batches, $r;
    my ($e, $d) = split ' ', $r;
    cmp_ok($d, '<=', 1000, "a batch deletes 1000 rows at most ($r)");
    my $left = $t->psql("SELECT count(*) || ' ' || coalesce(max(id), 0) "
                        . "FROM sfn_history WHERE execution_arn = 'x-1'");
    my ($c, $mx) = split ' ', $left;
    is($mx, $c, 'what is left of a history is a prefix');
    last if $r =~ / false$/;
}
cmp_ok(scalar @batches, '>=', 3, 'several batches: ' . join(', ', @batches));
for my $table (qw(sfn_executions sfn_history sfn_mailbox sfn_tokens
                  sfn_payloads)) {
    my $col = $table eq 'sfn_executions' ? 'arn' : 'execution_arn';
    is($t->psql("SELECT count(*) FROM $table WHERE $col LIKE 'x-%'"), 0,
       "$table: all of theirs gone");
}

# one session at a time

my $pid = fork // die;
if ($pid == 0) {
    $t->psql("SELECT pg_advisory_lock(1936092673), pg_sleep(3)");
    exit 0;
}
$t->wait_sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
             . "AND objid = 1936092673 AND granted", '1');
like($t->psql($sweep), qr/^-1 0 false$/, 'another session sweeping: -1');
waitpid $pid, 0;

$t->pg_stop;

done_testing;
