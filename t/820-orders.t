#!/usr/bin/perl

# The seeds' order workflows from conf-examples/, through the AWS API:
# 002's simple order processing, its e-commerce order processing (a
# Choice, a Retry that gets past ServiceUnavailable, Catches to
# RejectOrder and RefundOrder) and its parallel inventory/confirmation;
# 004's parallel order validation and its e-commerce scenario (Parallel
# branches, SNS, DynamoDB; a Retry exhausted, then the Parallel's Catch).
# The functions are one small service (X-Sfn-Resource names the
# function); the order's fields say what each answers.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Sfn::Test;
use Sfn::Service;

Sfn::Test::need_postgres();

my $svc;

sub attempts {
    my ($fn, $id, $svc) = @_;
    return scalar grep { ($_->{headers}{'x-sfn-resource'} // '') =~ /:$fn$/
                         && ref $_->{json} eq 'HASH'
                         && ($_->{json}{orderId} // '') eq $id }
                  $svc->requests;
}

$svc = Sfn::Service->new(sub {
    my ($req, $self) = @_;
    my ($p, $j) = ($req->{path}, $req->{json});

    return (200, {}) if $p eq '/confirmations';
    return (200, {}) if $p eq '/analytics';

    my ($fn) = ($req->{headers}{'x-sfn-resource'} // '') =~ /function:(\w+)$/;
    $fn //= '';
    my $o = ref $j eq 'ARRAY' ? $j->[0] : $j;
    my $id = $o->{orderId} // '';
    my $want = $o->{fail} // {};

    if (my $err = $want->{$fn}) {
        my ($type, $times) = split /:/, $err;
        return (500, { errorType => $type, errorMessage => "$fn: $type" })
            if !$times || attempts($fn, $id, $self) <= $times;
    }

    return (200, { %$o, valid => JSON::PP::true })
        if $fn eq 'ValidateOrder';
    return (200, { %$o, inventoryAvailable =>
                   $o->{stock} ? JSON::PP::true : JSON::PP::false })
        if $fn eq 'CheckInventory' && exists $o->{stock};
    return (200, { %$o, inStock => JSON::PP::true, quantity => 10 })
        if $fn eq 'CheckInventory';
    return (200, { %$o, paid => $o->{total} }) if $fn eq 'ProcessPayment';
    return (200, { %$o, $fn => 'done' });
});

my $branches = Sfn::Service->new(sub {
    my ($req) = @_;
    my ($fn) = ($req->{headers}{'x-sfn-resource'} // '') =~ /function:(\w+)$/;
    my $j = $req->{json};
    my $want = ref $j eq 'HASH' ? $j->{fail} // {} : {};
    if (my $err = $want->{$fn}) {
        return (500, { errorType => $err, errorMessage => "$fn: $err" });
    }
    return (200, { paymentValid => JSON::PP::true }) if $fn eq 'ValidatePayment';
    return (200, { shippingCost => 5.99, estimatedDays => 3 })
        if $fn eq 'CalculateShipping';
    return (200, { inventory => 'updated' }) if $fn eq 'UpdateInventory';
    return (200, { confirmation => 'sent' }) if $fn eq 'SendConfirmation';
    return (200, { combined => $j }) if $fn eq 'CombineResults';
    return (200, { completed => $j }) if $fn eq 'CompleteOrder';
    return (200, { orderId => $j->[0]{orderId} // 'o', timestamp => 1767225600,
                   confirmation => 'Order shipped' })
        if $fn eq 'CreateShipment';
    return (200, { handled => 1 }) if $fn eq 'HandleFailure';
    return (200, { %$j, $fn => 'done' });
});

my %m = (simple => 'simple-order', ecommerce => 'ecommerce-order',
         parallel => 'order-parallel', validation => 'parallel-order-validation',
         scenario => 'ecommerce-scenario');

my $t = Sfn::Test->new;
$t->copy_example("$_.asl.json") for values %m;
my ($u, $b) = ($svc->url, $branches->url);

# the branches' functions go to the second service, by name

my $fb = join '', map { "    sfn_integration   arn:aws:lambda:*:*:function:$_ $b/branch;\n" }
    qw(ValidatePayment CalculateShipping UpdateInventory SendConfirmation
       CombineResults CompleteOrder CreateShipment HandleFailure);

$t->start($t->sfn_http(
    machines => [ map { $_ => "$m{$_}.asl.json" } sort keys %m ],
    http => $fb . <<"END",
    sfn_integration   arn:aws:lambda:*:*:function:* $u/fn;
    sfn_integration   arn:aws:sns:*:*:order-confirmations $u/confirmations;
    sfn_integration   arn:aws:dynamodb:*:*:table/OrderAnalytics $u/analytics;
END
    server => "location = / { sfn_aws_api; }\n"));

sub run {
    my ($m, $in) = @_;
    my $d = $t->aws_run($m, $in, timeout => 90);
    $d->{states} = $t->states_entered($d->{executionArn})
        if $d->{executionArn};
    return $d;
}

# 002, simple order processing

my $d = run('simple', { orderId => 'a1', total => 10 });
is($d->{status}, 'SUCCEEDED', 'simple order: succeeded') or diag explain $d;
is($d->{states}, 'ValidateOrder,CheckInventory,ProcessPayment',
   'simple order: the three tasks');
is($d->{output_json}{paid}, 10, 'simple order: the payment\'s result');
$d = run('simple', { orderId => 'a2', total => 10,
                     fail => { ProcessPayment => 'PaymentError' } });
is($d->{status}, 'FAILED', 'simple order, payment failing: failed');
is($d->{error}, 'PaymentError', '... PaymentError');

# 002, e-commerce order processing

$d = run('ecommerce', { orderId => 'b1', total => 20, stock => 1 });
is($d->{status}, 'SUCCEEDED', 'e-commerce: succeeded') or diag explain $d;
is($d->{states}, 'ValidateOrder,CheckInventory,InventoryDecision,'
                 . 'ProcessPayment,PrepareShipment,CompleteOrder',
   'e-commerce: in stock, paid, shipped, completed');

$d = run('ecommerce', { orderId => 'b2', total => 20, stock => 0 });
is($d->{states}, 'ValidateOrder,CheckInventory,InventoryDecision,'
                 . 'NotifyOutOfStock', 'e-commerce: out of stock');

$d = run('ecommerce', { orderId => 'b3', fail => { ValidateOrder =>
                                                   'ValidationError' } });
is($d->{status}, 'SUCCEEDED', 'e-commerce, invalid: succeeded');
is($d->{states}, 'ValidateOrder,RejectOrder',
   'e-commerce, invalid: the Catch of ValidationError, RejectOrder');

$d = run('ecommerce', { orderId => 'b4', total => 5, stock => 1,
                        fail => { ProcessPayment => 'ServiceUnavailable:1' } });
is($d->{status}, 'SUCCEEDED', 'e-commerce, payment unavailable once: '
   . 'succeeded') or diag explain $d;
is(attempts('ProcessPayment', 'b4', $svc), 2, '... retried once');
my ($hs, $h) = $t->aws_api('GetExecutionHistory',
                           { executionArn => $d->{executionArn} });
my @f = grep { $_->{type} eq 'TaskFailed' } @{ $h->{events} };
is($f[0]{taskFailedEventDetails}{error}, 'ServiceUnavailable',
   'history: the failure that was retried');

$d = run('ecommerce', { orderId => 'b5', total => 5, stock => 1,
                        fail => { ProcessPayment => 'PaymentError' } });
is($d->{status}, 'SUCCEEDED', 'e-commerce, payment refused: succeeded');
is($d->{states}, 'ValidateOrder,CheckInventory,InventoryDecision,'
                 . 'ProcessPayment,RefundOrder,NotifyPaymentFailure',
   'e-commerce, payment refused: refunded and notified');

# 002, parallel inventory and confirmation

$d = run('parallel', { orderId => 'c1' });
is($d->{status}, 'SUCCEEDED', 'parallel order: succeeded') or diag explain $d;
is_deeply($d->{output_json}{completed},
          [ { inventory => 'updated' }, { confirmation => 'sent' } ],
          'parallel order: CompleteOrder had both branches\' results');
$d = run('parallel', { orderId => 'c2',
                       fail => { UpdateInventory => 'InventoryLocked' } });
is($d->{status}, 'FAILED', 'parallel order, inventory failing: failed');
is($d->{error}, 'InventoryLocked', '... its error');
unlike($d->{states}, qr/CompleteOrder/, '... CompleteOrder not entered');

# 004, parallel order validation

$d = run('validation', { orderId => 'd1' });
is($d->{status}, 'SUCCEEDED', 'validation: succeeded') or diag explain $d;
is_deeply($d->{output_json}{combined},
          [ { paymentValid => JSON::PP::true },
            { orderId => 'd1', inStock => JSON::PP::true, quantity => 10 },
            { shippingCost => 5.99, estimatedDays => 3 } ],
          'validation: the seed\'s array of results, in branch order');
$d = run('validation', { orderId => 'd2',
                         fail => { CalculateShipping => 'NoRoute' } });
is($d->{status}, 'FAILED', 'validation, shipping failing: failed');
is($d->{error}, 'NoRoute', '... its error');

# 004, the e-commerce scenario

$d = run('scenario', { orderId => 'e1', total => 30 });
is($d->{status}, 'SUCCEEDED', 'scenario: succeeded') or diag explain $d;
is($d->{states}, 'ValidateOrder,ParallelProcessing,CheckInventory,'
                 . 'ProcessPayment,CalculateShipping,CreateShipment,'
                 . 'SendConfirmation,UpdateAnalytics',
   'scenario: the states entered') or diag $d->{states};
my ($note) = $svc->requests('/confirmations');
is($note->{json}{Message}, 'Order shipped', 'scenario: the confirmation');
my ($row) = $svc->requests('/analytics');
is_deeply($row->{json}{Item}, { orderId => { S => 'e1' },
                                timestamp => { N => '1767225600' } },
          'scenario: the analytics item, to the OrderAnalytics endpoint');

$d = run('scenario', { orderId => 'e2', total => 30,
                       fail => { ProcessPayment => 'TemporaryError' } });
is($d->{status}, 'FAILED', 'scenario, payment failing: failed')
    or diag explain $d;
like($d->{states}, qr/ParallelProcessing,.*OrderFailed,FailState$/,
     'scenario: retries exhausted, the Parallel\'s Catch, OrderFailed');
($hs, $h) = $t->aws_api('GetExecutionHistory',
                        { executionArn => $d->{executionArn} });
is(scalar(grep { $_->{type} eq 'TaskFailed'
                 && $_->{taskFailedEventDetails}{error} eq 'TemporaryError' }
          @{ $h->{events} }), 4, 'history: four attempts (MaxAttempts 3)');

$t->stop;
$svc->stop;
$branches->stop;

done_testing();
