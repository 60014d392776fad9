# Issue 11 defect 7: backpressure instead of quiet loss.  With PostgreSQL
# down, a Standard execution's statements wait in the worker's queue; past
# half of sfn_database_queue, new Standard starts answer 503
# ServiceUnavailable with Retry-After (warned once), the execution already
# taken is never dropped, and once the database is back it is recorded and
# new starts are taken again.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);

my $t = Sfn::Test->new;
$t->pg_start;

$t->write_file('conf/pass.asl.json', <<'END');
{"StartAt": "P",
 "States": {"P": {"Type": "Pass", "End": true}}}
END

$t->write_file('src/.keep', '');

$t->nginx_start(<<'END', workers => 1);
    sfn_zone           sfn 16m;
    sfn_database       "%%DATABASE%%";
    sfn_database_queue 64k;
    sfn_thread_pool    sfn;
    sfn_state_machine  pass %%DIR%%/conf/pass.asl.json;
    sfn_bucket         src %%DIR%%/src;

    server {
        listen 127.0.0.1:%%PORT%%;
        client_max_body_size 1m;

        sfn_api_key hostile-key;

        location = /       { sfn_aws_api; }
        location /upload/  { sfn_upload src; sfn_trigger pass suffix=.bin; }
        location = /start  { sfn_start pass; }
    }
END

my $json = $t->json;
my $port = $t->port;
my $sm = 'arn:aws:states:us-east-1:000000000000:stateMachine:pass';

sub start {
    my ($name, $input, $timeout) = @_;
    my $ua = HTTP::Tiny->new(timeout => $timeout, keep_alive => 0);
    my $t0 = time;
    my $r = $ua->request('POST', "http://127.0.0.1:$port/",
        { content => $json->encode({ stateMachineArn => $sm,
                                     defined $name ? (name => $name) : (),
                                     input => $input }),
          headers => { 'X-Amz-Target' => 'AWSStepFunctions.StartExecution',
                       'Content-Type' => 'application/x-amz-json-1.0',
                       'X-Api-Key' => 'hostile-key' } });
    $r->{elapsed} = time - $t0;
    $r->{json} = eval { $json->decode($r->{content}) } // {};
    return $r;
}

my ($s) = start('warm', '{}', 10);
is($s->{status}, 200, 'a start with the database up');

$t->pg_stop;

# 40 KB of input: its row, its payload and its end, over 32 KB queued.
# Without a name, nothing is asked of the database before it starts; its
# reply waits for the database, so the client gives up on it.

my $big = '{"big":"' . ('z' x (40 * 1024)) . '"}';
start(undef, $big, 2);

my @refused = map { start("refused-$_", '{}', 5) } 1 .. 3;

for my $r (@refused) {
    is($r->{status}, 503, 'past the mark: 503');
    is($r->{json}{__type}, 'ServiceUnavailable', 'AWS error shape');
    is($r->{headers}{'retry-after'}, '1', 'Retry-After');
    ok($r->{elapsed} < 1, 'at once') or diag("$r->{elapsed} s");
}

# an upload that would start a Standard execution: stored, not started

my $ua = HTTP::Tiny->new(timeout => 5, keep_alive => 0);
my %key = ('X-Api-Key' => 'hostile-key');
my $up = $ua->request('PUT', "http://127.0.0.1:$port/upload/a.bin",
                      { content => 'data', headers => \%key });
is($up->{status}, 503, 'upload with a Standard trigger: 503');
is($up->{headers}{'retry-after'}, '1', 'upload: Retry-After');
like($up->{content}, qr/ServiceUnavailable/, 'upload: says why');

my $st = $ua->request('POST', "http://127.0.0.1:$port/start",
                      { content => '{"bucket":"src","key":"a.bin"}',
                        headers => { %key,
                                     'Content-Type' => 'application/json' }
                      });
is($st->{status}, 503, 'sfn_start: 503');
is($st->{headers}{'retry-after'}, '1', 'sfn_start: Retry-After');

$t->pg_start_again;

# the execution taken before the mark is recorded once the database is back

is($t->wait_sql("SELECT count(*) FROM sfn_executions WHERE status = "
                . "'SUCCEEDED' AND input LIKE '{\"big\":%'", 1, 30),
   1, 'the execution taken is recorded, not dropped');
is($t->psql("SELECT count(*) FROM sfn_executions WHERE name LIKE "
            . "'refused-%' OR input LIKE '%a.bin%'"), 0,
   'the refused ones do not exist');

my $again;
for (1 .. 50) {
    $again = start('again', '{}', 10);
    last if $again->{status} == 200;
    sleep 0.2;
}
is($again->{status}, 200, 'taken again once the queue drains');

my $log = $t->read_file('logs/error.log') // '';
my $warned = () = $log =~ /\[warn\].*new Standard executions refused/g;
is($warned, 1, 'warned once for the episode');
like($log, qr/\[notice\].*the queue has drained/, 'and told when it drained');

$t->stop;

done_testing;
