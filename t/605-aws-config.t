# Issue 16, fields accepted and then forgotten: the loggingConfiguration,
# tracingConfiguration and encryptionConfiguration of CreateStateMachine
# and UpdateStateMachine are checked against the AWS model's shapes, kept
# (sql/008) and described back by DescribeStateMachine and
# DescribeStateMachineForExecution; never set, logging and tracing are
# described with AWS's defaults.  StartExecution's traceHeader is kept and
# described back.  Bad shapes get AWS's errors and change nothing.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use Time::HiRes qw(sleep);

my $t = Sfn::Test->new;
$t->pg_start;

$t->write_file('conf/pass.asl.json', <<'END');
{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
END

my $conf = <<'END';
    sfn_zone          sfn 4m;
    sfn_database      "%%DATABASE%%";
    sfn_thread_pool   sfn;
    sfn_state_machine conf %%DIR%%/conf/pass.asl.json;

    server {
        listen 127.0.0.1:%%PORT%%;

        sfn_api_key config-key;

        location = /       { sfn_aws_api; }
    }
END

$t->nginx_start($conf, workers => 1);

my $acct = 'arn:aws:states:us-east-1:000000000000';
my $role = 'arn:aws:iam::000000000000:role/config';
my $pass = $t->read_file('conf/pass.asl.json');
my $group = 'arn:aws:logs:us-east-1:000000000000:log-group:sfn:*';
my $key = 'arn:aws:kms:us-east-1:000000000000:key/0000-1111';

# the body in UTF-8 (the harness's encoder leaves characters as they are)

my $utf8 = JSON::PP->new->utf8->canonical;

sub aws {
    my ($op, $body) = @_;
    my $r = $t->http('POST', '/', $utf8->encode($body),
                     { 'Content-Type' => 'application/x-amz-json-1.0',
                       'X-Amz-Target' => "AWSStepFunctions.$op",
                       'X-Api-Key' => 'config-key' });
    return ($r->{json} // {}, $r->{status});
}

sub describe {
    my ($name) = @_;
    return (aws('DescribeStateMachine',
                { stateMachineArn => "$acct:stateMachine:$name" }))[0];
}

my $off = { level => 'OFF', includeExecutionData => JSON::PP::false };
my $untraced = { enabled => JSON::PP::false };

# never set: AWS's defaults, no encryptionConfiguration

my ($r, $st) = aws('CreateStateMachine', { name => 'plain', roleArn => $role,
                                           definition => $pass });
is($st, 200, 'created without configurations') or diag(explain $r);
my $d = describe('plain');
is_deeply($d->{loggingConfiguration}, $off, 'plain: logging OFF');
is_deeply($d->{tracingConfiguration}, $untraced, 'plain: tracing disabled');
ok(!exists $d->{encryptionConfiguration}, 'plain: no encryption');

$d = describe('conf');
is_deeply($d->{loggingConfiguration}, $off, 'nginx.conf: logging OFF');
is_deeply($d->{tracingConfiguration}, $untraced,
          'nginx.conf: tracing disabled');

# given: described back as given

my $logging = { level => 'ERROR', includeExecutionData => JSON::PP::true,
                destinations => [ { cloudWatchLogsLogGroup =>
                                    { logGroupArn => $group } } ] };
my $encryption = { type => 'CUSTOMER_MANAGED_KMS_KEY', kmsKeyId => $key,
                   kmsDataKeyReusePeriodSeconds => 120 };

($r, $st) = aws('CreateStateMachine',
                { name => 'full', roleArn => $role, definition => $pass,
                  loggingConfiguration => $logging,
                  tracingConfiguration => { enabled => JSON::PP::true },
                  encryptionConfiguration => $encryption });
is($st, 200, 'created with configurations') or diag(explain $r);

$d = describe('full');
is_deeply($d->{loggingConfiguration}, $logging, 'full: logging as given');
is_deeply($d->{tracingConfiguration}, { enabled => JSON::PP::true },
          'full: tracing as given');
is_deeply($d->{encryptionConfiguration}, $encryption,
          'full: encryption as given');

($r) = aws('StartExecution', { stateMachineArn => "$acct:stateMachine:full",
                               name => 'one' });
ok($r->{executionArn}, 'an execution of full') or diag(explain $r);
my ($fe) = aws('DescribeStateMachineForExecution',
               { executionArn => $r->{executionArn} });
is_deeply([ @$fe{qw(loggingConfiguration tracingConfiguration
                    encryptionConfiguration)} ],
          [ $logging, { enabled => JSON::PP::true }, $encryption ],
          'DescribeStateMachineForExecution: the same configurations');

# members left out get the model's defaults; unknown members are dropped

aws('CreateStateMachine', { name => 'partial', roleArn => $role,
                            definition => $pass,
                            loggingConfiguration => { unknown => 1 },
                            tracingConfiguration => {},
                            encryptionConfiguration =>
                                { type => 'AWS_OWNED_KEY' } });
$d = describe('partial');
is_deeply($d->{loggingConfiguration}, $off, 'partial: logging defaults');
is_deeply($d->{tracingConfiguration}, $untraced, 'partial: tracing default');
is_deeply($d->{encryptionConfiguration}, { type => 'AWS_OWNED_KEY' },
          'partial: encryption as given');

# UpdateStateMachine replaces what it is given and keeps the rest

($r, $st) = aws('UpdateStateMachine',
                { stateMachineArn => "$acct:stateMachine:plain",
                  tracingConfiguration => { enabled => JSON::PP::true } });
is($st, 200, 'update of tracing alone') or diag(explain $r);
$d = describe('plain');
is_deeply($d->{tracingConfiguration}, { enabled => JSON::PP::true },
          'plain: tracing updated');
is_deeply($d->{loggingConfiguration}, $off, 'plain: logging kept');

($r, $st) = aws('UpdateStateMachine',
                { stateMachineArn => "$acct:stateMachine:plain",
                  loggingConfiguration => $logging,
                  encryptionConfiguration => $encryption });
is($st, 200, 'update of logging and encryption') or diag(explain $r);
$d = describe('plain');
is_deeply([ @$d{qw(loggingConfiguration tracingConfiguration
                   encryptionConfiguration)} ],
          [ $logging, { enabled => JSON::PP::true }, $encryption ],
          'plain: all three as updated');
is($d->{revisionId}, 3, 'plain: two updates, revision 3');

($r, $st) = aws('UpdateStateMachine',
                { stateMachineArn => "$acct:stateMachine:plain",
                  loggingConfiguration => undef });
is($r->{__type}, 'MissingRequiredParameter', 'update of nothing (null)');

# bad shapes: AWS's errors, nothing created or changed

my @bad = (
    [ 'level not in the enum', ValidationException =>
      qr/^1 validation error detected: Value 'DEBUG' at 'loggingConfiguration\.level' failed to satisfy constraint: Member must satisfy enum value set: \[ALL, ERROR, FATAL, OFF\]$/,
      loggingConfiguration => { level => 'DEBUG' } ],
    [ 'level a number', SerializationException =>
      qr/'loggingConfiguration\.level'/,
      loggingConfiguration => { level => 1 } ],
    [ 'includeExecutionData a string', SerializationException =>
      qr/'loggingConfiguration\.includeExecutionData'/,
      loggingConfiguration => { includeExecutionData => 'true' } ],
    [ 'loggingConfiguration an array', SerializationException =>
      qr/'loggingConfiguration'/, loggingConfiguration => [] ],
    [ 'destinations an object', SerializationException =>
      qr/'loggingConfiguration\.destinations'/,
      loggingConfiguration => { destinations => {} } ],
    [ 'level ALL without a destination', InvalidLoggingConfiguration =>
      qr/Log Destination/, loggingConfiguration => { level => 'ALL' } ],
    [ 'two destinations', InvalidLoggingConfiguration =>
      qr/exactly one Log Destination/,
      loggingConfiguration => { level => 'ALL', destinations => [
          { cloudWatchLogsLogGroup => { logGroupArn => $group } },
          { cloudWatchLogsLogGroup => { logGroupArn => $group } } ] } ],
    [ 'a destination without a log group', InvalidLoggingConfiguration =>
      qr/not valid/,
      loggingConfiguration => { level => 'ALL', destinations => [ {} ] } ],
    [ 'a destination a string', SerializationException =>
      qr/destinations\.member/,
      loggingConfiguration => { level => 'ALL', destinations => [ 'x' ] } ],
    [ 'a log group ARN of 257 characters', ValidationException =>
      qr/logGroupArn' failed to satisfy constraint: Member must have length less than or equal to 256$/,
      loggingConfiguration => { level => 'ALL', destinations => [
          { cloudWatchLogsLogGroup => { logGroupArn => 'arn:' . 'x' x 253 } } ] } ],
    [ 'an empty log group ARN', ValidationException =>
      qr/greater than or equal to 1$/,
      loggingConfiguration => { level => 'ALL', destinations => [
          { cloudWatchLogsLogGroup => { logGroupArn => '' } } ] } ],
    [ 'a log group that is no ARN', InvalidLoggingConfiguration =>
      qr/not valid/,
      loggingConfiguration => { level => 'ALL', destinations => [
          { cloudWatchLogsLogGroup => { logGroupArn => 'sfn' } } ] } ],
    [ 'enabled a string', SerializationException =>
      qr/'tracingConfiguration\.enabled'/,
      tracingConfiguration => { enabled => 'yes' } ],
    [ 'tracingConfiguration a boolean', SerializationException =>
      qr/'tracingConfiguration'/, tracingConfiguration => JSON::PP::true ],
    [ 'encryption without a type', ValidationException =>
      qr/^1 validation error detected: Value null at 'encryptionConfiguration\.type' failed to satisfy constraint: Member must not be null$/,
      encryptionConfiguration => { kmsKeyId => $key } ],
    [ 'a type not in the enum', ValidationException =>
      qr/Member must satisfy enum value set: \[AWS_OWNED_KEY, CUSTOMER_MANAGED_KMS_KEY\]$/,
      encryptionConfiguration => { type => 'NONE' } ],
    [ 'a customer key without its id', InvalidEncryptionConfiguration =>
      qr/kmsKeyId/,
      encryptionConfiguration => { type => 'CUSTOMER_MANAGED_KMS_KEY' } ],
    [ 'an AWS key with a key id', InvalidEncryptionConfiguration =>
      qr/AWS_OWNED_KEY/,
      encryptionConfiguration => { type => 'AWS_OWNED_KEY',
                                   kmsKeyId => $key } ],
    [ 'a reuse period of 59 s', ValidationException =>
      qr/Value '59' at 'encryptionConfiguration\.kmsDataKeyReusePeriodSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60$/,
      encryptionConfiguration => { type => 'CUSTOMER_MANAGED_KMS_KEY',
                                   kmsKeyId => $key,
                                   kmsDataKeyReusePeriodSeconds => 59 } ],
    [ 'a reuse period of 901 s', ValidationException =>
      qr/less than or equal to 900$/,
      encryptionConfiguration => { type => 'CUSTOMER_MANAGED_KMS_KEY',
                                   kmsKeyId => $key,
                                   kmsDataKeyReusePeriodSeconds => 901 } ],
    [ 'a reuse period of 60.5 s', SerializationException =>
      qr/kmsDataKeyReusePeriodSeconds/,
      encryptionConfiguration => { type => 'CUSTOMER_MANAGED_KMS_KEY',
                                   kmsKeyId => $key,
                                   kmsDataKeyReusePeriodSeconds => 60.5 } ],
    [ 'a reuse period of 1e300 s, no Integer', SerializationException =>
      qr/kmsDataKeyReusePeriodSeconds/,
      encryptionConfiguration => { type => 'CUSTOMER_MANAGED_KMS_KEY',
                                   kmsKeyId => $key,
                                   kmsDataKeyReusePeriodSeconds => 1e300 } ],
    [ 'a reuse period of 2^31 - 1 s', ValidationException =>
      qr/Value '2147483647' .* less than or equal to 900$/,
      encryptionConfiguration => { type => 'CUSTOMER_MANAGED_KMS_KEY',
                                   kmsKeyId => $key,
                                   kmsDataKeyReusePeriodSeconds =>
                                       2147483647 } ],
    [ 'a reuse period of -60 s', ValidationException =>
      qr/Value '-60' .* greater than or equal to 60$/,
      encryptionConfiguration => { type => 'CUSTOMER_MANAGED_KMS_KEY',
                                   kmsKeyId => $key,
                                   kmsDataKeyReusePeriodSeconds => -60 } ],
    [ 'a reuse period a string', SerializationException =>
      qr/kmsDataKeyReusePeriodSeconds/,
      encryptionConfiguration => { type => 'CUSTOMER_MANAGED_KMS_KEY',
                                   kmsKeyId => $key,
                                   kmsDataKeyReusePeriodSeconds => '300' } ],
    [ 'a level with a NUL byte', SerializationException =>
      qr/NUL/,
      loggingConfiguration => { level => "OFF\0" } ],
    [ 'a key id of 2049 characters', ValidationException =>
      qr/'encryptionConfiguration\.kmsKeyId' failed to satisfy constraint: Member must have length less than or equal to 2048$/,
      encryptionConfiguration => { type => 'CUSTOMER_MANAGED_KMS_KEY',
                                   kmsKeyId => 'k' x 2049 } ],
);

my $n = 0;

for my $b (@bad) {
    my ($what, $type, $message, %fields) = @$b;
    $n++;

    ($r, $st) = aws('CreateStateMachine', { name => "bad$n", roleArn => $role,
                                            definition => $pass, %fields });
    is($st, 400, "create, $what: 400");
    is($r->{__type}, $type, "create, $what: $type") or diag(explain $r);
    like($r->{message} // '', $message, "create, $what: the message");

    ($r, $st) = aws('UpdateStateMachine',
                    { stateMachineArn => "$acct:stateMachine:full",
                      %fields });
    is($r->{__type}, $type, "update, $what: $type");
}

($r) = aws('ListStateMachines', {});
is_deeply([ sort map { $_->{name} } @{ $r->{stateMachines} // [] } ],
          [ qw(conf full partial plain) ], 'no bad machine was created');

$d = describe('full');
is_deeply([ @$d{qw(loggingConfiguration tracingConfiguration
                   encryptionConfiguration revisionId)} ],
          [ $logging, { enabled => JSON::PP::true }, $encryption, 1 ],
          'full: unchanged by the bad updates');

# ValidateStateMachineDefinition leaves out an empty location

($r) = aws('ValidateStateMachineDefinition', { definition => '{"StartAt":' });
is($r->{result}, 'FAIL', 'validate: not JSON fails');
is($r->{diagnostics}[0]{code}, 'INVALID_JSON_DESCRIPTION',
   'validate: INVALID_JSON_DESCRIPTION');
ok(!exists $r->{diagnostics}[0]{location},
   'validate: a diagnostic of the whole has no location')
    or diag(explain $r);

($r) = aws('ValidateStateMachineDefinition', { definition =>
    '{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}' });
is($r->{result}, 'FAIL', 'validate: a missing target fails');
is($r->{diagnostics}[0]{location}, '/States/A/Next',
   'validate: a diagnostic of a field has its location')
    or diag(explain $r);

# every diagnostic, up to maxResults; truncated when cut

my $two_bad = '{"StartAt":"A","States":{'
    . '"A":{"Type":"Pass","Bogus":1,"Next":"B"},'
    . '"B":{"Type":"Wait","Next":"C"},"C":{"Type":"Succeed"}}}';
($r) = aws('ValidateStateMachineDefinition', { definition => $two_bad });
is($r->{result}, 'FAIL', 'validate: two bad states fail');
is_deeply([ map { $_->{location} } @{ $r->{diagnostics} // [] } ],
          [ '/States/A/Bogus', '/States/B' ], 'validate: both listed')
    or diag(explain $r);
is($r->{truncated}, JSON::PP::false, 'validate: not truncated');

($r) = aws('ValidateStateMachineDefinition', { definition => $two_bad,
                                               maxResults => 1 });
is(scalar @{ $r->{diagnostics} // [] }, 1, 'validate: maxResults 1');
is($r->{truncated}, JSON::PP::true, 'validate: truncated');

($r, $st) = aws('ValidateStateMachineDefinition', { definition => $two_bad,
                                                    maxResults => 101 });
is($r->{__type}, 'ValidationException', 'validate: maxResults 101');
($r, $st) = aws('ValidateStateMachineDefinition', { definition => $two_bad,
                                                    maxResults => 'x' });
is($r->{__type}, 'SerializationException', 'validate: maxResults a string');

# traceHeader: the model's shape (up to 256 ASCII characters)

my $trace = 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1';
($r, $st) = aws('StartExecution',
                { stateMachineArn => "$acct:stateMachine:full",
                  name => 'traced', traceHeader => $trace });
is($st, 200, 'traceHeader: a valid one is taken') or diag(explain $r);
my $traced = $r->{executionArn};

# DescribeExecution once it has left RUNNING (10 s at most)

sub settled {
    my ($arn) = @_;
    my $x;
    for (1 .. 200) {
        ($x) = aws('DescribeExecution', { executionArn => $arn });
        last if ($x->{status} // '') ne 'RUNNING';
        sleep 0.05;
    }
    return $x;
}

my $x = settled($traced);
is($x->{status}, 'SUCCEEDED', 'traced: SUCCEEDED');
is($x->{traceHeader}, $trace, 'traced: DescribeExecution gives it back');
is($t->psql("SELECT trace_header FROM sfn_executions "
            . "WHERE arn = '$traced'"), $trace,
   'traced: kept in the execution\'s row');

($x) = aws('DescribeExecution', { executionArn => "$acct:execution:full:one" });
ok(!exists $x->{traceHeader}, 'untraced: no traceHeader described');

($r, $st) = aws('StartExecution',
                { stateMachineArn => "$acct:stateMachine:full",
                  name => 'empty-trace', traceHeader => '' });
is($st, 200, 'traceHeader: an empty one is taken');
($x) = aws('DescribeExecution', { executionArn => $r->{executionArn} });
ok(!exists $x->{traceHeader}, 'an empty traceHeader is none');

aws('CreateStateMachine', { name => 'fast', roleArn => $role,
                            type => 'EXPRESS', definition => $pass });
($r) = aws('StartExecution', { stateMachineArn => "$acct:stateMachine:fast",
                               name => 'traced', traceHeader => $trace });
ok($r->{executionArn}, 'an Express execution with a traceHeader');
($x) = aws('DescribeExecution', { executionArn => $r->{executionArn} });
is($x->{traceHeader}, $trace, 'Express: DescribeExecution gives it back');

($r) = aws('StartSyncExecution', { stateMachineArn => "$acct:stateMachine:fast",
                                   traceHeader => $trace });
is($r->{status}, 'SUCCEEDED', 'StartSyncExecution with a traceHeader');
is($r->{traceHeader}, $trace, 'StartSyncExecution gives it back');

for my $b ([ 'of 257 characters', 'x' x 257, ValidationException =>
             qr/'traceHeader' .* less than or equal to 256$/ ],
           [ 'not ASCII', "Root=\x{263a}", ValidationException =>
             qr/pattern/ ],
           [ 'a number', 7, SerializationException => qr/'traceHeader'/ ]) {
    my ($what, $value, $type, $message) = @$b;
    ($r, $st) = aws('StartExecution',
                    { stateMachineArn => "$acct:stateMachine:full",
                      traceHeader => $value });
    is($st, 400, "traceHeader $what: 400");
    is($r->{__type}, $type, "traceHeader $what: $type") or diag(explain $r);
    like($r->{message} // '', $message, "traceHeader $what: the message");
}

# a restart: the zone is new, the row and a resumed execution keep it

aws('CreateStateMachine', { name => 'slow', roleArn => $role,
    definition => '{"StartAt":"W","States":{"W":{"Type":"Wait",'
                  . '"Seconds":2,"End":true}}}' });
($r) = aws('StartExecution', { stateMachineArn => "$acct:stateMachine:slow",
                               name => 'traced', traceHeader => $trace });
my $slow = $r->{executionArn};
ok($slow, 'a Standard execution that waits, traced');

$t->nginx_stop;
$t->nginx_start($conf, workers => 1);

($x) = aws('DescribeExecution', { executionArn => $traced });
is($x->{traceHeader}, $trace, 'after a restart: described from its row');

$x = settled($slow);
is($x->{status}, 'SUCCEEDED', 'the waiting one resumed and SUCCEEDED');
is($x->{traceHeader}, $trace, 'and keeps its traceHeader');
like($t->read_file('logs/error.log') // '', qr/"traced" of "slow" resumed/,
     'it was resumed by the restarted nginx');

$d = describe('full');
is_deeply($d->{encryptionConfiguration}, $encryption,
          'after a restart: the configurations are kept');

my $log = $t->read_file('logs/error.log') // '';
my @crit = grep { /\[(crit|alert|emerg)\]|exited on signal/ } split /\n/, $log;
ok(!@crit, 'a clean error log') or diag(join "\n", @crit);

$t->stop;

done_testing;
