# Standard executions survive: a worker killed with SIGKILL, a graceful
# reload, a full restart and a PostgreSQL outage.  Executions are leased;
# a lease that runs out is claimed by another worker (FOR UPDATE SKIP
# LOCKED) and the execution resumes.  No transition is recorded twice.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ();
use Sfn::Test;

my $t = Sfn::Test->new;

my $dir = $t->dir;

$t->write_file('conf/hold.json', <<'END');
{
  "StartAt": "Hold",
  "States": {
    "Hold": { "Type": "Wait", "Seconds": 3, "Next": "Probe" },
    "Probe": {
      "Type": "Task",
      "Resource": "sfn:media:probe",
      "Parameters": { "bucket.$": "$.bucket", "key.$": "$.key" },
      "ResultSelector": { "duration.$": "$.summary.duration" },
      "ResultPath": "$.probe",
      "Next": "Done"
    },
    "Done": { "Type": "Succeed" }
  }
}
END

my $http = $t->sfn_http(zone => '8m', buckets => [ source => 'source' ],
                        machines => [ hold => 'hold.json' ],
                        server => <<'END');
location /start/      { sfn_start; }
location /executions/ { sfn_api; }
END

$t->start($http, workers => 2);

$t->lavfi_clip("$dir/source/tiny.mp4", size => '160x90', rate => 10,
               duration => 1, audio => 0);

sub start_many {
    my ($n) = @_;
    my @jobs;
    for (1 .. $n) {
        my $r = $t->http('POST', '/start/hold',
                         '{"bucket":"source","key":"tiny.mp4"}');
        push @jobs, $r->{json}{jobId} if $r->{status} == 200;
    }
    return @jobs;
}

sub wait_all {
    my ($jobs, $timeout) = @_;
    my $list = join ',', map { "'$_'" } @$jobs;
    return scalar $t->wait_sql("SELECT count(*) FROM sfn_executions "
                               . "WHERE name IN ($list) "
                               . "AND status = 'SUCCEEDED'",
                               scalar @$jobs, $timeout);
}

sub history_clean {
    my ($jobs) = @_;
    my $list = join ',', map { "'$_'" } @$jobs;
    # one ExecutionStarted and one ExecutionSucceeded each, and every
    # state entered exactly once
    return $t->psql(<<"END");
SELECT count(*) FROM (
    SELECT e.name, h.type, count(*) AS n
    FROM sfn_executions e JOIN sfn_events h ON h.execution_arn = e.arn
    WHERE e.name IN ($list)
      AND h.type IN ('ExecutionStarted', 'ExecutionSucceeded',
                     'WaitStateEntered', 'TaskStateEntered',
                     'SucceedStateEntered')
    GROUP BY e.name, h.type) x
WHERE n <> 1
END
}

# kill -9 one of two workers with 100 executions in flight

my @jobs = start_many(100);
is(scalar @jobs, 100, '100 executions started');

my @workers = $t->nginx_workers;
is(scalar @workers, 2, 'two workers');
sleep 0.5;
my $killed = time;
kill 'KILL', $workers[0];

my $done = wait_all(\@jobs, 30);
my $rescue = time - $killed;
is($done, 100, 'all 100 SUCCEEDED after kill -9');
ok($rescue < 3 + 10, sprintf('rescued in %.1f s', $rescue));
is(history_clean(\@jobs), 0, 'no transition recorded twice');
is($t->psql("SELECT count(*) FROM sfn_executions WHERE status = 'RUNNING'"),
   0, 'nothing left running');

my $resumed = () = ($t->read_file('logs/error.log')
                     =~ /resumed at its last step/g);
ok($resumed > 0, "$resumed executions resumed at their last step");

# a graceful reload with executions mid-Wait

@jobs = start_many(20);
sleep 0.5;
$t->nginx_reload;
is(wait_all(\@jobs, 30), 20, 'all complete across a reload');
is(history_clean(\@jobs), 0, 'no transition recorded twice');

# a full restart with executions mid-Wait

@jobs = start_many(20);
sleep 0.5;
$t->nginx_stop;
$t->nginx_start($http, workers => 2);
is(wait_all(\@jobs, 30), 20, 'all complete across a restart');
is(history_clean(\@jobs), 0, 'no transition recorded twice');

# PostgreSQL down for 5 s under load: executions in flight wait, and
# starts are acknowledged once the database has them

@jobs = start_many(20);
$t->pg_stop;

my @kids;
for my $i (1 .. 10) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $r = $t->http('POST', '/start/hold',
                         '{"bucket":"source","key":"tiny.mp4"}');
        $t->write_file("started.$i", $r->{status} == 200
                                     ? $r->{json}{jobId} : '');
        POSIX::_exit(0);
    }
    push @kids, $pid;
}

sleep 5;
$t->pg_start_again;
waitpid $_, 0 for @kids;

my @more = grep { $_ } map { $t->read_file("started.$_") } 1 .. 10;
is(scalar @more, 10, 'starts during the outage acknowledged once it ends');
push @jobs, @more;
is(wait_all(\@jobs, 40), 30, 'all complete after the database returns');
is(history_clean(\@jobs), 0, 'no transition recorded twice');

$t->stop(allow => qr/kill|exited on signal|connection|server closed/);

done_testing;
