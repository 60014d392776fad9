# The walking skeleton end to end: PUT an upload, the trigger starts the
# quickstart state machine, libavformat probes the clip on the thread pool,
# the execution and its rows land in PostgreSQL.  And every bad input gets a
# clear error and loses nothing.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;

my $t = Sfn::Test->new;

my $dir = $t->dir;
$t->copy_example('quickstart.asl.json');

$t->start($t->sfn_http(buckets => [ source => 'source' ],
                       machines => [ quickstart => 'quickstart.asl.json' ],
                       server => <<'END'), workers => 2);
client_max_body_size 4m;

location /upload/       { sfn_upload source;
                          sfn_trigger quickstart suffix=.mp4
                                      suffix=.mov suffix=.bin; }
location = /start-workflow { sfn_start quickstart; }
location /start/        { sfn_start; }
location /executions/   { sfn_api; }
END

# a 10 s 320x180 H.264 + AAC clip

$t->lavfi_clip("$dir/clip.mp4", size => '320x180', duration => 10,
               args => [ '-crf', 35, '-b:a', '64k' ]);

my $clip = $t->read_file('clip.mp4');

my $r = $t->http('PUT', '/upload/in/clip.mp4', $clip);
is($r->{status}, 201, 'PUT creates the object');
is($r->{json}{key}, 'in/clip.mp4', 'reply names the key');
is($r->{json}{size}, length $clip, 'reply has the size');
like($r->{json}{executionArn},
     qr/^arn:aws:states:us-east-1:\d{12}:execution:quickstart:[0-9a-f-]{36}$/,
     'reply names the execution');
ok(-f "$dir/source/in/clip.mp4", 'the file is in the bucket');
is(-s "$dir/source/in/clip.mp4", length $clip, 'whole');

my $job = $r->{json}{jobId};
my $e = $t->wait_execution($job, 60);

is($e->{status}, 'SUCCEEDED', 'execution SUCCEEDED')
    or diag(explain $e);
my $sum = $e->{output}{metadata}{summary};
ok(abs($sum->{duration} - 10) <= 0.1, "duration $sum->{duration} ~ 10 s");
is($sum->{width}, 320, 'width');
is($sum->{height}, 180, 'height');
is($sum->{videoCodec}, 'h264', 'video codec');
is($sum->{audioCodec}, 'aac', 'audio codec');
my @streams = @{ $e->{output}{metadata}{streams} // [] };
is(scalar @streams, 2, 'two streams');
my ($v) = grep { $_->{codec_type} eq 'video' } @streams;
my ($a) = grep { $_->{codec_type} eq 'audio' } @streams;
is($v->{pix_fmt}, 'yuv420p', 'pixel format');
is($v->{r_frame_rate}, '25/1', 'frame rate');
is($a->{sample_rate}, 44100, 'sample rate');
is($a->{channels}, 1, 'channels');
ok($e->{output}{metadata}{format}{bit_rate} > 0, 'overall bitrate');
is($e->{output}{jobId}, $job, 'Parameters carried the jobId');
like($e->{output}{startedAt}, qr/^\d{4}-\d\d-\d\dT/,
     '$$.State.EnteredTime resolved');
like($e->{startDate}, qr/^\d{4}-\d\d-\d\dT[\d:.]+Z$/, 'startDate');
like($e->{stopDate}, qr/^\d{4}-\d\d-\d\dT[\d:.]+Z$/, 'stopDate');

# the same execution is visible from PostgreSQL

my $arn = $r->{json}{executionArn};
is($t->wait_sql("SELECT status FROM sfn_executions WHERE arn = '$arn'",
                'SUCCEEDED'), 'SUCCEEDED', 'execution row');
$t->wait_sql("SELECT count(*) FROM sfn_events WHERE execution_arn = '$arn' "
             . "AND type = 'ExecutionSucceeded'", '1');
my $types = $t->psql("SELECT string_agg(type, ',' ORDER BY id) "
                     . "FROM sfn_events WHERE execution_arn = '$arn'");
like($types, qr/^ExecutionStarted,PassStateEntered,PassStateExited,
                 TaskStateEntered,.*TaskSucceeded,.*TaskStateExited,
                 ChoiceStateEntered,ChoiceStateExited,SucceedStateEntered,
                 .*ExecutionSucceeded$/x, 'every transition recorded')
    or diag($types);
is($t->psql("SELECT count(*) FROM sfn_events h WHERE execution_arn = '$arn' "
            . "AND previous_id >= id"), 0, 'event ids ascend');
is($t->psql("SELECT status || ' ' || bucket || ' ' || key FROM sfn_jobs "
            . "WHERE job_id = '$job'"),
   'SUCCEEDED source in/clip.mp4', 'one job row');
my $migrations = join ',', map { s{.*/}{}r }
                 sort glob("$Sfn::Test::ROOT/sql/*.sql");
is($t->psql("SELECT string_agg(name, ',' ORDER BY name) FROM sfn_migrations"),
   $migrations, 'every migration applied and tracked');

# POST /start-workflow with the seed's body

$r = $t->http('POST', '/start-workflow',
              '{"bucket":"source","key":"in/clip.mp4"}');
is($r->{status}, 200, 'start-workflow 200');
like($r->{json}{jobId}, qr/^[0-9a-f-]{36}$/, 'jobId');
like($r->{json}{executionArn}, qr/:execution:quickstart:\Q$r->{json}{jobId}\E$/,
     'executionArn');
$e = $t->wait_execution($r->{json}{jobId}, 60);
is($e->{status}, 'SUCCEEDED', 'started execution SUCCEEDED');
is($e->{input}{bucket}, 'source', 'input carries the bucket');
like($e->{input}{requestedAt}, qr/^\d{4}-/, 'and requestedAt');

$e = $t->http('GET', '/executions/' . $r->{json}{executionArn});
is($e->{json}{name}, $r->{json}{jobId}, 'describe by ARN');

# bad input: malformed JSON, unknown state machine, missing fields

$r = $t->http('POST', '/start-workflow', '{"bucket": ');
is($r->{status}, 400, 'malformed JSON 400');
is($r->{json}{error}, 'InvalidRequest', 'with a JSON error');

$r = $t->http('POST', '/start-workflow', '{"bucket":"source"}');
is($r->{status}, 400, 'missing key 400');
like($r->{json}{message}, qr/Missing bucket or key/, 'says so');

$r = $t->http('POST', '/start/nope', '{"bucket":"source","key":"a.mp4"}');
is($r->{status}, 404, 'unknown state machine 404');
is($r->{json}{error}, 'StateMachineDoesNotExist', 'with AWS error name');

$r = $t->http('POST', '/start/quickstart',
              '{"bucket":"source","key":"../etc/passwd"}');
is($r->{status}, 400, 'key escaping the bucket 400');

$r = $t->http('GET', '/executions/no-such-execution');
is($r->{status}, 404, 'unknown execution 404');
is($r->{json}{error}, 'ExecutionDoesNotExist', 'with a JSON error');

$r = $t->http('GET', '/upload/x.mp4');
is($r->{status}, 405, 'GET on upload 405');
is($r->{headers}{allow}, 'PUT', 'with Allow');

# keys that would escape the bucket: 400 (nginx or us) and nothing written

my @before = sort `find $dir -newer $dir/clip.mp4 -type f -not -path '*/logs/*' -not -path '*/pg/*'`;

# nginx itself normalizes "..", "%2e%2e" and "//" before we see the URI;
# what is left for a bucket to refuse is refused by us with a JSON 400

for my $key ('a/%2e%2e/%2e%2e/escape.mp4', 'a/../../escape.mp4',
             'x%00y.mp4', '.sfn-upload/x.mp4', 'dir/')
{
    $r = $t->http('PUT', "/upload/$key", 'data');
    ok($r->{status} >= 400 && $r->{status} < 500,
       "key \"$key\" refused ($r->{status})");
}

$r = $t->http('PUT', '/upload/%2Fabs.mp4', 'data');
ok(!-e '/abs.mp4', 'an absolute key does not leave the bucket');

$r = $t->http('PUT', '/upload/.sfn-upload/x.mp4', 'data');
is($r->{status}, 400, 'our own refusal is a 400');
is($r->{json}{error}, 'InvalidKey', 'with a JSON error');

for my $key ('/etc/passwd', '../x.mp4', "a\x00b.mp4", 'a//b.mp4') {
    $r = $t->http('POST', '/start-workflow',
                  $t->json->encode({ bucket => 'source', key => $key }));
    is($r->{status}, 400, "start with key \"$key\" refused");
}

ok(!-e "$dir/escape.mp4" && !-e "$dir/source/escape.mp4",
   'nothing written outside');

# a body over client_max_body_size: 413 and no partial file

$r = $t->http('PUT', '/upload/big.mp4', 'x' x (5 * 1024 * 1024));
is($r->{status}, 413, 'oversized body 413');
ok(!-e "$dir/source/big.mp4", 'no file');
my @tmp = glob("$dir/source/.sfn-upload/*");
is(scalar @tmp, 0, 'no temporary file left');

# a chunked oversized body too

$r = HTTP::Tiny->new->request('PUT', "http://127.0.0.1:" . $t->port
                              . "/upload/big2.mp4",
    { content => do { my $n = 0; sub { $n++ < 80 ? 'x' x 65536 : undef } } });
is($r->{status}, 413, 'chunked oversized body 413');
ok(!-e "$dir/source/big2.mp4", 'no file');

# not media: FAILED with States.TaskFailed and a cause; the worker lives on

$r = $t->http('PUT', '/upload/notes.mp4', "just some text\n" x 100);
is($r->{status}, 201, 'text uploaded');
$e = $t->wait_execution($r->{json}{jobId}, 30);
is($e->{status}, 'FAILED', 'not media: FAILED');
is($e->{error}, 'States.TaskFailed', 'States.TaskFailed');
like($e->{cause}, qr/notes\.mp4.*not a media file|Invalid data/i,
     'cause says why') or diag($e->{cause});

$r = $t->http('PUT', '/upload/again.mp4', $clip);
$e = $t->wait_execution($r->{json}{jobId}, 60);
is($e->{status}, 'SUCCEEDED', 'the next upload still runs');

is($t->psql("SELECT status FROM sfn_jobs WHERE key = 'notes.mp4'"),
   'FAILED', 'failed job row');

$t->stop;

done_testing;
