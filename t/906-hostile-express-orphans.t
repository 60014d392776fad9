# Issue 11 defect 2: an Express execution whose worker is gone, after a
# reload or a kill -9, ends FAILED or ABORTED with a cause that says why,
# and StopExecution on it tells the truth.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use Time::HiRes qw(sleep time);


my $t = Sfn::Test->new;

$t->write_file('conf/wait.asl.json', <<'END');
{"StartAt": "W",
 "States": {"W": {"Type": "Wait", "Seconds": 120, "End": true}}}
END

$t->nginx_start(<<'END', workers => 1);
    sfn_zone          sfn 4m;
    sfn_thread_pool   sfn;
    sfn_state_machine wait %%DIR%%/conf/wait.asl.json type=express;

    server {
        listen 127.0.0.1:%%PORT%%;

        sfn_api_key hostile-key;

        location = / { sfn_aws_api; }
    }
END

my $json = $t->json;
my $sm = 'arn:aws:states:us-east-1:000000000000:stateMachine:wait';
my %key = ('X-Api-Key' => 'hostile-key');

sub aws {
    my ($op, $body) = @_;
    my $r = $t->http('POST', '/', $json->encode($body),
                     { 'X-Amz-Target' => "AWSStepFunctions.$op",
                       'Content-Type' => 'application/x-amz-json-1.0',
                       %key });
    $r->{json} //= {};
    $r->{json}{_status} = $r->{status};
    return $r->{json};
}

sub start {
    my ($name) = @_;
    my $s = aws('StartExecution', { stateMachineArn => $sm, name => $name });
    ok($s->{executionArn}, "$name: started");
    my $d = aws('DescribeExecution', { executionArn => $s->{executionArn} });
    is($d->{status}, 'RUNNING', "$name: RUNNING");
    return $s->{executionArn};
}

sub ended {
    my ($what, $arn, $timeout) = @_;
    my $d;
    my $deadline = time + $timeout;
    while (time < $deadline) {
        $d = aws('DescribeExecution', { executionArn => $arn });
        last if ($d->{status} // 'RUNNING') ne 'RUNNING';
        sleep 0.2;
    }
    {
        like($d->{status} // '', qr/^(FAILED|ABORTED)$/,
             "$what: FAILED or ABORTED, not RUNNING");
        ok(length($d->{cause} // ''), "$what: with a cause")
            or diag(explain $d);
        ok(defined $d->{stopDate}, "$what: and a stopDate");
    }
    return $d;
}

# a reload: the old worker leaves after worker_shutdown_timeout (5 s)

my $a = start('before-reload');
my ($old) = $t->nginx_workers;
$t->nginx_reload;
for (1 .. 100) {
    last unless kill 0, $old;
    sleep 0.1;
}
ok(!kill(0, $old), 'the old worker is gone');
ended('after a reload', $a, 5);

# a kill -9 of the worker

my $b = start('before-kill');
my ($w) = $t->nginx_workers;
kill 'KILL', $w;
for (1 .. 50) {
    my @now = $t->nginx_workers;
    last if @now && $now[0] != $w;
    sleep 0.1;
}

my $s = aws('StopExecution', { executionArn => $b, cause => 'stopped' });
my $d = aws('DescribeExecution', { executionArn => $b });
if ($s->{_status} == 200) {
    {
        isnt($d->{status}, 'RUNNING',
             'StopExecution answered 200: the execution is no longer RUNNING');
    }
} else {
    pass("StopExecution answered $s->{_status} $s->{__type}");
}
ended('after kill -9', $b, 5);

# and a new execution still runs and stops

my $c = start('after-all');
$s = aws('StopExecution', { executionArn => $c });
is($s->{_status}, 200, 'a live one stops');
is(aws('DescribeExecution', { executionArn => $c })->{status}, 'ABORTED',
   'ABORTED');

# the one kill -9 is ours; anything else at crit or above is not

my $log = $t->read_file('logs/error.log') // '';
my @bad = grep { !/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[([a-z]+)\] /
                 || ($1 =~ /^(crit|alert|emerg)$/
                     && !/worker process $w exited on signal 9$/)
                 || (/exited on signal/ && !/process $w exited on signal 9$/) }
          split /\n/, $log;
ok(!@bad, 'defect 2: a clean error log') or diag(join "\n", @bad);

$t->stop(no_check => 1);

done_testing;
