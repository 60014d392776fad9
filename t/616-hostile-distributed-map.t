# Distributed Map, hostile: objects that are not what the ItemReader was
# told (malformed JSON Lines and CSV, a line past an item's limit,
# invalid UTF-8, NUL bytes, a JSON array cut short, a missing object or
# bucket, a key that would leave its bucket), an ItemSelector that
# fails, definitions that misuse the fields, UpdateMapRun with bad
# values, a reader of 100,000 items at MaxConcurrency 1 while another
# request must stay fast, and PostgreSQL gone in the middle of a map run.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(time sleep);
use Sfn::Test;

my $t = Sfn::Test->new;
my $dir = $t->dir;

$t->start($t->sfn_http(zone => '8m', buckets => [ data => 'data',
                                                  out => 'out' ],
                       server => "location = / { sfn_aws_api; }\n"
                                 . "location = /ping { return 200 ok; }\n"),
          workers => 1);
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
        sleep 0.05;
    }
    return $d;
}

my $n = 0;

sub machine {
    my ($map, %o) = @_;
    my $name = 'h' . ++$n;
    my $def = { StartAt => 'M', States => { M => { Type => 'Map',
        ItemProcessor => { ProcessorConfig => { Mode => 'DISTRIBUTED',
                                                ExecutionType => 'EXPRESS' },
                           StartAt => 'P', States => {
                               P => { Type => 'Pass', End => \1 } } },
        %$map, End => \1 } } };
    my ($st, $r) = api('CreateStateMachine', { name => $name,
        definition => $t->json->encode($def), roleArn => $role });
    return ($st, $r, $name);
}

sub run_map {
    my ($map, $input, %o) = @_;
    my ($st, $r, $name) = machine($map);
    ($st, $r) = api('StartExecution', {
        stateMachineArn => "$acct:stateMachine:$name",
        input => $t->json->encode($input // {}) });
    return settle($r->{executionArn}, $o{timeout});
}

sub reads {
    my ($key, $type, $what, $error, $cause, %cfg) = @_;
    my $d = run_map({ ItemReader => {
        Resource => 'arn:aws:states:::s3:getObject',
        Parameters => { Bucket => $cfg{bucket} // 'data', Key => $key },
        ReaderConfig => { InputType => $type,
                          %{ $cfg{config} // {} } } } });
    is($d->{status} . ' ' . ($d->{error} // ''), "FAILED $error", $what);
    like($d->{cause} // '', $cause, "$what: the cause") if $cause;
}

$t->write_file('data/bad.jsonl', qq({"a":1}\n{"a":\n{"a":3}\n));
reads('bad.jsonl', 'JSONL', 'a malformed JSON Lines line',
      'States.ItemReaderFailed', qr/line 2 is not valid JSON/);

$t->write_file('data/huge.jsonl', '{"a":"' . ('x' x 300000) . "\"}\n");
reads('huge.jsonl', 'JSONL', 'a line past 256 KiB',
      'States.ItemReaderFailed', qr/larger than 262144 bytes/);

$t->write_file('data/utf8.jsonl', qq({"a":"\xff\xfe"}\n));
reads('utf8.jsonl', 'JSONL', 'invalid UTF-8 in JSON Lines',
      'States.ItemReaderFailed', qr/not valid JSON/);

$t->write_file('data/nul.jsonl', qq({"a":"x\0y"}\n));
reads('nul.jsonl', 'JSONL', 'a NUL byte in JSON Lines',
      'States.ItemReaderFailed', qr/not valid JSON/);

$t->write_file('data/quote.csv', qq(a,b\n1,x"y\n));
reads('quote.csv', 'CSV', 'a quote inside a CSV field',
      'States.ItemReaderFailed', qr/quote inside a field/,
      config => { CSVHeaderLocation => 'FIRST_ROW' });

# as AWS parses a text delimited file: a field past the header's is left
# out, one missing is an empty string

$t->write_file('data/fields.csv', qq(a,b\n1,2,3\n4\n));
{
    my $d = run_map({ ItemReader => {
        Resource => 'arn:aws:states:::s3:getObject',
        Parameters => { Bucket => 'data', Key => 'fields.csv' },
        ReaderConfig => { InputType => 'CSV',
                          CSVHeaderLocation => 'FIRST_ROW' } } });
    is($d->{output}, '[{"a":"1","b":"2"},{"a":"4","b":""}]',
       'CSV lines with more and fewer fields than their header');
}

$t->write_file('data/after.csv', qq(a,b\n"1"x,2\n));
reads('after.csv', 'CSV', 'text after a quoted CSV field',
      'States.ItemReaderFailed', qr/text after a quoted field/,
      config => { CSVHeaderLocation => 'FIRST_ROW' });

$t->write_file('data/open.csv', qq(a,b\n"1,2\n));
reads('open.csv', 'CSV', 'a CSV quote never closed',
      'States.ItemReaderFailed', undef,
      config => { CSVHeaderLocation => 'FIRST_ROW' });

$t->write_file('data/utf8.csv', qq(a\n\xc3\x28\n));
reads('utf8.csv', 'CSV', 'invalid UTF-8 in CSV', 'States.ItemReaderFailed',
      qr/not UTF-8 text/, config => { CSVHeaderLocation => 'FIRST_ROW' });

$t->write_file('data/nul.csv', qq(a\nx\0y\n));
reads('nul.csv', 'CSV', 'a NUL byte in CSV', 'States.ItemReaderFailed',
      qr/not UTF-8 text/, config => { CSVHeaderLocation => 'FIRST_ROW' });

$t->write_file('data/cut.json', '[{"a":1},{"a":');
reads('cut.json', 'JSON', 'a JSON array cut short', 'States.ItemReaderFailed',
      qr/ends early/);

$t->write_file('data/obj.json', '{"a":[1,2]}');
reads('obj.json', 'JSON', 'a JSON object, not an array',
      'States.ItemReaderFailed', qr/not a JSON array/);

$t->write_file('data/empty.json', '');
reads('empty.json', 'JSON', 'an empty object', 'States.ItemReaderFailed',
      qr/not a JSON array/);

reads('none.jsonl', 'JSONL', 'a missing object', 'States.ItemReaderFailed',
      qr/does not exist/);
reads('x.jsonl', 'JSONL', 'a missing bucket', 'States.ItemReaderFailed',
      qr/bucket "nobucket" does not exist/, bucket => 'nobucket');
reads('../out/x.jsonl', 'JSONL', 'a key that would leave its bucket',
      'States.ItemReaderFailed', qr/key is not valid/);
reads('bad.jsonl', 'MANIFEST', 'a manifest that is not one',
      'States.ItemReaderFailed', qr/"bad.jsonl" is not a JSON object/);

my $d = run_map({ ItemReader => {
    Resource => 'arn:aws:states:::s3:listObjectsV2',
    Parameters => { Bucket => 'data', Prefix => '../' } } });
is($d->{error}, 'States.ItemReaderFailed', 'a listing that would leave');

# an empty JSON array and an empty listing: no child, an empty output

$t->write_file('data/none.json', ' [ ] ');
$d = run_map({ ItemReader => { Resource => 'arn:aws:states:::s3:getObject',
    Parameters => { Bucket => 'data', Key => 'none.json' } } });
is($d->{status} . ' ' . ($d->{output} // ''), 'SUCCEEDED []',
   'an empty array: no child');
$d = run_map({ ItemReader => {
    Resource => 'arn:aws:states:::s3:listObjectsV2',
    Parameters => { Bucket => 'data', Prefix => 'nothing/here' } } });
is($d->{status} . ' ' . ($d->{output} // ''), 'SUCCEEDED []',
   'an empty listing');

# an ItemSelector that fails; a result past 256 KiB without ResultWriter

$d = run_map({ ItemsPath => '$.items',
               ItemSelector => { 'x.$' => '$.missing' } },
             { items => [ 1 ] });
is($d->{error}, 'States.Runtime', 'an ItemSelector that fails');

$t->write_file('data/big.jsonl', join '', map { '"' . ('y' x 1000) . "\"\n" }
                                    1 .. 300);
$d = run_map({ ItemReader => { Resource => 'arn:aws:states:::s3:getObject',
                               ReaderConfig => { InputType => 'JSONL' },
                               Parameters => { Bucket => 'data',
                                               Key => 'big.jsonl' } } });
is($d->{error}, 'States.DataLimitExceeded',
   'outputs past 256 KiB without a ResultWriter');

# definitions

my @bad = (
    [ { ItemReader => { Resource => 'arn:aws:states:::s3:getObject',
                        Parameters => { Bucket => 'data', Key => 'k' } },
        ItemProcessor => { ProcessorConfig => { Mode => 'INLINE' },
                           StartAt => 'P', States => {
                               P => { Type => 'Pass', End => \1 } } } },
      'an ItemReader on an inline Map' ],
    [ { ItemReader => { Resource => 'arn:aws:states:::lambda:invoke',
                        Parameters => { Bucket => 'data' } } },
      'an ItemReader of another resource' ],
    [ { ItemReader => { Resource => 'arn:aws:states:::s3:getObject' } },
      'an ItemReader without Parameters' ],
    [ { ItemReader => { Resource => 'arn:aws:states:::s3:getObject',
                        Parameters => { Bucket => 'b' },
                        ReaderConfig => { InputType => 'XML' } } },
      'an unknown InputType' ],
    [ { ItemReader => { Resource => 'arn:aws:states:::s3:getObject',
                        Parameters => { Bucket => 'b' },
                        ReaderConfig => { MaxItems => -1 } } },
      'a negative MaxItems' ],
    [ { ItemReader => { Resource => 'arn:aws:states:::s3:getObject',
                        Parameters => { Bucket => 'b' },
                        ReaderConfig => { InputType => 'CSV',
                                          CSVHeaderLocation => 'GIVEN' } } },
      'CSVHeaderLocation GIVEN without CSVHeaders' ],
    [ { ResultWriter => { Resource => 'arn:aws:states:::s3:getObject',
                          Parameters => { Bucket => 'b' } } },
      'a ResultWriter that reads' ],
    [ { ResultWriter => { Resource => 'arn:aws:states:::s3:putObject',
                          Parameters => { Bucket => 'b' }, Extra => 1 } },
      'a ResultWriter field unknown' ],
    [ { Label => 'has space' }, 'a Label with a space' ],
    [ { Label => 'x' x 41 }, 'a Label of 41 characters' ],
);

for my $b (@bad) {
    my ($st, $r) = machine({ ItemsPath => '$.items', %{ $b->[0] } });
    if ($b->[0]{ItemProcessor}) {
        my $def = { StartAt => 'M', States => { M => { Type => 'Map',
            %{ $b->[0] }, End => \1 } } };
        ($st, $r) = api('CreateStateMachine', { name => 'h' . ++$n,
            definition => $t->json->encode($def), roleArn => $role });
    }
    is($st == 400 ? $r->{__type} : $st, 'InvalidDefinition', $b->[1])
        or diag(explain $r);
}

# UpdateMapRun and DescribeMapRun with bad values

sub err {
    my ($op, $body, $type, $what) = @_;
    my ($st, $r) = api($op, $body);
    is($st == 400 ? $r->{__type} : $st, $type, $what) or diag(explain $r);
}

my $some = "$acct:mapRun:h1/M:00000000-0000-0000-0000-000000000000";
err('UpdateMapRun', { mapRunArn => $some, maxConcurrency => 10001 },
    'ValidationException', 'maxConcurrency over 10000');
err('UpdateMapRun', { mapRunArn => $some, maxConcurrency => 1.5 },
    'SerializationException', 'a fractional maxConcurrency');
err('UpdateMapRun', { mapRunArn => $some, toleratedFailureCount => -2 },
    'ValidationException', 'a negative toleratedFailureCount');
err('UpdateMapRun', { mapRunArn => $some,
                      toleratedFailurePercentage => 'half' },
    'SerializationException', 'a string percentage');
err('UpdateMapRun', { mapRunArn => $some, maxConcurrency => 3 },
    'ResourceNotFound', 'an unknown map run');
err('UpdateMapRun', { mapRunArn => 'x' x 2001 }, 'ValidationException',
    'an ARN past 2000 characters');
err('DescribeMapRun', { mapRunArn => "$acct:mapRun:\0/x:y" },
    'SerializationException', 'a NUL in the ARN');
err('DescribeMapRun', { mapRunArn => "arn:aws:states:us-east-1:000000000000:"
                                     . "mapRun:\xff\xfe/x:y" },
    'SerializationException', 'invalid UTF-8 in the ARN');
err('ListMapRuns', { executionArn => 'nope' }, 'InvalidArn',
    'ListMapRuns of no execution ARN');
err('ListExecutions', { mapRunArn => $some,
                        stateMachineArn => "$acct:stateMachine:h1" },
    'ValidationException', 'ListExecutions with both ARNs');

# 100,000 items at MaxConcurrency 1: another request stays fast

open my $fh, '>', "$dir/data/many.jsonl" or die;
print $fh "{\"i\":$_}\n" for 1 .. 100000;
close $fh;

my ($st, $r, $name) = machine({ MaxConcurrency => 1,
    ItemReader => { Resource => 'arn:aws:states:::s3:getObject',
                    ReaderConfig => { InputType => 'JSONL' },
                    Parameters => { Bucket => 'data', Key => 'many.jsonl' } },
    ResultWriter => { Resource => 'arn:aws:states:::s3:putObject',
                      Parameters => { Bucket => 'out', Prefix => 'many' } } });
($st, $r) = api('StartExecution', { stateMachineArn => "$acct:stateMachine:$name",
                                    input => '{}' });
my $ex = $r->{executionArn};
my $ua = HTTP::Tiny->new(timeout => 10);
my ($worst, $pings, $running) = (0, 0, 0);
my $port = $t->port;
my $deadline = time + 120;
while (time < $deadline) {
    my $t0 = time;
    my $p = $ua->get("http://127.0.0.1:$port/ping");
    my $dt = time - $t0;
    $worst = $dt if $dt > $worst;
    $pings++;
    (undef, $r) = api('DescribeExecution', { executionArn => $ex });
    last if $r->{status} ne 'RUNNING';
    $running++;
    sleep 0.02;
}
is($r->{status}, 'SUCCEEDED', '100,000 items at MaxConcurrency 1');
ok($running >= 3, "pinged while it ran ($pings pings)");
ok($worst < 0.5, sprintf('the worst ping took %.3f s', $worst));

# PostgreSQL gone in the middle of a map run, then back

($st, $r, $name) = machine({ ItemsPath => '$.items', MaxConcurrency => 2,
    ItemProcessor => { ProcessorConfig => { Mode => 'DISTRIBUTED',
                                            ExecutionType => 'EXPRESS' },
                       StartAt => 'W', States => {
                           W => { Type => 'Wait', Seconds => 1,
                                  End => \1 } } } });
($st, $r) = api('StartExecution', { stateMachineArn => "$acct:stateMachine:$name",
    input => $t->json->encode({ items => [ 1 .. 8 ] }) });
$ex = $r->{executionArn};
sleep 1.5;
$t->pg_stop;
sleep 2.5;
$t->pg_start_again;
$d = settle($ex, 60);
is($d->{status}, 'SUCCEEDED', 'the database gone and back: it ends');
is_deeply($t->json->decode($d->{output} // 'null'), [ 1 .. 8 ],
          'with every item');

$t->stop(allow => qr/PostgreSQL|connection|server closed|terminating/i);

done_testing;
