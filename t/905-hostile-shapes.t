# Issue 11 defect 12, API shapes: executionStartedEventDetails.roleArn is
# never empty, DescribeStateMachine and DescribeStateMachineForExecution
# carry the required roleArn for machines from nginx.conf too, and Express
# executions are named by ":express:" ARNs, as AWS names them.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use Time::HiRes qw(sleep);

my $t = Sfn::Test->new;
$t->pg_start;

$t->write_file('conf/pass.asl.json', <<'END');
{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
END

$t->nginx_start(<<'END', workers => 1);
    sfn_zone          sfn 4m;
    sfn_database      "%%DATABASE%%";
    sfn_thread_pool   sfn;
    sfn_bucket        source %%DIR%%/source;
    sfn_state_machine std %%DIR%%/conf/pass.asl.json;
    sfn_state_machine exp %%DIR%%/conf/pass.asl.json type=express;

    server {
        listen 127.0.0.1:%%PORT%%;

        sfn_api_key hostile-key;

        location = /       { sfn_aws_api; }
        location /start/   { sfn_start; }
    }
END

my $json = $t->json;
my $acct = 'arn:aws:states:us-east-1:000000000000';
my $role = 'arn:aws:iam::000000000000:role/shapes';
my %key = ('X-Api-Key' => 'hostile-key');
my $pass = $t->read_file('conf/pass.asl.json');

sub log_clean {
    my ($what) = @_;
    my $log = $t->read_file('logs/error.log') // '';
    my @bad = grep { !/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[([a-z]+)\] /
                     || $1 =~ /^(crit|alert|emerg)$/
                     || /exited on signal/ }
              split /\n/, $log;
    ok(!@bad, "$what: a clean error log") or diag(join "\n", @bad);
}

sub aws {
    my ($op, $body) = @_;
    my $r = $t->http('POST', '/', $json->encode($body),
                     { 'X-Amz-Target' => "AWSStepFunctions.$op",
                       'Content-Type' => 'application/x-amz-json-1.0',
                       %key });
    return $r->{json} // { status => $r->{status} };
}

sub done {
    my ($arn) = @_;
    my $d;
    for (1 .. 100) {
        $d = aws('DescribeExecution', { executionArn => $arn });
        last if ($d->{status} // '') ne 'RUNNING';
        sleep 0.05;
    }
    return $d;
}

aws('CreateStateMachine', { name => 'api', roleArn => $role,
                            definition => $pass });

# the role in the ExecutionStarted event, for nginx.conf and API machines

for my $m ('std', 'api') {
    my $s = aws('StartExecution', { stateMachineArn => "$acct:stateMachine:$m",
                                    name => "role-$m" });
    like($s->{executionArn} // '', qr/:execution:$m:role-$m$/,
         "$m: a Standard execution ARN");
    is(done($s->{executionArn})->{status}, 'SUCCEEDED', "$m: SUCCEEDED");

    my $h = aws('GetExecutionHistory', { executionArn => $s->{executionArn} });
    my ($started) = grep { $_->{type} eq 'ExecutionStarted' }
                    @{ $h->{events} // [] };
    ok($started, "$m: an ExecutionStarted event");
    my $d = $started->{executionStartedEventDetails} // {};

    ok(exists $d->{roleArn} && length($d->{roleArn} // ''),
       "$m: executionStartedEventDetails.roleArn is not empty");
    like($d->{roleArn} // '', qr/^arn:aws:iam::\d{12}:role\/\S+$/,
         "$m: and is an IAM role ARN");
    is($d->{roleArn}, $m eq 'api' ? $role
                      : 'arn:aws:iam::000000000000:role/service-role/'
                        . 'StepFunctions-std-role',
       "$m: the machine's role");

    # DescribeStateMachine and DescribeStateMachineForExecution

    my $sm = aws('DescribeStateMachine',
                 { stateMachineArn => "$acct:stateMachine:$m" });
    is($sm->{name}, $m, "$m: DescribeStateMachine");
    my $fe = aws('DescribeStateMachineForExecution',
                 { executionArn => $s->{executionArn} });
    is($fe->{name}, $m, "$m: DescribeStateMachineForExecution");

    like($sm->{roleArn} // '', qr/^arn:aws:iam::\d{12}:role\/\S+$/,
         "$m: DescribeStateMachine has a roleArn");
    like($fe->{roleArn} // '', qr/^arn:aws:iam::\d{12}:role\/\S+$/,
         "$m: DescribeStateMachineForExecution has a roleArn");
    ok(length($fe->{roleArn} // '') && $fe->{roleArn} eq $sm->{roleArn},
       "$m: the same role");
}

# Express execution ARNs

aws('CreateStateMachine', { name => 'apiexp', roleArn => $role,
                            type => 'EXPRESS',
                            definition => $pass });

for my $m ('exp', 'apiexp') {
    my $s = aws('StartExecution', { stateMachineArn => "$acct:stateMachine:$m",
                                    name => "x-$m" });
    ok($s->{executionArn}, "$m: StartExecution") or diag(explain $s);

    my $y = aws('StartSyncExecution',
                { stateMachineArn => "$acct:stateMachine:$m", name => "y-$m",
                  input => '{"n":1}' });
    is($y->{status}, 'SUCCEEDED', "$m: StartSyncExecution");

    like($s->{executionArn} // '', qr/^\Q$acct\E:express:$m:x-$m(:|$)/,
         "$m: StartExecution answers an :express: ARN");
    like($y->{executionArn} // '', qr/^\Q$acct\E:express:$m:y-$m(:|$)/,
         "$m: StartSyncExecution answers an :express: ARN");

    # every action that takes an execution ARN takes that one

    my $arn = $s->{executionArn} // '';
    my $d = done($arn);
    is($d->{status}, 'SUCCEEDED', "$m: DescribeExecution of it");
    is($d->{executionArn}, $arn, "$m: which names it the same");
    my $h = aws('GetExecutionHistory', { executionArn => $arn });
    ok(!$h->{__type}, "$m: GetExecutionHistory takes it") or diag(explain $h);
    my $fe = aws('DescribeStateMachineForExecution', { executionArn => $arn });
    is($fe->{name}, $m, "$m: DescribeStateMachineForExecution of it");
    like($fe->{roleArn} // '', qr/^arn:aws:iam::\d{12}:role\/\S+$/,
         "$m: with a roleArn");
    my $st = aws('StopExecution', { executionArn => $arn });
    ok(!$st->{__type}, "$m: StopExecution of it") or diag(explain $st);
    my $l = aws('ListExecutions',
                { stateMachineArn => "$acct:stateMachine:$m" });
    is($l->{__type}, 'StateMachineTypeNotSupported',
       "$m: ListExecutions of an Express machine, as on AWS");

    # the Standard form names no Express execution

    (my $std = $arn) =~ s/:express:/:execution:/;
    is(aws('DescribeExecution', { executionArn => $std })->{__type},
       'ExecutionDoesNotExist', "$m: not as :execution:");
}

# a Standard execution is not found under :express:

(my $std = "$acct:express:std:role-std");
is(aws('DescribeExecution', { executionArn => $std })->{__type},
   'ExecutionDoesNotExist', 'std: not as :express:');

my $r = $t->http('POST', '/start/exp', '{"bucket":"source","key":"k"}', \%key);
is($r->{status}, 200, 'sfn_start of an Express machine');
like($r->{json}{executionArn} // '', qr/^\Q$acct\E:express:exp:/,
     'sfn_start answers an :express: ARN');

log_clean('defect 12');

$t->stop;

done_testing;
