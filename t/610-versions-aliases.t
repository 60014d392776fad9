# Versions and aliases of state machines created through the AWS API:
# PublishStateMachineVersion (idempotent per revision, revisionId,
# ConflictException), publish and versionDescription on Create and
# UpdateStateMachine, ListStateMachineVersions with keyset tokens,
# DescribeStateMachine of a version, DeleteStateMachineVersion (refused
# while an alias routes to it), the aliases' actions, StartExecution on a
# version or an alias (routing by weight), DescribeExecution's version and
# alias ARNs, hostile ARNs, weights and tokens, concurrent publishes
# (numbers unique and gapless), and an execution of a version that keeps
# its definition across a kill -9 of the workers while the state machine
# is updated.  The end-to-end part is driven by @aws-sdk/client-sfn.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ();
use Sfn::Test;

my $sdk = Sfn::Test::need_npm('@aws-sdk/client-sfn');

my $t = Sfn::Test->new;
my $dir = $t->dir;

$t->write_file('conf/conf.json',
               '{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}');

$t->start($t->sfn_http(zone => '8m', machines => [ fromconf => 'conf.json' ],
                       server => "location = / { sfn_aws_api; }\n"),
          workers => 2);

my $acct = 'arn:aws:states:us-east-1:000000000000';
my $role = 'arn:aws:iam::000000000000:role/versions';

sub api { my ($op, $body) = @_; return $t->aws_api($op, $body) }

sub err {
    my ($op, $body, $type, $name) = @_;
    my ($st, $r) = api($op, $body);
    is($st == 400 ? $r->{__type} : "$st", $type, $name)
        or diag(explain $r);
}

sub pass_def {
    my ($v, $wait) = @_;
    my %s = (P => { Type => 'Pass', Result => { v => $v }, End => \1 });
    return $t->json->encode({ StartAt => 'P', States => \%s }) unless $wait;
    return $t->json->encode({ StartAt => 'W', States => {
        W => { Type => 'Wait', Seconds => $wait, Next => 'P' }, %s } });
}

sub run {
    my ($arn, $name) = @_;
    my ($st, $r) = api('StartExecution', { stateMachineArn => $arn,
                                           name => $name });
    return ($st, $r) unless $st == 200;
    my $d;
    for (1 .. 200) {
        (undef, $d) = api('DescribeExecution',
                          { executionArn => $r->{executionArn} });
        last if ($d->{status} // '') ne 'RUNNING';
        sleep 0.05;
    }
    return ($st, $d);
}

# Create with publish, idempotent publish, revisions

my $sm = "$acct:stateMachine:vm";

my ($st, $r) = api('CreateStateMachine', {
    name => 'vm', roleArn => $role, definition => pass_def('A'),
    publish => \1, versionDescription => 'first' });
is($st, 200, 'CreateStateMachine with publish');
is($r->{stateMachineVersionArn}, "$sm:1", 'its reply names version 1');
ok($r->{creationDate} > 0, 'creationDate');

err('CreateStateMachine', { name => 'vx', roleArn => $role,
                            definition => pass_def('A'),
                            versionDescription => 'no publish' },
    'ValidationException', 'versionDescription without publish');
err('CreateStateMachine', { name => 'vx', roleArn => $role,
                            definition => pass_def('A'), publish => 'yes' },
    'SerializationException', 'publish not a boolean');

($st, $r) = api('PublishStateMachineVersion', { stateMachineArn => $sm });
is($r->{stateMachineVersionArn}, "$sm:1",
   'publish of an unchanged revision: the same version');
err('PublishStateMachineVersion', { stateMachineArn => $sm,
                                    description => 'other' },
    'ConflictException', 'same revision, another description');

($st, $r) = api('UpdateStateMachine', { stateMachineArn => $sm,
                                        definition => pass_def('B'),
                                        publish => \1 });
is($r->{stateMachineVersionArn}, "$sm:2", 'UpdateStateMachine publishes 2');
my $rev2 = $r->{revisionId};
ok(defined $rev2 && $r->{updateDate} > 0, 'with revisionId and updateDate');

err('PublishStateMachineVersion', { stateMachineArn => $sm,
                                    revisionId => 'stale' },
    'ConflictException', 'a revisionId that is not the current one');
($st, $r) = api('PublishStateMachineVersion', { stateMachineArn => $sm,
                                                revisionId => $rev2 });
is($r->{stateMachineVersionArn}, "$sm:2", 'the current revisionId');

($st, $r) = api('DescribeStateMachine', { stateMachineArn => "$sm:1" });
is($st, 200, 'DescribeStateMachine of a version');
is($r->{stateMachineArn}, "$sm:1", 'its ARN is the version\'s');
is($r->{description}, 'first', 'its description');
is($t->json->decode($r->{definition})->{States}{P}{Result}{v}, 'A',
   'the definition it was published with');
($st, $r) = api('DescribeStateMachine', { stateMachineArn => $sm });
is($t->json->decode($r->{definition})->{States}{P}{Result}{v}, 'B',
   'the state machine has the new one');

# hostile qualifiers

for my $q ('0', '00', '99999999999999999999', 'a b', 'x/y', "\xc3\xa9t\xc3\xa9",
           'a' x 81, '', 'a*', '1a$') {
    err('DescribeStateMachine', { stateMachineArn => "$sm:$q" },
        'InvalidArn', "qualifier \"" . substr($q, 0, 12) . "\" is InvalidArn");
}
err('DescribeStateMachine', { stateMachineArn => "$sm:9" },
    'StateMachineDoesNotExist', 'a version never published');
err('DescribeStateMachine', { stateMachineArn => "$sm:live" },
    'InvalidArn', 'DescribeStateMachine of an alias ARN');
err('StartExecution', { stateMachineArn => "$sm:-1" },
    'ResourceNotFound', '":-1" is an alias name, and none has it');
err('StartExecution', { stateMachineArn => "$sm:77" },
    'ResourceNotFound', 'StartExecution of a missing version');
err('CreateStateMachineAlias', { name => "\xff", routingConfiguration => [
        { stateMachineVersionArn => "$sm:1", weight => 100 } ] },
    'InvalidName', 'an alias name that is not UTF-8');
err('StartExecution', { stateMachineArn => "$sm:\xff" },
    'SerializationException', 'a qualifier that is not UTF-8');
err('UpdateStateMachine', { stateMachineArn => "$sm:1",
                            definition => pass_def('Z') },
    'InvalidArn', 'a version cannot be updated');
err('DeleteStateMachine', { stateMachineArn => "$sm:1" },
    'InvalidArn', 'DeleteStateMachine of a version ARN');

# executions of versions

($st, $r) = run("$sm:1", 'on-v1');
is($r->{status}, 'SUCCEEDED', 'an execution of version 1');
is_deeply($t->json->decode($r->{output} // 'null'), { v => 'A' },
          'runs version 1\'s definition');
is($r->{stateMachineVersionArn}, "$sm:1", 'stateMachineVersionArn');
is($r->{stateMachineArn}, $sm, 'stateMachineArn is unqualified');
is($r->{executionArn}, "$acct:execution:vm:on-v1",
   'executionArn is of the state machine');
ok(!exists $r->{stateMachineAliasArn}, 'no alias');
($st, $r) = run($sm, 'unqualified');
ok(!exists $r->{stateMachineVersionArn}, 'unqualified: no version');
($st, $r) = api('DescribeStateMachineForExecution',
                { executionArn => "$acct:execution:vm:on-v1" });
is_deeply([ $r->{stateMachineArn},
            $t->json->decode($r->{definition})->{States}{P}{Result}{v} ],
          [ "$sm:1", 'A' ],
          'DescribeStateMachineForExecution: the version it ran');
($st, $r) = api('ListExecutions', { stateMachineArn => "$sm:1" });
is_deeply([ map { [ $_->{name}, $_->{stateMachineVersionArn},
                    $_->{stateMachineArn} ] } @{ $r->{executions} } ],
          [ [ 'on-v1', "$sm:1", $sm ] ],
          'ListExecutions of a version ARN: its executions');
($st, $r) = api('ListExecutions', { stateMachineArn => $sm });
is(scalar @{ $r->{executions} }, 2, 'of the state machine: all of them');

# versions: list and tokens

($st, $r) = api('ListStateMachineVersions', { stateMachineArn => $sm,
                                              maxResults => 1 });
is_deeply([ map { $_->{stateMachineVersionArn} }
            @{ $r->{stateMachineVersions} } ], [ "$sm:2" ],
          'ListStateMachineVersions, newest first');
my $token = $r->{nextToken};
ok($token, 'with a nextToken');
($st, $r) = api('ListStateMachineVersions', { stateMachineArn => $sm,
                                              nextToken => $token });
is_deeply([ map { $_->{stateMachineVersionArn} }
            @{ $r->{stateMachineVersions} } ], [ "$sm:1" ], 'page 2');
ok(!exists $r->{nextToken}, 'the last page');
($st, $r) = api('ListStateMachineVersions', { stateMachineArn => $sm,
                                              nextToken => $token });
is($st, 200, 'a token replayed reads the same page again');
(my $bad = $token) =~ tr/A-Za-z/B-ZAb-za/;
err('ListStateMachineVersions', { stateMachineArn => $sm,
                                  nextToken => $bad },
    'InvalidToken', 'a tampered token');
err('ListStateMachineAliases', { stateMachineArn => $sm,
                                 nextToken => $token },
    'InvalidToken', 'a versions token given to the aliases');

# aliases

my $live = "$sm:live";
my @route1 = ({ stateMachineVersionArn => "$sm:1", weight => 100 });

($st, $r) = api('CreateStateMachineAlias', {
    name => 'live', description => 'prod', routingConfiguration => \@route1 });
is($st, 200, 'CreateStateMachineAlias');
is($r->{stateMachineAliasArn}, $live, 'its ARN');
($st, $r) = api('CreateStateMachineAlias', {
    name => 'live', description => 'prod', routingConfiguration => \@route1 });
is($r->{stateMachineAliasArn}, $live, 'created again: idempotent');
err('CreateStateMachineAlias', { name => 'live', description => 'other',
                                 routingConfiguration => \@route1 },
    'ConflictException', 'the same name, another configuration');

my %weights = ('50+60' => [ 50, 60 ], '101' => [ 101 ], '-1+101' => [ -1, 101 ],
               '99' => [ 99 ], '1.5+98.5' => [ 1.5, 98.5 ]);
for my $w (sort keys %weights) {
    my @v = @{ $weights{$w} };
    err('CreateStateMachineAlias', { name => 'w', routingConfiguration => [
            map { { stateMachineVersionArn => "$sm:" . ($_ + 1),
                    weight => $v[$_] } } 0 .. $#v ] },
        'ValidationException', "weights $w");
}
err('CreateStateMachineAlias', { name => 'w', routingConfiguration => [
        { stateMachineVersionArn => "$sm:1", weight => 50 },
        { stateMachineVersionArn => "$sm:1", weight => 50 } ] },
    'ValidationException', 'one version twice');
err('CreateStateMachineAlias', { name => 'w', routingConfiguration => [
        map { { stateMachineVersionArn => "$sm:$_", weight => 0 } } 1 .. 3 ] },
    'ValidationException', 'three versions');
err('CreateStateMachineAlias', { name => 'w', routingConfiguration => [] },
    'ValidationException', 'no version');
err('CreateStateMachineAlias', { name => 'w' },
    'ValidationException', 'no routingConfiguration');
err('CreateStateMachineAlias', { name => 'w', routingConfiguration => [
        { stateMachineVersionArn => "$sm:1", weight => '100' } ] },
    'SerializationException', 'a weight as a string');
err('CreateStateMachineAlias', { name => 'w', routingConfiguration => [
        { stateMachineVersionArn => "$sm:7", weight => 100 } ] },
    'ResourceNotFound', 'a version that does not exist');
err('CreateStateMachineAlias', { name => 'w', routingConfiguration => [
        { stateMachineVersionArn => "$sm:live", weight => 100 } ] },
    'InvalidArn', 'an alias where a version goes');
for my $n ('12', 'a b', 'a:b', "\xc3\xa9", 'a' x 81, '', "a\tb") {
    err('CreateStateMachineAlias', { name => $n, routingConfiguration =>
                                     \@route1 },
        'ValidationException', "alias name \"" . substr($n, 0, 10) . "\"");
}

($st, $r) = api('CreateStateMachineAlias', {
    name => 'split', routingConfiguration => [
        { stateMachineVersionArn => "$sm:1", weight => 0 },
        { stateMachineVersionArn => "$sm:2", weight => 100 } ] });
is($st, 200, 'weights 0 and 100');

my %seen;
for my $i (1 .. 20) {
    ($st, $r) = run("$sm:split", "split-$i");
    $seen{ $r->{stateMachineVersionArn} // 'none' }++;
}
is_deeply(\%seen, { "$sm:2" => 20 }, 'a weight of 0 is never chosen');
is($r->{stateMachineAliasArn}, "$sm:split", 'stateMachineAliasArn');

($st, $r) = api('UpdateStateMachineAlias', {
    stateMachineAliasArn => "$sm:split", routingConfiguration => [
        { stateMachineVersionArn => "$sm:1", weight => 50 },
        { stateMachineVersionArn => "$sm:2", weight => 50 } ] });
ok($st == 200 && $r->{updateDate} > 0, 'UpdateStateMachineAlias');
%seen = ();
for my $i (1 .. 60) {
    my ($s, $x) = api('StartExecution', { stateMachineArn => "$sm:split",
                                          name => "half-$i" });
    $seen{$x->{executionArn}} = 1 if $s == 200;
}
my $v = $t->psql("SELECT string_agg(DISTINCT version_arn, ',' "
                 . "ORDER BY version_arn) FROM sfn_executions "
                 . "WHERE name LIKE 'half-%'");
is($v, "$sm:1,$sm:2", '50/50: both versions run');
$t->wait_sql("SELECT count(*) FROM sfn_executions WHERE name LIKE 'half-%' "
             . "AND status = 'SUCCEEDED'", '60');
is($t->psql("SELECT count(*) FROM sfn_executions WHERE name LIKE 'half-%' "
            . "AND output::jsonb <> CASE version_arn WHEN '$sm:1' "
            . "THEN '{\"v\":\"A\"}' ELSE '{\"v\":\"B\"}' END::jsonb"),
   '0', 'each ran its version\'s definition, cached or not');
($st, $r) = api('ListExecutions', { stateMachineArn => "$sm:split",
                                    maxResults => 50 });
is(scalar @{ $r->{executions} }, 50, 'ListExecutions of an alias ARN');
ok($r->{nextToken}, 'paged');
my $atoken = $r->{nextToken};
($st, $r) = api('ListExecutions', { stateMachineArn => "$sm:split",
                                    nextToken => $atoken });
is(scalar @{ $r->{executions} }, 30, 'page 2: 80 in all by this alias');
ok(!(grep { ($_->{stateMachineAliasArn} // '') ne "$sm:split" }
     @{ $r->{executions} }), 'each with its alias ARN');
err('ListExecutions', { stateMachineArn => $sm, nextToken => $atoken },
    'InvalidToken', 'an alias\'s token for the state machine');
err('UpdateStateMachineAlias', { stateMachineAliasArn => "$sm:split" },
    'ValidationException', 'an update with nothing');

($st, $r) = api('DescribeStateMachineAlias',
                { stateMachineAliasArn => $live });
is_deeply([ $r->{name}, $r->{description}, $r->{routingConfiguration} ],
          [ 'live', 'prod', \@route1 ], 'DescribeStateMachineAlias');
err('DescribeStateMachineAlias', { stateMachineAliasArn => "$sm:nope" },
    'ResourceNotFound', 'an alias that does not exist');
err('DescribeStateMachineAlias', { stateMachineAliasArn => "$sm:1" },
    'InvalidArn', 'a version ARN for an alias');

($st, $r) = api('ListStateMachineAliases', { stateMachineArn => $sm,
                                             maxResults => 1 });
is_deeply([ map { $_->{stateMachineAliasArn} }
            @{ $r->{stateMachineAliases} } ], [ $live ],
          'ListStateMachineAliases by name');
($st, $r) = api('ListStateMachineAliases', { stateMachineArn => $sm,
                                             nextToken => $r->{nextToken} });
is_deeply([ map { $_->{stateMachineAliasArn} }
            @{ $r->{stateMachineAliases} } ], [ "$sm:split" ], 'page 2');

# deleting versions

err('DeleteStateMachineVersion', { stateMachineVersionArn => "$sm:1" },
    'ConflictException', 'a version an alias routes to');
($st) = api('DeleteStateMachineAlias', { stateMachineAliasArn => $live });
is($st, 200, 'DeleteStateMachineAlias');
err('DeleteStateMachineAlias', { stateMachineAliasArn => $live },
    'ResourceNotFound', 'deleted twice');
($st) = api('UpdateStateMachineAlias', {
    stateMachineAliasArn => "$sm:split", routingConfiguration => [
        { stateMachineVersionArn => "$sm:2", weight => 100 } ] });
($st) = api('DeleteStateMachineVersion', { stateMachineVersionArn => "$sm:1" });
is($st, 200, 'DeleteStateMachineVersion once no alias routes to it');
($st) = api('DeleteStateMachineVersion', { stateMachineVersionArn => "$sm:1" });
is($st, 200, 'deleted twice: no error, as on AWS');
err('StartExecution', { stateMachineArn => "$sm:1" },
    'ResourceNotFound', 'a deleted version does not start');
err('UpdateStateMachineAlias', {
    stateMachineAliasArn => "$sm:split", routingConfiguration => [
        { stateMachineVersionArn => "$sm:1", weight => 100 } ] },
    'ResourceNotFound', 'an alias cannot route to a deleted version');

($st, $r) = api('UpdateStateMachine', { stateMachineArn => $sm,
                                        definition => pass_def('C') });
($st, $r) = api('PublishStateMachineVersion', { stateMachineArn => $sm });
is($r->{stateMachineVersionArn}, "$sm:3", 'numbers are not reused');

# quotas, sizes and types

for my $i (1 .. 99) {
    ($st) = api('CreateStateMachineAlias', { name => "a$i",
        routingConfiguration => [
            { stateMachineVersionArn => "$sm:2", weight => 100 } ] });
    last if $st != 200;
}
is($st, 200, '100 aliases of one state machine');
err('CreateStateMachineAlias', { name => 'one-too-many',
    routingConfiguration => [
        { stateMachineVersionArn => "$sm:2", weight => 100 } ] },
    'ServiceQuotaExceededException', 'the 101st alias');
($st, $r) = api('CreateStateMachine', { name => 'many', roleArn => $role,
                                        definition => pass_def('M') });
$t->psql("INSERT INTO sfn_versions (arn, state_machine, version, revision, "
         . "type, definition) SELECT '$acct:stateMachine:many:' || n, "
         . "'many', n, 0, 'STANDARD', '{}' FROM generate_series(1, 1000) n; "
         . "UPDATE sfn_state_machines SET last_version = 1000 "
         . "WHERE name = 'many'");
err('PublishStateMachineVersion',
    { stateMachineArn => "$acct:stateMachine:many" },
    'ServiceQuotaExceededException', 'the 1001st version');
$t->psql("UPDATE sfn_versions SET deleted = true "
         . "WHERE arn = '$acct:stateMachine:many:7'");
($st, $r) = api('PublishStateMachineVersion',
                { stateMachineArn => "$acct:stateMachine:many" });
is($r->{stateMachineVersionArn}, "$acct:stateMachine:many:1001",
   'one deleted: the next number, 1001');
err('PublishStateMachineVersion', { stateMachineArn => $sm,
                                    description => 'x' x 257 },
    'ValidationException', 'a description of 257 characters');
err('PublishStateMachineVersion', { stateMachineArn => $sm,
                                    description => { a => 1 } },
    'SerializationException', 'a description that is an object');
err('CreateStateMachineAlias', { name => 'w', routingConfiguration => {
        stateMachineVersionArn => "$sm:2", weight => 100 } },
    'SerializationException', 'a routing that is not a list');
err('ListStateMachineVersions', { stateMachineArn => $sm, maxResults => -1 },
    'ValidationException', 'maxResults -1');
err('ListStateMachineVersions', { stateMachineArn => $sm,
                                  nextToken => 'x' x 2000 },
    'ValidationException', 'a token of 2000 characters');
err('CreateStateMachineAlias', { name => 'w', routingConfiguration => [
        { stateMachineVersionArn =>
              'arn:aws:states:eu-west-1:000000000000:stateMachine:vm:2',
          weight => 100 } ] },
    'ResourceNotFound', 'a version of another region');

# an alias written while its version is deleted: one of them wins

($st, $r) = api('UpdateStateMachine', { stateMachineArn => $sm,
                                        definition => pass_def('R'),
                                        publish => \1 });
my $race_v = $r->{stateMachineVersionArn};
my @pids;
for my $k (0, 1) {
    my $pid = fork;
    if ($pid == 0) {
        my ($s) = $k
            ? api('CreateStateMachineAlias', { name => 'racer',
                  routingConfiguration => [
                      { stateMachineVersionArn => $race_v, weight => 100 } ] })
            : api('DeleteStateMachineVersion',
                  { stateMachineVersionArn => $race_v });
        POSIX::_exit($s == 200 ? 0 : 1);
    }
    push @pids, $pid;
}
my @rc = map { waitpid($_, 0); $? >> 8 } @pids;
my $left = $t->psql("SELECT (SELECT count(*) FROM sfn_aliases WHERE name = "
                    . "'racer') || '/' || (SELECT count(*) FROM sfn_versions "
                    . "WHERE arn = '$race_v' AND NOT deleted)");
ok(($left eq '1/1' && $rc[1] == 0) || ($left eq '0/0' && $rc[0] == 0),
   "an alias never routes to a deleted version ($left)");

# nginx.conf's state machines have no versions

($st, $r) = api('ListStateMachineVersions',
                { stateMachineArn => "$acct:stateMachine:fromconf" });
is_deeply($r, { stateMachineVersions => [] },
          'nginx.conf\'s machine: no versions');
err('PublishStateMachineVersion',
    { stateMachineArn => "$acct:stateMachine:fromconf" },
    'ValidationException', 'nor can one be published');
err('ListStateMachineVersions',
    { stateMachineArn => "$acct:stateMachine:nothere" },
    'StateMachineDoesNotExist', 'versions of no state machine');

# the SDK: concurrent publishes, and the version ARN of an execution

$t->write_file('sdk.mjs', <<"END");
import { SFNClient, CreateStateMachineCommand, UpdateStateMachineCommand,
         PublishStateMachineVersionCommand, CreateStateMachineAliasCommand,
         StartExecutionCommand, DescribeExecutionCommand,
         ListStateMachineVersionsCommand, DescribeStateMachineAliasCommand }
    from '$sdk/dist-cjs/index.js';

const client = new SFNClient({
    endpoint: 'http://127.0.0.1:${\ $t->port }', region: 'us-east-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    maxAttempts: 1 });
const out = { rounds: [] };
const def = v => JSON.stringify({ StartAt: 'P', States: {
    P: { Type: 'Pass', Result: { v }, End: true } } });

const c = await client.send(new CreateStateMachineCommand({
    name: 'race', roleArn: '$role', definition: def(0) }));

for (let i = 1; i <= 4; i++) {
    await client.send(new UpdateStateMachineCommand({
        stateMachineArn: c.stateMachineArn, definition: def(i) }));
    const all = await Promise.all(Array.from({ length: 8 }, () =>
        client.send(new PublishStateMachineVersionCommand({
            stateMachineArn: c.stateMachineArn }))));
    out.rounds.push([...new Set(all.map(x => x.stateMachineVersionArn))]);
}

const a = await client.send(new CreateStateMachineAliasCommand({
    name: 'cur', routingConfiguration: [
        { stateMachineVersionArn: c.stateMachineArn + ':4', weight: 100 }] }));
const s = await client.send(new StartExecutionCommand({
    stateMachineArn: a.stateMachineAliasArn, name: 'via-alias' }));
let d;
for (let i = 0; i < 100; i++) {
    d = await client.send(new DescribeExecutionCommand({
        executionArn: s.executionArn }));
    if (d.status !== 'RUNNING') break;
    await new Promise(r => setTimeout(r, 50));
}
out.exec = { status: d.status, output: d.output,
             version: d.stateMachineVersionArn,
             alias: d.stateMachineAliasArn };
const l = await client.send(new ListStateMachineVersionsCommand({
    stateMachineArn: c.stateMachineArn }));
out.versions = l.stateMachineVersions.map(x => x.stateMachineVersionArn);
out.datesAreDates = l.stateMachineVersions.every(
    x => x.creationDate instanceof Date);
const da = await client.send(new DescribeStateMachineAliasCommand({
    stateMachineAliasArn: a.stateMachineAliasArn }));
out.alias = { name: da.name, routing: da.routingConfiguration,
              dates: (da.creationDate instanceof Date
                      && da.updateDate instanceof Date) ? 1 : 0 };
console.log(JSON.stringify(out));
END

my $res = `node '$dir/sdk.mjs' 2>&1`;
is($?, 0, 'the SDK script ran') or diag($res);
my ($line) = grep { /^\{/ } split /\n/, $res;
my $out = eval { $t->json->decode($line // '') } // {};
my $race = "$acct:stateMachine:race";
is_deeply($out->{rounds}, [ map { [ "$race:$_" ] } 1 .. 4 ],
          '8 concurrent publishes of a revision: one version each');
is($t->psql("SELECT string_agg(version::text, ',' ORDER BY version) "
            . "FROM sfn_versions WHERE state_machine = 'race'"),
   '1,2,3,4', 'version numbers unique and gapless');
is_deeply($out->{exec}, { status => 'SUCCEEDED', output => '{"v":4}',
                          version => "$race:4", alias => "$race:cur" },
          'the SDK reads the execution\'s version and alias');
is_deeply($out->{versions}, [ map { "$race:$_" } reverse 1 .. 4 ],
          'ListStateMachineVersions through the SDK');
ok($out->{datesAreDates}, 'creationDate parsed as dates');
is_deeply($out->{alias}, { name => 'cur', dates => 1, routing => [
    { stateMachineVersionArn => "$race:4", weight => 100 } ] },
    'DescribeStateMachineAlias through the SDK');

# a version's execution keeps its definition across kill -9 and an update

($st, $r) = api('CreateStateMachine', {
    name => 'durable', roleArn => $role, definition => pass_def('old', 3),
    publish => \1 });
my $dv = $r->{stateMachineVersionArn};
($st, $r) = api('StartExecution', { stateMachineArn => $dv,
                                    name => 'survivor' });
is($st, 200, 'a Standard execution of a version started');
my $earn = $r->{executionArn};
api('UpdateStateMachine', { stateMachineArn => "$acct:stateMachine:durable",
                            definition => pass_def('new', 1) });
$t->wait_sql("SELECT count(*) FROM sfn_executions WHERE arn = '$earn'", '1');
sleep 0.5;
kill 'KILL', $t->nginx_workers;
my $d;
my $deadline = time + 30;
while (time < $deadline) {
    ($st, $d) = api('DescribeExecution', { executionArn => $earn });
    last if $st == 200 && ($d->{status} // '') ne 'RUNNING';
    sleep 0.2;
}
is($d->{status}, 'SUCCEEDED', 'it ended after kill -9 of the workers');
is_deeply($t->json->decode($d->{output} // 'null'), { v => 'old' },
          'with its version\'s definition, not the update\'s');
is($d->{stateMachineVersionArn}, $dv, 'its version');

# the database gone: a clean 5xx, then back

$t->pg_stop;
my ($gone) = api('PublishStateMachineVersion', { stateMachineArn => $sm });
my ($gone2) = api('StartExecution', { stateMachineArn => "$sm:2" });
ok($gone >= 500 && $gone2 >= 500, "the database gone: $gone, $gone2");
$t->pg_start_again;
for (1 .. 100) {
    ($st) = api('DescribeStateMachineAlias',
                { stateMachineAliasArn => "$sm:split" });
    last if $st == 200;
    sleep 0.1;
}
is($st, 200, 'and back with it');

# a state machine deleted takes its versions and aliases

($st) = api('DeleteStateMachine', { stateMachineArn => $race });
err('ListStateMachineVersions', { stateMachineArn => $race },
    'StateMachineDoesNotExist', 'versions go with their state machine');
is($t->psql("SELECT count(*) FROM sfn_aliases WHERE state_machine = 'race'"),
   '0', 'and aliases');

$t->stop(allow => qr/exited on signal|connection|server closed|PostgreSQL/);

done_testing;
