# Hostile input, issue 11 defect 4: bytes that are not UTF-8 in a request
# body are a 400 before anything is acknowledged, a name that is not UTF-8
# is InvalidName, an escaped NUL in a string survives, and every execution
# acknowledged with a 200 still exists after a restart.

use strict;
use warnings;
use lib 't/lib';
use Test::More;

use Sfn::Test;
use Time::HiRes qw(sleep time);

my $t = Sfn::Test->new;
$t->pg_start;

$t->write_file('conf/echo.asl.json', <<'END');
{"StartAt": "Echo",
 "States": {"Echo": {"Type": "Pass", "End": true}}}
END

my $http = <<'END';
    sfn_zone          sfn 4m;
    sfn_database      "%%DATABASE%%";
    sfn_thread_pool   sfn;
    sfn_bucket        source %%DIR%%/source;
    sfn_state_machine echo %%DIR%%/conf/echo.asl.json;

    server {
        listen 127.0.0.1:%%PORT%%;

        sfn_api_key hostile-key;

        location = /       { sfn_aws_api; }
        location /start/   { sfn_start; }
        location /executions/ { sfn_api; }
    }
END

$t->nginx_start($http, workers => 1);

my $json = $t->json;
my $sm = 'arn:aws:states:us-east-1:000000000000:stateMachine:echo';
my %key = ('X-Api-Key' => 'hostile-key');

sub log_clean {
    my ($what) = @_;
    my $log = $t->read_file('logs/error.log') // '';
    my @bad = grep { !/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[([a-z]+)\] /
                     || $1 =~ /^(crit|alert|emerg)$/
                     || /exited on signal/ }
              split /\n/, $log;
    ok(!@bad, "$what: a clean error log") or diag(join "\n", @bad);
}

# raw bytes: the body is built by hand, never through an encoder

sub aws_raw {
    my ($op, $body) = @_;
    return $t->http('POST', '/', $body,
                    { 'X-Amz-Target' => "AWSStepFunctions.$op",
                      'Content-Type' => 'application/x-amz-json-1.0', %key });
}

sub aws {
    my ($op, $body) = @_;
    return aws_raw($op, $json->encode($body))->{json};
}

sub executions {
    return $t->psql('SELECT count(*) FROM sfn_executions');
}

my @acked;

sub start_raw {
    my ($what, $input, $name) = @_;
    my $body = qq({"stateMachineArn":"$sm","name":"$name","input":"$input"});
    my $r = aws_raw('StartExecution', $body);
    push @acked, [$what, $r->{json}{executionArn}] if $r->{status} == 200;
    return $r;
}

my $before = executions();

# input bytes that are not UTF-8, inside the input string of the body

my %bad = (
    'a lone 0xff'           => '{\"a\":\"' . "\xff" . '\"}',
    'a cut 2-byte sequence' => '{\"a\":\"' . "\xc3" . '\"}',
    'an overlong "/"'       => '{\"a\":\"' . "\xc0\xaf" . '\"}',
    'a UTF-16 surrogate'    => '{\"a\":\"' . "\xed\xa0\x80" . '\"}',
    'past U+10FFFF'         => '{\"a\":\"' . "\xf4\x90\x80\x80" . '\"}',
    'a 0xfe member name'    => '{\"' . "\xfe" . '\":1}',
);

my $n = 0;
for my $what (sort keys %bad) {
    $n++;
    my $r = start_raw($what, $bad{$what}, "utf8-$n");
    is($r->{status}, 400, "input with $what: 400");
    is($r->{json}{__type}, 'InvalidExecutionInput', 'InvalidExecutionInput');
}

# a name that is not UTF-8

my $r = aws_raw('StartExecution',
                qq({"stateMachineArn":"$sm","name":"n\xff","input":"{}"}));
is($r->{status}, 400, 'a name with 0xff: 400');
is($r->{json}{__type}, 'InvalidName', 'InvalidName');
push @acked, ['a 0xff name', $r->{json}{executionArn}] if $r->{status} == 200;

# elsewhere in a body: a state machine name, the REST start

$r = aws_raw('CreateStateMachine',
             '{"name":"m' . "\xff" . '","roleArn":"arn:aws:iam::000000000000:'
             . 'role/r","definition":"{\"StartAt\":\"P\",\"States\":{\"P\":'
             . '{\"Type\":\"Pass\",\"End\":true}}}"}');
is($r->{status}, 400, 'CreateStateMachine with a 0xff name: 400');
is($r->{json}{__type}, 'InvalidName', 'InvalidName');
is($t->psql("SELECT count(*) FROM sfn_state_machines WHERE name LIKE 'm%'"),
   0, 'none created');

$r = $t->http('POST', '/start/echo', qq({"bucket":"source","key":"k\xff"}),
              \%key);
is($r->{status}, 400, 'a REST start with a 0xff key: 400');
push @acked, ['a 0xff key', $r->{json}{executionArn}] if $r->{status} == 200;

# the other members: a definition, a tag, a member name, a task's output,
# StartSyncExecution; a REST start with the bytes elsewhere than the key

my $def = '{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",'
          . '\"Result\":\"' . "\xff" . '\",\"End\":true}}}';
$r = aws_raw('CreateStateMachine',
             '{"name":"d","roleArn":"arn:aws:iam::000000000000:role/r",'
             . qq("definition":"$def"}));
is($r->{json}{__type}, 'InvalidDefinition',
   'a definition with 0xff: InvalidDefinition');
$r = aws_raw('ValidateStateMachineDefinition', qq({"definition":"$def"}));
is($r->{json}{__type}, 'InvalidDefinition',
   'ValidateStateMachineDefinition of it: InvalidDefinition');
$r = aws_raw('CreateStateMachine',
             '{"name":"t","roleArn":"arn:aws:iam::000000000000:role/r",'
             . '"definition":"{\"StartAt\":\"P\",\"States\":{\"P\":'
             . '{\"Type\":\"Pass\",\"End\":true}}}",'
             . qq("tags":[{"key":"k","value":"v\xff"}]}));
is($r->{status}, 400, 'a tag with 0xff: 400');
is($r->{json}{__type}, 'SerializationException', 'SerializationException');
$r = aws_raw('ListExecutions', qq({"stateMachineArn":"$sm","\xfe":1}));
is($r->{json}{__type}, 'SerializationException',
   'a 0xfe member name: SerializationException');
$r = aws_raw('SendTaskSuccess', qq({"taskToken":"t","output":"\\"\xff\\""}));
is($r->{json}{__type}, 'InvalidOutput', 'a task output with 0xff: InvalidOutput');
$r = aws_raw('StartSyncExecution',
             qq({"stateMachineArn":"$sm","input":"\\"\xc3\\""}));
is($r->{json}{__type}, 'InvalidExecutionInput',
   'StartSyncExecution with a cut sequence: InvalidExecutionInput');
is($t->psql("SELECT count(*) FROM sfn_state_machines WHERE name <> 'echo'"),
   0, 'none created');

# a NUL escaped in the body itself, not in the JSON text it carries: cJSON
# would end the string there and start "n" for "n\u0000x"

$r = aws_raw('StartExecution',
             qq({"stateMachineArn":"$sm","name":"n\\u0000x","input":"{}"}));
is($r->{json}{__type}, 'InvalidName', 'a name with a NUL: InvalidName');
$r = aws_raw('StartExecution',
             qq({"stateMachineArn":"$sm","input":"{\\"a\\":\\"\\u0000\\"}"}));
is($r->{json}{__type}, 'InvalidExecutionInput',
   'a raw NUL in the input JSON text: InvalidExecutionInput');
$r = aws_raw('ListExecutions', qq({"stateMachineArn":"$sm\\u0000x"}));
is($r->{json}{__type}, 'SerializationException',
   'a NUL in an ARN: SerializationException');
$r = aws_raw('StartExecution',
             qq({"stateMachineArn":"$sm","name":"n\x01x","input":"{}"}));
is($r->{json}{__type}, 'SerializationException',
   'a raw control character in the body: SerializationException');
is(executions(), $before, 'none of them started');

$r = $t->http('POST', '/start/echo',
              qq({"bucket":"source","key":"k","note":"\xff"}), \%key);
is($r->{status}, 400, 'a REST start with 0xff in another member: 400');
push @acked, ['a 0xff note', $r->{json}{executionArn}] if $r->{status} == 200;

for my $m (['stateMachine', '{"stateMachine":"e\\u0000","bucket":"source",'
                            . '"key":"k"}', 404],
           ['bucket', '{"bucket":"s\\u0000","key":"k"}', 400],
           ['key', '{"bucket":"source","key":"k\\u0000"}', 400]) {
    my ($what, $body, $status) = @$m;
    my $path = $what eq 'stateMachine' ? '/start/' : '/start/echo';
    $r = $t->http('POST', $path, $body, \%key);
    is($r->{status}, $status, "a REST start with a NUL in the $what: $status");
    ok(utf8::decode(my $copy = $r->{content}), 'and a UTF-8 reply');
    push @acked, ["a NUL $what", $r->{json}{executionArn}]
        if $r->{status} == 200;
}

sleep 0.5;
is(executions(), $before, 'nothing recorded');

# an escaped NUL inside a string survives, as do other escapes

$r = start_raw('NUL',
               '{\\"s\\":\\"x\\\\u0000y\\",\\"t\\":\\"\\\\u00e9\\\\n\\"}',
               'nul');
is($r->{status}, 200, 'a NUL in a string: 200') or diag($r->{content});

my $d;
if ($r->{status} == 200) {
    for (1 .. 50) {
        $d = aws('DescribeExecution',
                 { executionArn => $r->{json}{executionArn} });
        last if ($d->{status} // '') ne 'RUNNING';
        sleep 0.1;
    }
}
is($d->{status}, 'SUCCEEDED', 'the NUL execution succeeded');
my $out = eval { $json->decode($d->{output} // 'null') } // {};
is($out->{t}, "\xc3\xa9\n", 'the other escapes come out whole');
is($out->{s}, "x\0y", '"x\u0000y" comes out whole');

# the same through the REST start: the engine's codec, not cJSON's

$r = $t->http('POST', '/start/echo',
              '{"bucket":"source","key":"k","note":"x\\u0000y"}', \%key);
is($r->{status}, 200, 'a REST start with a NUL in a string: 200')
    or diag($r->{content});
my $rest = $r->{json}{executionArn} // '';
push @acked, ['a REST NUL', $rest] if $r->{status} == 200;
for (1 .. 50) {
    $d = aws('DescribeExecution', { executionArn => $rest });
    last if ($d->{status} // '') ne 'RUNNING';
    sleep 0.1;
}
is($d->{status}, 'SUCCEEDED', 'the REST NUL execution succeeded');
$out = eval { $json->decode($d->{output} // 'null') } // {};
is($out->{note}, "x\0y", 'and its "x\u0000y" comes out whole');
my $job = $r->{json}{jobId} // '';
$d = $t->wait_execution($job, 10, '/executions/', \%key);
is($d->{input}{note}, "x\0y", 'and the REST API shows it in the input');
is($d->{output}{note}, "x\0y", 'and in the output');

# PostgreSQL holds the NUL as the escape, never the bytes C0 80 (which it
# would refuse) nor a raw NUL

for my $arn ($acked[0][1], $rest) {
    is($t->psql("SELECT strpos(input, 'x\\u0000y') > 0 AND "
                . "strpos(output, 'x\\u0000y') > 0 FROM sfn_executions "
                . "WHERE arn = '$arn'"),
       't', "sfn_executions.input and output hold x\\u0000y ($arn)");
}

# every execution acknowledged is still there after a restart

$t->nginx_stop;
$t->nginx_start($http, workers => 1);

for my $a (@acked) {
    my ($what, $arn) = @$a;
    $d = aws('DescribeExecution', { executionArn => $arn });
    isnt($d->{__type} // '', 'ExecutionDoesNotExist',
         "acknowledged with $what: still exists after a restart");
}

log_clean('defect 4');

$t->stop;

done_testing;
