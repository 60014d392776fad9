# RedriveExecution: a Standard execution that failed goes on from the
# state that failed, with the input it entered it with (the states before
# it are not run again), its history going on with ExecutionRedriven;
# redriveCount, redriveDate, redriveStatus and its reason in
# DescribeExecution, $$.Execution.RedriveCount, ListExecutions'
# redriveFilter; AWS's refusals (running, succeeded, Express, unknown);
# clientToken; an ABORTED one redriven; durable across kill -9 of the
# workers, after its first step and before it (a redrive whose owner died
# at once is taken over and goes on from the same state).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ();
use Sfn::Test;

my $t = Sfn::Test->new;
my $dir = $t->dir;

my $conf_def = $t->json->encode({ StartAt => 'Copy', States => {
    Copy => { Type => 'Task', Resource => 'sfn:file:copy',
              Parameters => {
                  source => { bucket => 'scratch', key => 'conf.txt' },
                  destination => { bucket => 'out', key => 'conf.txt' } },
              End => \1 } } });
$t->write_file('conf/conf.json', $conf_def);

$t->start($t->sfn_http(zone => '8m', buckets => [ scratch => 'scratch',
                                                  out => 'out' ],
                       machines => [ fromconf => 'conf.json' ],
                       server => "location = / { sfn_aws_api; }\n"),
          workers => 2);
mkdir "$dir/scratch";
mkdir "$dir/out";

my $acct = 'arn:aws:states:us-east-1:000000000000';
my $role = 'arn:aws:iam::000000000000:role/redrive';

sub api { my ($op, $body) = @_; return $t->aws_api($op, $body) }

sub err {
    my ($op, $body, $type, $name) = @_;
    my ($st, $r) = api($op, $body);
    is($st == 400 ? $r->{__type} : "$st", $type, $name)
        or diag(explain $r);
}

sub settle {
    my ($arn, $timeout) = @_;
    my ($st, $d);
    my $deadline = time + ($timeout // 30);
    while (time < $deadline) {
        ($st, $d) = api('DescribeExecution', { executionArn => $arn });
        return $d if $st == 200 && $d->{status} ne 'RUNNING';
        sleep 0.1;
    }
    return $d;
}

sub entered {
    my ($arn) = @_;
    return $t->states_entered($arn);
}

# Init runs once; Copy fails while its source is missing; Hold waits;
# Done reports the redrive count

my $def = $t->json->encode({ StartAt => 'Init', States => {
    Init => { Type => 'Pass', Parameters => { 'when.$' => '$$.State.EnteredTime',
                                               n => 1 },
              ResultPath => '$.init', Next => 'Copy' },
    Copy => { Type => 'Task', Resource => 'sfn:file:copy',
              Parameters => {
                  source => { bucket => 'scratch', 'key.$' => '$.key' },
                  destination => { bucket => 'out', 'key.$' => '$.key' } },
              ResultPath => '$.copied', Next => 'Hold' },
    Hold => { Type => 'Wait', Seconds => 2, Next => 'Done' },
    Done => { Type => 'Pass', Parameters => {
                  'init.$' => '$.init', 'redrives.$' =>
                  '$$.Execution.RedriveCount' }, End => \1 } } });

my ($st, $r) = api('CreateStateMachine', { name => 'flaky', roleArn => $role,
                                           definition => $def });
my $sm = $r->{stateMachineArn};

($st, $r) = api('StartExecution', { stateMachineArn => $sm, name => 'f1',
                                    input => '{"key":"in.txt"}' });
my $f1 = $r->{executionArn};
my $d = settle($f1);
is($d->{status}, 'FAILED', 'it fails while the file is missing');
is_deeply([ @$d{qw(redriveCount redriveStatus)} ], [ 0, 'REDRIVABLE' ],
          'FAILED: REDRIVABLE, redriveCount 0');
ok(!exists $d->{redriveStatusReason}, 'no reason when it is redrivable');
my ($events_before) = $t->psql("SELECT max(id) FROM sfn_events "
                               . "WHERE execution_arn = '$f1'");
my $init_before = $t->psql("SELECT details->'stateEnteredEventDetails'"
                           . "->>'input' FROM sfn_events WHERE execution_arn "
                           . "= '$f1' AND type = 'TaskStateEntered'");

# refusals

err('RedriveExecution', { executionArn => "$acct:execution:flaky:nope" },
    'ExecutionDoesNotExist', 'an execution that does not exist');
err('RedriveExecution', { executionArn => "$acct:express:flaky:x" },
    'ExecutionNotRedrivable', 'an Express execution');
err('RedriveExecution', { executionArn => 'arn:aws:states:x' },
    'InvalidArn', 'not an ARN');
err('RedriveExecution', { executionArn => $f1, clientToken => '' },
    'ValidationException', 'an empty clientToken');
err('RedriveExecution', { executionArn => $f1, clientToken => 'x' x 65 },
    'ValidationException', 'a clientToken of 65 characters');

# redriven with the file there; the workers killed during Hold

$t->write_file('scratch/in.txt', "hello\n");

($st, $r) = api('RedriveExecution', { executionArn => $f1,
                                      clientToken => 'tok-1' });
is($st, 200, 'RedriveExecution');
ok($r->{redriveDate} > 0, 'redriveDate');
my $date = $r->{redriveDate};
($st, $r) = api('RedriveExecution', { executionArn => $f1,
                                      clientToken => 'tok-1' });
is_deeply([ $st, $r->{redriveDate} ], [ 200, $date ],
          'the same clientToken again: the same redrive');
err('RedriveExecution', { executionArn => $f1 },
    'ExecutionNotRedrivable', 'a running execution');
($st, $d) = api('DescribeExecution', { executionArn => $f1 });
is_deeply([ @$d{qw(status redriveCount redriveStatus)} ],
          [ 'RUNNING', 1, 'NOT_REDRIVABLE' ], 'RUNNING again, redriven once');
ok(!exists $d->{error} && !exists $d->{stopDate},
   'no error nor stopDate while it runs');

$t->wait_sql("SELECT count(*) FROM sfn_events WHERE execution_arn = '$f1' "
             . "AND type = 'WaitStateEntered'", '1');
kill 'KILL', $t->nginx_workers;
$d = settle($f1);
is($d->{status}, 'SUCCEEDED', 'it succeeds, across kill -9 of the workers');
is_deeply($t->json->decode($d->{output} // 'null'),
          { init => $t->json->decode($init_before)->{init}, redrives => 1 },
          'Init not run again: its output kept; $$.Execution.RedriveCount');
is_deeply([ @$d{qw(redriveCount redriveStatus)} ], [ 1, 'NOT_REDRIVABLE' ],
          'SUCCEEDED: NOT_REDRIVABLE');
like($d->{redriveStatusReason} // '', qr/SUCCEEDED/, 'with its reason');
ok(abs(($d->{redriveDate} // 0) - $date) < 1, 'redriveDate kept');
is(entered($f1), 'Init,Copy,Copy,Hold,Done',
   'states entered: Copy again, Init once');
is($t->psql("SELECT string_agg(type, ',' ORDER BY id) FROM sfn_events "
            . "WHERE execution_arn = '$f1' AND id > $events_before "
            . "AND id <= $events_before + 2"),
   'ExecutionRedriven,TaskStateEntered',
   'the history goes on with ExecutionRedriven');
is($t->psql("SELECT details FROM sfn_events WHERE execution_arn = '$f1' "
            . "AND type = 'ExecutionRedriven'"),
   '{"executionRedrivenEventDetails": {"redriveCount": 1}}',
   'executionRedrivenEventDetails');
is($t->psql("SELECT count(*) - count(DISTINCT id) || '/' || "
            . "(max(id) = count(*)) FROM sfn_events "
            . "WHERE execution_arn = '$f1'"), '0/true',
   'event ids unique and gapless');
err('RedriveExecution', { executionArn => $f1 },
    'ExecutionNotRedrivable', 'a SUCCEEDED execution');

($st, $r) = api('GetExecutionHistory', { executionArn => $f1 });
my ($ev) = grep { $_->{type} eq 'ExecutionRedriven' } @{ $r->{events} };
is_deeply($ev->{executionRedrivenEventDetails}, { redriveCount => 1 },
          'GetExecutionHistory has it');

# redriveFilter

($st, $r) = api('StartExecution', { stateMachineArn => $sm, name => 'f2',
                                    input => '{"key":"missing.txt"}' });
my $f2 = $r->{executionArn};
settle($f2);
($st, $r) = api('ListExecutions', { stateMachineArn => $sm,
                                    redriveFilter => 'REDRIVEN' });
is_deeply([ map { [ $_->{name}, $_->{redriveCount} ] }
            @{ $r->{executions} } ], [ [ 'f1', 1 ] ],
          'redriveFilter REDRIVEN');
($st, $r) = api('ListExecutions', { stateMachineArn => $sm,
                                    redriveFilter => 'NOT_REDRIVEN' });
is_deeply([ map { $_->{name} } @{ $r->{executions} } ], [ 'f2' ],
          'redriveFilter NOT_REDRIVEN');
err('ListExecutions', { stateMachineArn => $sm, redriveFilter => 'SOME' },
    'ValidationException', 'redriveFilter out of its enum');

# a redrive whose owner dies before its first step: taken over, it goes
# on from the same state (the claim is made here with an owner that is
# gone, as a worker killed at once leaves it)

$t->write_file('scratch/missing.txt', "late\n");
$t->psql("UPDATE sfn_executions SET job_id = 'job-f2' WHERE arn = '$f2'; "
         . "INSERT INTO sfn_jobs (job_id, execution_arn, state_machine, "
         . "status) VALUES ('job-f2', '$f2', 'flaky', 'FAILED')");
is($t->psql("SELECT outcome FROM sfn_execution_redrive('$f2', 'gone', "
            . "'1 second', NULL)"), 'ok', 'redriven by an owner now gone');
my $deadline = time + 40;
while (time < $deadline) {
    ($st, $d) = api('DescribeExecution', { executionArn => $f2 });
    last if ($d->{status} // '') eq 'SUCCEEDED';
    sleep 0.2;
}
is($d->{status}, 'SUCCEEDED', 'taken over and finished');
is(entered($f2), 'Init,Copy,Copy,Hold,Done', 'from the state that failed');
is($t->psql("SELECT status FROM sfn_jobs WHERE job_id = 'job-f2'"),
   'SUCCEEDED', 'its job row follows');
is($t->psql("SELECT count(*) FROM sfn_events WHERE execution_arn = '$f2' "
            . "AND type = 'ExecutionRedriven'"), '1', 'one ExecutionRedriven');

# ABORTED, redriven, aborted again; twice redriven

my $slow = $t->json->encode({ StartAt => 'W', States => {
    W => { Type => 'Wait', Seconds => 60, End => \1 } } });
($st, $r) = api('CreateStateMachine', { name => 'slow', roleArn => $role,
                                        definition => $slow });
($st, $r) = api('StartExecution', { stateMachineArn => $r->{stateMachineArn},
                                    name => 's1' });
my $s1 = $r->{executionArn};
for my $n (1, 2) {
    $t->wait_sql("SELECT count(*) FROM sfn_events WHERE execution_arn = "
                 . "'$s1' AND type = 'WaitStateEntered'", $n);
    api('StopExecution', { executionArn => $s1 });
    $d = settle($s1);
    is($d->{status}, 'ABORTED', "stopped ($n)");
    ($st) = api('RedriveExecution', { executionArn => $s1 });
    is($st, 200, "ABORTED: redriven ($n)");
}
($st, $d) = api('DescribeExecution', { executionArn => $s1 });
is_deeply([ @$d{qw(status redriveCount)} ], [ 'RUNNING', 2 ],
          'RUNNING, redriven twice');
api('StopExecution', { executionArn => $s1 });

# an execution of nginx.conf's state machine

($st, $r) = api('StartExecution', {
    stateMachineArn => "$acct:stateMachine:fromconf", name => 'c1' });
my $c1 = $r->{executionArn};
is(settle($c1)->{status}, 'FAILED', 'nginx.conf\'s machine: failed');
$t->write_file('scratch/conf.txt', "conf\n");
($st) = api('RedriveExecution', { executionArn => $c1 });
is($st, 200, 'redriven');
$deadline = time + 30;
while (time < $deadline) {
    ($st, $d) = api('DescribeExecution', { executionArn => $c1 });
    last if ($d->{status} // '') eq 'SUCCEEDED';
    sleep 0.1;
}
is($d->{status}, 'SUCCEEDED', 'and succeeded');

# four redrives at once: one is made

($st, $r) = api('StartExecution', {
    stateMachineArn => "$acct:stateMachine:slow", name => 's2' });
my $s2 = $r->{executionArn};
$t->wait_sql("SELECT count(*) FROM sfn_events WHERE execution_arn = '$s2' "
             . "AND type = 'WaitStateEntered'", '1');
api('StopExecution', { executionArn => $s2 });
settle($s2);
my @pids;
for (1 .. 4) {
    my $pid = fork;
    if ($pid == 0) {
        my ($s) = api('RedriveExecution', { executionArn => $s2 });
        POSIX::_exit($s == 200 ? 0 : 1);
    }
    push @pids, $pid;
}
my $ok = grep { waitpid($_, 0); ($? >> 8) == 0 } @pids;
is($ok, 1, '4 redrives at once: one is made');
is($t->psql("SELECT redrive_count || status FROM sfn_executions "
            . "WHERE arn = '$s2'"), '1RUNNING', 'redriven once');
api('StopExecution', { executionArn => $s2 });

# its state machine deleted: not redriven, left as it was

($st, $r) = api('StartExecution', { stateMachineArn => $sm, name => 'f3',
                                    input => '{"key":"nothing.txt"}' });
my $f3 = $r->{executionArn};
settle($f3);
api('DeleteStateMachine', { stateMachineArn => $sm });
err('RedriveExecution', { executionArn => $f3 },
    'ExecutionNotRedrivable', 'its state machine deleted');
is($t->psql("SELECT status FROM sfn_executions WHERE arn = '$f3'"),
   'FAILED', 'and left as it was');

# an execution that ended more than 14 days ago is not

$t->psql("UPDATE sfn_executions SET stop_date = now() - interval '15 days' "
         . "WHERE arn = '$s1'");
settle($s1);
err('RedriveExecution', { executionArn => $s1 },
    'ExecutionNotRedrivable', 'ended more than 14 days ago');

$t->stop(allow => qr/exited on signal/);

done_testing;
