# Issue 17: keyset pages.  ListExecutions (with and without statusFilter),
# GetExecutionHistory (both orders) and ListStateMachines page by key:
# executions that start or finish between pages bring no duplicate and no
# skip; a token is for its own question only, and a made-up, cut or
# altered one answers 400 InvalidToken, never a 500; maxResults is
# bounded.  A finished execution's history is packed in its row and read
# back the same, its snapshot dropped; a long history keeps its rows; the
# storage of a finished one-state execution with its history is at most
# 800 bytes; deleting an execution deletes its history and payloads.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use Digest::SHA qw(sha1);
use MIME::Base64 qw(encode_base64url decode_base64url);
use Time::HiRes qw(sleep time);

Sfn::Test::need_postgres();

my $t = Sfn::Test->new;
$t->pg_start;

$t->write_file('conf/one.json', '{"StartAt":"P","States":{"P":'
                                . '{"Type":"Pass","End":true}}}');
$t->write_file('conf/slow.json', <<'END');
{"StartAt": "W",
 "States": {"W": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "P"},
            "P": {"Type": "Pass", "End": true}}}
END
$t->write_file('conf/loop.json', <<'END');
{"StartAt": "A",
 "States": {
  "A": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"},
        "Next": "C"},
  "C": {"Type": "Choice",
        "Choices": [{"Variable": "$.n", "NumericGreaterThanEquals": 70,
                     "Next": "D"}],
        "Default": "A"},
  "D": {"Type": "Succeed"}}}
END

$t->nginx_start(<<'END', workers => 2);
    sfn_zone          sfn 16m;
    sfn_database      "%%DATABASE%%";
    sfn_state_machine one %%DIR%%/conf/one.json;
    sfn_state_machine slow %%DIR%%/conf/slow.json;
    sfn_state_machine loop %%DIR%%/conf/loop.json;

    server {
        listen 127.0.0.1:%%PORT%%;
        location = / { sfn_aws_api; }
    }
END

my $pre = 'arn:aws:states:us-east-1:000000000000';

sub api {
    my ($op, $body) = @_;
    my ($st, $j) = $t->aws_api($op, $body);
    return ($st, $j // {});
}

sub start {
    my ($sm, %o) = @_;
    my ($st, $j) = api('StartExecution', { stateMachineArn => "$pre:"
                                           . "stateMachine:$sm", %o });
    die "start: $st\n" unless $st == 200;
    return $j->{executionArn};
}

# every page of a list, calling $between->() after each: (names, pages)

sub pages {
    my ($op, $body, $key, $between) = @_;
    my (@items, $token, $n);
    do {
        my ($st, $j) = api($op, { %$body,
                                  $token ? (nextToken => $token) : () });
        if ($st != 200) {
            fail("$op page " . ($n + 1) . ": $st");
            diag(explain($j));
            last;
        }
        push @items, @{ $j->{$key} };
        $token = $j->{nextToken};
        $n++;
        $between->($n) if $between && $token;
    } while ($token);
    return (\@items, $n);
}

sub dups {
    my %n;
    $n{$_}++ for @_;
    return grep { $n{$_} > 1 } keys %n;
}

# -- ListExecutions while executions start between pages

my @before = map { start('one', name => sprintf('b%03d', $_)) } 1 .. 120;
$t->wait_sql("SELECT count(*) FROM sfn_executions WHERE state_machine = "
             . "'one' AND status = 'SUCCEEDED'", 120);

my ($items, $n) = pages('ListExecutions',
    { stateMachineArn => "$pre:stateMachine:one", maxResults => 13 },
    'executions',
    sub { start('one', name => "d$_[0]-$_") for 1 .. 3 });

my @names = map { $_->{name} } @$items;
is($n, 10, 'ten pages of 13 for 120 (and those started meanwhile)');
is(scalar(dups(@names)), 0, 'no execution twice while others started');
my %seen = map { $_ => 1 } @names;
is(scalar(grep { !$seen{ s/.*://r } } @before), 0,
   'none of those there before skipped');

my @dates = map { $_->{startDate} } @$items;
is(scalar(grep { $dates[$_] < $dates[$_ + 1] } 0 .. $#dates - 1), 0,
   'newest first');

# -- a status that changes between pages

my @slow = map { start('slow', name => "s$_",
                       input => '{"wait":' . ($_ % 2 ? 1 : 30) . '}') }
           1 .. 40;

my $t0 = time;
($items) = pages('ListExecutions',
    { stateMachineArn => "$pre:stateMachine:slow", maxResults => 6,
      statusFilter => 'RUNNING' },
    'executions', sub { sleep 0.3 if time < $t0 + 1.5 });
@names = map { $_->{name} } @$items;
is(scalar(dups(@names)), 0, 'RUNNING: no duplicate while half finish');
is(scalar(grep { $_->{status} ne 'RUNNING' } @$items), 0,
   'RUNNING: only running ones');
my %even = map { ("s$_" => 1) } grep { !($_ % 2) } 1 .. 40;
is(scalar(grep { $even{$_} } @names), 20,
   'RUNNING: every one that runs throughout listed');

$t->wait_sql("SELECT count(*) FROM sfn_executions WHERE state_machine = "
             . "'slow' AND status = 'SUCCEEDED'", 20);

($items) = pages('ListExecutions',
    { stateMachineArn => "$pre:stateMachine:slow", maxResults => 7 },
    'executions', sub {
        api('StopExecution', { executionArn => $slow[ $_[0] * 2 - 1 ] }) });
@names = map { $_->{name} } @$items;
is(scalar(@names), 40, 'no filter: all 40 while some are stopped');
is(scalar(dups(@names)), 0, 'no filter: none twice');

($items) = pages('ListExecutions',
    { stateMachineArn => "$pre:stateMachine:slow", maxResults => 3,
      statusFilter => 'SUCCEEDED' }, 'executions');
is(scalar(@$items), 20, 'SUCCEEDED: the 20 short ones');

my ($st, $j) = api('ListExecutions', { stateMachineArn =>
                                       "$pre:stateMachine:slow",
                                       statusFilter => 'PENDING_REDRIVE' });
is_deeply([$st, scalar @{ $j->{executions} }], [200, 0],
          'PENDING_REDRIVE: an empty list');

# -- maxResults

my $all = $t->psql("SELECT count(*) FROM sfn_executions "
                   . "WHERE state_machine = 'one'");

for my $case ([0, 200, 100], [1, 200, 1], [1000, 200, $all], [1001, 400],
              [-1, 400], [2 ** 40, 400], ['5', 400])
{
    my ($m, $want, $len) = @$case;
    ($st, $j) = api('ListExecutions', { stateMachineArn =>
                                        "$pre:stateMachine:one",
                                        maxResults => $m });
    is($st, $want, "maxResults $m: $want");
    is(scalar @{ $j->{executions} }, $len, "maxResults $m: $len items")
        if $len;
    like($j->{__type}, qr/^(ValidationException|SerializationException)$/,
         "maxResults $m: $j->{__type}") if $want == 400;
}

# -- tokens

($st, $j) = api('ListExecutions', { stateMachineArn =>
                                    "$pre:stateMachine:one",
                                    maxResults => 5 });
my $good = $j->{nextToken};
ok($good, 'a token');

($st, my $h) = api('GetExecutionHistory', { executionArn => $before[0],
                                            maxResults => 1 });
my $htoken = $h->{nextToken};

my $raw = decode_base64url($good);
my @bad = (
    ['garbage', '!!!not base64!!!'],
    ['empty', ''],
    ['one byte', 'A'],
    ['short', encode_base64url('E12345')],
    ['old offset form', 'sfn1.100'],
    ['a bit flipped', encode_base64url(substr($raw, 0, 12)
                      . chr(ord(substr($raw, 12, 1)) ^ 1)
                      . substr($raw, 13))],
    ['cut', substr($good, 0, length($good) - 4)],
    ['lengthened', encode_base64url($raw . 'x')],
    ['another kind', encode_base64url('H' . substr($raw, 1))],
    ['random', encode_base64url(join '', map { chr(int rand 256) } 1 .. 60)],
    ['history token', $htoken],
    ['NUL', "E\0" . $good],
    ['huge', 'A' x 5000],
    ['invalid UTF-8', "\xff\xfe"],
);

for my $b (@bad) {
    my ($what, $token) = @$b;
    ($st, $j) = api('ListExecutions', { stateMachineArn =>
                                        "$pre:stateMachine:one",
                                        nextToken => $token });
    is($st, 400, "token $what: 400");
    like($j->{__type} // '',
         qr/^(InvalidToken|ValidationException|SerializationException)$/,
         "token $what: " . ($j->{__type} // 'none'));
}

($st, $j) = api('ListExecutions', { stateMachineArn =>
                                    "$pre:stateMachine:one",
                                    nextToken => 17 });
is($st, 400, 'token as a number: 400');

($st, $j) = api('ListExecutions', { stateMachineArn =>
                                    "$pre:stateMachine:slow",
                                    nextToken => $good });
is_deeply([$st, $j->{__type}], [400, 'InvalidToken'],
          "another machine's token");

($st, $j) = api('ListExecutions', { stateMachineArn =>
                                    "$pre:stateMachine:one",
                                    statusFilter => 'SUCCEEDED',
                                    nextToken => $good });
is_deeply([$st, $j->{__type}], [400, 'InvalidToken'],
          "another filter's token");

($st, $j) = api('GetExecutionHistory', { executionArn => $before[1],
                                         nextToken => $htoken });
is_deeply([$st, $j->{__type}], [400, 'InvalidToken'],
          "another execution's history token");

($st, $j) = api('GetExecutionHistory', { executionArn => $before[0],
                                         reverseOrder => JSON::PP::true,
                                         nextToken => $htoken });
is_deeply([$st, $j->{__type}], [400, 'InvalidToken'],
          "the other order's history token");

($st, $j) = api('ListStateMachines', { nextToken => $good });
is_deeply([$st, $j->{__type}], [400, 'InvalidToken'],
          'an execution token for state machines');

($st, $j) = api('ListExecutions', { stateMachineArn =>
                                    "$pre:stateMachine:one",
                                    maxResults => 5, nextToken => $good });
is($st, 200, 'the good token still reads');

# tokens forged with a right tag (the tag is a check, not a secret): the
# key inside is checked all the same

sub forge {
    my ($kind, $bind, $cursor) = @_;
    return encode_base64url($kind . substr(sha1("$kind$bind\0$cursor"), 0, 8)
                            . $cursor);
}

my $us = int(time * 1e6);
my $one = "$pre:stateMachine:one";
for my $f (['a date past the year 9999', 'E', "one\0",
            pack('Q>', 2 ** 63) . 'x'],
           ['no name', 'E', "one\0", pack('Q>', $us)],
           ['a name of invalid UTF-8', 'E', "one\0", pack('Q>', $us) . "\xff"],
           ['a surrogate', 'E', "one\0", pack('Q>', $us) . "\xed\xa0\x80"],
           ['a name too long', 'E', "one\0", pack('Q>', $us) . 'a' x 81],
           ['a name with a slash', 'E', "one\0", pack('Q>', $us) . 'a/b'],
           ['an id past int64', 'H', "$before[0]\0U", pack('Q>', 2 ** 63)],
           ['a short id', 'H', "$before[0]\0U", 'abc'],
           ['a machine name of NUL', 'M', 'database', "a\0b"])
{
    my ($what, $kind, $bind, $cursor) = @$f;
    my ($op, $body) = $kind eq 'E' ? ('ListExecutions',
                                      { stateMachineArn => $one })
                    : $kind eq 'H' ? ('GetExecutionHistory',
                                      { executionArn => $before[0] })
                    : ('ListStateMachines', {});
    ($st, $j) = api($op, { %$body, nextToken => forge($kind, $bind,
                                                      $cursor) });
    is_deeply([$st, $j->{__type}], [400, 'InvalidToken'], "forged: $what");
}

($st, $j) = api('ListExecutions', { stateMachineArn => $one, maxResults => 3,
    nextToken => forge('E', "one\0", pack('Q>', $us) . 'zzz') });
is_deeply([$st, scalar @{ $j->{executions} }], [200, 3],
          'forged, well made: a page like any other');

# -- history: packed once finished, read back the same, both orders

my $slow_live = start('slow', name => 'live',
                      input => '{"wait":2,"big":"' . ('x' x 3000) . '"}');
sleep 0.5;
my ($st1, $running) = api('GetExecutionHistory',
                          { executionArn => $slow_live });
is(scalar @{ $running->{events} }, 2, 'running: two events so far');
is($t->psql("SELECT history IS NULL AND snapshot IS NOT NULL "
            . "FROM sfn_executions WHERE name = 'live'"), 't',
   'running: rows and a snapshot');

$t->wait_sql("SELECT status FROM sfn_executions WHERE name = 'live'",
             'SUCCEEDED', 10);

is($t->psql("SELECT (history IS NOT NULL) || ' ' || (snapshot IS NULL) "
            . "|| ' ' || (SELECT count(*) FROM sfn_history "
            . "WHERE execution_arn = e.arn) "
            . "FROM sfn_executions e WHERE name = 'live'"), 'true true 0',
   'finished: packed, no snapshot, no rows');

my ($st2, $done) = api('GetExecutionHistory', { executionArn => $slow_live });
is(scalar @{ $done->{events} }, 6, 'finished: six events');
is_deeply([@{ $done->{events} }[0 .. 1]], $running->{events},
          'the first two the same, packed as in rows');
like($done->{events}[0]{executionStartedEventDetails}{input}, qr/^\{"wait":2,"big":"x{3000}"\}$/,
     'a large input given back in place');

my ($nodata) = (api('GetExecutionHistory', { executionArn => $slow_live,
                                             includeExecutionData =>
                                             JSON::PP::false }))[1];
ok($nodata->{events}[0]{executionStartedEventDetails}
   && !exists $nodata->{events}[0]{executionStartedEventDetails}{input},
   'includeExecutionData false');

for my $rev (0, 1) {
    my (@ev, $tok);
    do {
        ($st, $j) = api('GetExecutionHistory', {
            executionArn => $slow_live, maxResults => 4,
            reverseOrder => $rev ? JSON::PP::true : JSON::PP::false,
            $tok ? (nextToken => $tok) : () });
        push @ev, @{ $j->{events} };
        $tok = $j->{nextToken};
    } while ($tok && $st == 200);
    is_deeply(\@ev, $rev ? [reverse @{ $done->{events} }] : $done->{events},
              'pages of 4, ' . ($rev ? 'reversed' : 'in order'));
}

# a token taken while the history is in rows reads on once it is packed

my $cross = start('slow', name => 'cross', input => '{"wait":2}');
sleep 0.5;
($st, $j) = api('GetExecutionHistory', { executionArn => $cross,
                                         maxResults => 1 });
my @ids = map { $_->{id} } @{ $j->{events} };
my $ctok = $j->{nextToken};
$t->wait_sql("SELECT history IS NOT NULL FROM sfn_executions "
             . "WHERE name = 'cross'", 't', 10);
($st, $j) = api('GetExecutionHistory', { executionArn => $cross,
                                         nextToken => $ctok });
push @ids, map { $_->{id} } @{ $j->{events} };
is("@ids", '1 2 3 4 5 6', 'pages across the packing: each event once');

# a history longer than a packed row keeps its rows, read by pages

my $long = start('loop', input => '{"n":0}');
$t->wait_sql("SELECT status FROM sfn_executions WHERE arn = '$long'",
             'SUCCEEDED', 30);
my $rows = $t->psql("SELECT count(*) FROM sfn_history "
                    . "WHERE execution_arn = '$long'");
cmp_ok($rows, '>', 256, "a long history ($rows events) keeps its rows");
($items) = pages('GetExecutionHistory', { executionArn => $long,
                                          maxResults => 100 }, 'events');
is_deeply([map { $_->{id} } @$items], [1 .. $rows],
          'its pages give every id once, in order');

# -- ListStateMachines while one is created between pages

my $role = 'arn:aws:iam::000000000000:role/r';
for my $i (1 .. 9) {
    api('CreateStateMachine', { name => "m$i", roleArn => $role,
        definition => '{"StartAt":"P","States":{"P":{"Type":"Pass",'
                      . '"End":true}}}' });
}
($items) = pages('ListStateMachines', { maxResults => 4 }, 'stateMachines',
    sub {
        api('CreateStateMachine', { name => "a$_[0]", roleArn => $role,
            definition => '{"StartAt":"P","States":{"P":{"Type":"Pass",'
                          . '"End":true}}}' }) });
@names = map { $_->{name} } @$items;
is(scalar(dups(@names)), 0, 'state machines: none twice');
is(scalar(grep { /^(m\d|one|slow|loop)$/ } @names), 12,
   'state machines: all there before');

# -- ListStateMachines without a database: nginx.conf's, in its order

my $nodb = Sfn::Test->new;
$nodb->write_file("conf/m$_.json", '{"StartAt":"P","States":{"P":'
                                   . '{"Type":"Pass","End":true}}}')
    for 1 .. 5;
$nodb->nginx_start(join('', map { "    sfn_state_machine m$_ "
                                  . "%%DIR%%/conf/m$_.json;\n" } 1 .. 5)
                   . "    server { listen 127.0.0.1:%%PORT%%; "
                   . "location = / { sfn_aws_api; } }\n");
{
    my (@got, $tok);
    do {
        my ($s, $r) = $nodb->aws_api('ListStateMachines',
                                     { maxResults => 2,
                                       $tok ? (nextToken => $tok) : () });
        push @got, map { $_->{name} } @{ $r->{stateMachines} // [] };
        $tok = $r->{nextToken};
        last if $s != 200;
    } while ($tok);
    is("@got", 'm1 m2 m3 m4 m5', 'no database: every machine once, by 2');

    my ($s, $r) = $nodb->aws_api('ListStateMachines', { nextToken =>
        forge('M', 'nginx.conf', pack('Q>', 2 ** 40)) });
    is_deeply([$s, $r->{__type}], [400, 'InvalidToken'],
              'no database: an index past 2^32');
    ($s, $r) = $nodb->aws_api('ListStateMachines', { nextToken =>
        forge('M', 'nginx.conf', pack('Q>', 7)) });
    is_deeply([$s, scalar @{ $r->{stateMachines} }], [200, 0],
              'no database: an index past the last, an empty page');
    ($s, $r) = $nodb->aws_api('ListStateMachines', { nextToken =>
        forge('M', 'database', 'm1') });
    is_deeply([$s, $r->{__type}], [400, 'InvalidToken'],
              "no database: a database's token");
}
$nodb->stop;

# -- storage: what 2000 more finished one-state executions add, each
# (every relation of executions and history: heap, indexes, TOAST)

start('one') for 1 .. 20;
$t->wait_sql("SELECT count(*) FROM sfn_executions WHERE status = 'RUNNING' "
             . "AND state_machine = 'one'", 0);
is($t->psql("SELECT count(*) FROM sfn_executions WHERE status <> 'RUNNING' "
            . "AND (snapshot IS NOT NULL OR history IS NULL) "
            . "AND state_machine <> 'loop'"), 0,
   'every finished execution packed, without snapshot');

# the tables' partitions (sql/018), or the tables themselves
my $leaves = "SELECT p.relid FROM unnest(ARRAY['sfn_executions', "
           . "'sfn_history', 'sfn_payloads']) t, "
           . "pg_partition_tree(t::regclass) p WHERE p.isleaf";
my $size = "SELECT sum(pg_relation_size(c.oid)) FROM pg_class c "
         . "WHERE c.oid IN ($leaves) OR c.oid IN (SELECT indexrelid "
         . "FROM pg_index WHERE indrelid IN ($leaves)) "
         . "OR c.oid IN (SELECT reltoastrelid FROM pg_class "
         . "WHERE oid IN ($leaves))";
$t->psql('VACUUM ANALYZE');
my $s0 = $t->psql($size);
my $c0 = $t->psql("SELECT count(*) FROM sfn_executions");
start('one') for 1 .. 2000;
$t->wait_sql("SELECT count(*) FROM sfn_executions", $c0 + 2000, 60);
$t->psql('VACUUM ANALYZE');
my $added = ($t->psql($size) - $s0) / 2000;
diag("2000 finished one-state executions: $added bytes each");
cmp_ok($added, '<=', 800, 'a finished one-state execution with its '
                          . 'history: 800 bytes at most');

# -- an execution deleted takes its history and payloads

$t->psql("DELETE FROM sfn_executions WHERE arn IN ('$long', '$slow_live')");
is($t->psql("SELECT (SELECT count(*) FROM sfn_history WHERE execution_arn "
            . "IN ('$long', '$slow_live')) + (SELECT count(*) FROM "
            . "sfn_payloads WHERE execution_arn IN ('$long', "
            . "'$slow_live'))"), 0, 'deleted with their history');

$t->stop;
done_testing;
