# Hostile JSONata, issue 15: an expression that recurses without end, loops
# by tail calls, maps over a hundred thousand or a million items, sorts with a
# lambda or doubles a string fails its state with
# States.QueryEvaluationError within its budget of work (steps, and bytes
# allocated), and does not hold the worker: while such executions start
# one after another, a "return 200" location on the same worker answers
# within 50 ms (the median of twenty pings).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use HTTP::Tiny;
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);


my $t = Sfn::Test->new;

my %hostile = (
    deep   => '( $f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; '
              . '$f(100000) )',
    loop   => '( $f := function($n) { $f($n + 1) }; $f(0) )',
    map    => '$sum($map([1..100000], function($v) { $v * 2 }))',
    range  => '$sum($map([1..1000000], function($v) { $v * 2 }))',
    double => '( $f := function($s, $n) { $n = 0 ? $s : '
              . '$f($s & $s, $n - 1) }; $f("ab", 40) )',
    sort   => '$count($sort([1..20000], function($a, $b) { $a < $b }))',
);

my $machines = '';

for my $name (sort keys %hostile) {
    my $def = {
        QueryLanguage => 'JSONata',
        StartAt => 'H',
        States => {
            H => { Type => 'Pass',
                   Output => { v => "{% $hostile{$name} %}" },
                   End => \1 } } };
    $t->write_file("conf/$name.asl.json", $t->json->encode($def));
    $machines .= "    sfn_state_machine $name %%DIR%%/conf/$name.asl.json "
                 . "type=express;\n";
}

# a small expression keeps working next to them
$t->write_file('conf/fine.asl.json', <<'END');
{"QueryLanguage": "JSONata", "StartAt": "F",
 "States": {"F": {"Type": "Pass",
                  "Output": {"n": "{% $count($map([1..1000], function($v) { $v * 2 })) %}"},
                  "End": true}}}
END
$machines .= "    sfn_state_machine fine %%DIR%%/conf/fine.asl.json "
             . "type=express;\n";

$t->nginx_start(<<"END", workers => 1);
    sfn_zone          sfn 8m;
    sfn_thread_pool   sfn;
    sfn_bucket        source %%DIR%%/source;
$machines
    server {
        listen 127.0.0.1:%%PORT%%;

        sfn_api_key hostile-key;

        location = /        { sfn_aws_api; }
        location = /ping    { return 200 "pong\\n"; }
    }
END

my $json = $t->json;
my $port = $t->port;
my $acct = 'arn:aws:states:us-east-1:000000000000';

sub quick {
    my ($method, $path, $body, $headers, $timeout) = @_;
    my $ua = HTTP::Tiny->new(timeout => $timeout // 5, keep_alive => 0);
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
                   'Content-Type' => 'application/x-amz-json-1.0',
                   'X-Api-Key' => 'hostile-key' });
}

sub run {
    my ($name) = @_;
    my $r = aws('StartExecution', { stateMachineArn => "$acct:stateMachine:$name",
                                    input => '{}' });
    my $arn = $r->{json}{executionArn} // return ($r, undef);
    my $d;
    for (1 .. 50) {
        $d = aws('DescribeExecution', { executionArn => $arn })->{json};
        last if ($d->{status} // 'RUNNING') ne 'RUNNING';
        sleep 0.1;
    }
    return ($r, $d);
}

# each fails cleanly, at once

for my $name (sort keys %hostile) {
    my ($r, $d) = run($name);
    is($r->{status}, 200, "$name: StartExecution answers");
    ok($r->{elapsed} < 1, "$name: at once")
        or diag(sprintf '%.3f s', $r->{elapsed});
    is($d->{status} // '', 'FAILED', "$name: FAILED");
    is($d->{error} // '', 'States.QueryEvaluationError',
       "$name: States.QueryEvaluationError");
    like($d->{cause} // '', qr/threw an error during evaluation/,
         "$name: the cause says why");
}

my (undef, $fine) = run('fine');
is($fine->{status} // '', 'SUCCEEDED', 'a small $map still succeeds');
is(eval { $json->decode($fine->{output})->{n} } // -1, 1000,
   'with its output');

# twenty pings while the hostile ones start back to back

my $pid = fork // die "fork: $!";

if ($pid == 0) {
    my $until = time + 4;
    while (time < $until) {
        for my $name (qw(loop map double sort)) {
            aws('StartExecution', { stateMachineArn => "$acct:stateMachine:$name",
                                    input => '{}' });
        }
    }
    _exit(0);
}

sleep 0.3;

my @ms;
for (1 .. 20) {
    my $r = quick('GET', '/ping', undef, undef, 3);
    push @ms, $r->{status} == 200 ? $r->{elapsed} * 1000 : 1e9;
    sleep 0.05;
}

waitpid $pid, 0;

@ms = sort { $a <=> $b } @ms;
my $median = $ms[$#ms / 2];
ok($ms[-1] < 1e9, 'every ping answered');
ok($median < 50, 'the median ping within 50 ms while they run')
    or diag(sprintf 'median %.1f ms, max %.1f ms', $median, $ms[-1]);

$t->stop;

done_testing;
