# TestState, as the AWS API reference has it, driven by the JavaScript SDK
# (@aws-sdk/client-sfn, whose model has TestState) where npm can install
# it, and by the AWS JSON protocol otherwise: every inspection level, and
# Pass, Choice, Wait (which does not wait), Succeed, Fail and Task (a real
# sfn:http:invoke against this nginx, failing, retriable and caught);
# Map, Parallel and activity tasks refused; bad levels and inputs.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

my $t = Sfn::Test->new;

$t->start($t->sfn_http(zone => '8m', database => 0,
                       server => <<'END'));
client_max_body_size 4m;
location = / { sfn_aws_api; }
location = /echo {
    default_type application/json;
    return 200 '{"pong": true, "n": 7}';
}
END

my $port = $t->port;
my $role = 'arn:aws:iam::000000000000:role/test-state';
my $true = JSON::PP::true;

sub test_state {
    my ($state, $input, $level, %o) = @_;
    my ($s, $r) = $t->aws_api('TestState', {
        definition => ref $state ? $t->json->encode($state) : $state,
        roleArn => $role,
        (defined $input ? (input => $input) : ()),
        ($level ? (inspectionLevel => $level) : ()), %o });
    $r->{http} = $s;
    return $r;
}

sub js { $t->json->encode($_[0]) }

# Pass at every level (JSON::PP writes the members sorted: k before x;
# ResultPath puts the result in the raw input, not the InputPath's)

my $pass = { Type => 'Pass', InputPath => '$.a',
             Parameters => { 'x.$' => '$.b', 'k' => 1 },
             ResultPath => '$.r', OutputPath => '$.r', Next => 'After' };

for my $level (undef, 'INFO') {
    my $r = test_state($pass, '{"a": {"b": 5}}', $level);
    is($r->{status}, 'SUCCEEDED', 'Pass, ' . ($level // 'no level'));
    is($r->{output}, '{"k":1,"x":5}', 'its output');
    is($r->{nextState}, 'After', 'its nextState');
    ok(!exists $r->{inspectionData}, 'INFO: no inspectionData');
}

for my $level ('DEBUG', 'TRACE') {
    my $r = test_state($pass, '{"a": {"b": 5}}', $level);
    is(js($r->{inspectionData}), js({
        input => '{"a":{"b":5}}', afterInputPath => '{"b":5}',
        afterParameters => '{"k":1,"x":5}', result => '{"k":1,"x":5}',
        afterResultPath => '{"a":{"b":5},"r":{"k":1,"x":5}}' }),
       "$level: input, afterInputPath, afterParameters, result, "
       . "afterResultPath");
}

my $r = test_state({ Type => 'Pass', Result => { fixed => $true },
                     ResultPath => '$.f', End => $true }, '{"in": 1}',
                   'DEBUG');
is($r->{output}, '{"in":1,"f":{"fixed":true}}', 'Pass with Result, End');
ok(!exists $r->{nextState}, 'End: no nextState');

# Choice

my $choice = { Type => 'Choice', Default => 'Small', Choices => [
    { Variable => '$.n', NumericGreaterThan => 10, Next => 'Big' } ] };
is(test_state($choice, '{"n": 11}')->{nextState}, 'Big', 'Choice: a rule');
$r = test_state($choice, '{"n": 1}', 'DEBUG');
is("$r->{status} $r->{nextState} $r->{output}", 'SUCCEEDED Small {"n":1}',
   'Choice: the Default');
is($r->{inspectionData}{input}, '{"n":1}', 'Choice: its input');
delete $choice->{Default};
$r = test_state($choice, '{"n": 1}');
is("$r->{status} $r->{error}", 'FAILED States.NoChoiceMatched',
   'Choice: no match, no Default');

# Wait does not wait

my $t0 = time;
$r = test_state({ Type => 'Wait', Seconds => 3600, OutputPath => '$.w',
                  Next => 'Later' }, '{"w": {"v": 1}}', 'DEBUG');
ok(time - $t0 < 5, 'Wait of an hour answers at once');
is("$r->{status} $r->{nextState} $r->{output}",
   'SUCCEEDED Later {"v":1}', 'Wait: output and nextState');

# Succeed and Fail

$r = test_state({ Type => 'Succeed', InputPath => '$.s' }, '{"s": [1]}');
is("$r->{status} $r->{output}", 'SUCCEEDED [1]', 'Succeed');
ok(!exists $r->{nextState}, 'Succeed: no nextState');
$r = test_state({ Type => 'Fail', Error => 'Custom.Error',
                  Cause => 'because' }, '{}', 'DEBUG');
is("$r->{status} $r->{error} $r->{cause}", 'FAILED Custom.Error because',
   'Fail');
ok(!exists $r->{output}, 'Fail: no output');

# Task: a real HTTP invoke

my $task = { Type => 'Task', Resource => 'sfn:http:invoke',
             Parameters => { 'url' => "http://127.0.0.1:$port/echo",
                             'id.$' => '$.id' },
             ResultSelector => { 'got.$' => '$.n' },
             ResultPath => '$.res', Next => 'Done' };
$r = test_state($task, '{"id": 3}', 'DEBUG');
is("$r->{status} $r->{nextState}", 'SUCCEEDED Done', 'Task succeeded');
is($r->{output}, '{"id":3,"res":{"got":7}}', 'Task output');
my $d = $r->{inspectionData} // {};
is($d->{afterParameters},
   qq({"id":3,"url":"http://127.0.0.1:$port/echo"}), 'afterParameters');
like($d->{result} // '', qr/"n":7/, 'result: the raw reply');
is($d->{afterResultSelector}, '{"got":7}', 'afterResultSelector');
is($d->{afterResultPath}, '{"id":3,"res":{"got":7}}', 'afterResultPath');

my $down = { Type => 'Task', Resource => 'sfn:http:invoke',
             Parameters => { url => 'http://127.0.0.1:1/' }, Next => 'X' };
$r = test_state($down, '{}');
is("$r->{status} $r->{error}", 'FAILED States.TaskFailed', 'Task failed');
ok($r->{cause}, 'with a cause');

$r = test_state({ %$down, Retry => [ { ErrorEquals => [ 'States.ALL' ] } ] },
                '{}');
is($r->{status}, 'RETRIABLE', 'a retrier matches: RETRIABLE');
ok(!exists $r->{nextState}, 'RETRIABLE: no nextState');

$r = test_state({ %$down, Retry => [ { ErrorEquals => [ 'Other' ] },
                                     { ErrorEquals => [ 'States.ALL' ],
                                       MaxAttempts => 0 } ] }, '{}');
is($r->{status}, 'FAILED', 'no retrier matches (MaxAttempts 0): FAILED');

$r = test_state({ %$down, Catch => [ { ErrorEquals => [ 'States.ALL' ],
                                       ResultPath => '$.e',
                                       Next => 'Handler' } ] },
                '{"keep": 1}');
is("$r->{status} $r->{nextState}", 'CAUGHT_ERROR Handler', 'CAUGHT_ERROR');
like($r->{output} // '', qr/^\{"keep":1,"e":\{"Error":"States.TaskFailed"/,
     'the catcher output');
is($r->{error}, 'States.TaskFailed', 'and the error');

# refused

for my $bad ([ { Type => 'Map', ItemProcessor => { StartAt => 'P', States =>
                   { P => { Type => 'Pass', End => $true } } },
                 End => $true }, 'Map' ],
             [ { Type => 'Parallel', Branches => [], End => $true },
               'Parallel' ],
             [ { Type => 'Task', End => $true, Resource =>
                 'arn:aws:states:us-east-1:000000000000:activity:a' },
               'an activity' ],
             [ { Type => 'Task', End => $true,
                 Resource => 'sfn:http:invoke.waitForTaskToken' },
               '.waitForTaskToken' ],
             [ { Type => 'Pass', Next => 5 }, 'a bad Pass' ],
             [ '{"Type": ', 'not JSON' ])
{
    $r = test_state($bad->[0], '{}');
    is("$r->{http} $r->{__type}", '400 InvalidDefinition',
       "$bad->[1]: InvalidDefinition");
}

$r = test_state({ Type => 'Pass', End => $true }, '{}', 'LOUD');
is($r->{__type}, 'ValidationException', 'an unknown inspectionLevel');
$r = test_state({ Type => 'Pass', End => $true }, '{"a":');
is($r->{__type}, 'InvalidExecutionInput', 'input that is not JSON');
$r = test_state({ Type => 'Pass', End => $true }, undef);
is("$r->{status} $r->{output}", 'SUCCEEDED {}', 'no input: {}');

# hostile: a task that never answers, its client gone, huge, deep, NUL

my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Listen => 16, ReuseAddr => 1) or die;
my $sport = $silent->sockport;
my $hang = { Type => 'Task', Resource => 'sfn:http:invoke',
             TimeoutSeconds => 1, End => $true,
             Parameters => { url => "http://127.0.0.1:$sport/" } };

$t0 = time;
$r = test_state($hang, '{}');
is("$r->{status} $r->{error}", 'FAILED States.Timeout',
   'a task that never answers: its TimeoutSeconds');
ok(time - $t0 < 10, 'in time');

my $body = $t->json->encode({ definition => $t->json->encode(
    { %$hang, TimeoutSeconds => 30 }), input => '{}' });
for (1 .. 3) {
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die;
    print $c "POST / HTTP/1.1\r\nHost: x\r\n"
           . "X-Amz-Target: AWSStepFunctions.TestState\r\n"
           . "Content-Length: " . length($body) . "\r\n\r\n$body";
    sleep 0.3;
    close $c;
}
sleep 1;
$r = test_state($pass, '{"a": {"b": 1}}');
is($r->{status}, 'SUCCEEDED', 'clients gone with their tasks running: '
                              . 'the next TestState is answered');

$r = test_state('{"Type": "Pass", "End": true, "Comment": "'
                . ('x' x (1024 * 1024)) . '"}', '{}');
is($r->{__type}, 'ValidationException', 'a definition over 1 MiB');

$r = test_state('{"Type": "Pass", "End": true, "Result": '
                . ('[' x 5000) . (']' x 5000) . '}', '{}');
is("$r->{http} $r->{__type}", '400 InvalidDefinition',
   'a Result nested 5000 deep');

$r = test_state({ Type => 'Pass', End => $true }, '{"nul": "a\u0000b"}');
is("$r->{status} $r->{output}", 'SUCCEEDED {"nul":"a\u0000b"}',
   'an escaped NUL goes through');

# a state of a whole machine, by stateName

$r = test_state({ StartAt => 'A', States => {
    A => { Type => 'Pass', Next => 'B' },
    B => { Type => 'Pass', Result => 'b', Next => 'A' } } }, '{}', undef,
    stateName => 'B');
is("$r->{output} $r->{nextState}", '"b" A', 'stateName in a machine');

# the SDK's view (when t/.node has it: t/602-aws-sdk.t installs it); as
# StartSyncExecution, TestState goes to a "sync-" host without
# disableHostPrefix

SKIP: {
    my $sdk = "$Sfn::Test::ROOT/t/.node/aws-sdk/client-sfn/node_modules/"
              . '@aws-sdk/client-sfn';
    skip 'no @aws-sdk/client-sfn in t/.node', 3
        unless -d $sdk && !system('node -v >/dev/null 2>&1');

    my $def = $t->json->encode($task);
    $t->write_file('ts.mjs', <<"END");
import { SFNClient, TestStateCommand } from '$sdk/dist-cjs/index.js';
const client = new SFNClient({ endpoint: 'http://127.0.0.1:$port',
    region: 'us-east-1', maxAttempts: 1, disableHostPrefix: true,
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
const r = await client.send(new TestStateCommand({
    definition: '$def', roleArn: '$role', input: '{"id": 1}',
    inspectionLevel: 'DEBUG' }));
delete r.\$metadata;
console.log(JSON.stringify(r));
END
    my $dir = $t->dir;
    my $out = `node $dir/ts.mjs 2>&1`;
    my ($line) = grep { /^\{/ } split /\n/, $out;
    my $j = eval { $t->json->decode($line // '') } // {};
    is($j->{status}, 'SUCCEEDED', 'the SDK: TestState') or diag($out);
    is($j->{nextState}, 'Done', 'the SDK: nextState');
    is(join(',', sort keys %{ $j->{inspectionData} // {} }),
       'afterInputPath,afterParameters,afterResultPath,afterResultSelector,'
       . 'input,result', 'the SDK: inspectionData');
}

$t->stop;

done_testing;
