#!/usr/bin/perl

# sfn_retention gives back the space it frees: after a round, the sweeper
# VACUUMs the tables it deleted from, and again at its next turn (the index
# pages the first deleted are recycled by the second), so that as many new
# executions as were deleted fit in the files the deleted ones left
# (autovacuum is off here: what frees the space is the sweeper; some
# executions are kept behind the deleted ones, so that the files cannot
# merely be cut short).  Then
# hostile: PostgreSQL stopped and the sweeper's backend killed mid-sweep;
# RedriveExecution and DescribeExecution racing the deletion of the
# execution they name, by the API and in SQL with the row held either way;
# two nodes of two workers each sweeping one backlog.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ();
use Sfn::Test;

Sfn::Test::need_postgres();

my $t = Sfn::Test->new;
$t->pg_start;

my $acct = 'arn:aws:states:us-east-1:000000000000';
my $json = Sfn::Test::json();

$t->write_file('conf/big.json', '{"StartAt":"P","States":{"P":'
                                . '{"Type":"Pass","End":true}}}');
$t->write_file('conf/fail.json', '{"StartAt":"F","States":{"F":'
               . '{"Type":"Fail","Error":"E","Cause":"c"}}}');

my $http = $t->sfn_http(
    machines => [ big => 'big.json', fail => 'fail.json' ],
    http => "    sfn_retention 30s;\n",
    server => "location = / { sfn_aws_api; }\n");

$t->start($http, workers => 2);

# sfn_history holds the events of running executions only, deleted as
# they end (packed into their row): autovacuum's work, not retention's

my @tables = qw(sfn_executions sfn_payloads);

# the tables are partitioned (sql/018): what is said of a table is said
# of its partitions, and of an index of theirs

sub leaves {
    my ($rel) = @_;
    return "(SELECT relid FROM pg_partition_tree('$rel') WHERE isleaf)";
}

for my $table (@tables) {
    $t->psql("ALTER TABLE $_ SET (autovacuum_enabled = off)")
        for split /\n/, $t->psql("SELECT relid FROM pg_partition_tree("
                                  . "'$table') WHERE isleaf");
}

# the files of the executions' tables, their indexes and TOAST: (total,
# "relation size ..." lines)

sub sizes {
    my $in = join ',', map { "'$_'" } @tables;
    my $rows = $t->psql(
        "SELECT n || ' ' || sum(s) FROM (SELECT CASE WHEN c.relkind = 't' "
        . "THEN r.relname || '_toast' ELSE r.relname END AS n, "
        . "pg_relation_size(c.oid) AS s, b.relname AS tb FROM pg_class c "
        . "LEFT JOIN pg_index i ON i.indexrelid = c.oid "
        . "LEFT JOIN pg_class o ON o.reltoastrelid = c.oid "
        . "JOIN pg_class r ON r.oid = coalesce(pg_partition_root("
        . "coalesce(o.oid, c.oid)), o.oid, c.oid) "
        . "JOIN pg_class b ON b.oid = coalesce(pg_partition_root("
        . "coalesce(i.indrelid, o.oid, c.oid)), i.indrelid, o.oid, c.oid) "
        . "WHERE c.relkind IN ('r', 't', 'i')) x "
        . "WHERE tb IN ($in) GROUP BY n ORDER BY n");
    my %s = map { split ' ' } split /\n/, $rows;
    my $total = 0;
    $total += $_ for values %s;
    return ($total, \%s);
}

sub vacuums {
    return $t->psql("SELECT coalesce(max(vacuum_count), 0) FROM "
                    . "pg_stat_user_tables WHERE relid IN "
                    . leaves('sfn_executions'));
}

sub list {
    return join ',', map { "'$_'" } @_;
}

# past retention (30 s), now

sub age {
    $t->psql("UPDATE sfn_executions SET stop_date = now() - interval "
             . "'1 day' WHERE arn IN (" . list(@_) . ")");
}

# a round: $n executions of 2 KB each, their inputs distinct (a payload
# row each), all closed

my $data = join '', map { chr(97 + $_ % 26) } 1 .. 2048;

sub round {
    my ($tag, $n) = @_;
    my @arns;
    for my $i (1 .. $n) {
        my ($st, $j) = $t->aws_api('StartExecution', {
            stateMachineArn => "$acct:stateMachine:big",
            name => "$tag-$i",
            input => $json->encode({ data => "$tag $i $data" }) });
        die "StartExecution: $st\n" unless $st == 200;
        push @arns, $j->{executionArn};
    }
    $t->wait_sql("SELECT count(*) FROM sfn_executions WHERE arn IN ("
                 . list(@arns) . ") AND status = 'SUCCEEDED'", $n, 60);
    return @arns;
}

my $n = 200;

my @first = round('a', $n);
my @kept = round('k', 20);
cmp_ok($t->psql("SELECT count(*) FROM sfn_payloads WHERE execution_arn "
                . "IN (" . list(@first) . ")"), '>=', $n,
       'a payload row each');

my $v0 = vacuums();
age(@first);

is($t->wait_sql("SELECT count(*) FROM sfn_executions WHERE arn IN ("
                . list(@first) . ")", 0, 60), 0,
   'the first round is deleted');

# the round's VACUUM, then the next turn's

my ($v, $secs) = $t->wait_sql("SELECT max(vacuum_count) >= $v0 + 2 FROM "
                              . "pg_stat_user_tables WHERE relid IN "
                              . leaves('sfn_executions'), 't', 30);
is($v, 't', 'the sweeper VACUUMs twice after a round');

my ($s1, $r1) = sizes();

$t->psql("CREATE EXTENSION IF NOT EXISTS pg_freespacemap");
my $free = $t->psql("SELECT sum(f.avail) FROM " . leaves('sfn_payloads')
                    . " p, LATERAL pg_freespace(p.relid) f");
cmp_ok($free, '>', $r1->{sfn_payloads} / 2,
       'the payloads\' space is free for new rows');
$free = $t->psql("SELECT count(*) FROM " . leaves('sfn_payloads_pkey')
                 . " p, LATERAL pg_freespace(p.relid) f WHERE f.avail > 0");
cmp_ok($free, '>', 0, 'and pages of their index');

my @second = round('b', $n);
my ($s2, $r2) = sizes();

diag(sprintf "%s: %d kB after retention, %d kB after as many new",
             $_, $r1->{$_} / 1024, ($r2->{$_} // 0) / 1024)
    for sort keys %$r1;

# the space freed reused: a relation grows by a fifth at most (the
# versions of a running execution's row, a root split), where without it
# it would double

for my $rel (qw(sfn_executions sfn_payloads sfn_payloads_pkey
                sfn_executions_page
                sfn_executions_state_machine_name_start_date_key)) {
    cmp_ok($r2->{$rel}, '<=', $r1->{$rel} * 1.2 + 8192,
           "$rel: the new executions in the space of the deleted ones");
}
cmp_ok($s2, '<=', $s1 * 1.15, "the store no larger ($s2 and $s1 bytes)");

# hostile: PostgreSQL gone mid-sweep, then the sweeper's backend killed
# while it sweeps or VACUUMs

# one transaction: a sweep in between would leave history with no row

sub backlog {
    my ($tag, $n, $events) = @_;
    $t->psql("INSERT INTO sfn_executions (arn, name, state_machine, type, "
             . "status, input, start_date, stop_date) SELECT '$tag-' || i, "
             . "'$tag-' || i, 'm', 'STANDARD', 'SUCCEEDED', '{}', "
             . "now() - interval '1 day', now() - interval '1 day' "
             . "FROM generate_series(1, $n) i; "
             . "INSERT INTO sfn_history (execution_arn, id, previous_id, "
             . "type, ts) SELECT '$tag-' || e, i, i - 1, "
             . "'PassStateEntered', now() FROM generate_series(1, $n) e, "
             . "generate_series(1, $events) i");
}

sub left {
    my ($tag) = @_;
    return $t->psql("SELECT (SELECT count(*) FROM sfn_executions WHERE "
                    . "arn LIKE '$tag-%') + (SELECT count(*) FROM "
                    . "sfn_history WHERE execution_arn LIKE '$tag-%')");
}

$v0 = vacuums();
backlog('x', 1000, 30);
my $all = left('x');

my $deadline = time + 30;
sleep 0.05 while left('x') == $all && time < $deadline;
cmp_ok(left('x'), '<', $all, 'the sweep has begun');

$t->pg_stop;
sleep 1.5;
$t->pg_start_again;

# the sweeper's backend, whatever it runs: a batch or a VACUUM

my $kill = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
           . "WHERE pid <> pg_backend_pid() AND (query LIKE "
           . "'%sfn_retention_sweep(%' OR query LIKE 'VACUUM (SKIP%')";
my $killed = 0;
$deadline = time + 10;
while (time < $deadline && left('x') > 0) {
    $killed += $t->psql($kill);
    sleep 0.2;
}
diag("$killed sweeper backends terminated");

is($t->wait_sql("SELECT count(*) FROM sfn_executions "
                . "WHERE arn LIKE 'x-%'", 0, 60), 0,
   'the backlog is deleted once PostgreSQL is back');
is(left('x'), 0, 'with its history');

is($t->wait_sql("SELECT max(vacuum_count) > $v0 FROM pg_stat_user_tables "
                . "WHERE relid IN " . leaves('sfn_executions'), 't', 30), 't',
   'and VACUUMed');

my ($st, $j) = $t->aws_api('ListExecutions',
                           { stateMachineArn => "$acct:stateMachine:big" });
is($st, 200, 'the API answers after the database came back');

# hostile: a redrive racing the deletion, in SQL, the row held either way

my $fail = "$acct:stateMachine:fail";
my @failed = map {
    my ($s, $r) = $t->aws_api('StartExecution', { stateMachineArn => $fail,
                                                   name => "f-$_" });
    $r->{executionArn};
} 1 .. 3;
is($t->wait_sql("SELECT count(*) FROM sfn_executions WHERE arn IN ("
                . list(@failed) . ") AND status = 'FAILED'", 3, 30), 3,
   'three failed');

sub in_background {
    my ($sql) = @_;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        $t->psql($sql);
        POSIX::_exit(0);
    }
    return $pid;
}

# held by a redrive: the sweep passes it by, and it runs again (no sweep
# between the aging and the redrive's lock: the sweepers find their lock
# taken until the redrive holds the row; a range of expired executions
# goes whole at a step, sql/018)

my $paused = in_background("SELECT pg_advisory_lock(1936092673), "
                           . "pg_sleep(2)");
sleep 0.5;
age(@failed);

my $held = $failed[0];
my $pid = in_background("BEGIN; SELECT outcome FROM sfn_execution_redrive("
                        . "'$held', 'nobody', interval '1 hour', NULL); "
                        . "SELECT pg_sleep(3); COMMIT");
waitpid $paused, 0;
is($t->wait_sql("SELECT count(*) FROM sfn_executions WHERE arn IN ("
                . list(@failed[1, 2]) . ")", 0, 30), 0,
   'the sweep deletes the others');
waitpid $pid, 0;
is($t->psql("SELECT status FROM sfn_executions WHERE arn = '$held'"),
   'RUNNING', 'the one a redrive held is redriven, not deleted');
cmp_ok($t->psql("SELECT count(*) FROM sfn_history WHERE execution_arn = "
                . "'$held'"), '>', 0, 'with its history');

# held by the sweep: the redrive finds it gone

$t->psql("UPDATE sfn_executions SET status = 'FAILED', "
         . "stop_date = now() - interval '1 day' WHERE arn = '$held'");
# the sweep's lock waited for (a worker's sweep may hold it), then the
# sweep, a few calls: a call may be a step of the partitions' upkeep
# (sql/018) before the batch that takes the row, or the drop of its range
$pid = in_background("BEGIN; SELECT pg_advisory_xact_lock(1936092673); "
                     . "SELECT sfn_retention_sweep(interval '1 hour', NULL, "
                     . "1000) FROM generate_series(1, 12); "
                     . "SELECT pg_sleep(2); COMMIT");
sleep 0.5;
is($t->psql("SELECT outcome FROM sfn_execution_redrive('$held', 'nobody', "
            . "interval '1 hour', NULL)"), 'missing',
   'a redrive behind the sweep finds the execution gone');
waitpid $pid, 0;

# by the API: describes and redrives of executions as they are deleted

my @racing = map {
    my ($s, $r) = $t->aws_api('StartExecution', { stateMachineArn => $fail,
                                                   name => "r-$_" });
    $r->{executionArn};
} 1 .. 40;
$t->wait_sql("SELECT count(*) FROM sfn_executions WHERE arn IN ("
             . list(@racing) . ") AND status = 'FAILED'", 40, 30);

# past retention all at once; two clients, each a describe and a redrive
# of its half, while the sweep deletes them: a redrive answered 200 ran
# again (its row is there, redriven), one answered ExecutionDoesNotExist
# found it gone

age(@racing);

my %redriven;
my @clients;
for my $half (0, 1) {
    my @mine = grep { $_ % 2 == $half } 0 .. $#racing;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        my @out;
        for my $i (@mine) {
            my ($s, $r) = $t->aws_api('DescribeExecution',
                                      { executionArn => $racing[$i] });
            push @out, "DescribeExecution $i "
                       . ($s == 200 ? 200 : "$s " . ($r->{__type} // '?'));
            ($s, $r) = $t->aws_api('RedriveExecution',
                                   { executionArn => $racing[$i] });
            push @out, "RedriveExecution $i "
                       . ($s == 200 ? 200 : "$s " . ($r->{__type} // '?'));
        }
        $t->write_file("race-$half", join("\n", @out) . "\n");
        POSIX::_exit(0);
    }
    push @clients, $pid;
}
waitpid $_, 0 for @clients;

my %answers;
for my $half (0, 1) {
    for (split /\n/, $t->read_file("race-$half") // '') {
        my ($op, $i, $what) = split / /, $_, 3;
        $answers{"$op $what"}++;
        $redriven{ $racing[$i] } = 1
            if $op eq 'RedriveExecution' && $what eq '200';
    }
}
diag(join ', ', map { "$_: $answers{$_}" } sort keys %answers);
is(join(',', grep { !/ (200|400 ExecutionDoesNotExist)$/ }
            sort keys %answers),
   '', 'each answer is the execution\'s or ExecutionDoesNotExist');

my @redriven = sort keys %redriven;
is($t->wait_sql("SELECT count(*) FROM sfn_executions WHERE arn IN ("
                . list(@racing) . ") AND status = 'FAILED' "
                . "AND redrive_count = 1", scalar @redriven, 30),
   scalar @redriven, scalar(@redriven) . ' redriven ran again to their end');
is($t->psql("SELECT count(*) FROM sfn_executions WHERE arn IN ("
            . list(@racing) . ")"), scalar @redriven,
   'the others are deleted');

# two nodes of two workers each, one backlog

my $node = $t->node;
$node->write_file('conf/big.json', $t->read_file('conf/big.json'));
$node->write_file('conf/fail.json', $t->read_file('conf/fail.json'));
$node->nginx_start($node->sfn_http(
    machines => [ big => 'big.json', fail => 'fail.json' ],
    http => "    sfn_retention 30s;\n",
    server => "location = / { sfn_aws_api; }\n"), workers => 2);

backlog('y', 3000, 10);
is($t->wait_sql("SELECT count(*) FROM sfn_executions "
                . "WHERE arn LIKE 'y-%'", 0, 60), 0,
   'two nodes sweep one backlog');
is(left('y'), 0, 'history included')
    or diag($t->psql("SELECT string_agg(pid || ' ' || state || ' ' "
                     . "|| coalesce(wait_event, '') || ' ' "
                     . "|| left(query, 60), E'\\n') FROM pg_stat_activity "
                     . "WHERE datname = 'sfn'"));

$node->stop;

my $log = $t->read_file('logs/error.log');
my @errors = grep { /\[error\]/
                    && !/sfn database: (connection lost|connect failed)/
                    && !/terminating connection due to administrator/ }
             split /\n/, $log;
is(join("\n", @errors), '', 'no error but the database\'s going');

$t->stop;

done_testing;
