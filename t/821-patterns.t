#!/usr/bin/perl

# The seed's small machines and workflow patterns from conf-examples/:
# hello world, the first state, sequential processing, parallel execution
# with aggregation, try-catch-finally and the saga, through the AWS API,
# every function of them one small service (X-Sfn-Resource names the
# function).  Each runs its happy path and a failure path: the error
# ending the execution, a Catch taken (try-catch-finally), compensations
# run in order (the saga); the states entered are read from the history.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Sfn::Test;
use Sfn::Service;

Sfn::Test::need_postgres();

# the functions; the input's "fail" names the ones that fail

my $svc = Sfn::Service->new(sub {
    my ($req) = @_;
    my $j = $req->{json};
    my ($fn) = ($req->{headers}{'x-sfn-resource'} // '') =~ /function:(\w+)$/;
    my $fail = ref $j eq 'HASH' ? $j->{fail} // '' : '';
    $fail = $j->[0]{fail} // '' if ref $j eq 'ARRAY';

    return (500, { errorType => "${fn}Error",
                   errorMessage => "$fn failed" })
        if $fn && $fail =~ /\b$fn\b/;

    return (200, { message => 'Hello, World!' }) if $fn eq 'HelloWorld';
    return (200, { %$j, first => 1 }) if $fn eq 'FirstState';
    return (200, { %$j, steps => [ @{ $j->{steps} // [] }, $fn ] })
        if $fn =~ /^Step\d$/;
    return (200, { branch => $fn, fail => $fail }) if $fn =~ /^Process\d$/;
    return (200, { aggregated => [ map { $_->{branch} } @$j ] })
        if $fn eq 'Aggregate';
    return (200, { %$j, main => 'done' }) if $fn eq 'MainLogic';
    return (200, { %$j, handled => $j->{error}{Error} })
        if $fn eq 'HandleError';
    return (200, { %$j, cleaned => 1 }) if $fn eq 'Cleanup';
    return (200, { %$j, $fn => 'ok' });
});

my @examples = qw(hello-world first-state sequential parallel-aggregation
                  try-catch-finally saga);

my $t = Sfn::Test->new;
$t->copy_example("$_.asl.json") for @examples;
my $u = $svc->url;

$t->start($t->sfn_http(
    machines => [ map { $_ => "$_.asl.json" } @examples ],
    http => "    sfn_integration   arn:aws:lambda:*:*:function:* $u/fn;\n",
    server => "location = / { sfn_aws_api; }\n"));

sub run {
    my ($m, $in) = @_;
    my $d = $t->aws_run($m, $in, timeout => 60);
    $d->{states} = $t->states_entered($d->{executionArn})
        if $d->{executionArn};
    return $d;
}

sub calls {
    my ($from) = @_;
    my @r = $svc->requests;
    return join ',', map { $_->{headers}{'x-sfn-resource'} =~ /:(\w+)$/ }
                     @r[$from .. $#r];
}

# hello world

my $d = run('hello-world', {});
is($d->{status}, 'SUCCEEDED', 'hello world: succeeded') or diag explain $d;
is_deeply($d->{output_json}, { message => 'Hello, World!' },
          'hello world: the function\'s result');
$d = run('hello-world', { fail => 'HelloWorld' });
is($d->{status}, 'FAILED', 'hello world, failing: failed');
is($d->{error}, 'HelloWorldError', '... with the function\'s errorType');
like($d->{cause}, qr/HelloWorld failed/, '... and its message');

# the first state

$d = run('first-state', { a => 1 });
is($d->{status}, 'SUCCEEDED', 'first state: succeeded') or diag explain $d;
is($d->{states}, 'FirstState,SecondState', '... through SecondState');
is_deeply($d->{output_json}, { a => 1, first => 1 }, '... its output');
$d = run('first-state', { fail => 'FirstState' });
is($d->{status}, 'FAILED', 'first state, failing: failed');
is($d->{states}, 'FirstState', '... SecondState not entered');

# sequential

$d = run('sequential', { steps => [] });
is($d->{status}, 'SUCCEEDED', 'sequential: succeeded') or diag explain $d;
is_deeply($d->{output_json}{steps}, [ qw(Step1 Step2 Step3) ],
          'sequential: each step had the last one\'s output');
my $n = scalar $svc->requests;
$d = run('sequential', { steps => [], fail => 'Step2' });
is($d->{status}, 'FAILED', 'sequential, Step2 failing: failed');
is($d->{error}, 'Step2Error', '... Step2\'s error');
is(calls($n), 'Step1,Step2', '... Step3 never called');

# parallel with aggregation

$d = run('parallel-aggregation', {});
is($d->{status}, 'SUCCEEDED', 'aggregation: succeeded') or diag explain $d;
is_deeply($d->{output_json}, { aggregated => [ qw(Process1 Process2) ] },
          'aggregation: Aggregate had both branches\' results, in order');
$n = scalar $svc->requests;
$d = run('parallel-aggregation', { fail => 'Process2' });
is($d->{status}, 'FAILED', 'aggregation, a branch failing: failed');
is($d->{error}, 'Process2Error', '... the branch\'s error');
unlike(calls($n), qr/Aggregate/, '... Aggregate never called');

# try-catch-finally

$d = run('try-catch-finally', { id => 't1' });
is($d->{status}, 'SUCCEEDED', 'try: succeeded') or diag explain $d;
is($d->{states}, 'TryBlock,FinallyBlock', 'try: the finally block ran');
is_deeply($d->{output_json}, { id => 't1', main => 'done', cleaned => 1 },
          'try: its output');
$d = run('try-catch-finally', { id => 't2', fail => 'MainLogic' });
is($d->{status}, 'SUCCEEDED', 'catch: succeeded') or diag explain $d;
is($d->{states}, 'TryBlock,CatchBlock,FinallyBlock',
   'catch: the Catch taken, then the finally block');
is($d->{output_json}{handled}, 'MainLogicError',
   'catch: HandleError had the error at $.error');
is($d->{output_json}{cleaned}, 1, 'catch: Cleanup ran last');

# the saga

$d = run('saga', { order => 's1' });
is($d->{status}, 'SUCCEEDED', 'saga: succeeded') or diag explain $d;
is($d->{states}, 'ReserveInventory,ChargePayment,CreateShipment,Success',
   'saga: every step, no compensation');

$n = scalar $svc->requests;
$d = run('saga', { order => 's2', fail => 'ChargePayment' });
is($d->{status}, 'FAILED', 'saga, payment failing: failed');
is($d->{error}, 'OrderFailed', '... OrderFailed');
is($d->{cause}, 'Failed to complete order', '... and its cause');
is(calls($n), 'ReserveInventory,ChargePayment,ReleaseInventory',
   '... the inventory released');

$n = scalar $svc->requests;
$d = run('saga', { order => 's3', fail => 'CreateShipment' });
is($d->{status}, 'FAILED', 'saga, shipment failing: failed');
is($d->{states}, 'ReserveInventory,ChargePayment,CreateShipment,'
                 . 'CompensatePayment,CompensateInventory,ReserveFailed',
   '... compensated in reverse order');
is(calls($n), 'ReserveInventory,ChargePayment,CreateShipment,RefundPayment,'
              . 'ReleaseInventory', '... the payment refunded, then the '
              . 'inventory released');

$n = scalar $svc->requests;
$d = run('saga', { order => 's4', fail => 'ReserveInventory' });
is($d->{states}, 'ReserveInventory,ReserveFailed',
   'saga, reservation failing: nothing to compensate');

my ($hs, $h) = $t->aws_api('GetExecutionHistory',
                           { executionArn => $d->{executionArn} });
my ($caught) = grep { $_->{type} eq 'TaskFailed' } @{ $h->{events} };
is($caught->{taskFailedEventDetails}{error}, 'ReserveInventoryError',
   'history: the task\'s failure, caught');

$t->stop;
$svc->stop;

done_testing();
