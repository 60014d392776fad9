# Distributed Map: a map run whose children are executions of the
# ItemProcessor (Express in the owner's memory, Standard as durable
# executions), items from the state's input or from a bucket (a JSON
# array, JSON Lines, CSV with its header or given headers, the objects
# under a prefix; ReaderConfig's MaxItems), ItemBatcher, ResultWriter's
# files and its output, the tolerated failures, the MapRun events, and
# DescribeMapRun, ListMapRuns and UpdateMapRun.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use Sfn::Test;

my $t = Sfn::Test->new;
my $dir = $t->dir;

$t->start($t->sfn_http(zone => '8m', buckets => [ data => 'data',
                                                  out => 'out' ],
                       server => "location = / { sfn_aws_api; }\n"),
          workers => 2);
mkdir "$dir/data";
mkdir "$dir/out";

my $acct = 'arn:aws:states:us-east-1:000000000000';
my $role = 'arn:aws:iam::000000000000:role/dmap';

sub api { my ($op, $body) = @_; return $t->aws_api($op, $body) }

sub settle {
    my ($arn, $timeout) = @_;
    my ($st, $d);
    my $deadline = time + ($timeout // 60);
    while (time < $deadline) {
        ($st, $d) = api('DescribeExecution', { executionArn => $arn });
        return $d if $st == 200 && $d->{status} ne 'RUNNING';
        sleep 0.1;
    }
    return $d;
}

my $n = 0;

# a state machine around one distributed Map, run with input: the end

sub run_map {
    my ($map, $input, %o) = @_;
    my $name = 'dm' . ++$n;
    my $def = { StartAt => 'M', States => { M => { Type => 'Map',
        ItemProcessor => { ProcessorConfig => { Mode => 'DISTRIBUTED',
                               ExecutionType => $o{type} // 'EXPRESS' },
                           StartAt => $o{start} // 'P', States => $o{states} // {
                               P => { Type => 'Pass', End => \1 } } },
        %$map, End => \1 } } };
    my ($st, $r) = api('CreateStateMachine', { name => $name,
        definition => $t->json->encode($def), roleArn => $role });
    is($st, 200, "$name created") or diag(explain $r);
    ($st, $r) = api('StartExecution', {
        stateMachineArn => "$acct:stateMachine:$name",
        input => $t->json->encode($input // {}) });
    my $d = settle($r->{executionArn}, $o{timeout});
    $d->{out} = eval { $t->json->decode($d->{output}) }
        if defined $d->{output};
    $d->{machine} = $name;
    return $d;
}

# the history once its last event is written

sub history_types {
    my ($arn) = @_;
    my $h;
    for (1 .. 50) {
        (undef, $h) = api('GetExecutionHistory', { executionArn => $arn,
                                                   maxResults => 1000 });
        last if (($h->{events}[-1] // {})->{type} // '')
                =~ /^Execution(Succeeded|Failed|Aborted|TimedOut)$/;
        sleep 0.1;
    }
    return [ map { $_->{type} } @{ $h->{events} } ], $h->{events};
}

# items of the state's input, Express children, in order

my $d = run_map({ ItemsPath => '$.items',
                  ItemSelector => { 'v.$' => '$$.Map.Item.Value',
                                    'i.$' => '$$.Map.Item.Index' } },
                { items => [ 10, 20, 30 ] });
is($d->{status}, 'SUCCEEDED', 'array: succeeded');
is_deeply($d->{out}, [ { v => 10, i => 0 }, { v => 20, i => 1 },
                       { v => 30, i => 2 } ], 'array: outputs in order');
my ($types, $events) = history_types($d->{executionArn});
is(join(',', grep { /^Map/ } @$types),
   'MapStateEntered,MapStateStarted,MapRunStarted,MapRunSucceeded,'
   . 'MapStateSucceeded,MapStateExited', 'the MapRun events');
my ($started) = grep { $_->{type} eq 'MapRunStarted' } @$events;
my $mr = $started->{mapRunStartedEventDetails}{mapRunArn};
like($mr, qr/^$acct:mapRun:$d->{machine}\/M:[0-9a-f-]{36}$/,
     'the map run ARN');

my ($st, $r) = api('DescribeMapRun', { mapRunArn => $mr });
is($st, 200, 'DescribeMapRun');
is($r->{status}, 'SUCCEEDED', 'its status');
is($r->{itemCounts}{succeeded}, 3, 'its items');
is($r->{itemCounts}{total}, 3, 'its total');
is($r->{executionArn}, $d->{executionArn}, 'its execution');
($st, $r) = api('ListMapRuns', { executionArn => $d->{executionArn} });
is($st, 200, 'ListMapRuns');
is(scalar @{ $r->{mapRuns} }, 1, 'one map run');
is($r->{mapRuns}[0]{mapRunArn}, $mr, 'that one');


# ItemReader over the bucket: each format, and MaxItems

sub reader {
    my ($res, $params, $config) = @_;
    return { Resource => $res, Parameters => $params,
             ($config ? (ReaderConfig => $config) : ()) };
}

$t->write_file('data/items.json', '[ {"a": 1}, {"a": "two, [x]"} ,'
               . "\n {\"a\": [3, {\"b\": \"]\"}]} ]");
$d = run_map({ ItemReader => reader('arn:aws:states:::s3:getObject',
                   { Bucket => 'data', Key => 'items.json' },
                   { InputType => 'JSON' }) });
is_deeply($d->{out}, [ { a => 1 }, { a => 'two, [x]' },
                       { a => [ 3, { b => ']' } ] } ], 'a JSON array file');

$t->write_file('data/items.jsonl', qq({"k":1}\n\n{"k":2}\r\n  {"k":3}));
$d = run_map({ ItemReader => reader('arn:aws:states:::s3:getObject',
                   { 'Bucket.$' => '$.bucket', Key => 'items.jsonl' },
                   { InputType => 'JSONL' }) }, { bucket => 'data' });
is_deeply($d->{out}, [ { k => 1 }, { k => 2 }, { k => 3 } ],
          'JSON Lines, the bucket from a path, blank lines skipped');

$t->write_file('data/h.csv', qq(name,qty\r\nbolt,"1,5"\n"say ""hi""",2\n));
$d = run_map({ ItemReader => reader('arn:aws:states:::s3:getObject',
                   { Bucket => 'data', Key => 'h.csv' },
                   { InputType => 'CSV', CSVHeaderLocation => 'FIRST_ROW' }) });
is_deeply($d->{out}, [ { name => 'bolt', qty => '1,5' },
                       { name => 'say "hi"', qty => '2' } ],
          'CSV with its header row, quoted fields');

$t->write_file('data/g.csv', "x|y\n1|2\n3|4\n5|6\n");
$d = run_map({ ItemReader => reader('arn:aws:states:::s3:getObject',
                   { Bucket => 'data', Key => 'g.csv' },
                   { InputType => 'CSV', CSVHeaderLocation => 'GIVEN',
                     CSVHeaders => [ 'c1', 'c2' ], CSVDelimiter => 'PIPE',
                     MaxItems => 2 }) });
is_deeply($d->{out}, [ { c1 => 'x', c2 => 'y' }, { c1 => '1', c2 => '2' } ],
          'CSV with given headers, a delimiter, MaxItems 2');

mkdir "$dir/data/logs";
mkdir "$dir/data/logs/2026";
$t->write_file("data/logs/$_", 'x' x length $_)
    for qw(b.log a.log 2026/c.log);
$t->write_file('data/logsx.txt', 'no');
$d = run_map({ ItemReader => reader('arn:aws:states:::s3:listObjectsV2',
                   { Bucket => 'data', Prefix => 'logs/' }) });
is_deeply([ map { $_->{Key} } @{ $d->{out} } ],
          [ 'logs/2026/c.log', 'logs/a.log', 'logs/b.log' ],
          'a listing: every object under the prefix, by key');
is($d->{out}[1]{Size}, 5, 'with its size');
ok(defined $d->{out}[1]{LastModified} && defined $d->{out}[1]{Etag}
   && $d->{out}[1]{StorageClass} eq 'STANDARD', 'and its other fields');

$d = run_map({ ItemReader => reader('arn:aws:states:::s3:listObjectsV2',
                   { Bucket => 'data', Prefix => 'logs/2026/c' },
                   { MaxItemsPath => '$.max' }) }, { max => 5 });
is_deeply([ map { $_->{Key} } @{ $d->{out} } ], [ 'logs/2026/c.log' ],
          'a prefix that is not a directory; MaxItemsPath');

# ItemBatcher

$d = run_map({ ItemsPath => '$.items',
               ItemBatcher => { MaxItemsPerBatch => 2,
                                BatchInput => { 'tag.$' => '$.tag' } } },
             { items => [ 1, 2, 3, 4, 5 ], tag => 't' });
is_deeply($d->{out}, [ { Items => [ 1, 2 ], BatchInput => { tag => 't' } },
                       { Items => [ 3, 4 ], BatchInput => { tag => 't' } },
                       { Items => [ 5 ], BatchInput => { tag => 't' } } ],
          'batches of 2 with BatchInput');

$d = run_map({ ItemsPath => '$.items',
               ItemBatcher => { MaxInputBytesPerBatch => 30 } },
             { items => [ 'aaaaaaaaaa', 'bbbbbbbbbb', 'cccccccccc' ] });
is_deeply($d->{out}, [ { Items => [ 'aaaaaaaaaa', 'bbbbbbbbbb' ] },
                       { Items => [ 'cccccccccc' ] } ],
          'batches by their bytes');

# ResultWriter: the files and the output

my $fail_states = {
    P => { Type => 'Choice', Choices => [ { And => [
               { Variable => '$.bad', IsPresent => JSON::PP::true },
               { Variable => '$.bad', BooleanEquals => JSON::PP::true } ],
             Next => 'F' } ],
           Default => 'S' },
    S => { Type => 'Pass', Parameters => { 'got.$' => '$.n' }, End => \1 },
    F => { Type => 'Fail', Error => 'Bad', Cause => 'item was bad' } };

$d = run_map({ ItemsPath => '$.items', ToleratedFailureCount => 1,
               ResultWriter => { Resource => 'arn:aws:states:::s3:putObject',
                                 Parameters => { Bucket => 'out',
                                                 Prefix => 'runs/' } } },
             { items => [ { n => 1 }, { n => 2, bad => JSON::PP::true },
                          { n => 3 } ] }, states => $fail_states);
is($d->{status}, "SUCCEEDED", "one failure tolerated") or diag(explain $d);
my $det = $d->{out}{ResultWriterDetails};
like($d->{out}{MapRunArn}, qr/:mapRun:/, 'the output: the map run');
is($det->{Bucket}, 'out', 'the bucket');
like($det->{Key}, qr{^runs/[0-9a-f-]{36}/manifest\.json$}, 'the manifest');
my $man = $t->json->decode($t->read_file("out/$det->{Key}"));
is($man->{MapRunArn}, $d->{out}{MapRunArn}, 'manifest: MapRunArn');
is($man->{DestinationBucket}, 'out', 'manifest: DestinationBucket');
is(scalar @{ $man->{ResultFiles}{SUCCEEDED} }, 1, 'one SUCCEEDED file');
is(scalar @{ $man->{ResultFiles}{FAILED} }, 1, 'one FAILED file');
is_deeply($man->{ResultFiles}{PENDING}, [], 'no PENDING file');
my $sf = $man->{ResultFiles}{SUCCEEDED}[0];
like($sf->{Key}, qr{^runs/[0-9a-f-]{36}/SUCCEEDED_0\.json$}, 'its key');
my $stext = $t->read_file("out/$sf->{Key}");
is($sf->{Size}, length $stext, 'its size');
my $succ = $t->json->decode($stext);
is(scalar @$succ, 2, 'two results');
is_deeply([ map { $t->json->decode($_->{Output})->{got} } @$succ ], [ 1, 3 ],
          'their outputs, in order');
is($succ->[0]{Status}, 'SUCCEEDED', 'Status');
is_deeply($succ->[0]{InputDetails}, { Included => JSON::PP::true },
          'InputDetails');
is_deeply($t->json->decode($succ->[0]{Input}), { n => 1 }, 'Input');
like($succ->[0]{ExecutionArn},
     qr/^$acct:express:$d->{machine}\/M:[0-9a-f-]{36}-0$/, 'ExecutionArn');
is($succ->[0]{StateMachineArn}, "$acct:stateMachine:$d->{machine}/M",
   'StateMachineArn');
like($succ->[0]{StartDate}, qr/^\d{4}-\d\d-\d\dT/, 'StartDate');
my $fl = $t->json->decode($t->read_file(
    "out/$man->{ResultFiles}{FAILED}[0]{Key}"));
is($fl->[0]{Status}, 'FAILED', 'the failure');
is($fl->[0]{Error}, 'Bad', 'its Error');
is($fl->[0]{Cause}, 'item was bad', 'its Cause');
ok(!exists $fl->[0]{Output}, 'no Output');

# the tolerated failures exceeded

$d = run_map({ ItemsPath => '$.items', ToleratedFailureCount => 1 },
             { items => [ map { { n => $_, bad => JSON::PP::true } } 1 .. 3 ] },
             states => $fail_states);
is($d->{status}, 'FAILED', 'two failures, one tolerated');
is($d->{error}, 'States.ExceedToleratedFailureThreshold', 'its error');
($types) = history_types($d->{executionArn});
ok((grep { $_ eq 'MapRunFailed' } @$types), 'MapRunFailed');

$d = run_map({ ItemsPath => '$.items', ToleratedFailurePercentage => 50 },
             { items => [ { n => 1, bad => JSON::PP::true }, { n => 2 },
                          { n => 3 }, { n => 4 } ] },
             states => $fail_states);
is($d->{status}, 'SUCCEEDED', '25% failed, 50% tolerated');
is_deeply($d->{out}[0], { Error => 'Bad', Cause => 'item was bad' },
          'the failure in the output');

$d = run_map({ ItemsPath => '$.items' }, { items => [ { bad => JSON::PP::true } ] },
             states => $fail_states);
is($d->{error}, 'States.ExceedToleratedFailureThreshold',
   'no failure tolerated by default');

# Standard children: executions, described and listed by their map run

$d = run_map({ ItemsPath => '$.items', MaxConcurrency => 2,
               Label => 'Std' },
             { items => [ 1, 2, 3, 4 ] }, type => 'STANDARD', start => 'W',
             states => { W => { Type => 'Wait', Seconds => 0, Next => 'P' },
                         P => { Type => 'Pass', End => \1 } },
             timeout => 60);
is($d->{status}, 'SUCCEEDED', 'Standard children');
is_deeply($d->{out}, [ 1, 2, 3, 4 ], 'their outputs');
($types, $events) = history_types($d->{executionArn});
($started) = grep { $_->{type} eq 'MapRunStarted' } @$events;
$mr = $started->{mapRunStartedEventDetails}{mapRunArn};
like($mr, qr/:mapRun:$d->{machine}\/Std:/, 'the Label names the map run');
($st, $r) = api('ListExecutions', { mapRunArn => $mr });
is($st, 200, 'ListExecutions by mapRunArn') or diag(explain $r);
is(scalar @{ $r->{executions} // [] }, 4, 'its four children');
my $child = $r->{executions}[0]{executionArn} // '';
like($child, qr/^$acct:execution:$d->{machine}\/Std:/, 'a child ARN');
($st, $r) = api('DescribeExecution', { executionArn => $child });
is($r->{status}, 'SUCCEEDED', 'a child described');
is($r->{mapRunArn}, $mr, 'with its map run') if exists $r->{mapRunArn};

# UpdateMapRun while it runs; its errors

my $slow = { W => { Type => 'Wait', Seconds => 1, End => \1 } };
my $name = 'dm' . ++$n;
my $def = { StartAt => 'M', States => { M => { Type => 'Map',
    ItemProcessor => { ProcessorConfig => { Mode => 'DISTRIBUTED',
                                            ExecutionType => 'EXPRESS' },
                       StartAt => 'W', States => $slow },
    ItemsPath => '$.items', MaxConcurrency => 1, End => \1 } } };
api('CreateStateMachine', { name => $name,
    definition => $t->json->encode($def), roleArn => $role });
($st, $r) = api('StartExecution', { stateMachineArn => "$acct:stateMachine:$name",
    input => $t->json->encode({ items => [ 1 .. 6 ] }) });
my $ex = $r->{executionArn};
my $mr2;
for (1 .. 50) {
    (undef, $r) = api('ListMapRuns', { executionArn => $ex });
    last if $mr2 = $r->{mapRuns}[0]{mapRunArn};
    sleep 0.1;
}
ok($mr2, 'a running map run listed');
($st, $r) = api('DescribeMapRun', { mapRunArn => $mr2 });
is($r->{status}, 'RUNNING', 'RUNNING');
is($r->{maxConcurrency}, 1, 'its MaxConcurrency');
my $t0 = time;
($st, $r) = api('UpdateMapRun', { mapRunArn => $mr2, maxConcurrency => 6,
                                  toleratedFailureCount => 3 });
is($st, 200, 'UpdateMapRun') or diag(explain $r);
$d = settle($ex);
is($d->{status}, 'SUCCEEDED', 'it ends');
ok(time - $t0 < 4.5, 'sooner with MaxConcurrency 6 than 6 s at 1');
($st, $r) = api('DescribeMapRun', { mapRunArn => $mr2 });
is($r->{maxConcurrency}, 6, 'the new MaxConcurrency described');
is($r->{toleratedFailureCount}, 3, 'the new ToleratedFailureCount');
is($r->{itemCounts}{succeeded}, 6, 'all six');
ok($r->{stopDate} >= $r->{startDate}, 'stopDate');

sub err {
    my ($op, $body, $type, $what) = @_;
    my ($st, $r) = api($op, $body);
    is($st == 400 ? $r->{__type} : $st, $type, $what) or diag(explain $r);
}

err('UpdateMapRun', { mapRunArn => $mr2, maxConcurrency => 2 },
    'ResourceNotFound', 'UpdateMapRun of an ended map run');
err('UpdateMapRun', { mapRunArn => $mr2, maxConcurrency => -1 },
    'ValidationException', 'a negative maxConcurrency');
err('UpdateMapRun', { mapRunArn => $mr2, toleratedFailurePercentage => 101 },
    'ValidationException', 'a percentage over 100');
err('UpdateMapRun', { mapRunArn => $mr2, maxConcurrency => 'x' },
    'SerializationException', 'a string for a number');
err('DescribeMapRun', { mapRunArn => "$acct:execution:x:y" }, 'InvalidArn',
    'an execution ARN is no map run ARN');
err('DescribeMapRun', { mapRunArn => "$acct:mapRun:x/M:none" },
    'ResourceNotFound', 'an unknown map run');
err('DescribeMapRun', {}, 'ValidationException', 'no ARN');


# StopExecution while its map run runs: MapRunAborted, the map run ABORTED

$name = 'dm' . ++$n;
$def->{States}{M}{MaxConcurrency} = 2;
api('CreateStateMachine', { name => $name,
    definition => $t->json->encode($def), roleArn => $role });
($st, $r) = api('StartExecution', { stateMachineArn => "$acct:stateMachine:$name",
    input => $t->json->encode({ items => [ 1 .. 20 ] }) });
$ex = $r->{executionArn};
my $mr3;
for (1 .. 50) {
    (undef, $r) = api('ListMapRuns', { executionArn => $ex });
    last if $mr3 = $r->{mapRuns}[0]{mapRunArn};
    sleep 0.1;
}
sleep 1.2;
($st, $r) = api('StopExecution', { executionArn => $ex, error => 'Enough' });
is($st, 200, 'stopped while its map run runs');
$d = settle($ex);
is($d->{status}, 'ABORTED', 'ABORTED');
($types) = history_types($ex);
ok((grep { $_ eq 'MapRunAborted' } @$types), 'MapRunAborted');
for (1 .. 50) {
    (undef, $r) = api('DescribeMapRun', { mapRunArn => $mr3 });
    last if $r->{status} ne 'RUNNING';
    sleep 0.1;
}
is($r->{status}, 'ABORTED', 'the map run ABORTED');
ok($r->{itemCounts}{succeeded} < 20, 'before all its items');
ok($r->{stopDate}, 'with its stopDate');

# kill -9 of the worker that owns a map run: its parent is taken over,
# the map run goes on from its recorded progress, every item once in
# the results (ResultWriter's files, or the output array)

sub killed_run {
    my (%o) = @_;
    my $name = 'dm' . ++$n;
    my $def = { StartAt => 'M', States => { M => { Type => 'Map',
        ItemsPath => '$.items', MaxConcurrency => 4,
        ItemSelector => { 'i.$' => '$$.Map.Item.Value' },
        ItemProcessor => { ProcessorConfig => { Mode => 'DISTRIBUTED',
                                                ExecutionType => 'EXPRESS' },
                           StartAt => 'W', States => {
                               W => { Type => 'Wait', Seconds => 1,
                                      Next => 'P' },
                               P => { Type => 'Pass', End => \1 } } },
        ($o{writer} ? (ResultWriter => {
             Resource => 'arn:aws:states:::s3:putObject',
             Parameters => { Bucket => 'out', Prefix => "killed$n" } })
                    : ()),
        End => \1 } } };
    api('CreateStateMachine', { name => $name,
        definition => $t->json->encode($def), roleArn => $role });
    my ($st, $r) = api('StartExecution', {
        stateMachineArn => "$acct:stateMachine:$name",
        input => $t->json->encode({ items => [ 0 .. 39 ] }) });
    my $ex = $r->{executionArn};
    my $mr;
    for (1 .. 100) {
        (undef, $r) = api('ListMapRuns', { executionArn => $ex });
        $mr = $r->{mapRuns}[0]{mapRunArn};
        if ($mr) {
            (undef, $r) = api('DescribeMapRun', { mapRunArn => $mr });
            last if ($r->{itemCounts}{succeeded} // 0) >= 12;
        }
        sleep 0.1;
    }
    my $owner = $t->psql("SELECT owner FROM sfn_executions "
                         . "WHERE arn = '$ex'");
    my ($pid) = $owner =~ /:(\d+)$/;
    ok($pid && kill('KILL', $pid), "its owner $owner killed");
    my $d = settle($ex, 90);
    $d->{out} = eval { $t->json->decode($d->{output}) }
        if defined $d->{output};
    (undef, $r) = api('DescribeMapRun', { mapRunArn => $mr });
    return ($d, $r, $mr);
}

my ($kd, $km, $kmr) = killed_run();
is($kd->{status}, 'SUCCEEDED', 'kill -9: the execution goes on and ends');
is_deeply($kd->{out}, [ map { { i => $_ } } 0 .. 39 ],
          'kill -9: every item once, in order, in the output');
is($km->{status}, 'SUCCEEDED', 'kill -9: the same map run ends');
is($km->{itemCounts}{succeeded}, 40, 'kill -9: 40 items counted');
is($km->{itemCounts}{total}, 40, 'kill -9: no item counted twice');
like($t->read_file('logs/error.log'),
     qr/sfn map run "\Q$kmr\E" goes on from item [1-9]/,
     'kill -9: it went on from its recorded progress, not from the start');

($kd, $km, $kmr) = killed_run(writer => 1);
is($kd->{status}, 'SUCCEEDED', 'kill -9 with a ResultWriter: it ends');
my $kman = eval { $t->json->decode($t->read_file(
    "out/$kd->{out}{ResultWriterDetails}{Key}")) } // {};
is($kman->{MapRunArn}, $kmr, 'the same map run wrote the manifest');
my @entries = map { @{ $t->json->decode($t->read_file("out/$_->{Key}")) } }
              @{ $kman->{ResultFiles}{SUCCEEDED} // [] };
is_deeply([ map { $t->json->decode($_->{Input})->{i} } @entries ],
          [ 0 .. 39 ], 'every item once in SUCCEEDED_n.json, in order');
is($km->{itemCounts}{resultsWritten}, 40, 'resultsWritten');
is($km->{itemCounts}{total}, 40, 'total');

$t->stop(allow => qr/exited on signal/);

done_testing;
