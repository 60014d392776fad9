# Distributed Map with Standard children across the death of their
# worker: kill -9 of the worker that owns the parent (two workers, then
# two nodes), PostgreSQL restarted mid-run, UpdateMapRun and the database
# gone during the takeover, the parent stopped while it has no owner.
# The map run goes on where its parent is taken over, with the children
# it had: none run twice to completion, none lost, the counts exact, every
# result written once.  A child tells its map run (DescribeExecution,
# DescribeStateMachineForExecution).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ();
use Sfn::Test;

Sfn::Test::need_postgres();

my $t = Sfn::Test->new;
my $dir = $t->dir;
my $http = $t->sfn_http(zone => '8m', buckets => [ out => 'out' ],
                        server => "location = / { sfn_aws_api; }\n");

$t->start($http, workers => 2);
mkdir "$dir/out";

my $acct = 'arn:aws:states:us-east-1:000000000000';
my $role = 'arn:aws:iam::000000000000:role/dmap';
my $items = 24;
my $n = 0;

sub api { my ($node, $op, $body) = @_; return $node->aws_api($op, $body) }

# a parent whose Map runs $items Standard children of 1 s each, 4 at a
# time: (execution ARN, map run ARN) once $o{after} children succeeded

sub start_map {
    my ($node, %o) = @_;
    my $name = 'tk' . ++$n;
    my $def = { StartAt => 'M', States => { M => { Type => 'Map',
        ItemsPath => '$.items', MaxConcurrency => 4, Label => 'L',
        ItemSelector => { 'i.$' => '$$.Map.Item.Value' },
        ItemProcessor => { ProcessorConfig => { Mode => 'DISTRIBUTED',
                                                ExecutionType => 'STANDARD' },
                           StartAt => 'W', States => {
                               W => { Type => 'Wait', Seconds => 1,
                                      Next => 'P' },
                               P => { Type => 'Pass', End => \1 } } },
        ($o{writer} ? (ResultWriter => {
             Resource => 'arn:aws:states:::s3:putObject',
             Parameters => { Bucket => 'out', Prefix => $name } }) : ()),
        End => \1 } } };
    my ($st, $r) = api($node, 'CreateStateMachine', { name => $name,
        definition => $node->json->encode($def), roleArn => $role });
    is($st, 200, "$name created") or diag(explain $r);
    ($st, $r) = api($node, 'StartExecution', {
        stateMachineArn => "$acct:stateMachine:$name",
        input => $node->json->encode({ items => [ 0 .. $items - 1 ] }) });
    my $ex = $r->{executionArn};
    my $mr;
    for (1 .. 300) {
        (undef, $r) = api($node, 'ListMapRuns', { executionArn => $ex });
        $mr = $r->{mapRuns}[0]{mapRunArn};
        last if $mr && $t->psql("SELECT count(*) FROM sfn_executions "
                                . "WHERE map_run = '$mr' "
                                . "AND status = 'SUCCEEDED'")
                       >= ($o{after} // 6);
        sleep 0.1;
    }
    return ($name, $ex, $mr);
}

sub owner_pid {
    my ($ex) = @_;
    my ($pid) = $t->psql("SELECT owner FROM sfn_executions "
                         . "WHERE arn = '$ex'") =~ /:(\d+)$/;
    return $pid;
}

sub running_children {
    my ($mr) = @_;
    return $t->psql("SELECT count(*) FROM sfn_executions "
                    . "WHERE map_run = '$mr' AND status = 'RUNNING'");
}

sub settle {
    my ($node, $arn, $timeout) = @_;
    my $d = $node->aws_settle($arn, $timeout // 90);
    $d->{out} = eval { $node->json->decode($d->{output}) }
        if defined $d->{output};
    return $d;
}

# what must hold of a map run that ended: each item once, each child once

sub exact {
    my ($what, $d, $mr, %o) = @_;
    is($d->{status}, 'SUCCEEDED', "$what: the parent ends")
        or diag(explain $d);
    unless ($o{writer}) {
        is_deeply($d->{out}, [ map { { i => $_ } } 0 .. $items - 1 ],
                  "$what: every item once, in order, in the output");
    }
    my ($st, $r);
    for (1 .. 100) {
        # the parent is described from the zone as it ends, the map run
        # from the database once its end has committed
        ($st, $r) = api($o{node} // $t, 'DescribeMapRun',
                        { mapRunArn => $mr });
        last if ($r->{status} // '') ne 'RUNNING';
        sleep 0.1;
    }
    is($r->{status}, 'SUCCEEDED', "$what: the same map run ends");
    is($r->{itemCounts}{succeeded}, $items, "$what: $items succeeded");
    is($r->{itemCounts}{total}, $items, "$what: no item counted twice");
    is(join(',', map { $r->{itemCounts}{$_} // 'none' }
                     qw(failed timedOut aborted running pending)),
       '0,0,0,0,0', "$what: none failed, none running");
    is($t->psql("SELECT count(*) || '/' || count(*) FILTER "
                . "(WHERE status = 'SUCCEEDED') FROM sfn_executions "
                . "WHERE map_run = '$mr'"), "$items/$items",
       "$what: $items children, one per item, all SUCCEEDED");
    is($t->psql("SELECT count(*) FROM sfn_events h JOIN sfn_executions e "
                . "ON e.arn = h.execution_arn WHERE e.map_run = '$mr' "
                . "AND h.type = 'ExecutionSucceeded'"), $items,
       "$what: one ExecutionSucceeded each: no child ran twice");
    is($t->psql("SELECT count(*) FROM sfn_events h JOIN sfn_executions e "
                . "ON e.arn = h.execution_arn WHERE e.map_run = '$mr' "
                . "AND h.type = 'ExecutionStarted'"), $items,
       "$what: one ExecutionStarted each");
    my $most = $t->psql("SELECT max((SELECT count(*) FROM sfn_executions y "
                        . "WHERE y.map_run = x.map_run "
                        . "AND y.start_date <= x.start_date "
                        . "AND y.stop_date > x.start_date)) "
                        . "FROM sfn_executions x WHERE x.map_run = '$mr'");
    ok($most <= ($o{conc} // 4), "$what: MaxConcurrency kept ($most)");
    return $r;
}


# kill -9 of the worker that owns the parent and its running children

my ($name, $ex, $mr) = start_map($t);
like($mr, qr/^$acct:mapRun:$name\/L:[0-9a-f-]{36}$/, 'a map run');
my $pid = owner_pid($ex);
ok($pid && kill('KILL', $pid), "the owner $pid killed");

# what ran at the kill: nothing changes it until the lease runs out

my $running = $t->psql("SELECT string_agg(name, ',' ORDER BY name) "
                       . "FROM sfn_executions WHERE map_run = '$mr' "
                       . "AND status = 'RUNNING'");
my $d = settle($t, $ex);
exact('kill -9', $d, $mr);
ok(length $running, "children were running at the kill: $running");
my @was = split /,/, $running;
is($t->psql("SELECT count(*) FROM sfn_executions WHERE map_run = '$mr' "
            . "AND name IN (" . join(',', map { "'$_'" } @was) . ") "
            . "AND owner NOT LIKE '%:$pid'"), scalar @was,
   'those were taken over by another worker');
my $log = $t->read_file('logs/error.log');
like($log, qr/sfn map run "\Q$mr\E" goes on from item \d+/,
     'the map run went on from its recorded progress');
like($log, qr/sfn execution "\Q$was[0]\E" of "\Q$name\E\/L" resumed/,
     'a running child resumed from its last step');

# a child tells its map run

my $child = "$acct:execution:$name/L:$was[0]";
my ($st, $r) = api($t, 'DescribeExecution', { executionArn => $child });
is($st, 200, 'a child described');
is($r->{mapRunArn}, $mr, 'with its mapRunArn');
is($r->{stateMachineArn}, "$acct:stateMachine:$name/L",
   'and the state machine of its map run');
($st, $r) = api($t, 'DescribeStateMachineForExecution',
                { executionArn => $child });
is($st, 200, 'DescribeStateMachineForExecution of a child')
    or diag(explain $r);
is($r->{mapRunArn}, $mr, 'its mapRunArn');
is($r->{label}, 'L', 'its label');
is($r->{stateMachineArn}, "$acct:stateMachine:$name",
   'the state machine of its parent');
($st, $r) = api($t, 'DescribeExecution', { executionArn => $ex });
ok(!exists $r->{mapRunArn}, 'a parent has none');
($st, $r) = api($t, 'DescribeStateMachineForExecution',
                { executionArn => $ex });
ok(!exists $r->{mapRunArn} && !exists $r->{label},
   'nor its state machine');

# made-up children: not found, whatever their names

for my $arn ("$acct:execution:$name/L:" . ('0' x 36) . '-1',
             "$acct:execution:$name/L:" . ('0' x 36) . '-',
             "$acct:execution:$name/:" . ('0' x 36) . '-7',
             "$acct:execution:/L:x-1",
             "$acct:execution:$name/L/M:" . ('f' x 36) . '-99999999999999999999') {
    for my $op (qw(DescribeExecution DescribeStateMachineForExecution)) {
        ($st, $r) = api($t, $op, { executionArn => $arn });
        is($st == 400 ? $r->{__type} : $st, 'ExecutionDoesNotExist',
           "$op of a made-up child $arn");
    }
}


# kill -9 with a ResultWriter: every result written once

($name, $ex, $mr) = start_map($t, writer => 1);
$pid = owner_pid($ex);
ok($pid && kill('KILL', $pid), 'with a ResultWriter: the owner killed');
$d = settle($t, $ex);
$r = exact('kill -9, ResultWriter', $d, $mr, writer => 1);
is($r->{itemCounts}{resultsWritten}, $items, 'resultsWritten');
my $man = eval { $t->json->decode($t->read_file(
    "out/$d->{out}{ResultWriterDetails}{Key}")) } // {};
my @entries = map { @{ $t->json->decode($t->read_file("out/$_->{Key}")) } }
              @{ $man->{ResultFiles}{SUCCEEDED} // [] };
is_deeply([ map { $t->json->decode($_->{Input})->{i} } @entries ],
          [ 0 .. $items - 1 ], 'every item once in SUCCEEDED_n.json');
is_deeply([ map { $_->{Name} } @entries ],
          [ map { $mr =~ /:([0-9a-f-]{36})$/; "$1-$_" } 0 .. $items - 1 ],
          'each under the name of its one child');


# PostgreSQL restarted mid-run

($name, $ex, $mr) = start_map($t);
$t->pg_stop;
sleep 2;
$t->pg_start_again;
$d = settle($t, $ex);
exact('PostgreSQL restarted', $d, $mr);


# UpdateMapRun while the map run has no owner

($name, $ex, $mr) = start_map($t);
$pid = owner_pid($ex);
ok($pid && kill('KILL', $pid), 'UpdateMapRun: the owner killed');
($st, $r) = api($t, 'UpdateMapRun', { mapRunArn => $mr,
                                      maxConcurrency => 8 });
is($st, 200, 'UpdateMapRun during the takeover') or diag(explain $r);
$d = settle($t, $ex);
$r = exact('UpdateMapRun during the takeover', $d, $mr, conc => 8);
is($r->{maxConcurrency}, 8, 'the new owner keeps the new MaxConcurrency');


# the database gone as the takeover comes

($name, $ex, $mr) = start_map($t);
$pid = owner_pid($ex);
ok($pid && kill('KILL', $pid), 'database gone: the owner killed');
sleep 4;
$t->pg_stop;
sleep 3;
$t->pg_start_again;
$d = settle($t, $ex, 120);
exact('the database gone during the takeover', $d, $mr);


# the parent stopped while it has no owner: its children end too

($name, $ex, $mr) = start_map($t);
$pid = owner_pid($ex);
ok($pid && kill('KILL', $pid), 'stopped: the owner killed');
ok(running_children($mr) > 0, 'children running');
($st, $r) = api($t, 'StopExecution', { executionArn => $ex,
                                       error => 'Enough' });
is($st, 200, 'the parent stopped while it has no owner');
$d = settle($t, $ex);
is($d->{status}, 'ABORTED', 'it ends ABORTED');
is($t->wait_sql("SELECT count(*) FROM sfn_executions "
                . "WHERE map_run = '$mr' AND status = 'RUNNING'", 0, 30),
   0, 'no child left running');
ok($t->psql("SELECT count(*) FROM sfn_executions WHERE map_run = '$mr' "
            . "AND status = 'ABORTED'") > 0, 'those running were aborted');
for (1 .. 50) {
    (undef, $r) = api($t, 'DescribeMapRun', { mapRunArn => $mr });
    last if $r->{status} ne 'RUNNING';
    sleep 0.1;
}
is($r->{status}, 'ABORTED', 'the map run ABORTED');



# RedriveExecution of a parent that failed in its Map: the same map run
# redriven, only its unsuccessful children redriven, those not started
# started, those that succeeded kept

$name = 'tk' . ++$n;
my $copy = { Type => 'Task', Resource => 'sfn:file:copy',
    Parameters => {
        source => { bucket => 'out',
                    'key.$' => "States.Format('in/{}.txt', \$.i)" },
        destination => { bucket => 'out',
                         'key.$' => "States.Format('done/{}.txt', \$.i)" } },
    End => \1 };
my $def = { StartAt => 'M', States => { M => { Type => 'Map',
    ItemsPath => '$.items', MaxConcurrency => 1,
    ItemSelector => { 'i.$' => '$$.Map.Item.Value' },
    ItemProcessor => { ProcessorConfig => { Mode => 'DISTRIBUTED',
                                            ExecutionType => 'STANDARD' },
                       StartAt => 'C', States => { C => $copy } },
    ResultSelector => { 'n.$' => 'States.ArrayLength($)' },
    End => \1 } } };
mkdir "$dir/out/in";
$t->write_file("out/in/$_.txt", "x$_") for grep { $_ != 3 && $_ != 5 } 0 .. 7;
($st, $r) = api($t, 'CreateStateMachine', { name => $name,
    definition => $t->json->encode($def), roleArn => $role });
is($st, 200, "$name created") or diag(explain $r);
($st, $r) = api($t, 'StartExecution', {
    stateMachineArn => "$acct:stateMachine:$name",
    input => $t->json->encode({ items => [ 0 .. 7 ] }) });
$ex = $r->{executionArn};
$d = settle($t, $ex);
is($d->{status}, 'FAILED', 'redrive: the parent fails in its Map');
is($d->{error}, 'States.ExceedToleratedFailureThreshold', 'its error');
(undef, $r) = api($t, 'ListMapRuns', { executionArn => $ex });
$mr = $r->{mapRuns}[0]{mapRunArn};
(undef, $r) = api($t, 'DescribeMapRun', { mapRunArn => $mr });
is($r->{status}, 'FAILED', 'its map run FAILED');
is($r->{redriveCount}, 0, 'not redriven yet');
is($t->psql("SELECT string_agg(map_index || ':' || status, ',' "
            . "ORDER BY map_index) FROM sfn_executions "
            . "WHERE map_run = '$mr'"),
   '0:SUCCEEDED,1:SUCCEEDED,2:SUCCEEDED,3:FAILED',
   'three children succeeded, one failed, the rest not started');

$t->write_file("out/in/$_.txt", "x$_") for 3, 5;

# two at once: one redrives, the other is told it runs

my @st;
for my $k (0, 1) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my ($s, $x) = api($t, 'RedriveExecution', { executionArn => $ex });
        $t->write_file("redrive$k", $s == 200 ? 'ok' : $x->{__type});
        POSIX::_exit(0);
    }
    push @st, $pid;
}
waitpid $_, 0 for @st;
is(join(',', sort map { $t->read_file("redrive$_") } 0, 1),
   'ExecutionNotRedrivable,ok', 'two redrives at once: one is made');
$d = settle($t, $ex);
is($d->{status}, 'SUCCEEDED', 'redriven, the parent succeeds')
    or diag(explain $d);
is_deeply($d->{out}, { n => 8 }, 'with the eight results');
(undef, $r) = api($t, 'ListMapRuns', { executionArn => $ex });
is(scalar @{ $r->{mapRuns} }, 1, 'the same map run, no other');
(undef, $r) = api($t, 'DescribeMapRun', { mapRunArn => $mr });
is($r->{status}, 'SUCCEEDED', 'the map run SUCCEEDED');
is($r->{redriveCount}, 1, 'its redriveCount');
ok($r->{redriveDate} && $r->{redriveDate} >= $r->{startDate},
   'its redriveDate');
is($r->{itemCounts}{succeeded}, 8, 'eight items succeeded');
is($r->{itemCounts}{total}, 8, 'eight in all');
is($r->{itemCounts}{failed}, 0, 'none failed');
is($t->psql("SELECT string_agg(map_index || ':' || status || ':' "
            . "|| redrive_count, ',' ORDER BY map_index) "
            . "FROM sfn_executions WHERE map_run = '$mr'"),
   join(',', map { "$_:SUCCEEDED:" . ($_ == 3 ? 1 : 0) } 0 .. 7),
   'the failed child redriven, the others run once');
is($t->psql("SELECT count(*) FROM sfn_events h JOIN sfn_executions e "
            . "ON e.arn = h.execution_arn WHERE e.map_run = '$mr' "
            . "AND h.type = 'ExecutionSucceeded'"), 8,
   'one ExecutionSucceeded each');
is($t->psql("SELECT count(*) FROM sfn_events h JOIN sfn_executions e "
            . "ON e.arn = h.execution_arn WHERE e.map_run = '$mr' "
            . "AND h.type = 'ExecutionRedriven'"), 1,
   'one ExecutionRedriven, the failed child\'s');
my (undef, $h) = api($t, 'GetExecutionHistory', { executionArn => $ex,
                                                  maxResults => 1000 });
my ($rd) = grep { $_->{type} eq 'MapRunRedriven' } @{ $h->{events} };
is($rd->{mapRunRedrivenEventDetails}{mapRunArn}, $mr,
   'MapRunRedriven, the same map run');
is($rd->{mapRunRedrivenEventDetails}{redriveCount}, 1, 'its redriveCount');

# the owner of a redriven map run killed: its successor goes on redriving

$name = 'tk' . ++$n;
$def->{States}{M}{MaxConcurrency} = 2;
$def->{States}{M}{ItemProcessor}{StartAt} = 'W';
$def->{States}{M}{ItemProcessor}{States} = {
    W => { Type => 'Wait', Seconds => 1, Next => 'C' }, C => $copy };
$def->{States}{M}{ItemSelector} = { 'i.$' => "States.Format('k{}', "
                                             . "\$\$.Map.Item.Value)" };
$t->write_file("out/in/k$_.txt", "x$_") for 0, 2 .. 11;
($st, $r) = api($t, 'CreateStateMachine', { name => $name,
    definition => $t->json->encode($def), roleArn => $role });
($st, $r) = api($t, 'StartExecution', {
    stateMachineArn => "$acct:stateMachine:$name",
    input => $t->json->encode({ items => [ 0 .. 11 ] }) });
$ex = $r->{executionArn};
$d = settle($t, $ex);
is($d->{status}, 'FAILED', 'redrive, killed: the parent fails first');
(undef, $r) = api($t, 'ListMapRuns', { executionArn => $ex });
$mr = $r->{mapRuns}[0]{mapRunArn};
is($t->psql("SELECT string_agg(map_index || ':' || status, ',' "
            . "ORDER BY map_index) FROM sfn_executions "
            . "WHERE map_run = '$mr'"), '0:ABORTED,1:FAILED',
   'one child failed, the other aborted');
$t->write_file('out/in/k1.txt', 'x1');
($st, $r) = api($t, 'RedriveExecution', { executionArn => $ex });
is($st, 200, 'redriven') or diag(explain $r);
$t->wait_sql("SELECT count(*) >= 4 FROM sfn_executions "
             . "WHERE map_run = '$mr' AND status = 'SUCCEEDED'", 't', 60);
$pid = owner_pid($ex);
ok($pid && kill('KILL', $pid), 'the owner of the redriven map run killed');
$d = settle($t, $ex);
is($d->{status}, 'SUCCEEDED', 'the parent succeeds') or diag(explain $d);
is_deeply($d->{out}, { n => 12 }, 'with its twelve results');
(undef, $r) = api($t, 'DescribeMapRun', { mapRunArn => $mr });
is(join(',', $r->{status}, $r->{redriveCount},
        @{ $r->{itemCounts} }{qw(succeeded total failed aborted
                                 pendingRedrive failuresNotRedrivable)}),
   'SUCCEEDED,1,12,12,0,0,0,0', 'the map run: redriven once, its counts');
is($t->psql("SELECT string_agg(map_index || ':' || status || ':' "
            . "|| redrive_count, ',' ORDER BY map_index) "
            . "FROM sfn_executions WHERE map_run = '$mr'"),
   join(',', map { "$_:SUCCEEDED:" . ($_ < 2 ? 1 : 0) } 0 .. 11),
   'the two children redriven once, the others run once');
is($t->psql("SELECT count(*) FROM sfn_events h JOIN sfn_executions e "
            . "ON e.arn = h.execution_arn WHERE e.map_run = '$mr' "
            . "AND h.type = 'ExecutionSucceeded'"), 12,
   'one ExecutionSucceeded each');

$t->stop(allow => qr/exited on signal/);


# two nodes: node a dies whole, node b takes the map run and its children

my $a = Sfn::Test->new;
$a->pg_start;
my $b = $a->node;
$_->nginx_start($_->sfn_http(zone => '8m',
                             server => "location = / { sfn_aws_api; }\n"),
                workers => 1) for $a, $b;
$t = $a;

($name, $ex, $mr) = start_map($a);
my @pids = ($a->nginx_pid, $a->nginx_workers);
kill 'KILL', @pids;
$a->{nginx} = 0;
$d = settle($b, $ex);
exact('two nodes', $d, $mr, node => $b);
my ($bw) = $b->nginx_workers;
is($a->psql("SELECT count(*) FROM sfn_executions WHERE arn = '$ex' "
            . "AND owner LIKE '%:$bw'"), 1, 'node b owns the parent');

$b->stop;
$a->stop(no_check => 1);

done_testing;
