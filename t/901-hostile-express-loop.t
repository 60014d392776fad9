# Hostile input, issue 11 defect 1: an Express execution that never ends
# (a Pass/Choice loop started through sfn_start or StartExecution, a
# 1,000 x 1,000 nested Map) must not hold the worker: a "return 200"
# location on the same worker answers within 50 ms while it loops, and
# StopExecution stops it.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);


my $t = Sfn::Test->new;

$t->write_file('conf/loop.asl.json', <<'END');
{"StartAt": "A",
 "States": {
  "A": {"Type": "Pass", "Next": "C"},
  "C": {"Type": "Choice",
        "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "D"}],
        "Default": "A"},
  "D": {"Type": "Succeed"}}}
END

# the nested Map runs again and again (its result kept small), so that it
# is certainly still running when StopExecution comes

$t->write_file('conf/nested.asl.json', <<'END');
{"StartAt": "Items",
 "States": {
  "Items": {"Type": "Pass",
            "Parameters": {"items.$": "States.ArrayRange(1, 1000, 1)"},
            "Next": "Outer"},
  "Outer": {"Type": "Map", "ItemsPath": "$.items",
            "ItemSelector": {"inner.$": "States.ArrayRange(1, 1000, 1)"},
            "ItemProcessor": {
              "StartAt": "Inner",
              "States": {
                "Inner": {"Type": "Map", "ItemsPath": "$.inner",
                          "ItemProcessor": {
                            "StartAt": "P",
                            "States": {"P": {"Type": "Pass", "End": true}}},
                          "ResultSelector": {"n.$": "States.ArrayLength($)"},
                          "End": true}}},
            "ResultPath": null,
            "Next": "Again"},
  "Again": {"Type": "Choice",
            "Choices": [{"Variable": "$.stop", "IsPresent": true,
                         "Next": "Done"}],
            "Default": "Outer"},
  "Done": {"Type": "Succeed"}}}
END

$t->nginx_start(<<'END', workers => 1);
    sfn_zone          sfn 8m;
    sfn_thread_pool   sfn;
    sfn_bucket        source %%DIR%%/source;
    sfn_state_machine loop   %%DIR%%/conf/loop.asl.json   type=express;
    sfn_state_machine nested %%DIR%%/conf/nested.asl.json type=express;

    server {
        listen 127.0.0.1:%%PORT%%;

        sfn_api_key hostile-key;

        location = /        { sfn_aws_api; }
        location /start/    { sfn_start; }
        location = /ping    { return 200 "pong\n"; }
    }
END

my $json = $t->json;
my $port = $t->port;
my $acct = 'arn:aws:states:us-east-1:000000000000';
my %key = ('X-Api-Key' => 'hostile-key');

# short timeouts: a frozen worker never answers

sub quick {
    my ($method, $path, $body, $headers, $timeout) = @_;
    my $ua = HTTP::Tiny->new(timeout => $timeout // 3, keep_alive => 0);
    my %o = (headers => $headers // {});
    $o{content} = $body if defined $body;
    my $t0 = time;
    my $r = $ua->request($method, "http://127.0.0.1:$port$path", \%o);
    $r->{elapsed} = time - $t0;
    $r->{json} = eval { $json->decode($r->{content}) };
    return $r;
}

sub aws {
    my ($op, $body) = @_;
    return quick('POST', '/', $json->encode($body),
                 { 'X-Amz-Target' => "AWSStepFunctions.$op",
                   'Content-Type' => 'application/x-amz-json-1.0', %key });
}

# ten pings to the one worker: the median within 50 ms, none lost

sub responsive {
    my ($what) = @_;
    my @ms;
    for (1 .. 10) {
        my $r = quick('GET', '/ping', undef, undef, 2);
        push @ms, $r->{status} == 200 ? $r->{elapsed} * 1000 : 1e9;
        last if $r->{status} != 200;
        sleep 0.02;
    }
    @ms = sort { $a <=> $b } @ms;
    my $median = $ms[$#ms / 2];
    ok(@ms == 10 && $ms[-1] < 1e9, "$what: every ping answered");
    ok($median < 50, "$what: the median ping within 50 ms")
        or diag(sprintf 'median %.1f ms', $median);
    return @ms == 10 && $ms[-1] < 1e9;
}

# a worker that does not answer is killed, the master starts another

sub unfreeze {
    for my $pid ($t->nginx_workers) {
        kill 'KILL', $pid;
    }
    for (1 .. 50) {
        sleep 0.1;
        last if quick('GET', '/ping', undef, undef, 1)->{status} == 200;
    }
}

sub stopped {
    my ($what, $arn) = @_;
    my $r = aws('StopExecution', { executionArn => $arn,
                                   error => 'Hostile', cause => 'test' });
    is($r->{status}, 200, "$what: StopExecution answers");
    my $d;
    for (1 .. 30) {
        $d = aws('DescribeExecution', { executionArn => $arn })->{json};
        last if ($d->{status} // 'RUNNING') ne 'RUNNING';
        sleep 0.1;
    }
    is($d->{status}, 'ABORTED', "$what: ABORTED");
}

ok(responsive('idle'), 'the worker answers before any loop');

# the loop through sfn_start, then through StartExecution

for my $via ('sfn_start', 'StartExecution', 'nested Map') {
    my ($r, $arn);
    if ($via eq 'sfn_start') {
        $r = quick('POST', '/start/loop', '{"bucket":"source","key":"k"}',
                   \%key);
        $arn = $r->{json}{executionArn};
    } else {
        my $m = $via eq 'nested Map' ? 'nested' : 'loop';
        $r = aws('StartExecution', { stateMachineArn => "$acct:stateMachine:$m",
                                     input => '{}' });
        $arn = $r->{json}{executionArn};
    }
    {
        is($r->{status}, 200, "$via: the start answers");
        ok($r->{elapsed} < 1, "$via: at once");
    }
    sleep 0.3;

    {
        if (responsive("$via, running")) {
            stopped($via, $arn);
            responsive("$via, stopped");
        } else {
            fail("$via: StopExecution cannot reach a frozen worker");
            unfreeze();
        }
    }
}

my $log = $t->read_file('logs/error.log') // '';
my @bad = grep { !/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[([a-z]+)\] /
                 || $1 =~ /^(crit|alert|emerg)$/
                 || /exited on signal/ }
          split /\n/, $log;
{
    ok(!@bad, 'defect 1: a clean error log') or diag(join "\n", @bad);
}

$t->stop(no_check => 1);

done_testing;
