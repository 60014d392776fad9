# Stops and task callbacks that reach a worker or a node which does not run
# the execution: they go through PostgreSQL (sfn_mailbox, NOTIFY sfn_mail)
# to the owner, wherever it is, and to the next owner if it dies first.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use Sfn::Test;

my $a = Sfn::Test->new;
$a->pg_start;

my $b = $a->node;

my $hold = '{"StartAt":"Hold","States":{'
           . '"Hold":{"Type":"Wait","Seconds":120,"Next":"Done"},'
           . '"Done":{"Type":"Pass","End":true}}}';

my $approve = '{"StartAt":"Ask","States":{"Ask":{"Type":"Task",'
              . '"Resource":"sfn:file:delete.waitForTaskToken",'
              . '"Parameters":{"bucket":"scratch","key":"none.txt",'
              . '"token.$":"$$.Task.Token"},'
              . '"ResultPath":"$.answer","End":true}}}';

my $http = $a->sfn_http(buckets => [ scratch => 'scratch' ],
                        machines => [ hold => 'hold.json',
                                      approve => 'approve.json' ],
                        server => "location = / { sfn_aws_api; }\n");

for my $node ($a, $b) {
    $node->write_file('conf/hold.json', $hold);
    $node->write_file('conf/approve.json', $approve);
    mkdir "$node->{dir}/scratch";
}

$a->nginx_start($http, workers => 2);
$b->nginx_start($http, workers => 1);

my $acct = 'arn:aws:states:us-east-1:000000000000';

sub api {
    my ($node, $op, $body) = @_;
    return $node->aws_api($op, $body);
}

sub start {
    my ($node, $sm, $name) = @_;
    my ($st, $j) = api($node, 'StartExecution',
                       { stateMachineArn => "$acct:stateMachine:$sm",
                         name => $name, input => '{"n":1}' });
    is($st, 200, "$name started") or diag(explain($j));
    return $j->{executionArn};
}

sub status_of {
    my ($arn) = @_;
    return $a->psql("SELECT status FROM sfn_executions WHERE arn = '$arn'");
}

sub wait_status {
    my ($arn, $want, $timeout) = @_;
    my (undef, $dt) = $a->wait_sql("SELECT status FROM sfn_executions "
                                   . "WHERE arn = '$arn'", $want, $timeout);
    return $dt;
}

sub token_of {
    my ($arn) = @_;
    for (1 .. 100) {
        my $p = $a->psql("SELECT details->'taskScheduledEventDetails'"
                         . "->>'parameters' FROM sfn_events "
                         . "WHERE execution_arn = '$arn' "
                         . "AND type = 'TaskScheduled'");
        return Sfn::Test::json()->decode($p)->{token} if $p;
        sleep 0.1;
    }
    return undef;
}

# a stop sent to the other node

my $h1 = start($a, 'hold', 'h1');
my $h2 = start($a, 'hold', 'h2');
ok(defined wait_status($h1, 'RUNNING', 5), 'h1 runs on node a');

my ($st, $j) = api($b, 'StopExecution', { executionArn => $h1,
                                          error => 'Halt',
                                          cause => 'from node b' });
is($st, 200, 'StopExecution on node b') or diag(explain($j));
my $dt = wait_status($h1, 'ABORTED', 10);
ok(defined $dt, 'node a aborted it');
diag(sprintf('stop across nodes took %.3f s', $dt // -1));
is($a->psql("SELECT error || '/' || cause FROM sfn_executions "
            . "WHERE arn = '$h1'"), 'Halt/from node b', 'with its error');
is($a->psql("SELECT count(*) FROM sfn_events WHERE execution_arn = '$h1' "
            . "AND type = 'ExecutionAborted'"), 1, 'one ExecutionAborted');
is(status_of($h2), 'RUNNING', 'the other one runs on');
is($a->psql("SELECT count(*) FROM sfn_mailbox"), 0, 'the mail is gone');

($st, $j) = api($b, 'StopExecution', { executionArn => $h1 });
is($st, 200, 'stopping it again is no error');
($st, $j) = api($b, 'StopExecution',
                { executionArn => "$acct:execution:hold:nobody" });
is($j->{__type}, 'ExecutionDoesNotExist', 'an unknown one');

# a callback sent to the other node, and to another worker of node a

my $q1 = start($a, 'approve', 'q1');
my $tok = token_of($q1);
ok($tok, 'the task token is in the history');

($st, $j) = api($b, 'SendTaskSuccess', { taskToken => $tok,
                                         output => '{"yes":true}' });
is($st, 200, 'SendTaskSuccess on node b') or diag(explain($j));
$dt = wait_status($q1, 'SUCCEEDED', 10);
ok(defined $dt, 'the execution on node a went on');
diag(sprintf('callback across nodes took %.3f s', $dt // -1));
is($a->psql("SELECT output FROM sfn_executions WHERE arn = '$q1'"),
   '{"n":1,"answer":{"yes":true}}', 'with the answer');

($st, $j) = api($b, 'SendTaskSuccess', { taskToken => $tok,
                                         output => '{"yes":false}' });
is($j->{__type}, 'TaskTimedOut', 'a token answered is closed');
($st, $j) = api($a, 'SendTaskFailure', { taskToken => $tok });
is($j->{__type}, 'TaskTimedOut', 'on either node');
($st, $j) = api($b, 'SendTaskSuccess', { taskToken => 'bm90IGEgdG9rZW4=',
                                         output => '{}' });
is($j->{__type}, 'TaskDoesNotExist', 'an unknown token');

my $q2 = start($a, 'approve', 'q2');
$tok = token_of($q2);
my $failed = 0;
for (1 .. 6) {
    # node a's workers take turns: some of these reach the other worker
    ($st, $j) = api($a, 'SendTaskHeartbeat', { taskToken => $tok });
    $failed++ if $st != 200;
}
is($failed, 0, 'heartbeats on node a');
($st, $j) = api($a, 'SendTaskFailure', { taskToken => $tok,
                                         error => 'No', cause => 'denied' });
is($st, 200, 'SendTaskFailure on node a') or diag(explain($j));
ok(defined wait_status($q2, 'FAILED', 10), 'it failed');
is($a->psql("SELECT error || '/' || cause FROM sfn_executions "
            . "WHERE arn = '$q2'"), 'No/denied', 'with the error given');

# mail for a node that died: the next owner gets it

my $q3 = start($a, 'approve', 'q3');
$tok = token_of($q3);
my @pids = ($a->nginx_pid, $a->nginx_workers);
kill 'KILL', @pids;
$a->{nginx} = 0;

($st, $j) = api($b, 'SendTaskSuccess', { taskToken => $tok,
                                         output => '"late"' });
is($st, 200, 'SendTaskSuccess while its owner is dead');
($st, $j) = api($b, 'StopExecution', { executionArn => $h2,
                                       error => 'Gone' });
is($st, 200, 'StopExecution while its owner is dead');

ok(defined wait_status($q3, 'SUCCEEDED', 20), 'node b resumed q3 with it');
is($a->psql("SELECT output FROM sfn_executions WHERE arn = '$q3'"),
   '{"n":1,"answer":"late"}', 'the answer arrived');
ok(defined wait_status($h2, 'ABORTED', 20), 'and h2 was stopped');
is($a->psql("SELECT count(*) FROM sfn_mailbox"), 0, 'no mail left');

$b->stop;
$a->stop(no_check => 1);

done_testing;
