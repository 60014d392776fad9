# Issue 17: DescribeExecution answers the same from the shared zone and
# from PostgreSQL.  Two nodes share one database: node a runs the
# executions and describes them from its zone; node b never ran them, its
# zone is empty, and describes them from their rows.  The replies are
# compared byte for byte for running, succeeded (input and output of
# 200 KB), failed (error and cause of the execution's own making, a NUL in
# the cause), aborted and traced executions; the zone keeps the records
# of the executions run last when it is full.  Hostile: ARNs malformed,
# huge, not UTF-8, of another account, of the other type; executions
# described while retention deletes them.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use Time::HiRes qw(sleep time);

Sfn::Test::need_postgres();

my $a = Sfn::Test->new;
$a->pg_start;
my $b = $a->node;

my %def = (
    'one.json' => '{"StartAt":"P","States":{"P":{"Type":"Pass",'
                  . '"End":true}}}',
    'hold.json' => '{"StartAt":"W","States":{"W":{"Type":"Wait",'
                   . '"Seconds":300,"End":true}}}',
    'fail.json' => '{"StartAt":"F","States":{"F":{"Type":"Fail",'
                   . '"ErrorPath":"$.e","CausePath":"$.c"}}}',
);

my $conf = <<'END';
    sfn_zone          sfn %%ZONE%%;
    sfn_database      "%%DATABASE%%";
    sfn_state_machine one %%DIR%%/conf/one.json;
    sfn_state_machine hold %%DIR%%/conf/hold.json;
    sfn_state_machine fail %%DIR%%/conf/fail.json;
%%MORE%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location = / { sfn_aws_api; }
    }
END

sub start_node {
    my ($node, %o) = @_;
    (my $c = $conf) =~ s/%%ZONE%%/$o{zone} \/\/ '16m'/e;
    $c =~ s/%%MORE%%/$o{more} \/\/ ''/e;
    $node->write_file("conf/$_", $def{$_}) for keys %def;
    $node->nginx_start($c, workers => $o{workers} // 1);
}

start_node($a, workers => 2);
start_node($b);

my $pre = 'arn:aws:states:us-east-1:000000000000';
my $json = JSON::PP->new->utf8->canonical;

sub raw {
    my ($node, $op, $body) = @_;
    my $r = $node->http('POST', '/', ref $body ? $json->encode($body) : $body,
                        { 'Content-Type' => 'application/x-amz-json-1.0',
                          'X-Amz-Target' => "AWSStepFunctions.$op" });
    return ($r->{status}, $r->{content});
}

sub start {
    my ($sm, %o) = @_;
    my ($st, $body) = raw($a, 'StartExecution',
                          { stateMachineArn => "$pre:stateMachine:$sm",
                            %o });
    die "start: $st $body\n" unless $st == 200;
    return $json->decode($body)->{executionArn};
}

sub describe {
    my ($node, $arn) = @_;
    return raw($node, 'DescribeExecution', { executionArn => $arn });
}

sub settled {
    my ($arn) = @_;
    $a->wait_sql("SELECT status <> 'RUNNING' FROM sfn_executions "
                 . "WHERE arn = '$arn'", 't', 30);
}

# 200 KB of JSON, with UTF-8 and escapes in it

my $big = $json->encode({ data => join('', map { chr(97 + $_ % 26) }
                                            1 .. 200_000),
                          text => "caf\x{e9} \x{1f600} \"q\" \\ \n",
                          n => 1.5e300 });

my %case = (
    succeeded => start('one', input => $big, name => 'big'),
    small => start('one', input => '{"a":[1,2,{"b":null}]}'),
    traced => start('one', input => '{}', traceHeader => 'Root=1-abc'),
    failed => start('fail', input => $json->encode({
        e => 'Custom.Error', c => 'x' x 30000 })),
    nul => start('fail', input => '{"e":"E","c":"a\u0000b"}'),
    running => start('hold', input => $big),
    aborted => start('hold', input => '{"k":"v"}'),
);

settled($case{$_}) for qw(succeeded small traced failed nul);

my ($st) = raw($a, 'StopExecution', { executionArn => $case{aborted},
                                      error => 'E', cause => 'stopped' });
is($st, 200, 'one stopped');
settled($case{aborted});

for my $k (sort keys %case) {
    my ($sa, $ra) = describe($a, $case{$k});
    my ($sb, $rb) = describe($b, $case{$k});

    is($sa, 200, "$k: node a describes it (its zone)");
    is($sb, 200, "$k: node b describes it (its row)");
    ok($ra eq $rb, "$k: byte for byte the same")
        or diag("zone: " . substr($ra, 0, 300) . "\nrow:  "
                . substr($rb, 0, 300));

    my $j = eval { $json->decode($rb) } // {};
    is($j->{executionArn}, $case{$k}, "$k: its arn");
}

# the fields, once, from the row

my $j = $json->decode((describe($b, $case{succeeded}))[1]);
is($j->{status}, 'SUCCEEDED', 'succeeded: status');
is($j->{input}, $big, 'succeeded: 200 KB of input whole');
is($j->{output}, $big, 'succeeded: and of output');
ok($j->{stopDate} >= $j->{startDate}, 'succeeded: stopDate');

$j = $json->decode((describe($b, $case{running}))[1]);
is($j->{status}, 'RUNNING', 'running: status');
ok(!exists $j->{stopDate} && !exists $j->{output},
   'running: no stopDate, no output');

$j = $json->decode((describe($b, $case{failed}))[1]);
is($j->{error}, 'Custom.Error', 'failed: error');
is($j->{cause}, 'x' x 30000, 'failed: cause of 30,000 characters');
ok(!exists $j->{output}, 'failed: no output');

$j = $json->decode((describe($b, $case{nul}))[1]);
is($j->{cause}, "a\x{fffd}b", 'a NUL in a cause: U+FFFD from both');

$j = $json->decode((describe($b, $case{aborted}))[1]);
is($j->{status}, 'ABORTED', 'aborted: status');

$j = $json->decode((describe($b, $case{traced}))[1]);
is($j->{traceHeader}, 'Root=1-abc', 'traced: traceHeader');

($st) = raw($a, 'StopExecution', { executionArn => $case{running} });
is($st, 200, 'the running one stopped');
settled($case{running});

# what the zone keeps when it is full: the executions run last.  A small
# zone on node b, 300 executions of 2 KB each run there: the first ones
# are described from their rows, the last ones from the zone (their
# records are all there, an update of the row by SQL shows through none)

$b->nginx_stop;
start_node($b, zone => '256k');

my $kb = $json->encode({ d => 'z' x 2000 });
my @run;
for my $i (1 .. 300) {
    my ($s, $body) = raw($b, 'StartExecution',
                         { stateMachineArn => "$pre:stateMachine:one",
                           input => $kb });
    die "start on b: $s\n" unless $s == 200;
    push @run, $json->decode($body)->{executionArn};
}
settled($run[-1]);
$a->wait_sql("SELECT count(*) FROM sfn_executions WHERE status = 'RUNNING'",
             '0', 30);

my $names = join ',', map { "'$_'" } @run;
$a->psql("UPDATE sfn_executions SET output = '\"row\"' "
         . "WHERE arn IN ($names)");

my @from = map {
    my $o = $json->decode((describe($b, $_))[1])->{output} // '';
    $o eq '"row"' ? 'row' : 'zone'
} @run;

my $last = join '', map { $_ eq 'zone' ? 1 : 0 } @from[-20 .. -1];
is($last, '1' x 20, 'the 20 run last are in the zone');
is($from[0], 'row', 'the first one left it');
my $first_zone = (grep { $from[$_] eq 'zone' } 0 .. $#from)[0];
ok(!grep({ $from[$_] eq 'row' } $first_zone .. $#from),
   "oldest out first: rows up to #$first_zone, the zone after it");

# hostile ARNs: a 400 of AWS's, never a 5xx

my @hostile = (
    [ 'not an arn', 'InvalidArn' ],
    [ '', 'InvalidArn' ],
    [ "$pre:execution:one", 'InvalidArn' ],
    [ "$pre:stateMachine:one", 'InvalidArn' ],
    [ "$pre:execution:one:" . ('n' x 100_000), 'ExecutionDoesNotExist' ],
    [ "$pre:execution:one:missing", 'ExecutionDoesNotExist' ],
    [ "$pre:execution:nosuch:x", 'ExecutionDoesNotExist' ],
    [ 'arn:aws:states:eu-west-9:111111111111:execution:one:x',
      'ExecutionDoesNotExist' ],
    [ "$pre:express:one:x", 'ExecutionDoesNotExist' ],
    [ "$pre:execution:one:a:b:c", 'InvalidArn' ],
    [ "$pre:execution:one:\x{e9}t\x{e9}", 'ExecutionDoesNotExist' ],
    [ "$pre:execution:one:'; DROP TABLE sfn_executions; --",
      'ExecutionDoesNotExist' ],
);

for my $h (@hostile) {
    my ($arn, $type) = @$h;
    for my $node ($a, $b) {
        my ($s, $body) = describe($node, $arn);
        my $e = eval { $json->decode($body) } // {};
        ok($s == 400 && ($e->{__type} // '') =~ /\Q$type\E$/,
           sprintf('%.40s: %s', $arn, $type))
            or diag("$s $body");
    }
}

# bytes that are not UTF-8, a NUL, a non-string, a body cut short

for my $body ('{"executionArn":"' . "$pre:execution:one:\xff\xfe" . '"}',
              '{"executionArn":"' . "$pre:execution:one:a\\u0000b" . '"}',
              '{"executionArn":42}', '{"executionArn":["x"]}',
              '{"executionArn":"' . "$pre:execution:one:x",
              "\0\0\0") {
    my ($s, $r) = raw($b, 'DescribeExecution', $body);
    ok($s == 400, sprintf('%s: 400', join '', map {
        /[ -~]/ ? $_ : sprintf '\\x%02x', ord } split //, substr($body, -24)))
        or diag("$s $r");
}

is($a->psql("SELECT count(*) > 0 FROM sfn_executions"), 't',
   'the table is still there');

# expired executions described while retention deletes them: each answer
# is the execution or ExecutionDoesNotExist, never an error of ours

my @old = @run[0 .. 199];
my $old = join ',', map { "'$_'" } @old;
$a->psql("UPDATE sfn_executions SET stop_date = now() - interval '2 days', "
         . "start_date = now() - interval '2 days' WHERE arn IN ($old)");

$b->nginx_stop;
start_node($b, more => "    sfn_retention 1d;\n", workers => 2);

my (%seen, $bad);
my $deadline = time + 120;
while (time < $deadline) {
    for my $arn (@old) {
        my ($s, $body) = describe($b, $arn);
        my $e = eval { $json->decode($body) } // {};
        if ($s == 200 && ($e->{status} // '') eq 'SUCCEEDED') {
            $seen{found}++;
        } elsif ($s == 400
                 && ($e->{__type} // '') =~ /ExecutionDoesNotExist$/) {
            $seen{gone}++;
        } else {
            $bad //= "$s $body";
        }
    }
    last if $a->psql("SELECT count(*) FROM sfn_executions "
                     . "WHERE arn IN ($old)") == 0;
}

ok(!$bad, 'during deletion: the execution or ExecutionDoesNotExist')
    or diag($bad);
is($a->psql("SELECT count(*) FROM sfn_executions WHERE arn IN ($old)"), 0,
   'retention deleted the 200 expired');
ok($seen{gone}, "described $seen{gone} times as gone"
                . ($seen{found} ? ", $seen{found} found before" : ''));

my ($s) = describe($b, $run[-1]);
is($s, 200, 'a kept one is still described');

$b->stop;
$a->stop;

done_testing;
