# Distributed Map readers and writers as AWS documents them.  ItemReader:
# an S3 inventory (InputType MANIFEST, or ManifestType S3_INVENTORY): its
# manifest.json, then its CSV data files, GZIP ones included, named by
# fileSchema; an Athena UNLOAD manifest (ManifestType ATHENA_DATA); the
# objects of a listing read whole (Transformation LOAD_AND_FLATTEN); ZSTD
# and GZIP objects; JSONata's Arguments; MaxItems over several files; a
# CSV record shorter or longer than its header.  ResultWriter: WriterConfig's
# Transformation (NONE, COMPACT, FLATTEN) and OutputType (JSON, JSONL),
# the files checked byte by byte, and WriterConfig alone (the output
# transformed).  The definitions AWS refuses, refused by
# ValidateStateMachineDefinition and CreateStateMachine.  A "#TestCase"
# execution's map run children run the test case, their invocations
# counted with the execution's as Step Functions Local counts a Map's,
# across a kill -9 of the owner too.  The hostile pass: manifests that
# point outside their bucket, huge, cut short, not JSON, not UTF-8, a
# million lines; NUL and bad UTF-8 in the data; a GZIP bomb; GZIP cut
# short or corrupt; a data file missing mid-run.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Compress::Gzip qw(gzip $GzipError);
use Sfn::Test;

my $t = Sfn::Test->new;
my $dir = $t->dir;
my $J = $t->json;

my $acct = 'arn:aws:states:us-east-1:000000000000';
my $role = 'arn:aws:iam::000000000000:role/dmap';
my $fn = 'arn:aws:lambda:us-east-1:000000000000:function:Call';
my $down = Sfn::Test::free_port();      # nothing listens there

my $ret = sub { { Return => { StatusCode => 200, Payload => $_[0] } } };

my $mock = {
    StateMachines => {
        mockdm => { TestCases => { Ok => { Call => 'Calls' } } },
        mockstd => { TestCases => { Ok => { Call => 'Calls' } } },
        mockkill => { TestCases => { Ok => { Call => 'Many' } } } },
    MockedResponses => {
        Calls => { 0 => $ret->('a'), 1 => $ret->('b'), 2 => $ret->('c') },
        Many => { '0-999' => $ret->('mocked') } } };
$t->write_file('conf/mock.json', $J->encode($mock));

$t->start($t->sfn_http(
              zone => '8m', buckets => [ data => 'data', out => 'out',
                                         other => 'other' ],
              http => "    sfn_integration   arn:aws:lambda:*:*:function:* "
                      . "http://127.0.0.1:$down/fn timeout=2s;\n"
                      . "    sfn_mock_config   %%DIR%%/conf/mock.json;\n",
              server => "location = / { client_max_body_size 2m; "
                        . "sfn_aws_api; }\n"),
          workers => 2);
mkdir "$dir/$_" for qw(data out other);

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

sub gz {
    my ($text) = @_;
    my $out;
    gzip(\$text => \$out) or die $GzipError;
    return $out;
}

my $n = 0;

sub definition {
    my ($map, %o) = @_;
    return { ($o{jsonata} ? (QueryLanguage => 'JSONata') : ()),
             StartAt => 'M', States => { M => { Type => 'Map',
        ItemProcessor => { ProcessorConfig => { Mode => 'DISTRIBUTED',
                               ExecutionType => $o{type} // 'EXPRESS' },
                           StartAt => $o{start} // 'P', States => $o{states}
                               // { P => { Type => 'Pass', End => \1 } } },
        %$map, End => \1 } } };
}

sub run_map {
    my ($map, $input, %o) = @_;
    my $name = $o{name} // 'io' . ++$n;
    my ($st, $r) = api('CreateStateMachine', { name => $name,
        definition => $J->encode(definition($map, %o)), roleArn => $role });
    is($st, 200, "$name created") or diag(explain $r);
    ($st, $r) = api('StartExecution', {
        stateMachineArn => "$acct:stateMachine:$name"
                           . ($o{case} ? "#$o{case}" : ''),
        input => $J->encode($input // {}) });
    my $d = settle($r->{executionArn}, $o{timeout});
    $d->{out} = eval { $J->decode($d->{output}) } if defined $d->{output};
    $d->{machine} = $name;
    return $d;
}

sub reader {
    my ($key, $config, %o) = @_;
    return { ItemReader => {
        Resource => $o{resource} // 'arn:aws:states:::s3:getObject',
        Parameters => { Bucket => $o{bucket} // 'data',
                        ($key ? (Key => $key) : ()),
                        %{ $o{params} // {} } },
        ($config ? (ReaderConfig => $config) : ()) },
        %{ $o{map} // {} } };
}

sub fails {
    my ($d, $re, $what) = @_;
    is($d->{status} . ' ' . ($d->{error} // ''),
       'FAILED States.ItemReaderFailed', $what) or diag(explain $d);
    like($d->{cause} // '', $re, "$what: the cause");
}


# the definitions AWS refuses: ValidateStateMachineDefinition lists them,
# CreateStateMachine answers InvalidDefinition

sub refused {
    my ($map, $re, $what) = @_;
    my $def = $J->encode(definition($map));
    my ($st, $r) = api('ValidateStateMachineDefinition',
                       { definition => $def });
    is($st . ' ' . ($r->{result} // ''), '200 FAIL', "validate: $what");
    my ($diag) = @{ $r->{diagnostics} // [] };
    like(($diag->{code} // '') . ': ' . ($diag->{message} // ''),
         qr/^SCHEMA_VALIDATION_FAILED: .*$re/, "validate: $what: why");
    ($st, $r) = api('CreateStateMachine', { name => 'bad' . ++$n,
                                            definition => $def,
                                            roleArn => $role });
    is($st . ' ' . ($r->{__type} // ''), '400 InvalidDefinition',
       "create: $what");
}

sub accepted {
    my ($map, $what) = @_;
    my ($st, $r) = api('ValidateStateMachineDefinition',
                       { definition => $J->encode(definition($map)) });
    is($st . ' ' . ($r->{result} // ''), '200 OK', "validate: $what")
        or diag(explain $r);
}

my $put = { Resource => 'arn:aws:states:::s3:putObject',
            Parameters => { Bucket => 'out', Prefix => 'p' } };

refused({ ResultWriter => { %$put,
                            WriterConfig => { Transformation => 'SOME' } } },
        qr/Transformation must be NONE, COMPACT or FLATTEN/,
        'a Transformation AWS does not have');
refused({ ResultWriter => { %$put, WriterConfig => { OutputType => 'CSV' } } },
        qr/OutputType must be JSON or JSONL/, 'an OutputType');
refused({ ResultWriter => { WriterConfig => { OutputType => 1 } } },
        qr/OutputType must be JSON or JSONL/, 'an OutputType not a string');
refused({ ResultWriter => { %$put, WriterConfig => { Format => 'JSON' } } },
        qr/Field 'Format' is not supported/, 'a field WriterConfig lacks');
refused({ ResultWriter => { %$put, WriterConfig => [] } },
        qr/'WriterConfig' must be an OBJECT/, 'WriterConfig not an object');
refused({ ResultWriter => {} }, qr/cannot be empty/, 'an empty ResultWriter');
refused({ ResultWriter => { Parameters => { Bucket => 'out' } } },
        qr/ResultWriter Resource must be/, 'Parameters without a Resource');
refused({ ResultWriter => { Resource => $put->{Resource} } },
        qr/needs Parameters/, 'a Resource without Parameters');
accepted({ ResultWriter => { WriterConfig => { Transformation => 'FLATTEN',
                                               OutputType => 'JSON' } } },
         'WriterConfig alone');
accepted({ ResultWriter => { %$put,
                             WriterConfig => { Transformation => 'COMPACT',
                                               OutputType => 'JSONL' } } },
         'all three fields');

refused(reader('m.json', { ManifestType => 'S3_INVENTORY',
                           InputType => 'CSV' }),
        qr/InputType must not be given with ManifestType S3_INVENTORY/,
        'S3_INVENTORY with an InputType');
refused(reader('m.json', { ManifestType => 'HIVE' }),
        qr/ManifestType must be ATHENA_DATA or S3_INVENTORY/,
        'a ManifestType AWS does not have');
refused(reader('m.csv', { ManifestType => 'ATHENA_DATA' }),
        qr/ATHENA_DATA needs an InputType of CSV, JSONL or PARQUET/,
        'ATHENA_DATA without its InputType');
refused(reader('m.json', { InputType => 'XML' }),
        qr/InputType must be CSV, JSON, JSONL, PARQUET or MANIFEST/,
        'an InputType AWS does not have');
refused(reader('m.json', { InputType => 'JSON',
                           Transformation => 'LOAD_AND_FLATTEN' }),
        qr/LOAD_AND_FLATTEN is only supported with .*listObjectsV2/,
        'LOAD_AND_FLATTEN of one object');
refused(reader(undef, { Transformation => 'LOAD_AND_FLATTEN' },
               resource => 'arn:aws:states:::s3:listObjectsV2'),
        qr/LOAD_AND_FLATTEN needs an InputType/,
        'LOAD_AND_FLATTEN without an InputType');
refused(reader('m.csv', { InputType => 'CSV', CSVDelimiter => 'COLON' }),
        qr/CSVDelimiter must be COMMA, PIPE, SEMICOLON, SPACE or TAB/,
        'a CSVDelimiter AWS does not have');
refused(reader('m.json', { InputType => 'JSON', CSVDelimiter => 'PIPE' }),
        qr/only supported with the CSV or MANIFEST InputType/,
        'CSVDelimiter of JSON');
refused(reader('m.csv', { InputType => 'CSV',
                          CSVHeaderLocation => 'GIVEN' }),
        qr/CSVHeaders must be a list of names/, 'GIVEN without CSVHeaders');
refused(reader('m.csv', { InputType => 'CSV', CSVHeaderLocation => 'GIVEN',
                          CSVHeaders => [ 'a', 1 ] }),
        qr/CSVHeaders must be strings/, 'a header not a string');
refused(reader('m.csv', { InputType => 'CSV', CSVHeaderLocation => 'GIVEN',
                          CSVHeaders => [ 'h' x 11000 ] }),
        qr/larger than 10 KiB/, 'headers past 10 KiB');
refused(reader('m.json', { InputType => 'JSON', Mode => 'FAST' }),
        qr/Field 'Mode' is not supported/, 'a field ReaderConfig lacks');
accepted(reader('m.json', { ManifestType => 'S3_INVENTORY',
                            CSVDelimiter => 'PIPE', MaxItems => 10 }),
         'S3_INVENTORY with a delimiter');
accepted(reader('m.csv', { ManifestType => 'ATHENA_DATA',
                           InputType => 'CSV', CSVHeaderLocation => 'GIVEN',
                           CSVHeaders => [ 'a' ] }),
         'ATHENA_DATA of CSV');
accepted(reader(undef, { InputType => 'JSONL',
                         Transformation => 'LOAD_AND_FLATTEN' },
                resource => 'arn:aws:states:::s3:listObjectsV2'),
         'LOAD_AND_FLATTEN of JSON Lines');


# ResultWriter: each Transformation and OutputType, byte by byte.  Each
# child passes its item on: two arrays and an object.

my $items = [ [ 1, 2 ], [ 3 ], { k => 1 } ];

sub written {
    my ($config, %o) = @_;
    my $d = run_map({ ItemsPath => '$.items', MaxConcurrency => 1,
                      ToleratedFailureCount => 5,
                      ResultWriter => { %$put,
                          Parameters => { Bucket => 'out',
                                          Prefix => 'w' . ($n + 1) },
                          ($config ? (WriterConfig => $config) : ()) } },
                    { items => $o{items} // $items }, %o);
    is($d->{status}, 'SUCCEEDED', 'written: succeeded') or diag(explain $d);
    my $det = $d->{out}{ResultWriterDetails} // {};
    my $man = $t->read_file("out/$det->{Key}");
    my $m = eval { $J->decode($man) } // {};
    my %files = map { $_ => [ map { $t->read_file("out/$_->{Key}") }
                              @{ $m->{ResultFiles}{$_} // [] } ] }
                qw(SUCCEEDED FAILED);
    return ($d, $man, $m, \%files);
}

sub record {
    my ($d, $text, $in, $status, %o) = @_;
    my ($arn, $name, $start, $stop) = $text =~
        /^\{"ExecutionArn":"([^"]+)","Input":.*"Name":"([^"]+)".*
          "StartDate":"([^"]+)".*"StopDate":"([^"]+)"\}$/x;
    my $q = sub { my $s = $J->encode($_[0]); $s };
    my $out = $status eq 'SUCCEEDED'
        ? '"Output":' . $q->($J->encode($in))
          . ',"OutputDetails":{"Included":true},'
        : '"Error":"Bad","Cause":"item was bad",';
    return '{"ExecutionArn":"' . ($arn // '') . '","Input":'
           . $q->($J->encode($in)) . ',"InputDetails":{"Included":true},'
           . '"Name":"' . ($name // '') . '",' . $out
           . '"RedriveCount":0,"RedriveStatus":"NOT_REDRIVABLE",'
           . '"RedriveStatusReason":"Express executions cannot be '
           . 'redriven","StartDate":"' . ($start // '') . '",'
           . '"StateMachineArn":"' . "$acct:stateMachine:$d->{machine}/M"
           . '","Status":"' . $status . '","StopDate":"' . ($stop // '')
           . '"}';
}

my ($d, $man, $m, $f) = written(undef);
my @recs = $f->{SUCCEEDED}[0] =~ /(\{"ExecutionArn".*?"StopDate":"[^"]+"\})/g;
is(scalar @recs, 3, 'NONE (no WriterConfig): a record a child');
is($f->{SUCCEEDED}[0],
   '[' . join(',', map { record($d, $recs[$_], $items->[$_], 'SUCCEEDED') }
                   0 .. 2) . ']',
   'NONE, JSON: SUCCEEDED_0.json byte by byte, in item order');
like($recs[0], qr/"StartDate":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/,
     'NONE: dates in ISO 8601 with milliseconds');
like($recs[0], qr/"ExecutionArn":"\Q$acct\E:express:\Q$d->{machine}\E\/M:/,
     'NONE: the child\'s ARN');
my ($uuid) = $d->{out}{MapRunArn} =~ /:([0-9a-f-]{36})$/;
is($man, '{"DestinationBucket":"out","MapRunArn":"' . $d->{out}{MapRunArn}
         . '","ResultFiles":{"FAILED":[],"PENDING":[],"SUCCEEDED":[{"Key":"w'
         . $n . "/$uuid/SUCCEEDED_0.json\",\"Size\":"
         . length($f->{SUCCEEDED}[0]) . '}]}}',
   'manifest.json byte by byte');
is_deeply($d->{out}, { MapRunArn => $d->{out}{MapRunArn},
                       ResultWriterDetails => { Bucket => 'out',
                           Key => "w$n/$uuid/manifest.json" } },
          'the output: MapRunArn and ResultWriterDetails');

($d, $man, $m, $f) = written({ Transformation => 'COMPACT' });
is($f->{SUCCEEDED}[0], '[[1,2],[3],{"k":1}]', 'COMPACT, JSON');
($d, $man, $m, $f) = written({ Transformation => 'FLATTEN' });
is($f->{SUCCEEDED}[0], '[1,2,3,{"k":1}]', 'FLATTEN, JSON');
($d, $man, $m, $f) = written({ Transformation => 'COMPACT',
                               OutputType => 'JSONL' });
is($f->{SUCCEEDED}[0], qq([1,2]\n[3]\n{"k":1}\n), 'COMPACT, JSONL');
like($man, qr/"Size":18\}/, 'COMPACT, JSONL: its size in the manifest');
($d, $man, $m, $f) = written({ Transformation => 'FLATTEN',
                               OutputType => 'JSONL' });
is($f->{SUCCEEDED}[0], qq(1\n2\n3\n{"k":1}\n), 'FLATTEN, JSONL');
($d, $man, $m, $f) = written({ OutputType => 'JSONL' });
@recs = split /\n/, $f->{SUCCEEDED}[0];
is($f->{SUCCEEDED}[0],
   join('', map { record($d, $recs[$_], $items->[$_], 'SUCCEEDED') . "\n" }
            0 .. 2),
   'NONE, JSONL: a record a line');
($d, $man, $m, $f) = written({ Transformation => 'FLATTEN' },
                             items => [ [], [ [ 1 ] ], 'x' ]);
is($f->{SUCCEEDED}[0], '[[1],"x"]',
   'FLATTEN: an empty array adds nothing, one level only, a scalar kept');

# a failure is written unchanged (NONE) whatever the Transformation

my $fail_states = {
    P => { Type => 'Choice', Choices => [ {
               Variable => '$[0]', IsPresent => JSON::PP::true,
               Next => 'F' } ], Default => 'S' },
    S => { Type => 'Pass', End => \1 },
    F => { Type => 'Fail', Error => 'Bad', Cause => 'item was bad' } };
($d, $man, $m, $f) = written({ Transformation => 'FLATTEN',
                               OutputType => 'JSONL' },
                             items => [ { a => 1 }, [ 9 ], { b => 2 } ],
                             states => $fail_states);
is($f->{SUCCEEDED}[0], qq({"a":1}\n{"b":2}\n), 'FLATTEN: the successes');
my ($frec) = split /\n/, $f->{FAILED}[0] // '';
is($f->{FAILED}[0], record($d, $frec, [ 9 ], 'FAILED') . "\n",
   'FLATTEN: the failure\'s record, unchanged, in FAILED_0.json');

# WriterConfig alone: no file, the output transformed

my $files_before = `find $dir/out -type f | wc -l`;
$d = run_map({ ItemsPath => '$.items',
               ResultWriter => { WriterConfig => {
                   Transformation => 'FLATTEN', OutputType => 'JSON' } } },
             { items => $items });
is($d->{output}, '[1,2,3,{"k":1}]', 'WriterConfig alone, FLATTEN: the output');
is(`find $dir/out -type f | wc -l`, $files_before, 'and no file');
$d = run_map({ ItemsPath => '$.items',
               ResultWriter => { WriterConfig => { OutputType => 'JSON' } } },
             { items => $items });
is($d->{output}, '[[1,2],[3],{"k":1}]',
   'WriterConfig alone: COMPACT unless told');
$d = run_map({ ItemsPath => '$.items', ToleratedFailureCount => 1,
               ResultWriter => { WriterConfig => {
                   Transformation => 'NONE' } } },
             { items => [ { a => 1 }, [ 2 ] ] }, states => $fail_states);
is(scalar @{ $d->{out} // [] }, 2, 'WriterConfig alone, NONE: two records');
is($d->{out}[0]{Status} . ' ' . $d->{out}[0]{Output}, 'SUCCEEDED {"a":1}',
   'NONE: the success\'s record');
is($d->{out}[1]{Status} . ' ' . $d->{out}[1]{Error}, 'FAILED Bad',
   'NONE: the failure\'s record');
$d = run_map({ ItemsPath => '$.items',
               ResultWriter => { WriterConfig => {
                   Transformation => 'FLATTEN' } } },
             { items => [ 1, 2, 3 ] },
             states => { P => { Type => 'Pass', End => \1,
                                Result => [ ('x' x 100) x 1000 ] } });
is($d->{status} . ' ' . ($d->{error} // ''),
   'FAILED States.DataLimitExceeded',
   'WriterConfig alone: an output past 256 KiB');


# ItemReader: an S3 inventory

my $inv_csv = qq("src","csvDataset/","0","2022-11-16T00:27:19.000Z"\n)
    . qq("src","csvDataset/titles.csv","3399671","2022-11-16T00:29:32.000Z"\n);
my $inv_csv2 = qq("src","imageDataset/n02085620_10074.jpg","27034",)
    . qq("2022-11-15T20:02:16.000Z"\n);
mkdir "$dir/data/inv"; mkdir "$dir/data/inv/data";
$t->write_file('data/inv/data/a.csv.gz', gz($inv_csv));
$t->write_file('data/inv/data/b.csv', $inv_csv2);

sub manifest {
    my (%o) = @_;
    return $J->encode({
        sourceBucket => 'src',
        destinationBucket => $o{dest} // 'arn:aws:s3:::data',
        version => '2016-11-30', creationTimestamp => '1668560400000',
        fileFormat => $o{format} // 'CSV',
        fileSchema => $o{schema} // 'Bucket, Key, Size, LastModifiedDate',
        files => [ map { { key => $_, size => 1,
                           MD5checksum => '00' } }
                   @{ $o{files} // [ 'inv/data/a.csv.gz',
                                     'inv/data/b.csv' ] } ] });
}
$t->write_file('data/inv/manifest.json', manifest());

my $inv_items = [
    { Bucket => 'src', Key => 'csvDataset/', Size => '0',
      LastModifiedDate => '2022-11-16T00:27:19.000Z' },
    { Bucket => 'src', Key => 'csvDataset/titles.csv', Size => '3399671',
      LastModifiedDate => '2022-11-16T00:29:32.000Z' },
    { Bucket => 'src', Key => 'imageDataset/n02085620_10074.jpg',
      Size => '27034', LastModifiedDate => '2022-11-15T20:02:16.000Z' } ];

$d = run_map(reader('inv/manifest.json', { InputType => 'MANIFEST' }));
is($d->{status}, 'SUCCEEDED', 'MANIFEST') or diag(explain $d);
is_deeply($d->{out}, $inv_items,
          'MANIFEST: every object of the data files, GZIP ones too');
like($d->{output}, qr/^\[\{"Bucket":"src","Key":"csvDataset\/","Size":"0",/,
     'MANIFEST: the fields in fileSchema\'s order, as strings');
$d = run_map(reader('inv/manifest.json', { ManifestType => 'S3_INVENTORY',
                                           MaxItems => 2 }));
is_deeply($d->{out}, [ @$inv_items[0, 1] ],
          'ManifestType S3_INVENTORY, MaxItems 2');
$d = run_map(reader('inv/manifest.json', { ManifestType => 'S3_INVENTORY',
                                           CSVHeaderLocation => 'GIVEN',
                                           CSVHeaders => [ 'b', 'k' ] }));
is_deeply($d->{out}[1], { b => 'src', k => 'csvDataset/titles.csv' },
          'S3_INVENTORY with its headers GIVEN: fields past them left out');
$d = run_map(reader(undef, { InputType => 'MANIFEST' }, map => {
                 ItemSelector => { 'k.$' => '$$.Map.Item.Value.Key' } },
             params => { 'Key.$' => '$.manifest' }),
             { manifest => 'inv/manifest.json' });
is_deeply($d->{out}, [ map { { k => $_->{Key} } } @$inv_items ],
          'MANIFEST: Key from the input, an ItemSelector');
$d = run_map({ ItemReader => {
                   Resource => 'arn:aws:states:::s3:getObject',
                   ReaderConfig => { ManifestType => 'S3_INVENTORY' },
                   Arguments => { Bucket => '{% $states.input.b %}',
                                  Key => '{% $states.input.k %}' } } },
             { b => 'data', k => 'inv/manifest.json' }, jsonata => 1);
is_deeply($d->{out}, $inv_items, 'JSONata: the ItemReader\'s Arguments');

$t->write_file('data/inv/pipe.csv', qq(src|a b|1|2022\n));
$t->write_file('data/inv/pipe.json', manifest(files => [ 'inv/pipe.csv' ]));
$d = run_map(reader('inv/pipe.json', { InputType => 'MANIFEST',
                                       CSVDelimiter => 'PIPE' }));
is_deeply($d->{out}, [ { Bucket => 'src', Key => 'a b', Size => '1',
                         LastModifiedDate => '2022' } ],
          'MANIFEST with CSVDelimiter PIPE');

# an Athena manifest; the objects of a listing; ZSTD and GZIP objects

mkdir "$dir/data/ath";
$t->write_file('data/ath/1.jsonl', qq({"id":1}\n{"id":2}\n));
$t->write_file('data/ath/2.jsonl.gz', gz(qq({"id":3}\n)));
$t->write_file('data/ath/q-manifest.csv',
               "s3://data/ath/1.jsonl\ns3://data/ath/2.jsonl.gz\n");
$d = run_map(reader('ath/q-manifest.csv', { ManifestType => 'ATHENA_DATA',
                                            InputType => 'JSONL' }));
is_deeply($d->{out}, [ { id => 1 }, { id => 2 }, { id => 3 } ],
          'ATHENA_DATA of JSON Lines, a GZIP one among them');
$t->write_file('data/ath/c.csv', "1,x\n2,y\n");
$t->write_file('data/ath/c-manifest.csv', "s3://data/ath/c.csv\r\n");
$d = run_map(reader('ath/c-manifest.csv', { ManifestType => 'ATHENA_DATA',
                                            InputType => 'CSV',
                                            CSVHeaderLocation => 'GIVEN',
                                            CSVHeaders => [ 'n', 'v' ] }));
is_deeply($d->{out}, [ { n => '1', v => 'x' }, { n => '2', v => 'y' } ],
          'ATHENA_DATA of CSV without a header row, headers GIVEN');

mkdir "$dir/data/flat";
$t->write_file('data/flat/a.csv', "h,i\n1,2\n");
$t->write_file('data/flat/b.csv', "h,i\n3,4\n");
$d = run_map(reader(undef, { InputType => 'CSV',
                             Transformation => 'LOAD_AND_FLATTEN',
                             CSVHeaderLocation => 'FIRST_ROW' },
                    resource => 'arn:aws:states:::s3:listObjectsV2',
                    params => { Prefix => 'flat/' }));
is_deeply($d->{out}, [ { h => '1', i => '2' }, { h => '3', i => '4' } ],
          'LOAD_AND_FLATTEN: the rows of each object listed, each its header');

SKIP: {
    skip 'no zstd', 3 unless -x '/usr/bin/zstd';
    $t->write_file('data/z.json', '[{"z":1},{"z":2}]');
    system("zstd -q -f $dir/data/z.json -o $dir/data/z.json.zst");
    $d = run_map(reader('z.json.zst', { InputType => 'JSON' }));
    is_deeply($d->{out}, [ { z => 1 }, { z => 2 } ], 'a ZSTD JSON array');

    # a frame asking for a 1 GiB window: refused, not given the memory
    $t->write_file('data/long.jsonl', qq({"a":1}\n) x 100000);
    system("zstd -q -c --long=30 < $dir/data/long.jsonl "
           . "> $dir/data/long.jsonl.zst");
    fails(run_map(reader('long.jsonl.zst', { InputType => 'JSONL' })),
          qr/"long.jsonl.zst" is not valid ZSTD/, 'a ZSTD window of 1 GiB');
}
$t->write_file('data/g.csv.gz', gz("a,b,c\n1\n1,2,3,4\n"));
$d = run_map(reader('g.csv.gz', { InputType => 'CSV',
                                  CSVHeaderLocation => 'FIRST_ROW' }));
is_deeply($d->{out}, [ { a => '1', b => '', c => '' },
                       { a => '1', b => '2', c => '3' } ],
          'GZIP CSV: a field missing is "", a field past the header left out');

# ItemsPointer: the array it points at in a JSON object, streamed

$t->write_file('data/nest.json', $J->encode({
    meta => { x => [ 1, 2, { a => ']}"' } ] },
    inventory => { products => { other => [ 9 ],
                                 featured => [ { id => 1 }, { id => 2 } ] } },
    'a/b' => { 'm~n' => [ 'slash' ] },
    list => [ [ 0 ], [ 5, 6 ] ] }));
for my $c ([ '/inventory/products/featured', [ { id => 1 }, { id => 2 } ] ],
           [ '/a~1b/m~0n', [ 'slash' ] ], [ '/list/1', [ 5, 6 ] ]) {
    $d = run_map(reader('nest.json', { InputType => 'JSON',
                                       ItemsPointer => $c->[0] }));
    is_deeply($d->{out}, $c->[1], "ItemsPointer $c->[0]") or diag(explain $d);
}
$t->write_file('data/esc.json.gz', gz('{"k\u0065y" : [ 7 , 8 ] , "z":1}'));
$d = run_map(reader('esc.json.gz', { InputType => 'JSON',
                                     ItemsPointer => '/key' }));
is_deeply($d->{out}, [ 7, 8 ], 'ItemsPointer: a name escaped, GZIP');
refused(reader('m.csv', { InputType => 'CSV', ItemsPointer => '/a' }),
        qr/ItemsPointer is only supported with the JSON InputType/,
        'ItemsPointer of CSV');
refused(reader('m.json', { InputType => 'JSON', ItemsPointer => 'a/b' }),
        qr/ItemsPointer must be a JSON Pointer/, 'an ItemsPointer without /');



# the hostile pass

$t->write_file('data/inv/out.json',
               manifest(files => [ '../out/secret.csv' ]));
fails(run_map(reader('inv/out.json', { InputType => 'MANIFEST' })),
      qr/names a key that is not valid in its bucket/,
      'a manifest naming a key outside its bucket');
$t->write_file('data/inv/abs.json', manifest(files => [ '/etc/passwd' ]));
fails(run_map(reader('inv/abs.json', { InputType => 'MANIFEST' })),
      qr/not valid in its bucket/, 'a manifest naming an absolute path');
$t->write_file('other/b.csv', $inv_csv2);
$t->write_file('data/inv/dest.json',
               manifest(dest => 'arn:aws:s3:::other', files => [ 'b.csv' ]));
fails(run_map(reader('inv/dest.json', { InputType => 'MANIFEST' })),
      qr/destinationBucket is not the bucket "data"/,
      'a manifest sending the reader to another bucket');
$t->write_file('data/ath/out-manifest.csv', "s3://other/b.csv\n");
fails(run_map(reader('ath/out-manifest.csv',
                     { ManifestType => 'ATHENA_DATA', InputType => 'CSV' })),
      qr/names an object outside the bucket "data"/,
      'an Athena manifest naming another bucket');
$t->write_file('data/ath/bad-manifest.csv', "/etc/passwd\n");
fails(run_map(reader('ath/bad-manifest.csv',
                     { ManifestType => 'ATHENA_DATA', InputType => 'CSV' })),
      qr/not an s3:\/\/ URI/, 'an Athena manifest line not a URI');

$t->write_file('data/inv/cut.json', substr(manifest(), 0, 60));
fails(run_map(reader('inv/cut.json', { InputType => 'MANIFEST' })),
      qr/"inv\/cut.json" is not a JSON object/, 'a manifest cut short');
$t->write_file('data/inv/utf8.json', qq({"fileFormat":"CSV\xff"}));
fails(run_map(reader('inv/utf8.json', { InputType => 'MANIFEST' })),
      qr/not a JSON object/, 'a manifest that is not UTF-8');
$t->write_file('data/inv/nul.json', qq({"fileFormat":"CSV"\0}));
fails(run_map(reader('inv/nul.json', { InputType => 'MANIFEST' })),
      qr/not a JSON object/, 'a NUL byte in a manifest');
$t->write_file('data/inv/orc.json', manifest(format => 'ORC'));
fails(run_map(reader('inv/orc.json', { InputType => 'MANIFEST' })),
      qr/fileFormat must be CSV/, 'an ORC inventory');
$t->write_file('data/inv/nofiles.json', '{"fileFormat":"CSV",'
               . '"fileSchema":"Key","files":{}}');
fails(run_map(reader('inv/nofiles.json', { InputType => 'MANIFEST' })),
      qr/no list of files/, 'a manifest whose files are not a list');
$t->write_file('data/inv/nokey.json', '{"fileFormat":"CSV",'
               . '"fileSchema":"Key","files":[{"size":1}]}');
fails(run_map(reader('inv/nokey.json', { InputType => 'MANIFEST' })),
      qr/has no key/, 'a file of the manifest without its key');
fails(run_map(reader('inv/none.json', { InputType => 'MANIFEST' })),
      qr/"inv\/none.json" in "data" could not be read: it does not exist/,
      'a manifest that is not there');

# huge: a manifest past 8 MiB, a million lines of it; a million-line
# data file read only as far as MaxItems

{
    my $lines = join('', map { "s3://data/ath/x$_.csv\n" } 1 .. 1_000_000);
    $t->write_file('data/ath/million-manifest.csv', $lines);
    my $t0 = time;
    fails(run_map(reader('ath/million-manifest.csv',
                         { ManifestType => 'ATHENA_DATA',
                           InputType => 'CSV' })),
          qr/larger than 8388608 bytes/, 'a million-line Athena manifest');
    $t->write_file('data/inv/huge.json', manifest(
        files => [ map { "inv/data/f$_.csv" } 1 .. 200_000 ]));
    fails(run_map(reader('inv/huge.json', { InputType => 'MANIFEST' })),
          qr/larger than 8388608 bytes/, 'an inventory manifest past 8 MiB');
    $t->write_file('data/inv/many.json', manifest(
        files => [ ('inv/data/b.csv') x 40_000 ]));
    $d = run_map(reader('inv/many.json', { InputType => 'MANIFEST',
                                           MaxItems => 3 }));
    is_deeply($d->{out}, [ ($inv_items->[2]) x 3 ],
              'a manifest of 40,000 files: read as far as MaxItems');
    $t->write_file('data/inv/million.csv.gz', gz(join('', map {
        qq("src","k$_","1","2022-01-01T00:00:00.000Z"\n) } 1 .. 1_000_000)));
    $t->write_file('data/inv/million.json',
                   manifest(files => [ 'inv/million.csv.gz' ]));
    $d = run_map(reader('inv/million.json', { InputType => 'MANIFEST',
                                              MaxItems => 5 }));
    is_deeply([ map { $_->{Key} } @{ $d->{out} // [] } ],
              [ map { "k$_" } 1 .. 5 ],
              'a million-line GZIP data file: only what MaxItems takes');
    ok(time - $t0 < 60, 'all of it quickly');
}

# the data: NUL, bad UTF-8; GZIP bombs, cut short, corrupt

$t->write_file('data/inv/nul.csv', qq("src","a\0b","1","x"\n));
$t->write_file('data/inv/nulm.json', manifest(files => [ 'inv/nul.csv' ]));
fails(run_map(reader('inv/nulm.json', { InputType => 'MANIFEST' })),
      qr/CSV line 1 is not UTF-8 text/, 'a NUL byte in an inventory file');
$t->write_file('data/inv/bad.csv.gz', gz(qq("src","\xc3\x28","1","x"\n)));
$t->write_file('data/inv/badm.json', manifest(files => [ 'inv/bad.csv.gz' ]));
fails(run_map(reader('inv/badm.json', { InputType => 'MANIFEST' })),
      qr/not UTF-8 text/, 'invalid UTF-8 in a GZIP inventory file');

$t->write_file('data/bomb.jsonl.gz', gz("\0" x 50_000_000));
my $t0 = time;
fails(run_map(reader('bomb.jsonl.gz', { InputType => 'JSONL' })),
      qr/line 1 of "bomb.jsonl.gz" is larger than 262144 bytes/,
      'a GZIP bomb of one line: stopped at an item\'s limit');
$t->write_file('data/blank.jsonl.gz', gz(("\n" x 50_000_000) . "{\"a\":1}\n"));
$d = run_map(reader('blank.jsonl.gz', { InputType => 'JSONL' }));
is_deeply($d->{out}, [ { a => 1 } ], 'a GZIP bomb of 50 MB of blank lines');
my $gap = "\n" x 10_000_000;
$t->write_file('data/gaps.jsonl.gz',
               gz(qq({"a":1}\n${gap}{"a":2}\n${gap}{"a":3}\n)));
$d = run_map(reader('gaps.jsonl.gz', { InputType => 'JSONL' },
                    map => { ItemBatcher => { MaxItemsPerBatch => 2 } }));
is($d->{output}, '[{"Items":[{"a":1},{"a":2}]},{"Items":[{"a":3}]}]',
   'batches across the reader\'s yields: the same batches');
ok(time - $t0 < 60, 'the bombs in bounded time');
my $rss = 0;
for my $pid ($t->nginx_workers) {
    my $kb = `ps -o rss= -p $pid` + 0;
    $rss = $kb if $kb > $rss;
}
ok($rss < 200_000, "a worker's memory stays bounded ($rss KiB)");

my $good = gz(qq({"a":1}\n{"a":2}\n{"a":3}\n));
$t->write_file('data/cut.jsonl.gz', substr($good, 0, length($good) - 12));
fails(run_map(reader('cut.jsonl.gz', { InputType => 'JSONL' })),
      qr/"cut.jsonl.gz" is not valid GZIP: it ends early/, 'GZIP cut short');
my $bad = $good;
substr($bad, 10, 1) = "\xff";       # the first block: an invalid type
$t->write_file('data/corrupt.jsonl.gz', $bad);
fails(run_map(reader('corrupt.jsonl.gz', { InputType => 'JSONL' })),
      qr/"corrupt.jsonl.gz" is not valid GZIP/, 'corrupt GZIP');
$t->write_file('data/two.jsonl.gz', gz(qq({"a":1}\n)) . gz(qq({"a":2}\n)));
$d = run_map(reader('two.jsonl.gz', { InputType => 'JSONL' }));
is_deeply($d->{out}, [ { a => 1 }, { a => 2 } ], 'two GZIP members');

fails(run_map(reader('nest.json', { InputType => 'JSON',
                                    ItemsPointer => '/inventory/none' })),
      qr/ItemsPointer "\/inventory\/none" points at nothing in "nest.json"/,
      'an ItemsPointer to nothing');
fails(run_map(reader('nest.json', { InputType => 'JSON',
                                    ItemsPointer => '/inventory' })),
      qr/does not point at an array/, 'an ItemsPointer to an object');
$t->write_file('data/far.json', '{"pad":"' . ('p' x 17_000_000)
                                . '","items":[1]}');
fails(run_map(reader('far.json', { InputType => 'JSON',
                                   ItemsPointer => '/items' })),
      qr/does not start within the first 16 MB of "far.json"/,
      'an ItemsPointer\'s array past the first 16 MB');
$t->write_file('data/nearcut.json', '{"pad":"' . ('p' x 100_000));
fails(run_map(reader('nearcut.json', { InputType => 'JSON',
                                       ItemsPointer => '/items' })),
      qr/ends before the array/, 'an object cut before the array');

# a data file missing mid-run: the items before it run, then the failure

$t->write_file('data/inv/gone.json', manifest(files => [
    'inv/data/b.csv', 'inv/data/gone.csv', 'inv/data/b.csv' ]));
$d = run_map(reader('inv/gone.json', { InputType => 'MANIFEST' }));
fails($d, qr/"inv\/data\/gone.csv" in "data" could not be read: it does not/,
      'a data file missing mid-run');


# mocks: a "#TestCase" execution's map run children run its test case,
# the invocations counted over the execution (MaxConcurrency 1: in order)

my $call = { Call => { Type => 'Task',
                       Resource => 'arn:aws:states:::lambda:invoke',
                       Parameters => { FunctionName => $fn,
                                       'Payload.$' => '$' },
                       OutputPath => '$.Payload', End => \1 } };
$d = run_map({ ItemsPath => '$.items', MaxConcurrency => 1 },
             { items => [ 1, 2, 3 ] }, name => 'mockdm', case => 'Ok',
             start => 'Call', states => $call);
is($d->{status}, 'SUCCEEDED', 'mocked children: succeeded')
    or diag(explain $d);
is_deeply($d->{out}, [ 'a', 'b', 'c' ],
          'mocked children: invocations 0, 1, 2 over the execution');
my ($st, $r) = api('StartExecution', {
    stateMachineArn => "$acct:stateMachine:mockdm",
    input => $J->encode({ items => [ 1 ] }) });
$d = settle($r->{executionArn});
is($d->{status}, 'FAILED', 'without the test case: the real Lambda, down');

$d = run_map({ ItemsPath => '$.items', MaxConcurrency => 1 },
             { items => [ 1, 2, 3 ] }, name => 'mockstd', case => 'Ok',
             start => 'Call', states => $call, type => 'STANDARD');
is_deeply($d->{out}, [ 'a', 'b', 'c' ], 'mocked Standard children');

($st, $r) = api('CreateStateMachine', { name => 'mockdm2',
    definition => $J->encode(definition({ ItemsPath => '$.items' },
                                        start => 'Call', states => $call)),
    roleArn => $role });
($st, $r) = api('StartExecution', {
    stateMachineArn => "$acct:stateMachine:mockdm2#Ok",
    input => $J->encode({ items => [ 1 ] }) });
is($st, 400, 'a test case the mock configuration lacks: refused');

# kill -9 of the owner mid-run: the map run goes on, its children mocked;
# a reader of several files and JSON Lines results go on where they were

sub killed {
    my ($name, $def, $input) = @_;
    my ($st, $r) = api('CreateStateMachine', { name => $name =~ s/#.*//r,
        definition => $J->encode($def), roleArn => $role });
    ($st, $r) = api('StartExecution', {
        stateMachineArn => "$acct:stateMachine:$name",
        input => $J->encode($input) });
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
    ok($pid && kill('KILL', $pid), "kill -9 of the owner $owner");
    my $d = settle($ex, 90);
    like($t->read_file('logs/error.log'),
         qr/sfn map run "\Q$mr\E" goes on from item [1-9]/,
         "kill -9 of $name: it goes on from its recorded progress");
    return $d;
}

my $wait = { W => { Type => 'Wait', Seconds => 1, Next => 'Call' }, %$call };
$d = killed('mockkill#Ok', definition({ ItemsPath => '$.items',
                                        MaxConcurrency => 4 },
                                      start => 'W', states => $wait),
            { items => [ 0 .. 39 ] });
is($d->{status}, 'SUCCEEDED', 'kill -9: the mocked execution ends');
is_deeply(eval { $J->decode($d->{output}) }, [ ('mocked') x 40 ],
          'kill -9: every child after the restart mocked too');

mkdir "$dir/data/k";
for my $f (0 .. 3) {
    $t->write_file("data/k/$f.csv.gz", gz(join('', map {
        qq("src","k${f}_$_","1","x"\n) } 0 .. 9)));
}
$t->write_file('data/k/manifest.json',
               manifest(files => [ map { "k/$_.csv.gz" } 0 .. 3 ]));
$d = killed('readkill', definition({ %{ reader('k/manifest.json',
                                           { ManifestType => 'S3_INVENTORY' },
                                           map => { MaxConcurrency => 4 }) },
        ItemSelector => { 'k.$' => '$$.Map.Item.Value.Key' },
        ResultWriter => { %$put, Parameters => { Bucket => 'out',
                                                 Prefix => 'killed' },
                          WriterConfig => { Transformation => 'COMPACT',
                                            OutputType => 'JSONL' } } },
    start => 'W', states => { W => { Type => 'Wait', Seconds => 1,
                                     Next => 'P' },
                              P => { Type => 'Pass', End => \1 } }), {});
is($d->{status}, 'SUCCEEDED', 'kill -9 of an inventory reader: it ends')
    or diag(explain $d);
my $km = eval { $J->decode($t->read_file(
    'out/' . $J->decode($d->{output})->{ResultWriterDetails}{Key})) } // {};
is(join('', map { $t->read_file("out/$_->{Key}") }
            @{ $km->{ResultFiles}{SUCCEEDED} // [] }),
   join('', map { my $f = $_; map { qq({"k":"k${f}_$_"}\n) } 0 .. 9 } 0 .. 3),
   'kill -9: every row of the four files once, in order, JSON Lines');

$t->stop(allow => qr/exited on signal/);

done_testing;
