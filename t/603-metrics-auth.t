# sfn_api_key on uploads, starts, the REST API and the AWS API: nothing
# changes state without a key, and nginx's own access control still runs
# first.  sfn_metrics: the Prometheus text after executions that succeed,
# fail and are stopped, counters and histograms checked.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use Time::HiRes qw(sleep time);

my $t = Sfn::Test->new;
my $dir = $t->dir;

$t->write_file('conf/quick.asl.json', <<'END');
{"StartAt": "Tidy",
 "States": {
  "Tidy": {"Type": "Task", "Resource": "sfn:file:delete",
           "Parameters": {"bucket": "scratch", "key": "none.txt"},
           "ResultPath": "$.tidy", "Next": "Done"},
  "Done": {"Type": "Succeed"}}}
END

$t->write_file('conf/failing.asl.json', <<'END');
{"StartAt": "Tidy",
 "States": {
  "Tidy": {"Type": "Task", "Resource": "sfn:file:delete",
           "Parameters": {"bucket": "scratch", "key": "a-directory"},
           "End": true}}}
END

$t->write_file('conf/waiter.asl.json', <<'END');
{"StartAt": "Sleep",
 "States": {"Sleep": {"Type": "Wait", "Seconds": 60, "End": true}}}
END

mkdir "$dir/scratch";
mkdir "$dir/scratch/a-directory";

$t->start($t->sfn_http(zone => '8m',
                       buckets => [ source => 'source',
                                    scratch => 'scratch' ],
                       machines => [ quick => 'quick.asl.json',
                                     failing => 'failing.asl.json',
                                     waiter => 'waiter.asl.json' ],
                       server => <<'END'), workers => 2);
sfn_api_key key-one;
sfn_api_key key-two;

location /upload/      { sfn_upload source; }
location /start/       { sfn_start; }
location /executions/  { sfn_api; }
location = /           { sfn_aws_api; }
location = /metrics    { sfn_metrics; }

location /denied/      { deny all; sfn_api; }
location /gated/       { auth_request /no; sfn_api; }
location = /no         { internal; return 403; }
END

my %k1 = ('X-Api-Key' => 'key-one');

# keys

my $r = $t->http('PUT', '/upload/a.bin', 'data');
is($r->{status}, 401, 'upload without a key: 401');
is($r->{json}{error}, 'Unauthorized', 'a JSON error');
like($r->{headers}{'www-authenticate'} // '', qr/Bearer/, 'WWW-Authenticate');
ok(!-e "$dir/source/a.bin", 'nothing written');

$r = $t->http('PUT', '/upload/a.bin', 'data', { 'X-Api-Key' => 'wrong' });
is($r->{status}, 401, 'a wrong key: 401');
ok(!-e "$dir/source/a.bin", 'nothing written');

$r = $t->http('PUT', '/upload/a.bin', 'data', \%k1);
is($r->{status}, 201, 'upload with X-Api-Key: 201');
ok(-e "$dir/source/a.bin", 'written');

my $count = $t->psql('SELECT count(*) FROM sfn_executions');

$r = $t->http('POST', '/start/quick', '{"bucket":"source","key":"a.bin"}');
is($r->{status}, 401, 'start without a key: 401');
sleep 0.3;
is($t->psql('SELECT count(*) FROM sfn_executions'), $count,
   'no execution started');

$r = $t->http('POST', '/start/quick', '{"bucket":"source","key":"a.bin"}',
              { Authorization => 'Bearer key-two' });
is($r->{status}, 200, 'start with Authorization: Bearer: 200');
my $job = $r->{json}{jobId};

$r = $t->http('GET', "/executions/$job");
is($r->{status}, 401, 'describe without a key: 401');

sub wait_done {
    my ($name) = @_;
    return $t->wait_execution($name, 20, undef, \%k1);
}

is(wait_done($job)->{status}, 'SUCCEEDED', 'describe with a key');

$r = $t->http('GET', "/denied/$job", undef, \%k1);
is($r->{status}, 403, 'deny all runs before the key check');
$r = $t->http('GET', "/gated/$job", undef, \%k1);
is($r->{status}, 403, 'auth_request runs before the key check');

$r = $t->http('POST', '/', '{}',
              { 'X-Amz-Target' => 'AWSStepFunctions.ListStateMachines' });
is($r->{status}, 401, 'AWS API without SigV4 credentials needs a key');
is($r->{json}{__type}, 'Unauthorized', 'in AWS shape');
$r = $t->http('POST', '/', '{}',
              { 'X-Amz-Target' => 'AWSStepFunctions.ListStateMachines',
                %k1 });
is($r->{status}, 200, 'and answers with one');

# an API state machine compiled in each worker, recompiled on update

sub aws {
    my ($op, $body) = @_;
    return ($t->aws_api($op, $body, \%k1))[1];
}

my $acct = 'arn:aws:states:us-east-1:000000000000';
my $v = sub { $t->json->encode({ StartAt => 'V', States => { V => {
    Type => 'Pass', Result => $_[0], End => JSON::PP::true } } }) };

aws('CreateStateMachine', { name => 'versioned', definition => $v->('v1'),
                            roleArn => 'arn:aws:iam::000000000000:role/x' });
for my $version ('v1', 'v2') {
    if ($version eq 'v2') {
        aws('UpdateStateMachine', {
            stateMachineArn => "$acct:stateMachine:versioned",
            definition => $v->('v2') });
    }
    my %out;
    for my $i (1 .. 6) {
        my $s = aws('StartExecution', {
            stateMachineArn => "$acct:stateMachine:versioned",
            name => "$version-$i" });
        my $d;
        for (1 .. 50) {
            $d = aws('DescribeExecution', { executionArn => $s->{executionArn} });
            last if ($d->{status} // '') eq 'SUCCEEDED';
            sleep 0.05;
        }
        $out{ $d->{output} // 'none' }++;
    }
    is_deeply(\%out, { qq("$version") => 6 },
              "every worker runs revision $version");
}

# executions for the metrics: 3 succeed, 2 fail, 1 is stopped

my @jobs = ($job);
for (1 .. 2) {
    $r = $t->http('POST', '/start/quick', '{"bucket":"source","key":"a.bin"}',
                  \%k1);
    push @jobs, $r->{json}{jobId};
}
is(wait_done($_)->{status}, 'SUCCEEDED', "quick $_") for @jobs;

for (1 .. 2) {
    $r = $t->http('POST', '/start/failing',
                  '{"bucket":"source","key":"a.bin"}', \%k1);
    is(wait_done($r->{json}{jobId})->{status}, 'FAILED', 'failing');
}

$r = $t->http('POST', '/start/waiter', '{"bucket":"source","key":"a.bin"}',
              \%k1);
my $waiter = $r->{json}{executionArn};
sleep 0.3;
$r = $t->http('POST', '/', qq({"executionArn":"$waiter"}),
              { 'X-Amz-Target' => 'AWSStepFunctions.StopExecution', %k1 });
is($r->{status}, 200, 'StopExecution');
is(wait_done($r = (split /:/, $waiter)[-1])->{status}, 'ABORTED', 'ABORTED');

# metrics

$r = $t->http('GET', '/metrics');
is($r->{status}, 200, 'metrics without a key');
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4},
     'Prometheus content type');

my (%m, %types, $bad);
for my $line (split /\n/, $r->{content}) {
    if ($line =~ /^# TYPE (\S+) (counter|gauge|histogram)$/) {
        $types{$1} = $2;
        next;
    }
    next if $line =~ /^# HELP /;
    if ($line =~ /^([a-z_]+)(\{[^}]*\})? (\d+(?:\.\d+)?)$/) {
        $m{$1 . ($2 // '')} = $3;
        next;
    }
    $bad = $line;
}
ok(!defined $bad, 'every line parses') or diag($bad);

is($m{'sfn_executions_started_total{state_machine="quick"}'}, 3,
   'started quick');
is($m{'sfn_executions_succeeded_total{state_machine="quick"}'}, 3,
   'succeeded quick');
is($m{'sfn_executions_failed_total{state_machine="failing"}'}, 2,
   'failed');
is($m{'sfn_executions_aborted_total{state_machine="waiter"}'}, 1,
   'aborted');
is($m{'sfn_executions_timed_out_total{state_machine="quick"}'}, 0,
   'timed out');
is($types{sfn_execution_duration_seconds}, 'histogram', 'a histogram');
is($m{'sfn_execution_duration_seconds_count{state_machine="quick"}'}, 3,
   'duration count');
is($m{'sfn_execution_duration_seconds_bucket{state_machine="quick",'
      . 'le="+Inf"}'}, 3, '+Inf bucket');
ok($m{'sfn_execution_duration_seconds_bucket{state_machine="waiter",'
      . 'le="0.100"}'} == 0, 'the stopped one took longer than 0.1 s');
is($m{'sfn_task_duration_seconds_count{resource="sfn:file:delete"}'}, 5,
   'five tasks ran');
is($m{'sfn_task_failures_total{resource="sfn:file:delete"}'}, 2,
   'two failed');
is($m{sfn_executions_running}, 0, 'none running');
is($m{sfn_tasks_in_flight}, 0, 'no task in flight');
is($m{sfn_tasks_posted_total}, 5, 'five posted');

my $prev = 0;
my $mono = 1;
for my $le (qw(0.010 0.050 0.100 0.500 1.000 5.000 10.000 30.000 60.000
               300.000 900.000 3600.000 +Inf)) {
    my $v = $m{"sfn_execution_duration_seconds_bucket{state_machine=\"quick\","
               . "le=\"$le\"}"} // -1;
    $mono = 0 if $v < $prev;
    $prev = $v;
}
ok($mono, 'buckets are cumulative');

# the database away: a read answers 503 in time, and works again after

$t->pg_stop;
my $t0 = time;
$r = $t->http('POST', '/',
              qq({"stateMachineArn":"$acct:stateMachine:versioned"}),
              { 'X-Amz-Target' => 'AWSStepFunctions.DescribeStateMachine',
                %k1 });
is($r->{status}, 503, 'database down: 503');
is($r->{json}{__type}, 'ServiceUnavailable', 'ServiceUnavailable');
ok(time - $t0 < 15, 'within the database timeout');

$t->pg_start_again;
my $back;
for (1 .. 100) {
    $back = aws('DescribeStateMachine',
                { stateMachineArn => "$acct:stateMachine:versioned" });
    last if ($back->{name} // '') eq 'versioned';
    sleep 0.2;
}
is($back->{name}, 'versioned', 'and answers again once it is back');

# the counters are shared: a reload keeps them

$t->nginx_reload;
$r = $t->http('GET', '/metrics');
like($r->{content}, qr/^sfn_executions_started_total\{state_machine="quick"\} 3$/m,
     'the counters survive a reload');

$t->stop;

done_testing;
