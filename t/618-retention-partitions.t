#!/usr/bin/perl

# sfn_retention drops whole partitions (sql/018_partitions.sql).  A store
# filled under the schema before it (migrations 001 to 017 applied by
# hand, rows written in SQL) is upgraded by nginx's start: its rows become
# the range "old", their history and payloads read as before.  Then: a
# range that holds a kept execution stays, its expired ones deleted row
# by row; once that one expires the range is detached and dropped, its
# files gone; ranges are made ahead while clients describe, list and
# start executions (no error, every start recorded); new executions go
# to theirs; a range of expired executions is dropped.
# Hostile: the sweeper's backend killed and PostgreSQL stopped while the
# steps run; a redrive keeps its range.

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

# the schema before sql/018, as the module would have left it

$t->psql("CREATE TABLE sfn_migrations (name text PRIMARY KEY, "
         . "applied_at timestamptz NOT NULL DEFAULT now())");

for my $file (sort glob 'sql/0*.sql') {
    (my $name = $file) =~ s{.*/}{};
    last if $name ge '018';
    my $sql = do { local (@ARGV, $/) = $file; <> };
    $t->write_file("old-$name", $sql
                   . "\nINSERT INTO sfn_migrations (name) VALUES ('$name');\n");
    system(Sfn::Test::pg_bin('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1',
           '-1', '-h', '127.0.0.1', '-p', $t->{pg_port}, '-U', 'postgres',
           '-d', 'sfn', '-f', $t->dir . "/old-$name") == 0
        or die "$name failed\n";
}

# filled: 40 closed executions of the machine "one" (a day ago: expired),
# one kept (stopped now), each with history rows and a payload; a task
# token and a mail of an expired one

my $big = 'p' x 2000;
$t->psql(<<"END");
INSERT INTO sfn_executions (arn, name, state_machine, type, status, input,
    output, start_date, stop_date)
SELECT '$acct:execution:one:u-' || i, 'u-' || i, 'one', 'STANDARD',
    'SUCCEEDED', '{}', '{"n":' || i || '}',
    now() - interval '1 day 1 minute',
    CASE WHEN i = 0 THEN now() ELSE now() - interval '1 day' END
FROM generate_series(0, 40) i;
INSERT INTO sfn_history (execution_arn, id, previous_id, type, ts, details)
SELECT e.arn, n, n - 1, CASE WHEN n = 1 THEN 'ExecutionStarted'
    ELSE 'PassStateEntered' END, e.start_date,
    CASE WHEN n = 1 THEN jsonb_build_object('executionStartedEventDetails',
        jsonb_build_object('input', jsonb_build_object('sfn_payload',
        'h-' || e.name))) ELSE NULL END
FROM sfn_executions e, generate_series(1, 3) n;
INSERT INTO sfn_payloads (execution_arn, hash, body)
SELECT arn, 'h-' || name, '"$big"' FROM sfn_executions;
INSERT INTO sfn_tokens (token, execution_arn, task, closed)
    VALUES ('tok-u-1', '$acct:execution:one:u-1', 1, true);
INSERT INTO sfn_mailbox (execution_arn, kind)
    VALUES ('$acct:execution:one:u-2', 1);
END

$t->write_file('conf/one.json', '{"StartAt":"P","States":{"P":'
                                . '{"Type":"Pass","End":true}}}');
$t->write_file('conf/fail.json', '{"StartAt":"F","States":{"F":'
               . '{"Type":"Fail","Error":"E","Cause":"c"}}}');

# 80 s: a turn every 8 s; ranges of 30 s (an eighth of it, 30 s at
# least, sql/021), each made 30 s ahead when the last ends within 30 s
my $http = $t->sfn_http(
    machines => [ one => 'one.json', fail => 'fail.json' ],
    http => "    sfn_retention 80s;\n",
    server => "location = / { sfn_aws_api; }\n"
              . "location = /metrics { sfn_metrics; }\n");

$t->start($http, workers => 2);

sub exists_rel {
    return $t->psql("SELECT to_regclass('$_[0]') IS NOT NULL");
}

sub describe {
    my ($arn) = @_;
    my ($st, $j) = $t->aws_api('DescribeExecution', { executionArn => $arn });
    return ($st, $j);
}

# the upgrade

is($t->psql("SELECT name || ' ' || state FROM sfn_partitions"),
   'old sealed', 'the rows before it are the range "old"');
is($t->psql("SELECT count(*) FROM sfn_executions_old"), 41,
   'all of them in it');
is($t->psql("SELECT relkind FROM pg_class WHERE relname = 'sfn_payloads'"),
   'p', 'the payloads partitioned');
is(exists_rel('sfn_history_default'), 't', 'defaults made');

my $kept = "$acct:execution:one:u-0";
my ($st, $j) = describe($kept);
is($st, 200, 'an execution of before the upgrade is described');
is($j->{output}, '{"n":0}', '... as it was');
($st, $j) = $t->aws_api('GetExecutionHistory', { executionArn => $kept });
is($st, 200, 'its history');
is(scalar @{ $j->{events} // [] }, 3, '... its three events');
is($j->{events}[0]{executionStartedEventDetails}{input}, "\"$big\"",
   '... its payload read through its hash');

# the expired ones go row by row (the kept one holds the range)

is($t->wait_sql("SELECT count(*) FROM sfn_executions", 1, 60), 1,
   'the expired executions of the range are deleted');
is(exists_rel('sfn_executions_old'), 't', 'the range stays for the kept one');
($st, $j) = describe("$acct:execution:one:u-5");
is($j->{__type}, 'ExecutionDoesNotExist', 'an expired one does not exist');
is($t->psql("SELECT count(*) FROM sfn_tokens"), 0, 'its token gone');
is($t->psql("SELECT count(*) FROM sfn_mailbox"), 0, 'its mail gone');
is($t->psql("SELECT count(*) FROM sfn_history"), 3, 'the kept history kept');

# then it expires: the range is dropped whole

$t->psql("UPDATE sfn_executions SET stop_date = now() - interval '1 day'");
is($t->wait_sql("SELECT state FROM sfn_partitions WHERE name = 'old'",
                'dropped', 60), 'dropped', 'the range is dropped');
is(exists_rel('sfn_executions_old') . exists_rel('sfn_payloads_old')
   . exists_rel('sfn_history_old'), 'fff', 'its tables are gone');
($st, $j) = describe($kept);
is($j->{__type}, 'ExecutionDoesNotExist', 'its execution does not exist');

# ranges are made ahead, 30 s each here: clients describe, list and
# start while the next is made and attached; every answer a 200, every
# start recorded

my @arns;
for my $i (1 .. 20) {
    ($st, $j) = $t->aws_api('StartExecution', {
        stateMachineArn => "$acct:stateMachine:one", name => "a-$i",
        input => $json->encode({ data => "$i $big" }) });
    push @arns, $j->{executionArn};
}

my $dir = $t->dir;

sub client {
    my ($what) = @_;
    my $pid = fork // die "fork: $!\n";
    return $pid if $pid;
    my $stop = 0;
    $SIG{TERM} = sub { $stop = 1 };
    open my $fh, '>', "$dir/client-$what" or POSIX::_exit(1);
    $fh->autoflush(1);
    my $i = 0;
    while (!$stop) {
        my $s = time;
        my ($st, $j);
        if ($what eq 'describe') {
            ($st, $j) = describe($arns[ $i % @arns ]);
        } elsif ($what eq 'list') {
            ($st, $j) = $t->aws_api('ListExecutions', {
                stateMachineArn => "$acct:stateMachine:one" });
        } else {
            ($st, $j) = $t->aws_api('StartExecution', {
                stateMachineArn => "$acct:stateMachine:one",
                name => "c-$$-$i" });
        }
        printf $fh "%d %.1f\n", $st, (time - $s) * 1000;
        $i++;
        sleep 0.01;
    }
    close $fh;
    POSIX::_exit(0);
}

my $made = $t->psql("SELECT count(*) FROM sfn_partitions "
                    . "WHERE state = 'sealed'");
my @clients = map { client($_) } qw(describe list start);

my ($sealed) = $t->wait_sql("SELECT count(*) > $made FROM sfn_partitions "
                            . "WHERE state = 'sealed'", 't', 90);
sleep 2;
kill 'TERM', @clients;
waitpid $_, 0 for @clients;

is($sealed, 't', 'a range is made ahead');
my ($name) = $t->psql("SELECT name FROM sfn_partitions "
                      . "WHERE state = 'sealed' ORDER BY lo DESC LIMIT 1");
is(exists_rel("sfn_executions_$name") . exists_rel("sfn_history_$name")
   . exists_rel("sfn_payloads_$name"), 'ttt', 'of each table');
cmp_ok($t->psql("SELECT extract(epoch FROM lo - now()) FROM sfn_partitions "
                . "WHERE name = '$name'"), '>', 0, 'ahead of the starts');
is($t->psql("SELECT count(*) FROM pg_constraint WHERE contype = 'c' "
            . "AND conrelid = 'sfn_executions_default'::regclass "
            . "AND conname IN (SELECT 'sfn_executions_' || name "
            . "FROM sfn_partitions WHERE state = 'sealed')"), 0,
   'the default takes every start but the ranges\'');
is($t->psql("SELECT string_agg(DISTINCT (hi - lo)::text, ',') "
            . "FROM sfn_partitions WHERE name <> 'old' "
            . "AND state <> 'undone'"), '00:00:30',
   'ranges of 30 s: an eighth of the retention, 30 s at least');

my ($n, $bad, $max, $started) = (0, 0, 0, 0);
for my $what (qw(describe list start)) {
    open my $fh, '<', "$dir/client-$what" or die;
    while (<$fh>) {
        my ($s, $ms) = split;
        $n++;
        $bad++ if $s != 200;
        $max = $ms if $ms > $max;
        $started++ if $what eq 'start' && $s == 200;
    }
}
cmp_ok($n, '>', 30, "clients ran ($n requests)");
is($bad, 0, 'no client saw an error');
diag("slowest request while a range was made: $max ms");
is($t->wait_sql("SELECT count(*) FROM sfn_executions WHERE name LIKE 'c-%'",
                $started, 30), $started, 'every start recorded');

# starts in a range once it has begun (the one of now, or the next: a
# range may begin up to a turn after the last ended); a redrive keeps it;
# it goes once all of it expired

$t->wait_sql("SELECT count(*) FROM sfn_partitions WHERE state = 'sealed' "
             . "AND lo <= now() AND hi > now() + interval '5 seconds'",
             1, 60);
($st, $j) = $t->aws_api('StartExecution', {
    stateMachineArn => "$acct:stateMachine:fail", name => 'r-1' });
my $redrive = $j->{executionArn};
for my $i (1 .. 10) {
    $t->aws_api('StartExecution', {
        stateMachineArn => "$acct:stateMachine:one", name => "b-$i",
        input => $json->encode({ data => "$i $big" }) });
}
$t->wait_sql("SELECT count(*) FROM sfn_executions WHERE status = 'RUNNING'",
             0, 30);
($name) = $t->psql("SELECT p.name FROM sfn_partitions p, sfn_executions e "
                   . "WHERE e.arn = '$redrive' AND e.start_date >= p.lo "
                   . "AND e.start_date < p.hi AND p.state = 'sealed'");
ok($name, 'a start goes to the range of its date');
cmp_ok($t->psql("SELECT count(*) FROM sfn_payloads_$name"), '>', 0,
       '... its payloads too');

$t->psql("UPDATE sfn_executions SET stop_date = now() - interval '1 day' "
         . "WHERE arn <> '$redrive'");
($st, $j) = $t->aws_api('RedriveExecution', { executionArn => $redrive });
is($st, 200, 'a failed execution of the range redriven');
$t->wait_sql("SELECT status FROM sfn_executions WHERE arn = '$redrive'",
             'FAILED', 30);
is($t->wait_sql("SELECT count(*) FROM sfn_executions_$name", 1, 60), 1,
   'the others of the range deleted');
is(exists_rel("sfn_executions_$name"), 't',
   'its range stays while it is kept');
($st, $j) = describe($redrive);
is($j->{redriveCount}, 1, 'the redriven one kept');

# hostile: the sweeper's backend killed, PostgreSQL stopped, while the
# range is detached and dropped

my $metric = sub {
    my $r = $t->http('GET', '/metrics');
    return $r->{content} =~ /^sfn_retention_executions_deleted_total (\d+)/m
           ? $1 : 0;
};
my $before = $metric->();

$t->psql("UPDATE sfn_executions SET stop_date = now() - interval '1 day' "
         . "WHERE arn = '$redrive'");
my $kill = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
           . "WHERE pid <> pg_backend_pid() "
           . "AND query LIKE '%sfn_retention_sweep(%'";
my $killed = 0;
my $deadline = time + 6;
while (time < $deadline) {
    $killed += $t->psql($kill);
    sleep 0.3;
}
$t->pg_stop;
sleep 1.5;
$t->pg_start_again;
diag("$killed sweeper backends terminated");

is($t->wait_sql("SELECT state FROM sfn_partitions WHERE name = '$name'",
                'dropped', 90), 'dropped',
   'the range is dropped once PostgreSQL is back');
is(exists_rel("sfn_executions_$name"), 'f', 'its tables gone');
# (its record in the zone keeps the stop this nginx saw: the row is
# what was aged)
is($t->psql("SELECT count(*) FROM sfn_executions WHERE arn = '$redrive'"),
   0, 'the redriven one expired too');
cmp_ok($metric->(), '>=', $before + 1, 'the drop is counted');
like($t->http('GET', '/metrics')->{content},
     qr/^sfn_store_bytes\{table="sfn_executions"\} [1-9]/m,
     'the store metrics count the partitions');

$t->stop;

done_testing;
