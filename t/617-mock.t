# sfn_mock_config: Step Functions Local's mock configuration.  A
# StartExecution (or StartSyncExecution) whose state machine ARN ends in
# "#TestCase" runs that test case: the Task states it names take their
# mocked responses by invocation (a Throw, then a Return, through Retry;
# states inside Parallel and Map), recorded as real task results are;
# the Lambda it stands for is unreachable, so only the mock succeeds.
# A test case the file lacks, an empty one, '#' twice, U+0000 or bytes
# that are not UTF-8 answer 400; a file that is malformed, or names a
# state that is not a Task of nginx.conf's machine, fails nginx -t with
# the reason and the line of sfn_mock_config.  A mocked Standard
# execution killed (-9) during a retry's back-off resumes with the
# invocations it had; a redriven one mocks again; machines of the API are
# checked at each start; the huge and the deeply nested.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use Sfn::Test;

my $t = Sfn::Test->new;
my $dir = $t->dir;
my $J = $t->json;

my $acct = 'arn:aws:states:us-east-1:000000000000';
my $fn = 'arn:aws:lambda:us-east-1:000000000000:function:Pay';
my $down = Sfn::Test::free_port();      # nothing listens there

my $lambda = sub {
    my (%o) = @_;
    return { Type => 'Task', Resource => 'arn:aws:states:::lambda:invoke',
             Parameters => { FunctionName => $fn, 'Payload.$' => '$' },
             %o };
};

# Lam: retried once, 2 s apart; Par: a built-in task in a branch; Each:
# a Lambda per item

my $def = { StartAt => 'Lam', States => {
    Lam => $lambda->(ResultSelector => { 'body.$' => '$.Payload.body' },
                     ResultPath => '$.lam',
                     Retry => [ { ErrorEquals => [ 'States.ALL' ],
                                  IntervalSeconds => 2, MaxAttempts => 2,
                                  BackoffRate => 1 } ],
                     Next => 'Par'),
    Par => { Type => 'Parallel', ResultPath => '$.par', Next => 'Each',
             Branches => [
                 { StartAt => 'Copy', States => {
                     Copy => { Type => 'Task', Resource => 'sfn:file:copy',
                               Parameters => {
                                   source => { bucket => 'b', key => 'no' },
                                   destination => { bucket => 'b',
                                                    key => 'x' } },
                               End => \1 } } },
                 { StartAt => 'Two', States => {
                     Two => { Type => 'Pass', Result => 2, End => \1 } } } ] },
    Each => { Type => 'Map', ItemsPath => '$.items', MaxConcurrency => 1,
              ResultPath => '$.each', End => \1,
              Iterator => { StartAt => 'Item', States => {
                  Item => $lambda->(OutputPath => '$.Payload',
                                    End => \1) } } } } };
$t->write_file('conf/mocked.json', $J->encode($def));

my $xdef = { StartAt => 'Call', States => {
    Call => $lambda->(OutputPath => '$.Payload', End => \1) } };
$t->write_file('conf/quick.json', $J->encode($xdef));

my $ret = sub { { Return => { StatusCode => 200, Payload => $_[0] } } };
my $throw = sub { { Throw => { Error => $_[0], Cause => $_[1] } } };

my $mock = {
    StateMachines => {
        mocked => { TestCases => {
            Happy => { Lam => 'LamRetry', Copy => 'Copied',
                       Item => 'Items' },
            Fails => { Lam => 'LamDown' },
            Short => { Lam => 'LamOk', Copy => 'Copied',
                       Item => 'OneItem' },
            Empty => {} } },
        quick => { TestCases => { Quick => { Call => 'Called' } } },
        apim => { TestCases => { Ghost => { Nope => 'LamOk' },
                                 Good => { Call => 'Called' } } } },
    MockedResponses => {
        LamRetry => { 0 => $throw->('Lambda.ServiceException', 'first'),
                      1 => $ret->({ body => 'second' }) },
        LamDown => { '0-2' => $throw->('Lambda.ServiceException', 'down') },
        LamOk => { 0 => $ret->({ body => 'ok' }) },
        Copied => { 0 => { Return => { copied => \1 } } },
        Items => { '0-1' => $ret->('a'), 2 => $ret->('b') },
        OneItem => { 0 => $ret->('only') },
        Called => { 0 => $ret->({ quick => \1 }) } } };
$t->write_file('conf/mock.json', $J->encode($mock));

my $http = sub {
    my ($file) = @_;
    return $t->sfn_http(
        zone => '8m', buckets => [ b => 'b' ],
        machines => [ mocked => 'mocked.json',
                      quick => 'quick.json type=express' ],
        http => "    sfn_integration   arn:aws:lambda:*:*:function:* "
                . "http://127.0.0.1:$down/fn timeout=2s;\n"
                . ($file ? "    sfn_mock_config   %%DIR%%/conf/$file;\n"
                         : ''),
        server => "location = / { sfn_aws_api; }\n");
};

# nginx -t, in a prefix of its own: every malformed file refused with its
# reason and line

$t->pg_start;
my $c = $t->node;
$c->write_file("conf/$_", $t->read_file("conf/$_"))
    for qw(mocked.json quick.json mock.json);

my ($rc, $out) = $c->nginx_test($http->('mock.json'));
is($rc, 0, 'nginx -t accepts the mock configuration') or diag($out);

sub refused {
    my ($text, $re, $name) = @_;
    $c->write_file('conf/bad.json', ref $text ? $J->encode($text) : $text);
    my ($rc, $out) = $c->nginx_test($http->('bad.json'));
    ok($rc != 0 && $out =~ /sfn_mock_config ".*bad\.json": /
       && $out =~ $re && $out =~ /nginx\.conf:\d+/, $name)
        or diag($out);
}

my %ok_sms = (mocked => { TestCases => { T => { Lam => 'R' } } });
my %ok_mrs = (R => { 0 => $ret->(1) });

refused("{\"StateMachines\": {\n  \"a\": [1,,]\n}}",
        qr/not JSON: a syntax error at line 2, column 11/,
        'a syntax error: its line and column');
refused('', qr/not JSON/, 'an empty file');
refused("{\"StateMachines\":{},\"MockedResponses\":{}} x",
        qr/not strict JSON/, 'text after the value');
refused("{\"StateMachines\":{\"\xff\":{}},\"MockedResponses\":{}}",
        qr/not strict JSON/, 'bytes that are not UTF-8');
refused('[]', qr/not a JSON object/, 'not an object');
refused({ StateMachines => {}, MockedResponse => {} },
        qr/unknown field "MockedResponse"/,
        'a misspelt top-level field');
refused({ StateMachines => {} }, qr/needs "StateMachines" and "Mocked/,
        'MockedResponses missing');
refused('{"StateMachines":{},"StateMachines":{},"MockedResponses":{}}',
        qr/the field "StateMachines" twice/, 'a field given twice');
refused({ StateMachines => { mocked => { TestCases => {
              T => { Lam => 'Missing' } } } }, MockedResponses => {} },
        qr/names the mocked response "Missing", which MockedResponses/,
        'a mocked response that is not there');
refused({ StateMachines => { mocked => { TestCases => {
              T => { Ghost => 'R' } } } }, MockedResponses => \%ok_mrs },
        qr/mocks the state "Ghost", which the state machine does not have/,
        'a state the machine does not have');
refused({ StateMachines => { mocked => { TestCases => {
              T => { Two => 'R' } } } }, MockedResponses => \%ok_mrs },
        qr/"Two", a Pass state: only Task states are mocked/,
        'a Pass state');
refused({ StateMachines => \%ok_sms,
          MockedResponses => { R => { 0 => $ret->(1), 2 => $ret->(2) } } },
        qr/"2" leaves a gap, where invocation 1 was expected/,
        'a gap between invocations');
refused({ StateMachines => \%ok_sms,
          MockedResponses => { R => { '0-2' => $ret->(1),
                                      '1' => $ret->(2) } } },
        qr/overlaps/, 'invocations that overlap');
refused({ StateMachines => \%ok_sms,
          MockedResponses => { R => { 1 => $ret->(1) } } },
        qr/"1" leaves a gap, where invocation 0/, 'not from 0');
for my $k ('2-1', '-1', '1-', 'x', '0-1-2', ' 0', '01234567890', '') {
    refused({ StateMachines => \%ok_sms,
              MockedResponses => { R => { $k => $ret->(1) } } },
            qr/an invocation is a number/, "invocation key \"$k\"");
}
refused({ StateMachines => \%ok_sms,
          MockedResponses => { R => { 0 => { %{ $ret->(1) },
                                             %{ $throw->('E', 'c') } } } } },
        qr/either "Return" or "Throw"/, 'Return and Throw both');
refused({ StateMachines => \%ok_sms,
          MockedResponses => { R => { 0 => { Throw => { Error => 'E' } } } } },
        qr/needs "Error" and "Cause"/, 'Throw without its Cause');
refused({ StateMachines => \%ok_sms,
          MockedResponses => { R => { 0 => { Result => 1 } } } },
        qr/unknown field "Result"/, 'neither Return nor Throw');
refused({ StateMachines => \%ok_sms, MockedResponses => { R => {} } },
        qr/an object of responses by invocation/, 'no response at all');
refused({ StateMachines => { mocked => { TestCases => {
              'a#b' => { Lam => 'R' } } } }, MockedResponses => \%ok_mrs },
        qr/a test case name cannot contain '#'/, "'#' in a test case name");
refused('{"StateMachines":{"mocked":{"TestCases":{"T":{"La\u0000m":"R"}}}},'
        . '"MockedResponses":{"R":{"0":{"Return":1}}}}',
        qr/state "La\\u0000m" contains U\+0000/, 'U+0000 in a state name');
refused('{"StateMachines":{"mocked":{"TestCases":{"T":{},"T":{}}}},'
        . '"MockedResponses":{}}',
        qr/test case "T" is given twice/, 'a test case given twice');
refused({ StateMachines => \%ok_sms,
          MockedResponses => { R => { 0 => $ret->('x' x 262200) } } },
        qr/longer than a task result may be/, 'a Return over 256 KiB');
refused({ StateMachines => \%ok_sms,
          MockedResponses => { R => { 0 => $throw->('E' x 257, 'c') } } },
        qr/"Error" must be 1 to 256 characters/, 'an Error too long');

# deep nesting: past the parser's depth it is refused, within it it loads

refused('{"StateMachines":{},"MockedResponses":{"R":{"0":{"Return":'
        . ('[' x 5000) . (']' x 5000) . '}}}}',
        qr/not JSON/, 'a Return nested 5000 deep');

# huge: past 16 MiB refused before it is parsed; 30,000 test cases load

$c->write_file('conf/bad.json', ' ' x (16 * 1024 * 1024 + 1));
($rc, $out) = $c->nginx_test($http->('bad.json'));
ok($rc != 0 && $out =~ /mock configuration ".*bad\.json" is larger than 16 MiB/,
   'a file over 16 MiB') or diag($out);

my %many = map { ("T$_" => { Lam => "R$_" }) } 1 .. 30000;
$c->write_file('conf/many.json', $J->encode({
    StateMachines => { mocked => { TestCases => \%many },
                       %{ { map { ("m$_" => { TestCases => {} }) } 1 .. 100 } } },
    MockedResponses => { map { ("R$_" => { "0-$_" => $ret->($_) }) }
                         1 .. 30000 } }));
my $t0 = time;
($rc, $out) = $c->nginx_test($http->('many.json'));
my $took = time - $t0;
is($rc, 0, sprintf('30,000 test cases (%.1f MB) load, in %.1f s',
                   (-s $c->dir . '/conf/many.json') / 1e6, $took))
    or diag($out);
# each member found by a scan of its object took 110 s here; sorted, 2 s
ok($took < 30, 'in less than 30 s: nothing quadratic in the file\'s size');

# running

$t->nginx_start($http->('mock.json'), workers => 2);
mkdir "$dir/b";

sub api { return $t->aws_api(@_) }

sub settle { return $t->aws_settle(@_) }

sub start {
    my ($arn, $name, $input) = @_;
    return api('StartExecution', { stateMachineArn => $arn,
                                   ($name ? (name => $name) : ()),
                                   input => $J->encode($input // {}) });
}

sub events {
    my ($arn, $where) = @_;
    return $t->psql("SELECT string_agg(type, ',' ORDER BY id) FROM "
                    . "sfn_events WHERE execution_arn = '$arn'"
                    . ($where ? " AND $where" : ''));
}

my $in = { items => [ 1, 2, 3 ] };

# without a test case the Lambda is called, and cannot be reached

my ($st, $r) = start("$acct:stateMachine:mocked", 'real', $in);
my $d = settle($r->{executionArn}, 40);
is_deeply([ @$d{qw(status error)} ], [ 'FAILED', 'Lambda.SdkClientException' ],
          'unmocked: the Lambda cannot be reached');

# Happy: a Throw retried, then a Return; a built-in task in a Parallel
# branch; a Lambda per Map item, invocations 0-1 then 2

($st, $r) = start("$acct:stateMachine:mocked#Happy", 'happy', $in);
is($st, 200, 'StartExecution with #Happy');
my $happy = $r->{executionArn};
is($happy, "$acct:execution:mocked:happy",
   'its execution ARN is the machine\'s');
$d = settle($happy);
is($d->{status}, 'SUCCEEDED', 'the mocked execution succeeds')
    or diag(explain $d);
is_deeply($J->decode($d->{output} // 'null'),
          { items => [ 1, 2, 3 ], lam => { body => 'second' },
            par => [ { copied => \1 }, 2 ], each => [ 'a', 'a', 'b' ] },
          'ResultSelector, ResultPath, OutputPath applied to the mocks');
is($d->{stateMachineArn}, "$acct:stateMachine:mocked",
   'DescribeExecution: the state machine ARN without the test case');
is(events($happy, "details::text LIKE '%lambda%'"),
   'TaskScheduled,TaskStarted,TaskFailed,TaskScheduled,TaskStarted,'
   . 'TaskSucceeded,' . join(',', ('TaskScheduled,TaskStarted,TaskSucceeded')
                             x 3),
   'Task events as a real Lambda has them, the retry included');
is($t->psql("SELECT details->'taskFailedEventDetails'->>'cause' FROM "
            . "sfn_events WHERE execution_arn = '$happy' "
            . "AND type = 'TaskFailed'"), 'first',
   'the Throw\'s Cause in TaskFailed');
is_deeply($J->decode($t->psql("SELECT details->'taskSucceededEventDetails'"
                              . "->>'output' FROM sfn_events WHERE "
                              . "execution_arn = '$happy' AND type = "
                              . "'TaskSucceeded' ORDER BY id LIMIT 1")),
          { StatusCode => 200, Payload => { body => 'second' } },
          'TaskSucceeded holds the Return as given, before ResultSelector');
is($t->psql("SELECT mock_test_case FROM sfn_executions "
            . "WHERE arn = '$happy'"), 'Happy', 'the test case is kept');
($st, $r) = api('ListExecutions',
                { stateMachineArn => "$acct:stateMachine:mocked" });
ok((grep { $_->{name} eq 'happy' } @{ $r->{executions} }),
   'ListExecutions of the machine lists it');

# Fails: every invocation throws, the retries take invocations 0-2

($st, $r) = start("$acct:stateMachine:mocked#Fails", 'fails', $in);
my $fails = $r->{executionArn};
$d = settle($fails);
is_deeply([ @$d{qw(status error cause)} ],
          [ 'FAILED', 'Lambda.ServiceException', 'down' ],
          'retries exhausted on mocked Throws');
is(events($fails, "type = 'TaskFailed'"), 'TaskFailed,TaskFailed,TaskFailed',
   'three attempts, invocations 0-2');

# Short: a Map item past the mocked invocations fails the execution

($st, $r) = start("$acct:stateMachine:mocked#Short", 'short', $in);
$d = settle($r->{executionArn});
is($d->{error}, 'States.Runtime', 'past the last invocation: States.Runtime');
like($d->{cause} // '', qr/The mocked response 'OneItem' of test case 'Short' has no response for invocation 1 of the state \(it answers invocations 0 to 0\)/,
     'its cause names the response, the test case and the invocation');

# Empty: a test case that mocks nothing runs the real tasks

($st, $r) = start("$acct:stateMachine:mocked#Empty", 'empty', $in);
$d = settle($r->{executionArn}, 40);
is($d->{error}, 'Lambda.SdkClientException', 'an empty test case mocks nothing');

# StartSyncExecution of an Express machine, and StartExecution of it

($st, $r) = api('StartSyncExecution',
                { stateMachineArn => "$acct:stateMachine:quick#Quick",
                  input => '{}' });
is_deeply([ $st, $r->{status}, $r->{output} ], [ 200, 'SUCCEEDED',
          '{"quick":true}' ], 'StartSyncExecution with #Quick');
is($r->{stateMachineArn}, "$acct:stateMachine:quick",
   'its stateMachineArn without the test case');
my $ok = 0;
for (1 .. 30) {
    ($st, $r) = api('StartSyncExecution',
                    { stateMachineArn => "$acct:stateMachine:quick#Quick",
                      input => '{}' });
    $ok++ if ($r->{status} // '') eq 'SUCCEEDED';
}
is($ok, 30, '30 more, each with its own invocation 0');
($st, $r) = api('StartSyncExecution',
                { stateMachineArn => "$acct:stateMachine:quick",
                  input => '{}' });
is($r->{error}, 'Lambda.SdkClientException', 'and without it: real');
($st, $r) = start("$acct:stateMachine:quick#Quick", 'q1');
$d = settle($r->{executionArn});
is($d->{output}, '{"quick":true}', 'an Express StartExecution mocked');

# 400s

sub bad {
    my ($arn, $re, $name, $op) = @_;
    my ($st, $r) = api($op // 'StartExecution',
                       { stateMachineArn => $arn, input => '{}' });
    ok($st == 400 && ($r->{__type} // '') eq 'InvalidArn'
       && ($r->{message} // '') =~ $re, $name)
        or diag("$st " . $J->encode($r // {}));
}

bad("$acct:stateMachine:mocked#Nope",
    qr/Invalid Arn: '\Q$acct\E:stateMachine:mocked#Nope': the mock configuration has no test case 'Nope' for state machine 'mocked'/,
    'a test case the file lacks');
bad("$acct:stateMachine:quick#Nope", qr/no test case 'Nope'/,
    'StartSyncExecution: a test case the file lacks', 'StartSyncExecution');
bad("$acct:stateMachine:mocked#", qr/the test case name after '#' is empty/,
    "'#' and nothing after it");
bad("$acct:stateMachine:mocked#Happy#x", qr/cannot contain '#'/,
    "'#' twice");
bad("$acct:stateMachine:mocked##", qr/cannot contain '#'/, "'##'");
($st, $r) = start("$acct:stateMachine:mocked#Hap\x{0}py");
is_deeply([ $st, $r->{__type} ], [ 400, 'SerializationException' ],
          'U+0000 in the test case: the body is refused');
($st, $r) = start("$acct:stateMachine:mocked#" . ('x' x 5000));
is_deeply([ $st, $r->{__type} ], [ 400, 'ValidationException' ],
          'an ARN with its test case over 256 characters');
bad("$acct:stateMachine:mocked#" . ('x' x 180), qr/no test case 'x{180}'/,
    'a test case name of 180 characters');

my $raw = HTTP::Tiny->new(timeout => 10)->request('POST',
    "http://127.0.0.1:" . $t->port . '/',
    { headers => { 'Content-Type' => 'application/x-amz-json-1.0',
                   'X-Amz-Target' => 'AWSStepFunctions.StartExecution' },
      content => "{\"stateMachineArn\":\"$acct:stateMachine:mocked#\xff\xfe\"}" });
is($raw->{status}, 400, 'bytes that are not UTF-8 after #: 400');

($st, $r) = start("$acct:stateMachine:nope#Happy");
is($r->{__type}, 'StateMachineDoesNotExist',
   'a machine that does not exist, with a test case');

# a machine of the API: its test cases checked at each start

($st, $r) = api('CreateStateMachine', {
    name => 'apim', definition => $J->encode($xdef),
    roleArn => 'arn:aws:iam::000000000000:role/r' });
my $apim = $r->{stateMachineArn};
bad("$apim#Ghost",
    qr/test case "Ghost" of state machine "apim" mocks the state "Nope", which the state machine does not have/,
    'an API machine: a test case naming a state it lacks');
($st, $r) = start("$apim#Good", 'g1');
$d = settle($r->{executionArn});
is($d->{output}, '{"quick":true}', 'an API machine mocked');
($st, $r) = api('PublishStateMachineVersion', { stateMachineArn => $apim });
my $ver = $r->{stateMachineVersionArn};
($st, $r) = start("$ver#Good", 'g2');
$d = settle($r->{executionArn});
is($d->{output}, '{"quick":true}', 'a version\'s ARN with #Good');

# TestState's mock: the same engine hook, for one Task

my $task = $lambda->(ResultSelector => { 'b.$' => '$.Payload.b' },
                     ResultPath => '$.r', End => \1);
($st, $r) = api('TestState', { definition => $J->encode($task),
                               input => '{"in":1}',
                               inspectionLevel => 'DEBUG',
                               mock => { result => '{"Payload":{"b":7}}' } });
is_deeply([ $st, $r->{status}, $r->{output} ],
          [ 200, 'SUCCEEDED', '{"in":1,"r":{"b":7}}' ],
          'TestState with a mocked result: the Lambda is not called');
is_deeply([ @{ $r->{inspectionData} // {} }{qw(result afterResultSelector)} ],
          [ '{"Payload":{"b":7}}', '{"b":7}' ],
          'its inspection data: the result, then ResultSelector\'s');
($st, $r) = api('TestState', {
    definition => $J->encode($lambda->(
        Retry => [ { ErrorEquals => [ 'Lambda.TooManyRequestsException' ] } ],
        Catch => [ { ErrorEquals => [ 'States.ALL' ], Next => 'H' } ],
        End => \1)),
    mock => { errorOutput => { error => 'Lambda.TooManyRequestsException',
                               cause => 'slow down' } } });
is_deeply([ $st, @$r{qw(status error cause)} ],
          [ 200, 'RETRIABLE', 'Lambda.TooManyRequestsException',
            'slow down' ], 'a mocked error a Retry takes: RETRIABLE');
($st, $r) = api('TestState', {
    definition => $J->encode($lambda->(
        Catch => [ { ErrorEquals => [ 'States.ALL' ], Next => 'H' } ],
        End => \1)),
    mock => { errorOutput => { error => 'E', cause => 'c' } } });
is_deeply([ $st, @$r{qw(status nextState)} ], [ 200, 'CAUGHT_ERROR', 'H' ],
          'a mocked error a Catch takes: CAUGHT_ERROR');
($st, $r) = api('TestState', {
    definition => $J->encode({ Type => 'Task', End => \1,
        Resource => 'arn:aws:states:::lambda:invoke.waitForTaskToken',
        Parameters => { FunctionName => $fn,
                        'Payload' => { 'token.$' => '$$.Task.Token' } } }),
    mock => { result => '"done"' } });
is_deeply([ $st, @$r{qw(status output)} ], [ 200, 'SUCCEEDED', '"done"' ],
          '.waitForTaskToken with a mock is tested');
($st, $r) = api('TestState', {
    definition => $J->encode({ Type => 'Task', End => \1,
        Resource => 'arn:aws:states:::lambda:invoke.waitForTaskToken',
        Parameters => { FunctionName => $fn } }) });
is($r->{__type}, 'InvalidDefinition', 'and without one refused, as before');
for my $case ([ { Type => 'Pass', End => \1 }, { result => '1' },
                qr/a Task state's result only/, 'a mock for a Pass state' ],
              [ $task, { result => '{' }, qr/not JSON/,
                'a result that is not JSON' ],
              [ $task, { result => '1', errorOutput => { error => 'E' } },
                qr/either 'result' or 'errorOutput'/, 'both' ],
              [ $task, { fieldValidationMode => 'LAX', result => '1' },
                qr/enum value set/, 'fieldValidationMode out of its enum' ],
              [ $task, { result => $J->encode('x' x 262200) },
                qr/longer than a task result may be/,
                'a result over 256 KiB' ]) {
    ($st, $r) = api('TestState', { definition => $J->encode($case->[0]),
                                   mock => $case->[1] });
    ok($st == 400 && ($r->{message} // '') =~ $case->[2], $case->[3])
        or diag("$st " . $J->encode($r // {}));
}
($st, $r) = api('TestState', { definition => $J->encode($task),
                               mock => 'x' });
is($r->{__type}, 'SerializationException', 'a mock that is not an object');

# a redrive goes on mocked (unmocked it would fail otherwise)

($st, $r) = api('RedriveExecution', { executionArn => $fails });
is($st, 200, 'RedriveExecution of a mocked execution');
$d = settle($fails);
is_deeply([ @$d{qw(status error cause redriveCount)} ],
          [ 'FAILED', 'Lambda.ServiceException', 'down', 1 ],
          'the redrive mocks again, from invocation 0');

# kill -9 during Lam's retry back-off: it resumes with invocation 1

($st, $r) = start("$acct:stateMachine:mocked#Happy", 'killed', $in);
my $killed = $r->{executionArn};
$t->wait_sql("SELECT count(*) FROM sfn_events WHERE execution_arn = "
             . "'$killed' AND type = 'TaskFailed'", '1');
like($t->psql("SELECT snapshot FROM sfn_executions WHERE arn = '$killed'"),
     qr/"mockCalls":\{"Lam":1\}/, 'its snapshot counts the invocation');
kill 'KILL', $t->nginx_workers;
$d = settle($killed, 40);
is($d->{status}, 'SUCCEEDED', 'resumed after kill -9, still mocked')
    or diag(explain $d);
is_deeply($J->decode($d->{output} // 'null')->{lam}, { body => 'second' },
          'the second invocation\'s Return');
is(events($killed, "type IN ('TaskFailed', 'TaskSucceeded') AND details::text "
          . "LIKE '%\"lambda\"%' AND id < (SELECT min(id) FROM sfn_events "
          . "WHERE execution_arn = '$killed' AND type = 'ParallelStateEntered')"),
   'TaskFailed,TaskSucceeded', 'the Throw was not given again');

$t->stop(allow => qr/exited on signal 9/);

done_testing;
