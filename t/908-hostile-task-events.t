# Issue 11 defect 11: each Task's TaskScheduled, TaskStarted and
# TaskSucceeded events name that Task's own resource, not the first Task's
# of the run.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use Time::HiRes qw(sleep);


my $t = Sfn::Test->new;
$t->pg_start;
$t->write_file('scratch/a.txt', 'a');

my $delete = { Type => 'Task', Resource => 'sfn:file:delete',
               Parameters => { bucket => 'scratch', key => 'none.txt' },
               ResultPath => '$.deleted' };
my $copy = { Type => 'Task', Resource => 'sfn:file:copy',
             Parameters => { source => { bucket => 'scratch', key => 'a.txt' },
                             destination => { bucket => 'scratch',
                                              key => 'b.txt' } },
             ResultPath => '$.copied' };

$t->write_file('conf/two.asl.json', $t->json->encode({
    StartAt => 'First', States => {
        First => { %$delete, Next => 'Second' },
        Second => { %$copy, End => JSON::PP::true } } }));
$t->write_file('conf/one.asl.json', $t->json->encode({
    StartAt => 'Second', States => {
        Second => { %$copy, End => JSON::PP::true } } }));

$t->nginx_start(<<'END', workers => 1);
    sfn_zone          sfn 4m;
    sfn_database      "%%DATABASE%%";
    sfn_thread_pool   sfn;
    sfn_bucket        scratch %%DIR%%/scratch;
    sfn_state_machine two %%DIR%%/conf/two.asl.json;
    sfn_state_machine one %%DIR%%/conf/one.asl.json;

    server {
        listen 127.0.0.1:%%PORT%%;

        sfn_api_key hostile-key;

        location = / { sfn_aws_api; }
    }
END

my $acct = 'arn:aws:states:us-east-1:000000000000';

sub aws {
    my ($op, $body) = @_;
    my $r = $t->http('POST', '/', $t->json->encode($body),
                     { 'X-Amz-Target' => "AWSStepFunctions.$op",
                       'Content-Type' => 'application/x-amz-json-1.0',
                       'X-Api-Key' => 'hostile-key' });
    return $r->{json} // {};
}

# the resource fields of each Task event, by the state it belongs to

sub task_events {
    my ($m) = @_;
    my $s = aws('StartExecution', { stateMachineArn => "$acct:stateMachine:$m",
                                    name => "run-$m" });
    my $d;
    for (1 .. 100) {
        $d = aws('DescribeExecution', { executionArn => $s->{executionArn} });
        last if ($d->{status} // 'RUNNING') ne 'RUNNING';
        sleep 0.1;
    }
    is($d->{status}, 'SUCCEEDED', "$m: SUCCEEDED");

    my $h = aws('GetExecutionHistory', { executionArn => $s->{executionArn} });
    my (%by, $state);
    for my $e (@{ $h->{events} // [] }) {
        $state = $e->{stateEnteredEventDetails}{name}
            if $e->{type} eq 'TaskStateEntered';
        next unless $e->{type} =~ /^Task(Scheduled|Started|Succeeded)$/;
        my ($details) = grep { /EventDetails$/ } keys %$e;
        my $x = $e->{$details};
        $by{$state}{$e->{type}} = join ' ', map { $_ // '-' }
            $x->{resourceType}, $x->{resource};
    }
    return \%by;
}

$t->write_file('scratch/a.txt', 'a');
my $two = task_events('two');
unlink $t->dir . '/scratch/b.txt';
my $one = task_events('one');

for my $type (qw(TaskScheduled TaskStarted TaskSucceeded)) {
    ok(defined $one->{Second}{$type}, "$type of the copy, run alone")
        or diag(explain $one);
    isnt($two->{First}{$type}, undef, "$type of the delete");
    {
        is($two->{Second}{$type}, $one->{Second}{$type},
           "$type of the copy after the delete names the copy");
        isnt($two->{Second}{$type}, $two->{First}{$type},
             "$type: the two Tasks differ");
    }
}

my $log = $t->read_file('logs/error.log') // '';
my @bad = grep { !/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[([a-z]+)\] /
                 || $1 =~ /^(crit|alert|emerg)$/
                 || /exited on signal/ }
          split /\n/, $log;
ok(!@bad, 'defect 11: a clean error log') or diag(join "\n", @bad);

$t->stop;

done_testing;
