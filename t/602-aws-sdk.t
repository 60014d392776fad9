# The AWS SDK for JavaScript v3 (@aws-sdk/client-sfn) against the AWS API:
# CreateStateMachine, StartExecution, DescribeExecution, StartSyncExecution
# of an Express state machine (the reply carries the output), an error
# as the SDK raises it.  The SDK is installed into t/.node at test time;
# without the npm registry the test is skipped.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use IO::Socket::INET;

my $sdk = Sfn::Test::need_npm('@aws-sdk/client-sfn');

my $t = Sfn::Test->new;
my $dir = $t->dir;

$t->start($t->sfn_http(zone => '8m', buckets => [ scratch => 'scratch' ],
                       http => <<'END',
    sfn_express_log     on;
    sfn_aws_credentials AKIDSDKTEST secret-for-the-sdk;
END
                       server => "location = / { sfn_aws_api; }\n"),
          workers => 2);

my $port = $t->port;

$t->write_file('sdk.mjs', <<"END");
import { SFNClient, CreateStateMachineCommand, StartExecutionCommand,
         DescribeExecutionCommand, StartSyncExecutionCommand,
         ListStateMachinesCommand } from '$sdk/dist-cjs/index.js';

const out = {};
const client = new SFNClient({
    endpoint: 'http://127.0.0.1:$port',
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDSDKTEST',
                   secretAccessKey: 'secret-for-the-sdk' },
    /* the SDK would send StartSyncExecution to "sync-127.0.0.1" */
    disableHostPrefix: true,
    maxAttempts: 1,
});

const role = 'arn:aws:iam::000000000000:role/sdk';

const std = await client.send(new CreateStateMachineCommand({
    name: 'sdk-standard', roleArn: role,
    definition: JSON.stringify({ StartAt: 'P', States: { P: {
        Type: 'Pass', Parameters: { 'sum.\$': 'States.MathAdd(\$.a, \$.b)' },
        End: true } } }) }));
out.created = std.stateMachineArn;
out.creationDateIsDate = std.creationDate instanceof Date;

const exp = await client.send(new CreateStateMachineCommand({
    name: 'sdk-express', roleArn: role, type: 'EXPRESS',
    definition: JSON.stringify({ StartAt: 'Choose', States: {
        Choose: { Type: 'Choice', Choices: [
            { Variable: '\$.n', NumericGreaterThan: 10, Next: 'Big' } ],
            Default: 'Small' },
        Big: { Type: 'Pass', Result: 'big', ResultPath: '\$.size',
               End: true },
        Small: { Type: 'Fail', Error: 'TooSmall', Cause: 'n <= 10' } } }) }));

const st = await client.send(new StartExecutionCommand({
    stateMachineArn: std.stateMachineArn, name: 'sdk-1',
    input: JSON.stringify({ a: 2, b: 40 }) }));
out.started = st.executionArn;

let d;
for (let i = 0; i < 100; i++) {
    d = await client.send(new DescribeExecutionCommand({
        executionArn: st.executionArn }));
    if (d.status !== 'RUNNING') break;
    await new Promise(r => setTimeout(r, 100));
}
out.described = { status: d.status, output: JSON.parse(d.output),
                  startIsDate: d.startDate instanceof Date };

const s1 = await client.send(new StartSyncExecutionCommand({
    stateMachineArn: exp.stateMachineArn, input: JSON.stringify({ n: 42 }) }));
out.sync = { status: s1.status, output: JSON.parse(s1.output),
             name: s1.name, arn: s1.executionArn,
             billed: s1.billingDetails.billedDurationInMilliseconds };

const s2 = await client.send(new StartSyncExecutionCommand({
    stateMachineArn: exp.stateMachineArn, name: 'small-one',
    input: JSON.stringify({ n: 1 }) }));
out.syncFailed = { status: s2.status, error: s2.error, cause: s2.cause };

try {
    await client.send(new StartSyncExecutionCommand({
        stateMachineArn: std.stateMachineArn, input: '{}' }));
    out.syncStandard = 'no error';
} catch (e) {
    out.syncStandard = e.name;
}

try {
    await client.send(new DescribeExecutionCommand({
        executionArn: 'arn:aws:states:us-east-1:000000000000:execution:'
                      + 'sdk-standard:nope' }));
} catch (e) {
    out.missing = { name: e.name, status: e.\$metadata.httpStatusCode };
}

const bad = new SFNClient({
    endpoint: 'http://127.0.0.1:$port', region: 'us-east-1', maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDSDKTEST', secretAccessKey: 'wrong' } });
try {
    await bad.send(new ListStateMachinesCommand({}));
} catch (e) {
    out.badSecret = e.name;
}

console.log(JSON.stringify(out));
END

my $res = `node '$dir/sdk.mjs' 2>&1`;
is($?, 0, 'the SDK script ran') or diag($res);
my ($line) = grep { /^\{/ } split /\n/, $res;
my $out = eval { $t->json->decode($line // '') } // {};

my $acct = 'arn:aws:states:us-east-1:000000000000';
is($out->{created}, "$acct:stateMachine:sdk-standard", 'CreateStateMachine');
ok($out->{creationDateIsDate}, 'the SDK parsed creationDate as a date');
is($out->{started}, "$acct:execution:sdk-standard:sdk-1", 'StartExecution');
is($out->{described}{status}, 'SUCCEEDED', 'DescribeExecution');
is_deeply($out->{described}{output}, { sum => 42 }, 'output');
ok($out->{described}{startIsDate}, 'startDate parsed');

is($out->{sync}{status}, 'SUCCEEDED', 'StartSyncExecution SUCCEEDED');
is_deeply($out->{sync}{output}, { n => 42, size => 'big' },
          'its output in the reply');
like($out->{sync}{arn}, qr/^\Q$acct\E:express:sdk-express:[0-9a-f-]{36}$/,
     'executionArn');
ok(($out->{sync}{billed} // 0) >= 100 && $out->{sync}{billed} % 100 == 0,
   'billingDetails: 100 ms steps, 100 at least');
is_deeply($out->{syncFailed}, { status => 'FAILED', error => 'TooSmall',
                                cause => 'n <= 10' },
          'a failing sync execution: FAILED with error and cause');

# sfn_express_log: finished Express executions in PostgreSQL, written behind

my $logged;
for (1 .. 50) {
    $logged = $t->psql("SELECT string_agg(name || ' ' || status || ' ' "
                       . "|| coalesce(error, '-') || ' ' || input, ', ' "
                       . "ORDER BY status DESC) FROM sfn_executions "
                       . "WHERE state_machine = 'sdk-express' "
                       . "AND type = 'EXPRESS' AND stop_date IS NOT NULL");
    last if $logged =~ /,/;
    select undef, undef, undef, 0.1;
}
my $sync_name = ($out->{sync}{arn} // '') =~ s/.*://r;
is($logged, "$sync_name SUCCEEDED - {\"n\":42}, small-one FAILED TooSmall "
            . '{"n":1}', 'sfn_express_log wrote both Express executions');

is($out->{syncStandard}, 'StateMachineTypeNotSupported',
   'StartSyncExecution of a Standard state machine');
is_deeply($out->{missing}, { name => 'ExecutionDoesNotExist', status => 400 },
          'ExecutionDoesNotExist as the SDK raises it');
is($out->{badSecret}, 'InvalidSignatureException', 'a wrong secret');

# the SDKs' "sync-" host prefix reaches the same handler

my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die;
print $s "POST / HTTP/1.0\r\nHost: sync-127.0.0.1:$port\r\n"
    . "X-Amz-Target: AWSStepFunctions.StartSyncExecution\r\n"
    . "Content-Type: application/x-amz-json-1.0\r\n"
    . "Content-Length: 2\r\n\r\n{}";
my $reply = do { local $/; <$s> } // '';
like($reply, qr/^HTTP\/1\.1 400 .*"__type":"MissingAuthenticationTokenException"/s,
     'a "sync-" Host is answered by the API');

$t->stop;

done_testing;
