#!/usr/bin/perl

# Issue 17: pages over the partitioned store (sql/018, sql/020).  The
# executions of one machine lie in four partitions ("old", the default and
# two ranges), of every status: ListExecutions, unfiltered and by status,
# pages through them newest first in the order of (start date, name),
# with no duplicate and no skip while executions start between pages.
# The page's plan is the generic one from the first call (no planning per
# page at any size), an index read backwards per partition and status
# with no sort of the rows, and a partition that starts after the cursor
# is pruned.  GetExecutionHistory reads the rows of an execution in a
# range and those of one written before sql/018 (start date -infinity).
# A map run's executions are a range of names, not its machine's others.
# Hostile: cursors at the edges of the ranges, names that share all but
# the last character of a map run's prefix.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;

Sfn::Test::need_postgres();

my $t = Sfn::Test->new;
$t->pg_start;

$t->write_file('conf/one.json', '{"StartAt":"P","States":{"P":'
                                . '{"Type":"Pass","End":true}}}');
$t->write_file('conf/slow.json', <<'END');
{"StartAt": "A",
 "States": {"A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 60, "End": true}}}
END

$t->nginx_start(<<'END', workers => 2);
    sfn_zone          sfn 16m;
    sfn_database      "%%DATABASE%%";
    sfn_state_machine one %%DIR%%/conf/one.json;
    sfn_state_machine slow %%DIR%%/conf/slow.json;

    server {
        listen 127.0.0.1:%%PORT%%;
        location = / { sfn_aws_api; }
    }
END

my $pre = 'arn:aws:states:us-east-1:000000000000';

sub api {
    my ($op, $body) = @_;
    my ($st, $j) = $t->aws_api($op, $body);
    return ($st, $j // {});
}

sub start {
    my ($sm, $name) = @_;
    my ($st, $j) = api('StartExecution', { stateMachineArn =>
                                           "$pre:stateMachine:$sm",
                                           name => $name });
    die "start $name: $st\n" unless $st == 200;
    return $j->{executionArn};
}

# two ranges after the default's dates, made as sfn_partitions_step()
# makes them (the default holds none of their dates), from a base a day
# ahead

my $base = $t->psql("SELECT now() + interval '1 day'");
my $b = "timestamptz '$base'";
my %range = (r1 => ['0 days', '1 day'], r2 => ['1 day', '2 days']);

for my $r (sort keys %range) {
    my ($lo, $hi) = @{ $range{$r} };
    for my $tb (qw(sfn_executions sfn_history sfn_payloads)) {
        $t->psql("CREATE TABLE ${tb}_t621$r (LIKE $tb INCLUDING ALL); "
                 . "ALTER TABLE $tb ATTACH PARTITION ${tb}_t621$r FOR "
                 . "VALUES FROM ($b + interval '$lo') "
                 . "TO ($b + interval '$hi')");
    }
}

# the default: executions started through the API

my @api = map { start('one', sprintf('a%02d', $_)) } 1 .. 20;
$t->wait_sql("SELECT count(*) FROM sfn_executions WHERE state_machine = "
             . "'one' AND status = 'SUCCEEDED'", 20, 60);

# copies of one of them, by SQL, of every status but RUNNING: in "old"
# (before the migration), in the ranges, and some in the default at the
# same start date as another (the name breaks the tie)

sub copies {
    my ($prefix, $n, $date) = @_;
    $t->psql(<<"END");
INSERT INTO sfn_executions
    (arn, name, state_machine, type, status, input, output, start_date,
     stop_date, version, owner, history)
SELECT regexp_replace(m.arn, '[^:]*\$', '$prefix' || lpad(i::text, 2, '0')),
       '$prefix' || lpad(i::text, 2, '0'), m.state_machine, m.type,
       (ARRAY['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT'])[i % 4 + 1],
       m.input, m.output, $date, $date + interval '1 second', m.version,
       m.owner, m.history
FROM sfn_executions m, generate_series(1, $n) i
WHERE m.arn = '$api[0]'
END
}

copies('o', 15, "now() - interval '1 day' - i * interval '1 minute'");
copies('p', 23, "$b + i * interval '7 minutes'");
copies('q', 17, "$b + interval '1 day' + i * interval '11 minutes'");
copies('t', 6, "(SELECT start_date FROM sfn_executions "
               . "WHERE arn = '$api[5]')");

$t->psql("ANALYZE sfn_executions");

is($t->psql("SELECT string_agg(c.relname || ' ' || "
            . "(SELECT count(*) FROM sfn_executions x "
            . "WHERE x.tableoid = c.oid), ', ' ORDER BY c.relname) "
            . "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            . "WHERE i.inhparent = 'sfn_executions'::regclass"),
   'sfn_executions_default 26, sfn_executions_old 15, '
   . 'sfn_executions_t621r1 23, sfn_executions_t621r2 17',
   'the executions lie in four partitions');

# every page of a list, calling $between->() after each: the names

sub pages {
    my ($body, $between) = @_;
    my (@names, $token, $n);
    do {
        my ($st, $j) = api('ListExecutions', { %$body,
                           $token ? (nextToken => $token) : () });
        if ($st != 200) {
            fail('ListExecutions page ' . ($n + 1) . ": $st");
            diag(explain($j));
            last;
        }
        push @names, map { $_->{name} } @{ $j->{executions} };
        $token = $j->{nextToken};
        $n++;
        $between->($n) if $between && $token;
    } while ($token);
    return @names;
}

sub order {
    my ($where) = @_;
    return split /\n/, $t->psql("SELECT name FROM sfn_executions "
                                . "WHERE state_machine = 'one' $where "
                                . "ORDER BY start_date DESC, name DESC");
}

my @want = order('');
my @started;
my @got = pages({ stateMachineArn => "$pre:stateMachine:one",
                  maxResults => 7 },
                sub { push @started, start('one', "n$_[0]") });

my %n;
$n{$_}++ for @got;
is(scalar(grep { $n{$_} > 1 } keys %n), 0,
   'no execution twice while others started');
is_deeply([grep { !/^n\d+$/ } @got], \@want,
          'every one there before, in the order of (start date, name)');
ok(@started > 5, scalar(@started) . ' started between pages');

for my $status (qw(SUCCEEDED FAILED ABORTED TIMED_OUT)) {
    @got = pages({ stateMachineArn => "$pre:stateMachine:one",
                   statusFilter => $status, maxResults => 4 });
    @want = order("AND status = '$status' AND name !~ '^n'");
    is_deeply([grep { !/^n\d+$/ } @got], \@want,
              "statusFilter $status: its " . scalar(@want)
              . ' across the partitions');
}

# the page's plan, as PostgreSQL ran it inside sfn_executions_list(), from
# the first call: its parameters unknown when planned ($n in its
# conditions), an index per partition read backwards, no sort node

sub page_plan {
    my ($after) = @_;
    my $log = "$t->{pg_data}/postgres.log";
    my $size = -s $log;
    $t->psql("LOAD 'auto_explain'; "
             . "SET auto_explain.log_min_duration = 0; "
             . "SET auto_explain.log_nested_statements = on; "
             . "SET auto_explain.log_analyze = on; "
             . "SELECT count(*) FROM sfn_executions_list('one', "
             . "'{RUNNING,SUCCEEDED,FAILED,TIMED_OUT,ABORTED}', $after, "
             . "NULL, 8, NULL, NULL)");
    return substr($t->read_file($log) // '', $size);
}

my $plan = page_plan('NULL');
like($plan, qr/Index Cond: \(\(state_machine = \$\d+\)/,
     'first call: the generic plan');
like($plan, qr/Index Scan Backward using \S+ on sfn_executions_t621r2/,
     'an index read backwards in each partition');
unlike($plan, qr/->  Sort  /, 'no sort of the rows');
unlike($plan, qr/Subplans Removed/, 'first page: no partition pruned');

my $us = $t->psql("SELECT (extract(epoch FROM $b + interval '3 hours') "
                  . "* 1000000)::bigint");
$plan = page_plan($us);
like($plan, qr/Subplans Removed: 1\b/,
     'a page in r1: r2, after it, pruned');
unlike($plan, qr/on sfn_executions_t621r2/, 'r2 not read');

# histories in rows: one in a range (its rows' start date its own), one
# written before sql/018 (its rows' start date -infinity, in "old")

my $slow = start('slow', 'h1');
$t->wait_sql("SELECT count(*) >= 5 FROM sfn_history "
             . "WHERE execution_arn = '$slow'", 't', 30);

for my $c (['hr', "$b + interval '1 hour'",
            'x.start_date'],
           ['ho', "now() - interval '2 days'", "'-infinity'"])
{
    my ($name, $date, $rows) = @$c;
    $t->psql(<<"END");
WITH x AS (
    INSERT INTO sfn_executions
        (arn, name, state_machine, type, status, input, start_date,
         stop_date, version, owner)
    SELECT regexp_replace(m.arn, '[^:]*\$', '$name'), '$name',
           m.state_machine, m.type, 'ABORTED', m.input, $date,
           $date + interval '1 minute', m.version, m.owner
    FROM sfn_executions m WHERE m.arn = '$slow'
    RETURNING arn, start_date)
INSERT INTO sfn_history (execution_arn, id, previous_id, type, ts, details,
                         start_date)
SELECT x.arn, h.id, h.previous_id, h.type, h.ts, h.details, $rows
FROM x, sfn_history h WHERE h.execution_arn = '$slow'
END
}

my $events = $t->psql("SELECT count(*) FROM sfn_history "
                      . "WHERE execution_arn = '$slow'");

for my $c (['hr', 'sfn_history_t621r1'], ['ho', 'sfn_history_old']) {
    my ($name, $part) = @$c;
    my $arn = $slow =~ s/[^:]*$/$name/r;
    is($t->psql("SELECT count(*) FROM $part WHERE execution_arn = '$arn'"),
       $events, "$name: its $events events in $part");
    my (@ids, $token);
    do {
        my ($st, $j) = api('GetExecutionHistory', {
            executionArn => $arn, maxResults => 2,
            $token ? (nextToken => $token) : () });
        push @ids, map { $_->{id} } @{ $j->{events} // [] };
        $token = $st == 200 ? $j->{nextToken} : undef;
    } while ($token);
    is("@ids", join(' ', 1 .. $events), "$name: every event, in pages");
    my ($st, $j) = api('GetExecutionHistory', { executionArn => $arn,
                                                reverseOrder => \1 });
    is($j->{events}[0]{id}, $events, "$name: reversed, the last first");
}

# a map run's executions: names "<uuid>-<index>" of "<machine>/<label>",
# beside another run's whose uuid differs in its last character, and one
# whose name has a longer index

my $u = '6f1c2a9e-0b7d-4e55-9a31-2c8d4e5f6a70';
(my $v = $u) =~ s/0$/1/;
(my $w = $u) =~ s/0$/\//;

$t->psql(<<"END");
INSERT INTO sfn_executions
    (arn, name, state_machine, type, status, input, start_date, stop_date,
     version, owner)
SELECT '$pre:execution:one/L:' || n, n, 'one/L', 'STANDARD', 'SUCCEEDED',
       '{}', now(), now(), 1, NULL
FROM (SELECT '$u-' || i AS n FROM generate_series(0, 11) i
      UNION ALL SELECT '$u-99999999999999999' UNION ALL SELECT '$u-'
      UNION ALL SELECT '$v-' || i FROM generate_series(0, 4) i
      UNION ALL SELECT '$w-' || i FROM generate_series(0, 4) i) s
END

my (@run, $token);
do {
    my ($st, $j) = api('ListExecutions', {
        mapRunArn => "$pre:mapRun:one/L:$u", maxResults => 5,
        $token ? (nextToken => $token) : () });
    is($st, 200, 'ListExecutions by mapRunArn: 200') unless $st == 200;
    push @run, map { $_->{name} } @{ $j->{executions} // [] };
    $token = $st == 200 ? $j->{nextToken} : undef;
} while ($token);

is_deeply(\@run, [sort(map({ "$u-$_" } 0 .. 11),
                       "$u-99999999999999999")],
          'a map run: its 13 executions, by name, no other run\'s');

$t->log_clean('pages over partitions');
$t->stop;
done_testing;
