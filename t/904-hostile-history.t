# Issue 11 defect 5: a Standard Pass/Choice loop over a 200 KB input, and
# one over a deeply nested input, start at once, keep their whole history,
# and leave the worker answering while they run.  200 turns: 804 events
# that each carry the payload, over PostgreSQL's 256 MB for one jsonb array
# when they are written as one batch.  The payloads are random letters, so
# that PostgreSQL cannot compress what it stores and the bytes reported are
# those a real payload takes; history keeps each distinct payload once.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(sleep time);

my $t = Sfn::Test->new;
$t->pg_start;

$t->write_file('conf/loop.asl.json', <<'END');
{"StartAt": "A",
 "States": {
  "A": {"Type": "Pass",
        "Parameters": {"big.$": "$.big", "stop.$": "$.stop",
                       "n.$": "States.MathAdd($.n, 1)"},
        "Next": "C"},
  "C": {"Type": "Choice",
        "Choices": [{"Variable": "$.n",
                     "NumericGreaterThanEqualsPath": "$.stop",
                     "Next": "D"}],
        "Default": "A"},
  "D": {"Type": "Succeed"}}}
END

# a NUL in data, in an error and in a cause: PostgreSQL's text holds none

$t->write_file('conf/nul.asl.json', <<'END');
{"StartAt": "P",
 "States": {"P": {"Type": "Pass", "Result": {"s": "x\u0000y"}, "Next": "F"},
            "F": {"Type": "Fail", "Error": "E\u0000", "Cause": "c\u0000"}}}
END

$t->nginx_start(<<'END', workers => 1);
    sfn_zone          sfn 16m;
    sfn_database      "%%DATABASE%%";
    sfn_thread_pool   sfn;
    sfn_state_machine loop %%DIR%%/conf/loop.asl.json;
    sfn_state_machine nul %%DIR%%/conf/nul.asl.json;

    server {
        listen 127.0.0.1:%%PORT%%;
        client_max_body_size 1m;

        sfn_api_key hostile-key;

        location = /     { sfn_aws_api; }
        location = /ping { return 200 "pong\n"; }
    }
END

my $json = $t->json;
my $port = $t->port;
my $sm = 'arn:aws:states:us-east-1:000000000000:stateMachine:loop';
my %key = ('X-Api-Key' => 'hostile-key');

sub quick {
    my ($method, $path, $body, $headers, $timeout) = @_;
    my $ua = HTTP::Tiny->new(timeout => $timeout // 10, keep_alive => 0);
    my %o = (headers => $headers // {});
    $o{content} = $body if defined $body;
    my $t0 = time;
    my $r = $ua->request($method, "http://127.0.0.1:$port$path", \%o);
    $r->{elapsed} = time - $t0;

    # JSON::PP is slow on payloads of this size: large replies stay raw

    $r->{json} = length $r->{content} < 65536
                 ? eval { $json->decode($r->{content}) } // {} : {};
    return $r;
}

sub aws {
    my ($op, $body, $timeout) = @_;
    return quick('POST', '/', $json->encode($body),
                 { 'X-Amz-Target' => "AWSStepFunctions.$op",
                   'Content-Type' => 'application/x-amz-json-1.0', %key },
                 $timeout);
}

# the event types of the whole history, read without the payloads

my $with_data;

sub history {
    my ($arn, $leaf) = @_;
    my (@types, $token);
    $with_data = 0;
    for (1 .. 100) {
        my $r = aws('GetExecutionHistory',
                    { executionArn => $arn, maxResults => 1000,
                      includeExecutionData => JSON::PP::false,
                      $token ? (nextToken => $token) : () }, 30);
        last if $r->{status} != 200;
        push @types, $r->{content} =~ /"type":"(\w+)"/g;
        $with_data++ if index($r->{content}, $leaf) >= 0;
        ($token) = $r->{content} =~ /"nextToken":"([^"]+)"/;
        last unless $token;
    }
    return @types;
}

# the worker's resident set, in KiB

sub rss {
    my ($pid) = $t->nginx_workers;
    open my $fh, '<', "/proc/" . ($pid // 0) . "/status" or return 0;
    local $/;
    return <$fh> =~ /^VmRSS:\s+(\d+)/m ? $1 : 0;
}

# a child pings the worker every 0.1 s while the loop runs; it prints the
# slowest answer (1e9 for none) and the largest resident set seen when
# told to stop

sub pinger {
    pipe my $rd, my $wr or die "pipe: $!\n";
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        close $rd;
        my $worst = 0;
        my $peak = 0;
        my $stop = 0;
        local $SIG{TERM} = sub { $stop = 1 };
        while (!$stop) {
            my $p = quick('GET', '/ping', undef, undef, 5);
            my $s = $p->{status} == 200 ? $p->{elapsed} : 1e9;
            $worst = $s if $s > $worst;
            my $rss = rss();
            $peak = $rss if $rss > $peak;
            sleep 0.1;
        }
        print $wr "$worst $peak\n";
        close $wr;
        POSIX::_exit(0);
    }
    close $wr;
    return sub {
        kill 'TERM', $pid;
        my ($worst, $peak) = split ' ', <$rd> // '1e9 0';
        waitpid $pid, 0;
        return ($worst + 0, $peak + 0);
    };
}

sub loop {
    my ($what, $input, $n, $leaf) = @_;

    my $rss0 = rss();
    my $done = pinger();
    my $t0 = time;

    my $r = aws('StartExecution', { stateMachineArn => $sm,
                                    name => $what, input => $input }, 15);
    my $arn = $r->{json}{executionArn};

    my ($status, $d) = ('RUNNING');
    # a liveness bound, not a figure (the loop ends when the execution
    # does): 38 MB of payloads take more than 30 s on a loaded machine (seen
    # at a load of 25), and a sanitized build runs about 3x slower
    my $deadline = time + ($Sfn::Test::SAN ? 360 : 120);
    while ($arn && time < $deadline) {
        $d = aws('DescribeExecution', { executionArn => $arn }, 5);
        ($status) = $d->{content} =~ /"status":"(\w+)"/;
        last if ($status // 'RUNNING') ne 'RUNNING';
        sleep 0.2;
    }
    sleep 1 unless $arn;

    my $took = time - $t0;
    my ($worst, $peak) = $done->();
    sleep 1;
    my $rss1 = rss();

    my @types = $arn ? history($arn, $leaf) : ();
    my $passes = grep { $_ eq 'PassStateExited' } @types;

    # the figures issue 11 asks for

    my $q = $arn =~ s/'/''/gr;
    my $db = $t->psql("SELECT (SELECT count(*) || ' ' "
                      . "|| coalesce(sum(pg_column_size(h.*)), 0) "
                      . "FROM sfn_history h WHERE execution_arn = '$q') "
                      . "|| ' ' || coalesce((SELECT count(*) || ' ' "
                      . "|| sum(pg_column_size(p.*)) FROM sfn_payloads p "
                      . "WHERE execution_arn = '$q'), '0 0') || ' ' "
                      . "|| (SELECT pg_column_size(s.*) || ' ' || version "
                      . "FROM sfn_executions s WHERE arn = '$q')");
    my @db = split ' ', $db;
    diag(sprintf "%s: %.1f s for %d turns; history %s rows %s bytes, "
         . "payloads %s rows %s bytes; execution row %s bytes, "
         . "%s versions (steps); "
         . "worker RSS %d/%d/%d KiB before/peak/after; "
         . "worst ping %.3f s", $what, $took, $n, @db,
         $rss0, $peak, $rss1, $worst);

    # the first events, with their data: the payload comes back whole

    my $first = $arn ? aws('GetExecutionHistory',
                           { executionArn => $arn, maxResults => 3 }, 30)
                     : { content => '' };

    is($r->{status}, 200, "$what: StartExecution 200");
    ok($r->{elapsed} < 5, "$what: within 5 s")
        or diag(sprintf '%.1f s', $r->{elapsed});
    is($status, 'SUCCEEDED', "$what: SUCCEEDED");
    ok($worst < 0.5, "$what: the worker answered within 0.5 s")
        or diag(sprintf 'worst ping %.2f s', $worst);
    is(scalar @types, 4 * $n + 4, "$what: every event kept");
    is($passes, $n, "$what: $n PassStateExited events");
    is($types[0], 'ExecutionStarted', "$what: from ExecutionStarted");
    is($types[-1], 'ExecutionSucceeded', "$what: to ExecutionSucceeded");
    ok($d && index($d->{content}, $leaf) >= 0
       && $d->{content} =~ /\\"n\\":$n\b/,
       "$what: the output carries the payload");
    ok(index($first->{content}, $leaf) >= 0
       && $first->{content} !~ /sfn_payload/,
       "$what: the history carries the payload");

    # stored once per distinct value: a turn makes one new input

    is($with_data, 0, "$what: includeExecutionData false leaves it out");
    ok(@db == 6 && $db[2] <= 2 * $n + 4,
       "$what: each distinct payload stored once")
        or diag("$db[2] payloads");
    ok(@db == 6 && ($db[1] + $db[3] < 4 * $n * length $leaf
                    || length $leaf < 1024),
       "$what: history smaller than its events times the payload");

    # main: 429 MB at the peak and 417 MB after, for a 200 KB loop; under
    # ASan freed memory waits in its quarantine, so RSS says nothing

    SKIP: {
        skip 'RSS under ASan', 1 if $Sfn::Test::SAN;
        ok($peak < $rss0 + 64 * 1024 && $rss1 < $rss0 + 32 * 1024,
           "$what: the worker's memory stays bounded");
    }
}

# a 200 KB string, 200 turns of the loop

srand 904;

sub letters { join '', map { chr 97 + int rand 26 } 1 .. $_[0] }

my $big = letters(200 * 1024);
loop('flat-200k', qq({"big":"$big","n":0,"stop":200}), 200, $big);

# 900 levels of objects around a 100 KB string, 200 turns

my $leaf = letters(100 * 1024);
loop('nested-900', '{"big":' . ('{"d":' x 900) . qq("$leaf") . ('}' x 900)
                   . ',"n":0,"stop":200}', 200, $leaf);

# 900 bytes, under the size kept apart: each slice makes hundreds of
# events inline, written in several statements of about 256 KiB

my $small = letters(900);
loop('inline-900', qq({"big":"$small","n":0,"stop":2000}), 2000, $small);

# acknowledged, so recorded: the NUL of data kept (escaped in its JSON
# text), those of the error and cause as U+FFFD

my $n = aws('StartExecution', { stateMachineArn => $sm =~ s/loop$/nul/r,
                                name => 'nul', input => '{"a":"b\u0000c"}' });
is($n->{status}, 200, 'NUL: started');
is($t->wait_sql("SELECT status || ' ' || (SELECT count(*) FROM sfn_events "
                . "h WHERE h.execution_arn = e.arn) FROM sfn_executions e "
                . "WHERE name = 'nul'", 'FAILED 5', 10),
   'FAILED 5', 'NUL: the execution and its five events recorded');
is($t->psql("SELECT error = E'E\\uFFFD' AND cause = E'c\\uFFFD' "
            . "FROM sfn_executions WHERE name = 'nul'"), 't',
   'NUL: in the error and cause, the replacement character');
like(aws('GetExecutionHistory',
         { executionArn => $n->{json}{executionArn} // '' })->{content},
     qr/x\\\\u0000y/, 'NUL: kept in the data of the history');

my $log = $t->read_file('logs/error.log') // '';
unlike($log, qr/sfn database: .* failed: ERROR/,
       'no statement refused by PostgreSQL');
my @bad = grep { !/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[([a-z]+)\] /
                 || $1 =~ /^(crit|alert|emerg)$/
                 || /exited on signal/ }
          split /\n/, $log;
ok(!@bad, 'defect 5: a clean error log')
    or diag(join "\n", map { substr $_, 0, 300 } grep { defined } @bad[0 .. 9]);

$t->stop(no_check => 1);

done_testing;
