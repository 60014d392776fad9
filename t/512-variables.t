# Variables survive durable recovery: JSONata executions that assign
# variables at the top level and inside Map iterations, then wait, go on
# with the right values after a worker is killed with SIGKILL and after a
# full restart; StateExited events keep the variables they assigned.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep);
use Sfn::Test;

my $t = Sfn::Test->new;

# k from the input; k2 assigned by a Wait; each iteration's own "mine";
# the result: sum over i of (i * k + k2) = 6k + 30k
$t->write_file('conf/vars.json', <<'END');
{
  "QueryLanguage": "JSONata",
  "StartAt": "Init",
  "States": {
    "Init": {
      "Type": "Pass",
      "Assign": { "k": "{% $states.input.k %}", "xs": [1, 2, 3] },
      "Next": "Hold"
    },
    "Hold": {
      "Type": "Wait", "Seconds": 2,
      "Assign": { "k2": "{% $k * 10 %}" },
      "Next": "Each"
    },
    "Each": {
      "Type": "Map",
      "Items": "{% $xs %}",
      "ItemProcessor": {
        "StartAt": "Mine",
        "States": {
          "Mine": {
            "Type": "Pass",
            "Assign": { "mine": "{% $states.input * $k %}" },
            "Next": "Nap"
          },
          "Nap": {
            "Type": "Wait", "Seconds": 2,
            "Output": "{% $mine + $k2 %}",
            "End": true
          }
        }
      },
      "Assign": { "sum": "{% $sum($states.result) %}" },
      "Next": "Done"
    },
    "Done": {
      "Type": "Pass",
      "Output": { "k": "{% $k %}", "sum": "{% $sum %}" },
      "End": true
    }
  }
}
END

mkdir $t->dir . '/source';

my $http = $t->sfn_http(buckets => [ source => 'source' ],
                        machines => [ vars => 'vars.json' ],
                        server => <<'END');
location /start/      { sfn_start; }
location /executions/ { sfn_api; }
END

$t->start($http, workers => 2);

sub start_many {
    my ($from, $n) = @_;
    my @jobs;
    for my $k ($from .. $from + $n - 1) {
        my $r = $t->http('POST', '/start/vars',
                         qq({"bucket":"source","key":"none","k":$k}));
        push @jobs, [ $r->{json}{jobId}, $k ] if $r->{status} == 200;
    }
    return @jobs;
}

sub check_all {
    my ($jobs, $what) = @_;
    my $list = join ',', map { "'$_->[0]'" } @$jobs;

    my $done = $t->wait_sql("SELECT count(*) FROM sfn_executions "
                            . "WHERE name IN ($list) "
                            . "AND status = 'SUCCEEDED'",
                            scalar @$jobs, 40);
    is($done, scalar @$jobs, "all SUCCEEDED $what");

    my $right = 0;
    for my $j (@$jobs) {
        my $out = $t->psql("SELECT output FROM sfn_executions "
                           . "WHERE name = '$j->[0]'");
        my $o = eval { $t->json->decode($out) } // {};
        $right++ if ($o->{k} // -1) == $j->[1]
                    && ($o->{sum} // -1) == 36 * $j->[1];
    }
    is($right, scalar @$jobs, "every output has its variables $what");
}

# kill -9 a worker while the executions wait in Hold, then in the Map

my @jobs = start_many(1, 20);
is(scalar @jobs, 20, '20 executions started');

sleep 1;
my @workers = $t->nginx_workers;
kill 'KILL', $workers[0];
sleep 2.5;
@workers = $t->nginx_workers;
kill 'KILL', $workers[-1];

check_all(\@jobs, 'after two kill -9');

# a full restart with the iterations mid-Wait

my @more = start_many(101, 10);
is(scalar @more, 10, '10 more started');
sleep 3;
$t->nginx_stop;
$t->nginx_start($http, workers => 2);
check_all(\@more, 'across a restart');

# the history shows what each state assigned, once per execution

my $list = join ',', map { "'$_->[0]'" } @jobs, @more;
is($t->psql(<<"END"), 30, 'Init exited once each, with its variables');
SELECT count(*) FROM sfn_events h JOIN sfn_executions e
    ON h.execution_arn = e.arn
WHERE e.name IN ($list) AND h.type = 'PassStateExited'
  AND h.details->'stateExitedEventDetails'->>'name' = 'Init'
  AND h.details->'stateExitedEventDetails'->'assignedVariables'->>'k'
      = (e.input::jsonb->>'k')
END

$t->stop(allow => qr/kill|exited on signal|connection|server closed/);

done_testing;
