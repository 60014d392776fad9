#!/usr/bin/perl

# sfn:db:put/update/get through build/sfn-task against a private
# PostgreSQL: the seed's DynamoDB putItem/updateItem exactly as it sends
# them, update expressions, conditions, ReturnValues, getItem, our shape;
# every write is checked in sfn_jobs by SQL

use strict;
use warnings;

use lib 't/lib';

use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use Sfn::Test;

Sfn::Test::need_tool('sfn-task');
Sfn::Test::need_postgres();

my $dir = tempdir(CLEANUP => 1);
my $json = JSON::PP->new->canonical;

sub task {
    my ($resource, $input, %env) = @_;
    my ($r, $rc) = Sfn::Test::run_task($resource, $input, dir => $dir,
                                       env => \%env, stderr => 1);
    return wantarray ? ($r, $rc) : $r;
}

# no database configured

delete $ENV{SFN_DB_CONNINFO};
my ($r, $rc) = task('sfn:db:put', { jobId => 'x', status => 'S' });
is($rc, 1, 'no database: fails');
is($r->{error}, 'States.TaskFailed', 'no database: States.TaskFailed');
like($r->{cause}, qr/no database is configured/, 'no database: cause');

$r = task('sfn:db:get', { jobId => 'x' },
          SFN_DB_CONNINFO => 'host=127.0.0.1 port=1 connect_timeout=2');
like($r->{cause}, qr/cannot connect to the database/, 'bad conninfo: cause');

my $t = Sfn::Test->new;
my $conninfo = $t->pg_start;

system(Sfn::Test::pg_bin('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1',
       '-h', '127.0.0.1', '-p', $t->{pg_port}, '-U', 'postgres', '-d', 'sfn',
       '-f', 'sql/001_init.sql') == 0 or die "schema failed\n";

$ENV{SFN_DB_CONNINFO} = $conninfo;
$ENV{SFN_EXECUTION} =
    'arn:aws:states:us-east-1:123456789012:execution:video-workflow:run-1';

sub row {
    my ($id) = @_;
    my $s = $t->psql("SELECT row_to_json(j) FROM (SELECT job_id, "
                     . "execution_arn, state_machine, bucket, key, status, "
                     . "attributes FROM sfn_jobs WHERE job_id = '$id') j");
    return $s eq '' ? undef : decode_json($s);
}

# the seed's RecordJobStart, as the engine resolves its Parameters

my $put = {
    TableName => 'video-workflow-jobs-abc123',
    Item => {
        JobId => { S => 'job-1' },
        SourceBucket => { S => 'source' },
        SourceKey => { S => 'uploads/clip.mp4' },
        CreatedAt => { S => '2026-11-21T10:00:00.000Z' },
        JobStatus => { S => 'STARTED' },
    },
};

($r, $rc) = task('arn:aws:states:::dynamodb:putItem', $put);
is($rc, 0, 'putItem: exit code') or diag explain $r;
is_deeply($r->{output}, {}, 'putItem: {} as DynamoDB');

my $row = row('job-1');
is($row->{status}, 'STARTED', 'putItem: JobStatus is the status column');
is($row->{bucket}, 'source', 'putItem: SourceBucket mirrored');
is($row->{key}, 'uploads/clip.mp4', 'putItem: SourceKey mirrored');
is($row->{execution_arn}, $ENV{SFN_EXECUTION}, 'putItem: execution_arn');
is($row->{state_machine}, 'video-workflow', 'putItem: state_machine');
is_deeply($row->{attributes}, {
    SourceBucket => 'source', SourceKey => 'uploads/clip.mp4',
    CreatedAt => '2026-11-21T10:00:00.000Z' },
    'putItem: attributes unmarshalled, key and status apart');

# the seed's HandleProcessingFailure

($r, $rc) = task('arn:aws:states:::dynamodb:updateItem', {
    TableName => 'video-workflow-jobs-abc123',
    Key => { JobId => { S => 'job-1' } },
    UpdateExpression =>
        'SET JobStatus = :status, ErrorDetails = :error, FailedAt = :timestamp',
    ExpressionAttributeValues => {
        ':status' => { S => 'FAILED_PROCESSING' },
        ':error' => { S => "transcode failed: \"bad\" \x{e9}t\x{e9}" },
        ':timestamp' => { S => '2026-11-21T10:05:00.000Z' },
    },
});
is($rc, 0, 'updateItem: exit code') or diag explain $r;
is_deeply($r->{output}, {}, 'updateItem: {} without ReturnValues');

$row = row('job-1');
is($row->{status}, 'FAILED_PROCESSING', 'updateItem: status column');
is($row->{attributes}{ErrorDetails}, "transcode failed: \"bad\" \x{e9}t\x{e9}",
   'updateItem: quotes and UTF-8 kept');
is($row->{attributes}{FailedAt}, '2026-11-21T10:05:00.000Z',
   'updateItem: FailedAt');
is($row->{attributes}{SourceKey}, 'uploads/clip.mp4',
   'updateItem: other attributes kept');

# typed values: every type round-trips through getItem

my $typed = {
    JobId => { S => 'job-2' },
    JobStatus => { S => 'STARTED' },
    Count => { N => '42' },
    Ratio => { N => '0.125' },
    Big => { N => '-12345678901' },
    Ok => { BOOL => JSON::PP::true },
    Nothing => { NULL => JSON::PP::true },
    Meta => { M => { width => { N => '1920' }, codec => { S => 'h264' },
                     tags => { L => [ { S => 'a' }, { N => '1' } ] } } },
    Renditions => { L => [ { M => { name => { S => '1080p' } } },
                           { BOOL => JSON::PP::false } ] },
};

($r, $rc) = task('arn:aws:states:::dynamodb:putItem',
                 { TableName => 't', Item => $typed });
is($rc, 0, 'putItem typed') or diag explain $r;

$row = row('job-2');
is_deeply($row->{attributes}, {
    Count => 42, Ratio => 0.125, Big => -12345678901, Ok => JSON::PP::true,
    Nothing => undef,
    Meta => { width => 1920, codec => 'h264', tags => [ 'a', 1 ] },
    Renditions => [ { name => '1080p' }, JSON::PP::false ] },
    'typed values stored as plain JSON');

($r, $rc) = task('arn:aws:states:::dynamodb:getItem',
                 { TableName => 't', Key => { JobId => { S => 'job-2' } } });
is($rc, 0, 'getItem: exit code') or diag explain $r;
is($json->encode($r->{output}{Item}), $json->encode($typed),
   'getItem: the item as put, typed');

($r, $rc) = task('arn:aws:states:::dynamodb:getItem', {
    TableName => 't', Key => { JobId => { S => 'job-2' } },
    ProjectionExpression => 'JobStatus, #c',
    ExpressionAttributeNames => { '#c' => 'Count' } });
is_deeply($r->{output}{Item}, { JobStatus => { S => 'STARTED' },
                                Count => { N => '42' } },
          'getItem: ProjectionExpression');

($r, $rc) = task('arn:aws:states:::dynamodb:getItem',
                 { TableName => 't', Key => { JobId => { S => 'nope' } } });
is($rc, 0, 'getItem missing: succeeds');
is_deeply($r->{output}, {}, 'getItem missing: no Item, as DynamoDB');

# update expressions: names, arithmetic, functions, REMOVE, ReturnValues

($r, $rc) = task('arn:aws:states:::dynamodb:updateItem', {
    TableName => 't', Key => { JobId => { S => 'job-2' } },
    UpdateExpression => 'SET #c = #c + :one, Tries = if_not_exists(Tries, '
        . ':zero), Log = list_append(if_not_exists(Log, :empty), :entry), '
        . '#s = :done REMOVE Nothing, Ratio',
    ExpressionAttributeNames => { '#c' => 'Count', '#s' => 'JobStatus' },
    ExpressionAttributeValues => {
        ':one' => { N => '1' }, ':zero' => { N => '0' },
        ':empty' => { L => [] }, ':entry' => { L => [ { S => 'qc' } ] },
        ':done' => { S => 'DONE' } },
    ReturnValues => 'UPDATED_NEW',
});
is($rc, 0, 'updateItem expression') or diag explain $r;
is_deeply($r->{output}, { Attributes => {
    Count => { N => '43' }, Tries => { N => '0' },
    Log => { L => [ { S => 'qc' } ] }, JobStatus => { S => 'DONE' } } },
    'updateItem: UPDATED_NEW');

$row = row('job-2');
is($row->{status}, 'DONE', 'updateItem: #s names the status');
is($row->{attributes}{Count}, 43, 'updateItem: #c + :one');
ok(!exists $row->{attributes}{Nothing} && !exists $row->{attributes}{Ratio},
   'updateItem: REMOVE');

($r, $rc) = task('arn:aws:states:::dynamodb:updateItem', {
    TableName => 't', Key => { JobId => { S => 'job-2' } },
    UpdateExpression => 'SET Log = list_append(Log, :e)',
    ExpressionAttributeValues => { ':e' => { L => [ { S => 'pub' } ] } },
    ReturnValues => 'ALL_OLD',
});
is_deeply($r->{output}{Attributes}{Log}, { L => [ { S => 'qc' } ] },
          'updateItem: ALL_OLD');
is_deeply(row('job-2')->{attributes}{Log}, [ 'qc', 'pub' ],
          'updateItem: list_append appended');

# updateItem creates a missing item, as DynamoDB does

($r, $rc) = task('arn:aws:states:::dynamodb:updateItem', {
    TableName => 't', Key => { JobId => { S => 'job-3' } },
    UpdateExpression => 'SET VideoMetadata = :m',
    ExpressionAttributeValues => { ':m' => { M => { fps => { N => '30' } } } },
    ReturnValues => 'ALL_NEW',
});
is_deeply($r->{output}, { Attributes => {
    JobId => { S => 'job-3' }, VideoMetadata => { M => { fps => { N => '30' } } } } },
    'updateItem upsert: ALL_NEW');
$row = row('job-3');
is($row->{status}, '', 'upsert: no status yet');
is_deeply($row->{attributes}, { VideoMetadata => { fps => 30 } },
          'upsert: attributes');

# conditions

($r, $rc) = task('arn:aws:states:::dynamodb:putItem', {
    TableName => 't', Item => { JobId => { S => 'job-1' },
                                JobStatus => { S => 'CLOBBERED' } },
    ConditionExpression => 'attribute_not_exists(JobId)' });
is($rc, 1, 'conditional put on an existing item: fails');
is($r->{error}, 'DynamoDB.ConditionalCheckFailedException',
   'conditional put: error name');
is(row('job-1')->{status}, 'FAILED_PROCESSING', 'conditional put: row kept');

($r, $rc) = task('arn:aws:states:::dynamodb:putItem', {
    TableName => 't', Item => { JobId => { S => 'job-4' },
                                JobStatus => { S => 'NEW' } },
    ConditionExpression => 'attribute_not_exists(JobId)' });
is($rc, 0, 'conditional put of a new item');
is(row('job-4')->{status}, 'NEW', 'conditional put: row written');

($r, $rc) = task('arn:aws:states:::dynamodb:updateItem', {
    TableName => 't', Key => { JobId => { S => 'job-4' } },
    UpdateExpression => 'SET JobStatus = :n',
    ConditionExpression => 'JobStatus = :expected AND attribute_exists(JobId)',
    ExpressionAttributeValues => { ':n' => { S => 'RUNNING' },
                                   ':expected' => { S => 'OTHER' } } });
is($r->{error}, 'DynamoDB.ConditionalCheckFailedException',
   'conditional update: mismatch fails');

($r, $rc) = task('arn:aws:states:::dynamodb:updateItem', {
    TableName => 't', Key => { JobId => { S => 'job-5' } },
    UpdateExpression => 'SET JobStatus = :n',
    ConditionExpression => 'attribute_exists(JobId)',
    ExpressionAttributeValues => { ':n' => { S => 'RUNNING' } } });
is($r->{error}, 'DynamoDB.ConditionalCheckFailedException',
   'conditional update of a missing item fails');
is(row('job-5'), undef, 'conditional update: no row created');

($r, $rc) = task('arn:aws:states:::dynamodb:putItem', {
    TableName => 't', Item => { JobId => { S => 'job-4' },
                                JobStatus => { S => 'REPLACED' } },
    ReturnValues => 'ALL_OLD' });
is_deeply($r->{output}, { Attributes => { JobId => { S => 'job-4' },
                                          JobStatus => { S => 'NEW' } } },
          'putItem ALL_OLD');

# validation errors

my @bad = (
    [ 'putItem', { TableName => 't', Item => { Other => { S => 'x' } } },
      qr/required keys/ ],
    [ 'putItem', { TableName => 't', Item => { JobId => { S => 'j' },
                                               A => { X => 'y' } } },
      qr/unknown AttributeValue type/ ],
    [ 'putItem', { TableName => 't', Item => { JobId => { S => 'j' },
                                               A => { N => 'ten' } } },
      qr/not a number/ ],
    [ 'updateItem', { TableName => 't', Key => { JobId => { S => 'job-1' } },
                      UpdateExpression => 'SET A = :undefined' },
      qr/attribute value used in expression is not defined/ ],
    [ 'updateItem', { TableName => 't', Key => { JobId => { S => 'job-1' } },
                      UpdateExpression => 'SET #x = :v',
                      ExpressionAttributeValues => { ':v' => { S => 'v' } } },
      qr/attribute name used in the document path is not defined/ ],
    [ 'updateItem', { TableName => 't', Key => { JobId => { S => 'job-1' } },
                      UpdateExpression => 'ADD Count :v',
                      ExpressionAttributeValues => { ':v' => { N => '1' } } },
      qr/ADD and DELETE are not supported/ ],
    [ 'updateItem', { TableName => 't', Key => { JobId => { S => 'job-1' } },
                      UpdateExpression => 'SET JobId = :v',
                      ExpressionAttributeValues => { ':v' => { S => 'v' } } },
      qr/part of the key/ ],
    [ 'updateItem', { TableName => 't', Key => { JobId => { S => 'job-1' } },
                      UpdateExpression => 'SET A = Missing' },
      qr/does not exist in the item/ ],
    [ 'updateItem', { TableName => 't', Key => { JobId => { S => 'job-1' },
                                                 X => { S => 'y' } },
                      UpdateExpression => 'REMOVE A' },
      qr/does not match the schema/ ],
    [ 'updateItem', { TableName => 't', Key => { JobId => { S => 'job-1' } },
                      UpdateExpression => 'SET a.b = :v',
                      ExpressionAttributeValues => { ':v' => { S => 'v' } } },
      qr/nested document paths/ ],
);

for my $b (@bad) {
    ($r, $rc) = task("arn:aws:states:::dynamodb:$b->[0]", $b->[1]);
    is($r->{error}, 'DynamoDB.ValidationException',
       "$b->[0] invalid: ValidationException");
    like($r->{cause}, $b->[2], "$b->[0] invalid: cause $b->[2]");
}

is(row('job-1')->{status}, 'FAILED_PROCESSING', 'rejected updates wrote nothing');
is(row('j'), undef, 'rejected puts wrote nothing');

# our shape

($r, $rc) = task('sfn:db:put', { jobId => 'ours-1', status => 'STARTED',
                                 bucket => 'source', key => 'a.mp4',
                                 attributes => { priority => 5 } });
is($rc, 0, 'ours put') or diag explain $r;
is($r->{output}{jobId}, 'ours-1', 'ours put: jobId');
is($r->{output}{status}, 'STARTED', 'ours put: status');
is($r->{output}{stateMachine}, 'video-workflow', 'ours put: state machine');
like($r->{output}{createdAt}, qr/^\d{4}-\d\d-\d\dT[\d:.]+Z$/, 'ours: createdAt');
is_deeply($r->{output}{attributes}, { priority => 5 }, 'ours put: attributes');

($r, $rc) = task('sfn:db:update', { jobId => 'ours-1', status => 'DONE',
                                    attributes => { score => 0.93 },
                                    remove => [ 'priority' ] });
is($rc, 0, 'ours update');
$row = row('ours-1');
is($row->{status}, 'DONE', 'ours update: status');
is_deeply($row->{attributes}, { score => 0.93 }, 'ours update: merge, remove');
is($row->{key}, 'a.mp4', 'ours update: key kept');

($r, $rc) = task('sfn:db:update', { jobId => 'ours-1', attributes => {
    "q\"uote" => 1, "line\nbreak" => 2, "{brace,}" => 3, keep => 4 } });
($r, $rc) = task('sfn:db:update', { jobId => 'ours-1', remove => [
    "q\"uote", "line\nbreak", "{brace,}", "keep" ] });
is($rc, 0, 'ours update: remove odd names') or diag explain $r;
is_deeply(row('ours-1')->{attributes}, { score => 0.93 },
          'ours update: odd names removed exactly');

($r, $rc) = task('sfn:db:update', { jobId => 'ours-1',
                                    attributes => { qc => 'ok' } });
is(row('ours-1')->{status}, 'DONE', 'ours update without status keeps it');

($r, $rc) = task('sfn:db:get', { jobId => 'ours-1' });
is_deeply([ @{$r->{output}}{qw(jobId status bucket key)} ],
          [ 'ours-1', 'DONE', 'source', 'a.mp4' ], 'ours get');
is_deeply($r->{output}{attributes}, { score => 0.93, qc => 'ok' },
          'ours get: attributes');

($r, $rc) = task('sfn:db:get', { jobId => 'none' });
is($rc, 1, 'ours get of a missing job fails');
like($r->{cause}, qr/no job "none"/, 'ours get missing: cause');

($r, $rc) = task('sfn:db:put', { jobId => 'ours-2' });
like($r->{cause}, qr/"status" is required/, 'ours put needs a status');

($r, $rc) = task('arn:aws:states:::dynamodb:getItem',
                 { TableName => 't', Key => { JobId => { S => 'ours-1' } } });
is_deeply($r->{output}{Item}{JobStatus}, { S => 'DONE' },
          'getItem of a row written our way');

# SQL injection-looking values are data

($r, $rc) = task('sfn:db:put', { jobId => "x'); DROP TABLE sfn_jobs; --",
                                 status => "'" });
is($rc, 0, 'quotes in values');
is($t->psql("SELECT count(*) FROM sfn_jobs WHERE status = ''''"), 1,
   'parameterised: the table survives');

$t->stop;

done_testing();
