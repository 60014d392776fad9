# Hostile input to the AWS JSON API, a pass over every action's members:
# a member of the wrong JSON type is a 400 SerializationException whether
# the action reads it or not (includedData, encryptionConfiguration,
# variables, severity...), an enumeration the action ignores is still
# checked, an input or a task's output with text after its JSON value is
# refused at once (not taken and failed later), a well-formed ARN of
# another partition names nothing here, and concurrent starts with the
# same name and input all answer the one execution's ARN.  The worker
# answers throughout and the error log stays clean.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep time);
use IO::Socket::INET;
use Sfn::Test;

my $t = Sfn::Test->new;
$t->pg_start;

my $pass = '{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}';
$t->write_file('conf/pass.asl.json', $pass);
$t->write_file('conf/wait.asl.json', '{"StartAt":"W","States":{"W":'
               . '{"Type":"Wait","Seconds":60,"End":true}}}');

$t->nginx_start($t->sfn_http(
    machines => [ pass => 'pass.asl.json', wait => 'wait.asl.json',
                  exp => 'pass.asl.json type=express' ],
    server => "location = /     { sfn_aws_api; }\n"
              . "location = /ping { return 200 pong; }\n"), workers => 1);

my $json = $t->json;
my $acct = 'arn:aws:states:us-east-1:000000000000';
my $role = 'arn:aws:iam::000000000000:role/r';

sub raw {
    my ($op, $body) = @_;
    return $t->http('POST', '/', $body,
                    { 'X-Amz-Target' => "AWSStepFunctions.$op",
                      'Content-Type' => 'application/x-amz-json-1.0' });
}

sub aws {
    my ($op, $body) = @_;
    my $r = raw($op, $json->encode($body));
    return $r->{json} // { status => $r->{status} };
}

my $act = aws('CreateActivity', { name => 'act' })->{activityArn};
aws('CreateStateMachine', { name => 'actsm', roleArn => $role,
    definition => $json->encode({ StartAt => 'A', States => { A => {
        Type => 'Task', Resource => $act, End => \1 } } }) });
my $ex = aws('StartExecution', { stateMachineArn => "$acct:stateMachine:pass",
                                 name => 'e1' })->{executionArn};
ok($ex, 'an execution to describe');

# members no action reads, or reads leniently: every other JSON type is
# refused, as AWS's deserializer refuses it

my @wrong = ('1', '1.5', 'true', '{}', '[]', '"x"');
my %type = (s => '"x"', e => '"x"', i => '1', n => '1.5', b => 'true',
            l => '[]', m => '{}');

my @members = (
    [ 'DescribeExecution', qq("executionArn":"$ex"), 'includedData', 'e' ],
    [ 'DescribeStateMachine', qq("stateMachineArn":"$acct:stateMachine:pass"),
      'includedData', 'e' ],
    [ 'DescribeStateMachineForExecution', qq("executionArn":"$ex"),
      'includedData', 'e' ],
    [ 'StartSyncExecution', qq("stateMachineArn":"$acct:stateMachine:exp"),
      'includedData', 'e' ],
    [ 'GetExecutionHistory', qq("executionArn":"$ex"), 'reverseOrder', 'b' ],
    [ 'GetExecutionHistory', qq("executionArn":"$ex"),
      'includeExecutionData', 'b' ],
    [ 'CreateActivity', '"name":"act2"', 'encryptionConfiguration', 'm' ],
    [ 'ValidateStateMachineDefinition', qq("definition":"{}"), 'severity',
      'e' ],
    [ 'ValidateStateMachineDefinition', qq("definition":"{}"), 'type', 'e' ],
    [ 'ValidateStateMachineDefinition', qq("definition":"{}"), 'maxResults',
      'i' ],
    [ 'TestState', '"definition":"{\"Type\":\"Pass\",\"End\":true}"',
      'variables', 's' ],
    [ 'UpdateMapRun', qq("mapRunArn":"$acct:mapRun:pass/m:1"),
      'toleratedFailurePercentage', 'n' ],
    [ 'CreateStateMachine', qq("name":"x1","roleArn":"$role","definition":)
      . $json->encode($pass), 'publish', 'b' ],
);

for my $m (@members) {
    my ($op, $base, $member, $t) = @$m;
    for my $v (@wrong) {
        next if $v eq $type{$t} || ($t eq 'n' && $v =~ /^[\d.]+$/);
        my $r = raw($op, "{$base,\"$member\":$v}");
        is("$r->{status} " . ($r->{json}{__type} // ''),
           '400 SerializationException', "$op $member=$v");
    }
}

# a fraction where a whole number goes; null is absent

my $r = raw('ValidateStateMachineDefinition',
            '{"definition":"{}","maxResults":1.5}');
is($r->{json}{__type}, 'SerializationException',
   'ValidateStateMachineDefinition maxResults=1.5');
$r = raw('DescribeExecution', qq({"executionArn":"$ex","includedData":null}));
is($r->{status}, 200, 'includedData null is absent');
$r = raw('CreateStateMachine', qq({"name":"nulltags","roleArn":"$role",)
         . '"definition":' . $json->encode($pass) . ',"tags":null}');
is($r->{status}, 200, 'CreateStateMachine tags null is absent');
$r = raw('CreateActivity', '{"name":"nulltags","tags":null}');
is($r->{status}, 200, 'CreateActivity tags null is absent');
$r = raw('TagResource', qq({"resourceArn":"$acct:stateMachine:nulltags",)
                        . '"tags":null}');
like("$r->{status} $r->{json}{__type} $r->{json}{message}",
     qr/^400 ValidationException .*Value null at 'tags'/,
     'TagResource tags null is a missing member');
$r = raw('TagResource', qq({"resourceArn":"$acct:stateMachine:nulltags"}));
like("$r->{status} $r->{json}{__type} $r->{json}{message}",
     qr/^400 ValidationException .*Value null at 'tags'/,
     'TagResource without tags, the same');
$r = raw('CreateStateMachineAlias', '{"name":"a","routingConfiguration":null}');
like("$r->{status} $r->{json}{__type} $r->{json}{message}",
     qr/^400 ValidationException .*Value null at 'routingConfiguration'/,
     'CreateStateMachineAlias routingConfiguration null is a missing member');

# enumerations the actions do not act on are checked all the same

for my $c ([ 'DescribeExecution', qq("executionArn":"$ex"), 'includedData',
             'METADATA_ONLY', 'ALL_DATA, METADATA_ONLY' ],
           [ 'ValidateStateMachineDefinition', '"definition":"{}"',
             'severity', 'WARNING', 'ERROR, WARNING' ],
           [ 'ValidateStateMachineDefinition', '"definition":"{}"',
             'type', 'EXPRESS', 'STANDARD, EXPRESS' ]) {
    my ($op, $base, $member, $good, $set) = @$c;
    $r = raw($op, "{$base,\"$member\":\"$good\"}");
    is($r->{status}, 200, "$op $member=$good");
    for my $bad ('', 'all_data', 'ALL_DATA ', "$good,") {
        $r = raw($op, "{$base,\"$member\":\"$bad\"}");
        is($r->{json}{__type}, 'ValidationException', "$op $member='$bad'");
        is($r->{json}{message}, "1 validation error detected: Value '$bad' "
           . "at '$member' failed to satisfy constraint: Member must "
           . "satisfy enum value set: [$set]", '... AWS\'s message');
    }
}

# JSON text followed by more text: refused at the door

for my $in ('{} x', '{}{}', '1 2', '[1] ]') {
    my $what = $json->encode($in);
    $r = raw('StartExecution', $json->encode({
        stateMachineArn => "$acct:stateMachine:pass", input => $in }));
    is($r->{json}{__type}, 'InvalidExecutionInput', "StartExecution $what");
    like($r->{json}{message}, qr/not valid JSON/, '... as not JSON');
}
$r = raw('StartExecution', $json->encode({
    stateMachineArn => "$acct:stateMachine:pass", input => " {\"a\":1}\n" }));
is($r->{status}, 200, 'white space around the input is fine');

for my $out ('{} x', '{}{}', '1 2') {
    my $e = aws('StartExecution',
                { stateMachineArn => "$acct:stateMachine:actsm" })
            ->{executionArn};
    my $task = aws('GetActivityTask', { activityArn => $act });
    ok($task->{taskToken}, 'a task token');
    my $what = $json->encode($out);
    $r = raw('SendTaskSuccess', $json->encode({
        taskToken => $task->{taskToken}, output => $out }));
    is("$r->{status} " . ($r->{json}{__type} // ''), '400 InvalidOutput',
       "SendTaskSuccess output $what");
    is(aws('DescribeExecution', { executionArn => $e })->{status}, 'RUNNING',
       '... and the task still waits');
    $r = raw('SendTaskSuccess', $json->encode({
        taskToken => $task->{taskToken}, output => '{"ok":1}' }));
    is($r->{status}, 200, '... for a true output');
    my $d = $t->aws_settle($e);
    is($d->{status}, 'SUCCEEDED', '... which it ends with');
}

# another partition: well formed, names nothing here

for my $p ('aws-cn', 'aws-us-gov', 'AWS', 'x') {
    my $arn = "arn:$p:states:us-east-1:000000000000:stateMachine:pass";
    $r = raw('StartExecution', $json->encode({ stateMachineArn => $arn }));
    is($r->{json}{__type}, 'StateMachineDoesNotExist', "StartExecution $p");
    $r = raw('DescribeStateMachine',
             $json->encode({ stateMachineArn => $arn }));
    is($r->{json}{__type}, 'StateMachineDoesNotExist',
       "DescribeStateMachine $p");
    (my $earn = $ex) =~ s/^arn:aws:/arn:$p:/;
    $r = raw('DescribeExecution', $json->encode({ executionArn => $earn }));
    is($r->{json}{__type}, 'ExecutionDoesNotExist', "DescribeExecution $p");
}

# concurrent starts with one name: those with the first input all answer
# its ARN (a twin that asked the database while the first started is a
# retry all the same), the others ExecutionAlreadyExists; one row

sub burst {
    my ($name, @inputs) = @_;
    my @s;

    # every request but its last byte, then the last bytes together: the
    # worker reads them all before the database answers any

    for my $in (@inputs) {
        my $b = $json->encode({ stateMachineArn => "$acct:stateMachine:wait",
                                name => $name, input => $in });
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port)
            or die "connect: $!";
        print $s "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 . "X-Amz-Target: AWSStepFunctions.StartExecution\r\n"
                 . "Content-Type: application/x-amz-json-1.0\r\n"
                 . 'Content-Length: ' . length($b) . "\r\n\r\n"
                 . substr($b, 0, -1);
        push @s, [ $s, $in ];
    }
    sleep 0.2;
    print { $_->[0] } '}' for @s;

    my @out;
    for (@s) {
        my ($s, $in) = @$_;
        local $/;
        my $reply = <$s> // '';
        my ($st) = $reply =~ m{^HTTP/1\.1 (\d+)};
        my ($v) = $reply =~ /"(?:__type|executionArn)":"([^"]+)"/;
        push @out, "$in " . ($st // 'none') . ' ' . ($v // '');
    }
    return @out;
}

for my $round (1 .. 6) {
    my $mixed = $round > 4;
    my @in = map { $mixed && $_ % 2 ? '{"a":1}' : '{"a":2}' } 1 .. 12;
    my @out = burst("same$round", @in);
    my ($winner) = map { /^(\S+) 200 / ? $1 : () } @out;
    $winner //= '';
    my $arn = "$acct:execution:wait:same$round";
    is(scalar(grep { $_ eq "$winner 200 $arn" } @out), $mixed ? 6 : 12,
       "round $round: every start with the first input answers its ARN")
        or diag(explain \@out);
    is(scalar(grep { / 400 ExecutionAlreadyExists$/ && !/^\Q$winner\E / }
              @out), $mixed ? 6 : 0,
       "round $round: " . ($mixed ? 'the other input, ExecutionAlreadyExists'
                                  : 'no ExecutionAlreadyExists'))
        or diag(explain \@out);
    is($t->psql("SELECT count(*) FROM sfn_executions "
                . "WHERE name = 'same$round'"), 1, "round $round: one row");
    aws('StopExecution', { executionArn => $arn });
}

# UntagResource: each key a string of 1 to 128 characters

aws('CreateStateMachine', { name => 'tagged', roleArn => $role,
                            definition => $pass,
                            tags => [ { key => 'k', value => 'v' } ] });
for my $c ([ '[1]', 'SerializationException' ],
           [ '[[]]', 'SerializationException' ],
           [ '[{}]', 'SerializationException' ],
           [ '[""]', 'ValidationException' ],
           [ '["' . ('k' x 129) . '"]', 'ValidationException' ]) {
    $r = raw('UntagResource', qq({"resourceArn":"$acct:stateMachine:tagged",)
                              . qq("tagKeys":$c->[0]}));
    is($r->{json}{__type}, $c->[1], 'UntagResource tagKeys '
       . substr($c->[0], 0, 12));
}
$r = raw('UntagResource', qq({"resourceArn":"$acct:stateMachine:tagged",)
                          . qq("tagKeys":["nope","k"]}));
is($r->{status}, 200, 'UntagResource of true keys');
is_deeply(aws('ListTagsForResource',
              { resourceArn => "$acct:stateMachine:tagged" })->{tags}, [],
          '... which are gone');

# names: the control characters U+007F to U+009F are refused as those
# under U+0020 are; other characters past ASCII are names

for my $c ([ '\u0080', 400 ], [ '\u0085', 400 ], [ '\u009f', 400 ],
           [ '\u007f', 400 ], [ '\u00e9', 200 ], [ '\u4e2d', 200 ]) {
    my ($ch, $st) = @$c;
    my $n = "n${ch}x";
    $r = raw('StartExecution', qq({"stateMachineArn":"$acct:stateMachine:)
                               . qq(pass","name":"$n"}));
    is("$r->{status} " . ($r->{json}{__type} // ''),
       $st == 200 ? '200 ' : '400 InvalidName', "StartExecution name $ch");
    $r = raw('CreateStateMachine', qq({"name":"$n","roleArn":"$role",)
                                   . qq("definition":) . $json->encode($pass)
                                   . '}');
    is("$r->{status} " . ($r->{json}{__type} // ''),
       $st == 200 ? '200 ' : '400 InvalidName', "CreateStateMachine name $ch");
    $r = raw('CreateActivity', qq({"name":"$n"}));
    is("$r->{status} " . ($r->{json}{__type} // ''),
       $st == 200 ? '200 ' : '400 InvalidName', "CreateActivity name $ch");
}

# ValidateStateMachineDefinition: severity ERROR leaves the warnings out;
# maxResults in AWS's range

my $warned = $json->encode({ StartAt => 'P', States => { P => {
    Type => 'Pass', Result => { a => '$.x' }, End => \1 } } });
for my $c ([ undef, 'WARNING' ], [ 'WARNING', 'WARNING' ], [ 'ERROR', '' ]) {
    my $v = aws('ValidateStateMachineDefinition', {
        definition => $warned, defined $c->[0] ? (severity => $c->[0]) : () });
    is(join(',', map { $_->{severity} } @{ $v->{diagnostics} // [] }),
       $c->[1], 'severity ' . ($c->[0] // 'absent') . ": '$c->[1]'");
    is($v->{result}, 'OK', '... and the result OK');
}
for my $c ([ -1, 400 ], [ 0, 200 ], [ 100, 200 ], [ 101, 400 ],
           [ '1e309', 400 ]) {
    $r = raw('ValidateStateMachineDefinition',
             qq({"definition":"{}","maxResults":$c->[0]}));
    is($r->{status}, $c->[1], "ValidateStateMachineDefinition maxResults "
       . "$c->[0]: $c->[1]");
    is($r->{json}{__type}, 'ValidationException', '... ValidationException')
        if $c->[1] == 400;
}

my $t0 = time;
is($t->http('GET', '/ping')->{status}, 200, 'the worker answers');
ok(time - $t0 < 1, '... at once');

$t->log_clean('api members');

$t->stop;

done_testing;
