#!/usr/bin/perl

# The seed's human approval workflow (lambda:invoke.waitForTaskToken) from
# conf-examples/: SendApprovalEmail is a small service that receives the
# task token in its Payload, as the definition's $$.Task.Token puts it;
# the test answers as the approver would, through the AWS API: approved
# (SendTaskSuccess, whose output ProcessRequest receives), refused
# (SendTaskFailure, whose error ends the execution), and, in a copy whose
# TimeoutSeconds is 1 s, unanswered (the seed's Catch of States.Timeout:
# NotifyTimeout, then RequestDenied).  A heartbeat is accepted while the
# task waits; a token used once, or altered, is refused.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Sfn::Test;
use Sfn::Service;
use Time::HiRes qw(sleep time);

Sfn::Test::need_postgres();

my $svc = Sfn::Service->new(sub {
    my ($req) = @_;
    my ($p, $j) = ($req->{path}, $req->{json});
    return (200, { submitted => $j->{request}{id} }) if $p eq '/submit';
    return (200, { sent => 1 }) if $p eq '/email';
    return (200, { processed => $j }) if $p eq '/process';
    return (200, { notified => 1 }) if $p eq '/timeout';
    return (404, {});
});

my $t = Sfn::Test->new;
my $u = $svc->url;
$t->copy_example('human-approval.asl.json');

my $def = $t->json->decode($t->read_file('conf/human-approval.asl.json'));
$def->{States}{WaitForApproval}{TimeoutSeconds} = 1;
$t->write_file('conf/approval-1s.json', $t->json->encode($def));

$t->start($t->sfn_http(
    machines => [ approval => 'human-approval.asl.json',
                  approval1s => 'approval-1s.json' ],
    http => <<"END",
    sfn_integration   arn:aws:lambda:*:*:function:SubmitApproval $u/submit;
    sfn_integration   arn:aws:lambda:*:*:function:SendApprovalEmail $u/email;
    sfn_integration   arn:aws:lambda:*:*:function:ProcessRequest $u/process;
    sfn_integration   arn:aws:lambda:*:*:function:NotifyTimeout $u/timeout;
END
    server => "location = / { sfn_aws_api; }\n"));

# the token the approval e-mail would carry

sub token_for {
    my ($id) = @_;
    my $deadline = time + 90;
    while (time < $deadline) {
        for my $r ($svc->requests('/email')) {
            return $r if $r->{json}{request}{id} eq $id;
        }
        sleep 0.05;
    }
    return undef;
}

sub describe {
    my ($arn) = @_;
    my $deadline = time + 90;
    my $d;
    while (time < $deadline) {
        (undef, $d) = $t->aws_api('DescribeExecution', { executionArn => $arn });
        last if $d->{status} ne 'RUNNING';
        sleep 0.1;
    }
    return $d;
}

# approved

my $s = $t->aws_run('approval', { request => { id => 'r-1', amount => 40 } },
                    nowait => 1);
ok($s->{executionArn}, 'approval: started') or diag explain $s;
my $mail = token_for('r-1');
ok($mail, 'the approval request reached SendApprovalEmail');
my $token = $mail->{json}{taskToken};
ok(length($token // '') > 40, '... with the task token in its Payload');
is($mail->{headers}{'x-sfn-task-token'}, $token, '... and in X-Sfn-Task-Token');
my ($sub) = $svc->requests('/submit');
is_deeply($sub->{json}, { request => { id => 'r-1', amount => 40 } },
          'SubmitApproval had the request first');

my ($st, $r) = $t->aws_api('DescribeExecution',
                           { executionArn => $s->{executionArn} });
is($r->{status}, 'RUNNING', 'the execution waits for the approver');

($st, $r) = $t->aws_api('SendTaskHeartbeat', { taskToken => $token });
is($st, 200, 'SendTaskHeartbeat while it waits') or diag explain $r;

my $bad = $token;
substr($bad, 10, 1) = substr($bad, 10, 1) eq 'A' ? 'B' : 'A';
($st, $r) = $t->aws_api('SendTaskSuccess',
                        { taskToken => $bad, output => '{"approved":true}' });
is($st, 400, 'SendTaskSuccess with an altered token: 400');
like($r->{__type} // '', qr/InvalidToken|TaskDoesNotExist/, '... ' . ($r->{__type} // ''));

($st, $r) = $t->aws_api('SendTaskSuccess',
    { taskToken => $token, output => '{"approved":true,"by":"alice"}' });
is($st, 200, 'SendTaskSuccess: approved') or diag explain $r;

my $d = describe($s->{executionArn});
is($d->{status}, 'SUCCEEDED', 'approved: succeeded') or diag explain $d;
is($t->states_entered($s->{executionArn}),
   'SubmitRequest,WaitForApproval,ProcessApproved',
   'approved: the states entered');
my ($proc) = $svc->requests('/process');
is_deeply($proc->{json}, { approved => JSON::PP::true, by => 'alice' },
          'ProcessRequest received the approver\'s output');

($st, $r) = $t->aws_api('SendTaskSuccess',
                        { taskToken => $token, output => '{"approved":true}' });
is($st, 400, 'the token replayed after success: 400');
like($r->{__type} // '', qr/TaskTimedOut|InvalidToken|TaskDoesNotExist/,
     '... ' . ($r->{__type} // ''));
is(scalar $svc->requests('/process'), 1, '... and nothing ran again');

my ($hst, $h) = $t->aws_api('GetExecutionHistory',
                            { executionArn => $s->{executionArn} });
my @types = map { $_->{type} } @{ $h->{events} };
is(join(',', grep { /^Task(Scheduled|Started|Succeeded)$/ } @types),
   join(',', ('TaskScheduled,TaskStarted,TaskSucceeded') x 3),
   'history: each task scheduled, started, succeeded');
my ($succ) = grep { $_->{type} eq 'TaskSucceeded'
                    && $_->{taskSucceededEventDetails}{resource}
                       eq 'invoke.waitForTaskToken' } @{ $h->{events} };
is($succ->{taskSucceededEventDetails}{output}, '{"approved":true,"by":"alice"}',
   'history: the callback\'s output');

# refused

$s = $t->aws_run('approval', { request => { id => 'r-2', amount => 4000 } },
                 nowait => 1);
$mail = token_for('r-2');
($st, $r) = $t->aws_api('SendTaskFailure',
    { taskToken => $mail->{json}{taskToken}, error => 'Rejected',
      cause => 'over budget' });
is($st, 200, 'SendTaskFailure: refused') or diag explain $r;
$d = describe($s->{executionArn});
is($d->{status}, 'FAILED', 'refused: failed');
is($d->{error}, 'Rejected', '... with the approver\'s error');
is($d->{cause}, 'over budget', '... and cause');
is($t->states_entered($s->{executionArn}), 'SubmitRequest,WaitForApproval',
   'refused: nothing ran after the approval');
($st, $r) = $t->aws_api('SendTaskSuccess',
    { taskToken => $mail->{json}{taskToken}, output => '{}' });
is($st, 400, 'its token after the failure: 400');

# unanswered: the seed's Catch of States.Timeout

$s = $t->aws_run('approval1s', { request => { id => 'r-3' } }, nowait => 1);
$d = describe($s->{executionArn});
is($d->{status}, 'FAILED', 'unanswered: failed');
is($d->{error}, 'ApprovalTimeout', '... by RequestDenied');
is($t->states_entered($s->{executionArn}),
   'SubmitRequest,WaitForApproval,ApprovalTimeout,RequestDenied',
   'unanswered: NotifyTimeout ran, then RequestDenied');
is(scalar $svc->requests('/timeout'), 1, 'NotifyTimeout was called');
$mail = token_for('r-3');
($st, $r) = $t->aws_api('SendTaskSuccess',
    { taskToken => $mail->{json}{taskToken}, output => '{}' });
is($st, 400, 'an answer after the timeout: 400');

$t->stop;
$svc->stop;

done_testing();
