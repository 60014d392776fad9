# The AWS JSON 1.0 API driven by the real AWS CLI (--endpoint-url), signed
# with SigV4: state machines created, described, updated, listed, tagged
# and deleted; executions started, described, listed, stopped, their
# history read and paged; a .waitForTaskToken task completed with
# send-task-success.  Bad credentials, targets, bodies and names get AWS's
# error shapes and change nothing.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex sha256_hex);
use POSIX qw(strftime);
use Time::HiRes qw(sleep time);

my $AWS = `sh -c 'command -v aws'`;
chomp $AWS;

# a pyenv shim runs pyenv's shell scripts before the CLI, a second or
# more a call under load: the CLI it would run instead, the same one

if ($AWS =~ m{/shims/aws$}) {
    my $real = `pyenv which aws 2>/dev/null`;
    chomp $real;
    $AWS = $real if $real && -x $real;
}
plan skip_all => 'the AWS CLI is not installed (tools/install-deps)'
    unless $AWS;

my $t = Sfn::Test->new;
my $dir = $t->dir;

$t->write_file('conf/hello.asl.json', <<'END');
{"StartAt": "Hello",
 "States": {"Hello": {"Type": "Pass", "Result": {"hello": "world"},
                      "End": true}}}
END

$t->start($t->sfn_http(zone => '8m', buckets => [ scratch => 'scratch' ],
                       machines => [ hello => 'hello.asl.json' ],
                       http => <<'END', server => <<'END'), workers => 2);
    sfn_aws_credentials AKIDSFNTEST0000000001 sfn-secret-key/0123456789abcdef;
    sfn_aws_credentials AKIDSFNTEST0000000002 second-secret;
END
location = /        { sfn_aws_api; }
location = /metrics { sfn_metrics; }
END

# version 2 of the CLI would print dates as ISO 8601: as received instead

my $raw = `'$AWS' --version 2>&1` =~ m{aws-cli/1\.} ? 'none' : 'wire';
$t->write_file('aws-config', "[default]\ncli_timestamp_format = $raw\n");

my $port = $t->port;
my $endpoint = "http://127.0.0.1:$port";
my $json = $t->json;

my %env = (
    AWS_ACCESS_KEY_ID => 'AKIDSFNTEST0000000001',
    AWS_SECRET_ACCESS_KEY => 'sfn-secret-key/0123456789abcdef',
    AWS_DEFAULT_REGION => 'us-east-1',
    AWS_CONFIG_FILE => "$dir/aws-config",
    AWS_SHARED_CREDENTIALS_FILE => "$dir/aws-credentials",
    AWS_PAGER => '',
    AWS_MAX_ATTEMPTS => 1,
    AWS_RETRY_MODE => 'standard',
);

# aws stepfunctions ARGS: (exit code, decoded JSON or undef, stderr)

sub aws {
    my (@args) = @_;
    my %e = (%env, %{ ref $args[0] eq 'HASH' ? shift @args : {} });
    local @ENV{keys %e} = values %e;
    my $out = "$dir/aws.out";
    my $err = "$dir/aws.err";
    my @cmd = ($AWS, '--endpoint-url', $endpoint, '--output', 'json',
               'stepfunctions', @args);
    system(join(' ', map { my $a = $_; $a =~ s/'/'\\''/g; "'$a'" } @cmd)
           . " >$out 2>$err");
    my $rc = $? >> 8;
    my $o = $t->read_file($out) // '';
    my $d = $o =~ /\S/ ? eval { $json->decode($o) } : undef;
    return ($rc, $d, $t->read_file($err) // '');
}

sub wait_status {
    my ($arn, $timeout) = @_;
    my $deadline = time + ($timeout // 20);
    my $d;
    while (time < $deadline) {
        (undef, $d) = aws('describe-execution', '--execution-arn', $arn);
        return $d if $d && $d->{status} ne 'RUNNING';
        sleep 0.2;
    }
    return $d;
}

my $role = 'arn:aws:iam::000000000000:role/sfn-test';
my $acct = 'arn:aws:states:us-east-1:000000000000';

# a state machine with a callback task: the token goes out in Parameters

my $def = $json->encode({
    StartAt => 'Prepare',
    States => {
        Prepare => { Type => 'Pass', Parameters => { 'order.$' => '$.order' },
                     Next => 'WaitForApproval' },
        WaitForApproval => {
            Type => 'Task',
            Resource => 'sfn:file:delete.waitForTaskToken',
            Parameters => { bucket => 'scratch', key => 'none/nothing.txt',
                            'token.$' => '$$.Task.Token' },
            ResultPath => '$.approval',
            Next => 'Done' },
        Done => { Type => 'Succeed' },
    },
});
$t->write_file('approval.json', $def);

my ($rc, $r, $err) = aws('create-state-machine', '--name', 'approval',
                         '--definition', "file://$dir/approval.json",
                         '--role-arn', $role, '--tags',
                         'key=team,value=media');
is($rc, 0, 'create-state-machine') or diag($err);
is($r->{stateMachineArn}, "$acct:stateMachine:approval",
   'stateMachineArn in AWS form');
like($r->{creationDate}, qr/^\d{10}\.\d+$/, 'creationDate in epoch seconds');
my $sm = $r->{stateMachineArn};

($rc, $r) = aws('create-state-machine', '--name', 'approval',
                '--definition', "file://$dir/approval.json",
                '--role-arn', $role);
is($rc, 0, 'the same create again is idempotent');
is($r->{stateMachineArn}, $sm, 'same ARN');

($rc, $r, $err) = aws('create-state-machine', '--name', 'approval',
                      '--definition', '{"StartAt":"A","States":{"A":'
                      . '{"Type":"Succeed"}}}', '--role-arn', $role);
isnt($rc, 0, 'a different definition under the same name fails');
like($err, qr/StateMachineAlreadyExists/, 'StateMachineAlreadyExists');

($rc, $r, $err) = aws('create-state-machine', '--name', 'broken',
                      '--definition', '{"StartAt":"Nope","States":{"A":'
                      . '{"Type":"Succeed"}}}', '--role-arn', $role);
like($err, qr/InvalidDefinition.*Invalid State Machine Definition/,
     'InvalidDefinition with the reason') or diag($err);

($rc, $r, $err) = aws('create-state-machine', '--name', 'bad name!',
                      '--definition', "file://$dir/approval.json",
                      '--role-arn', $role);
like($err, qr/InvalidName/, 'InvalidName');

($rc, $r, $err) = aws('create-state-machine', '--name', 'hello',
                      '--definition', "file://$dir/approval.json",
                      '--role-arn', $role);
like($err, qr/StateMachineAlreadyExists/, 'nginx.conf names are taken');

is($t->psql("SELECT count(*) FROM sfn_state_machines WHERE source = 'api'"),
   1, 'one API state machine in PostgreSQL');

($rc, $r) = aws('describe-state-machine', '--state-machine-arn', $sm);
is($rc, 0, 'describe-state-machine');
is($r->{name}, 'approval', 'name');
is($r->{status}, 'ACTIVE', 'status');
is($r->{type}, 'STANDARD', 'type');
is($r->{roleArn}, $role, 'roleArn');
is_deeply($json->decode($r->{definition}), $json->decode($def), 'definition');

($rc, $r) = aws('describe-state-machine', '--state-machine-arn',
                "$acct:stateMachine:hello");
is($r->{name}, 'hello', 'describe a state machine of nginx.conf');

($rc, $r) = aws('list-state-machines');
is_deeply([ sort map { $_->{name} } @{ $r->{stateMachines} } ],
          [ 'approval', 'hello' ], 'list-state-machines');

($rc, $r) = aws('list-tags-for-resource', '--resource-arn', $sm);
is_deeply($r->{tags}, [ { key => 'team', value => 'media' } ],
          'tags from create');
($rc) = aws('tag-resource', '--resource-arn', $sm, '--tags',
            'key=stage,value=test');
is($rc, 0, 'tag-resource');
($rc, $r) = aws('list-tags-for-resource', '--resource-arn', $sm);
is_deeply([ sort map { "$_->{key}=$_->{value}" } @{ $r->{tags} } ],
          [ 'stage=test', 'team=media' ], 'list-tags-for-resource');
($rc) = aws('untag-resource', '--resource-arn', $sm, '--tag-keys', 'team');
($rc, $r) = aws('list-tags-for-resource', '--resource-arn', $sm);
is_deeply($r->{tags}, [ { key => 'stage', value => 'test' } ],
          'untag-resource');

# an execution waiting for its task token

($rc, $r, $err) = aws('start-execution', '--state-machine-arn', $sm,
                      '--name', 'order-1', '--input', '{"order":{"id":7}}');
is($rc, 0, 'start-execution') or diag($err);
is($r->{executionArn}, "$acct:execution:approval:order-1", 'executionArn');
like($r->{startDate}, qr/^\d{10}\.\d+$/, 'startDate');
my $e1 = $r->{executionArn};

($rc, $r) = aws('start-execution', '--state-machine-arn', $sm,
                '--name', 'order-1', '--input', '{"order":{"id":7}}');
is($r->{executionArn}, $e1, 'the same start again is idempotent');

($rc, $r, $err) = aws('start-execution', '--state-machine-arn', $sm,
                      '--name', 'order-1', '--input', '{"order":{"id":8}}');
like($err, qr/ExecutionAlreadyExists/, 'ExecutionAlreadyExists');

my $token;
for (1 .. 100) {
    ($rc, $r) = aws('get-execution-history', '--execution-arn', $e1);
    my ($ev) = grep { $_->{type} eq 'TaskScheduled' } @{ $r->{events} };
    if ($ev) {
        my $p = $json->decode($ev->{taskScheduledEventDetails}{parameters});
        $token = $p->{token};
        last;
    }
    sleep 0.1;
}
ok($token, 'the task token is in TaskScheduled parameters');

($rc, $r) = aws('describe-execution', '--execution-arn', $e1);
is($r->{status}, 'RUNNING', 'describe-execution: RUNNING');
is($r->{stateMachineArn}, $sm, 'stateMachineArn');
is_deeply($json->decode($r->{input}), { order => { id => 7 } }, 'input');

($rc, $r, $err) = aws('send-task-success', '--task-token', $token,
                      '--task-output', '{"approved":true}');
is($rc, 0, 'send-task-success') or diag($err);

$r = wait_status($e1);
is($r->{status}, 'SUCCEEDED', 'the execution SUCCEEDED');
is_deeply($json->decode($r->{output} // 'null'),
          { order => { id => 7 }, approval => { approved => JSON::PP::true } },
          'output carries the task result');
like($r->{stopDate}, qr/^\d{10}\.\d+$/, 'stopDate');

($rc, $r, $err) = aws('send-task-success', '--task-token', $token,
                      '--task-output', '{}');
like($err, qr/TaskTimedOut/, 'a token used twice: TaskTimedOut');

($rc, $r, $err) = aws('send-task-failure', '--task-token', 'no-such-token');
like($err, qr/TaskDoesNotExist/, 'an unknown token: TaskDoesNotExist');

sleep 0.5;

($rc, $r) = aws('get-execution-history', '--execution-arn', $e1);
my @types = map { $_->{type} } @{ $r->{events} };
is($types[0], 'ExecutionStarted', 'history starts with ExecutionStarted');
is($types[-1], 'ExecutionSucceeded', 'and ends with ExecutionSucceeded')
    or diag("@types");
ok((grep { $_ eq 'TaskSubmitted' || $_ eq 'TaskSucceeded' } @types),
   'task events') or diag("@types");
is($r->{events}[0]{id}, 1, 'ids from 1');
is($r->{events}[1]{previousEventId}, 1, 'previousEventId');
like($r->{events}[0]{timestamp}, qr/^\d{10}(\.\d+)?$/, 'timestamp');
is_deeply($json->decode($r->{events}[0]{executionStartedEventDetails}{input}),
          { order => { id => 7 } }, 'executionStartedEventDetails');
my $nevents = @types;

($rc, $r) = aws('get-execution-history', '--execution-arn', $e1,
                '--reverse-order');
is($r->{events}[0]{type}, 'ExecutionSucceeded', 'reverseOrder');

($rc, $r) = aws('get-execution-history', '--execution-arn', $e1,
                '--no-paginate', '--max-results', 2);
is(scalar @{ $r->{events} }, 2, 'maxResults');
ok($r->{nextToken}, 'nextToken');
my @paged = map { $_->{id} } @{ $r->{events} };
while ($r->{nextToken}) {
    ($rc, $r) = aws('get-execution-history', '--execution-arn', $e1,
                    '--no-paginate', '--max-results', 2, '--next-token',
                    $r->{nextToken});
    push @paged, map { $_->{id} } @{ $r->{events} };
}
is_deeply(\@paged, [ 1 .. $nevents ], 'the pages hold every event once');

($rc, $r) = aws('describe-state-machine-for-execution', '--execution-arn',
                $e1);
is($r->{name}, 'approval', 'describe-state-machine-for-execution');
like($r->{updateDate}, qr/^\d{10}\.\d+$/, 'updateDate');

# stop

($rc, $r) = aws('start-execution', '--state-machine-arn', $sm,
                '--name', 'order-2', '--input', '{"order":{"id":9}}');
my $e2 = $r->{executionArn};
sleep 0.3;
($rc, $r, $err) = aws('stop-execution', '--execution-arn', $e2,
                      '--error', 'Operator.Cancelled', '--cause',
                      'changed our mind');
is($rc, 0, 'stop-execution') or diag($err);
like($r->{stopDate}, qr/^\d{10}\.\d+$/, 'stopDate');
$r = wait_status($e2);
is($r->{status}, 'ABORTED', 'ABORTED');
is($r->{error}, 'Operator.Cancelled', 'with the error');
is($r->{cause}, 'changed our mind', 'and the cause');

# list-executions, filters and pages

aws('start-execution', '--state-machine-arn', $sm, '--name', "order-$_",
    '--input', '{"order":{}}') for 3 .. 5;
sleep 0.5;

($rc, $r) = aws('list-executions', '--state-machine-arn', $sm);
is(scalar @{ $r->{executions} }, 5, 'list-executions');
is($r->{executions}[0]{name}, 'order-5', 'newest first');
($rc, $r) = aws('list-executions', '--state-machine-arn', $sm,
                '--status-filter', 'SUCCEEDED');
is_deeply([ map { $_->{name} } @{ $r->{executions} } ], [ 'order-1' ],
          'statusFilter SUCCEEDED');
($rc, $r) = aws('list-executions', '--state-machine-arn', $sm,
                '--status-filter', 'ABORTED');
is_deeply([ map { $_->{name} } @{ $r->{executions} } ], [ 'order-2' ],
          'statusFilter ABORTED');
($rc, $r) = aws('list-executions', '--state-machine-arn', $sm,
                '--no-paginate', '--max-results', 2);
is(scalar @{ $r->{executions} }, 2, 'maxResults');
my @names = map { $_->{name} } @{ $r->{executions} };
while ($r->{nextToken}) {
    ($rc, $r) = aws('list-executions', '--state-machine-arn', $sm,
                    '--no-paginate', '--max-results', 2, '--next-token',
                    $r->{nextToken});
    push @names, map { $_->{name} } @{ $r->{executions} };
}
is_deeply([ sort @names ], [ map { "order-$_" } 1 .. 5 ], 'pages');

for my $n (3 .. 5) {
    aws('stop-execution', '--execution-arn', "$acct:execution:approval:order-$n");
}

# the state machine of nginx.conf

($rc, $r) = aws('start-execution', '--state-machine-arn',
                "$acct:stateMachine:hello");
is($rc, 0, 'start-execution of an nginx.conf state machine');
like($r->{executionArn}, qr/:execution:hello:[0-9a-f-]{36}$/,
     'a generated name');
$r = wait_status($r->{executionArn});
is($r->{status}, 'SUCCEEDED', 'it ran');
is($r->{output}, '{"hello":"world"}', 'output');

# names are unique per state machine: order-1 of "hello" is another one

($rc, $r, $err) = aws('start-execution', '--state-machine-arn',
                      "$acct:stateMachine:hello", '--name', 'order-1');
is($rc, 0, 'the name of an execution of another state machine is free')
    or diag($err);
is($r->{executionArn}, "$acct:execution:hello:order-1", 'its own ARN');
$r = wait_status($r->{executionArn});
is($r->{status}, 'SUCCEEDED', 'it ran');
($rc, $r) = aws('describe-execution', '--execution-arn', $e1);
is($r->{stateMachineArn}, $sm, 'the first order-1 is still approval\'s');

# update: new executions use the new revision

my $def2 = $def;
$def2 =~ s/"Done":\{"Type":"Succeed"\}/"Done":{"Type":"Pass","Result":"v2","ResultPath":"\$.version","End":true}/
    or die 'no Done state in definition';
$t->write_file('approval2.json', $def2);
($rc, $r, $err) = aws('update-state-machine', '--state-machine-arn', $sm,
                      '--definition', "file://$dir/approval2.json");
is($rc, 0, 'update-state-machine') or diag($err);
like($r->{updateDate}, qr/^\d{10}\.\d+$/, 'updateDate');
($rc, $r) = aws('describe-state-machine', '--state-machine-arn', $sm);
is_deeply($json->decode($r->{definition}), $json->decode($def2),
          'the new definition');

($rc, $r, $err) = aws('update-state-machine', '--state-machine-arn',
                      "$acct:stateMachine:hello", '--definition',
                      "file://$dir/approval2.json");
like($err, qr/ValidationException/, 'nginx.conf state machines are fixed');

($rc, $r, $err) = aws('validate-state-machine-definition', '--definition',
                      "file://$dir/approval2.json");

SKIP: {
    skip 'this CLI predates validate-state-machine-definition', 3
        if $err =~ /Invalid choice/;

    is($r->{result}, 'OK', 'validate-state-machine-definition OK');
    ($rc, $r) = aws('validate-state-machine-definition', '--definition',
                    '{"StartAt":"X","States":{}}');
    is($r->{result}, 'FAIL', 'validate: FAIL');
    ok($r->{diagnostics}[0]{code}, 'with a diagnostic code');
}

# errors, each from the CLI

($rc, $r, $err) = aws('describe-execution', '--execution-arn',
                      "$acct:execution:approval:nope");
like($err, qr/ExecutionDoesNotExist/, 'ExecutionDoesNotExist');
($rc, $r, $err) = aws('describe-state-machine', '--state-machine-arn',
                      "$acct:stateMachine:nope");
like($err, qr/StateMachineDoesNotExist/, 'StateMachineDoesNotExist');
($rc, $r, $err) = aws('start-execution', '--state-machine-arn',
                      "$acct:stateMachine:nope");
like($err, qr/StateMachineDoesNotExist/, 'start: StateMachineDoesNotExist');
($rc, $r, $err) = aws('describe-state-machine', '--state-machine-arn',
                      'arn:aws:lambda:us-east-1:000000000000:function:x');
like($err, qr/InvalidArn/, 'InvalidArn');
($rc, $r, $err) = aws('start-execution', '--state-machine-arn', $sm,
                      '--input', '{not json');
like($err, qr/InvalidExecutionInput/, 'InvalidExecutionInput');

# credentials

($rc, $r, $err) = aws({ AWS_SECRET_ACCESS_KEY => 'wrong' },
                      'list-state-machines');
like($err, qr/InvalidSignatureException/, 'wrong secret: InvalidSignature');
($rc, $r, $err) = aws({ AWS_ACCESS_KEY_ID => 'AKIDUNKNOWN',
                        AWS_SECRET_ACCESS_KEY => 'x' },
                      'list-state-machines');
like($err, qr/UnrecognizedClientException/, 'unknown key: UnrecognizedClient');
($rc, $r, $err) = aws('--no-sign-request', 'list-state-machines');
like($err, qr/MissingAuthenticationToken/, 'unsigned: MissingAuthenticationToken');
($rc, $r, $err) = aws({ AWS_ACCESS_KEY_ID => 'AKIDSFNTEST0000000002',
                        AWS_SECRET_ACCESS_KEY => 'second-secret' },
                      'list-state-machines');
is($rc, 0, 'the second key works too') or diag($err);

# raw requests, signed here, for what the CLI never sends

sub signed {
    my ($target, $body, %o) = @_;
    my $date = strftime('%Y%m%dT%H%M%SZ', gmtime(time + ($o{skew} // 0)));
    my $day = substr $date, 0, 8;
    my %h = ('content-type' => 'application/x-amz-json-1.0',
             'host' => "127.0.0.1:$port", 'x-amz-date' => $date);
    $h{'x-amz-target'} = "AWSStepFunctions.$target" if defined $target;
    my @names = sort keys %h;
    my $creq = join("\n", 'POST', '/', '',
                    (map { "$_:$h{$_}" } @names), '', join(';', @names),
                    sha256_hex($body));
    my $scope = "$day/us-east-1/states/aws4_request";
    my $sts = join("\n", 'AWS4-HMAC-SHA256', $date, $scope, sha256_hex($creq));
    my $k = hmac_sha256($day, 'AWS4' . $env{AWS_SECRET_ACCESS_KEY});
    $k = hmac_sha256($_, $k) for 'us-east-1', 'states', 'aws4_request';
    my %send = %h;
    delete $send{host};
    $send{authorization} = "AWS4-HMAC-SHA256 Credential="
        . "$env{AWS_ACCESS_KEY_ID}/$scope, SignedHeaders="
        . join(';', @names) . ', Signature=' . hmac_sha256_hex($sts, $k);
    return $t->http('POST', '/', $body, \%send);
}

sub counts {
    return $t->psql("SELECT (SELECT count(*) FROM sfn_executions) || ' ' || "
                    . "(SELECT count(*) FROM sfn_state_machines) || ' ' || "
                    . "(SELECT count(*) FROM sfn_events)");
}

my $before = counts();

$r = signed('ListStateMachines', '{}');
is($r->{status}, 200, 'a request signed here is accepted');
is($r->{headers}{'content-type'}, 'application/x-amz-json-1.0',
   'content type');

$r = signed('ListStateMachines', '{}', skew => -20 * 60);
is($r->{json}{__type}, 'InvalidSignatureException', 'a stale X-Amz-Date');

$r = signed(undef, '{}');
is($r->{status}, 400, 'missing target: 400');
is($r->{json}{__type}, 'UnknownOperationException',
   'missing target: UnknownOperationException');

$r = signed('DanceTheSamba', '{}');
is($r->{json}{__type}, 'UnknownOperationException', 'unknown operation');

$r = signed('StartExecution', '{"stateMachineArn": ');
is($r->{status}, 400, 'malformed body: 400');
is($r->{json}{__type}, 'SerializationException', 'SerializationException');
ok(defined $r->{json}{message}, 'with a message');

$r = signed('StartExecution', '[1,2]');
is($r->{json}{__type}, 'SerializationException', 'not an object');

$r = signed('StartExecution', $json->encode({
    stateMachineArn => "$acct:stateMachine:hello",
    input => $json->encode({ blob => 'x' x (300 * 1024) }) }));
is($r->{status}, 400, 'oversized input: 400');
is($r->{json}{__type}, 'ValidationException', 'ValidationException');
like($r->{json}{message}, qr/262144/, 'names the limit');

$r = signed('StartExecution', $json->encode({
    stateMachineArn => "$acct:stateMachine:hello", name => 'a:b' }));
is($r->{json}{__type}, 'InvalidName', 'a name with ":"');

$r = signed('StartExecution', $json->encode({ name => 'x' }));
is($r->{json}{__type}, 'ValidationException', 'missing stateMachineArn');

$r = signed('CreateStateMachine', $json->encode({
    name => 'late', definition => $def }));
is($r->{json}{__type}, 'ValidationException', 'missing roleArn');

$r = signed('SendTaskSuccess', $json->encode({
    taskToken => 'x', output => '{bad' }));
is($r->{json}{__type}, 'InvalidOutput', 'InvalidOutput');

$r = signed('ValidateStateMachineDefinition', $json->encode({
    definition => '{"StartAt":"X","States":{"Y":{"Type":"Succeed"}}}' }));
is($r->{json}{result}, 'FAIL', 'ValidateStateMachineDefinition: FAIL');
like($r->{json}{diagnostics}[0]{code} // '', qr/^[A-Z_]+$/,
     'with an AWS diagnostic code');

$r = $t->http('POST', '/', '{}',
              { 'X-Amz-Target' => 'AWSStepFunctions.ListStateMachines' });
is($r->{json}{__type}, 'MissingAuthenticationTokenException',
   'raw unsigned: MissingAuthenticationTokenException');

is(counts(), $before, 'nothing changed on error');

# delete

($rc) = aws('delete-state-machine', '--state-machine-arn', $sm);
is($rc, 0, 'delete-state-machine');
($rc, $r, $err) = aws('start-execution', '--state-machine-arn', $sm);
like($err, qr/StateMachineDoesNotExist/, 'gone');
($rc, $r, $err) = aws('delete-state-machine', '--state-machine-arn',
                      "$acct:stateMachine:hello");
like($err, qr/ValidationException/, 'nginx.conf state machines stay');

$t->stop;

done_testing;
