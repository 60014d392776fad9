#!/usr/bin/perl

# The seeds' Map machines from conf-examples/: 004's Map over items and
# its Map over files (s3:listObjectsV2 then lambda:invoke per file), 002's
# Map over order items and its ETL-style Map over records.  The listing
# is an S3-shaped service (ListObjectsV2's Contents), the functions one
# small service.  Failure paths: an item that fails fails the Map and the
# execution; a bucket that does not exist fails the listing with S3's
# error name.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Sfn::Test;
use Sfn::Service;

Sfn::Test::need_postgres();

my $svc = Sfn::Service->new(sub {
    my ($req) = @_;
    my ($p, $j) = ($req->{path}, $req->{json});

    if ($p eq '/s3') {
        return (404, { __type => 'NoSuchBucket',
                       message => 'The specified bucket does not exist' })
            if $j->{Bucket} ne 'my-data-bucket';
        my @keys = map { "$j->{Prefix}$_" } qw(a.csv b.csv c.csv);
        return (200, { Name => $j->{Bucket}, Prefix => $j->{Prefix},
                       KeyCount => scalar @keys, IsTruncated => JSON::PP::false,
                       Contents => [ map { { Key => $_, Size => length $_ } }
                                     @keys ] });
    }

    my ($fn) = ($req->{headers}{'x-sfn-resource'} // '') =~ /function:(\w+)$/;
    $fn //= '';
    my $id = ref $j eq 'HASH' ? $j->{id} // $j->{key} // $j->{Key} // '' : '';
    return (500, { errorType => 'ItemError', errorMessage => "bad $id" })
        if $id =~ /bad/;
    return (200, { processed => JSON::PP::true, id => $j->{id} })
        if $fn eq 'ProcessSingleItem' || $fn eq 'ProcessItem';
    return (200, { file => $j->{key}, lines => 10 }) if $fn eq 'ProcessFile';
    return (200, { record => $j->{Key}, ok => JSON::PP::true })
        if $fn eq 'ProcessRecord';
    return (200, { analyzed => scalar @$j }) if $fn eq 'AnalyzeResults';
    return (404, {});
});

my %m = (items => 'map-items', files => 'map-files',
         orderitems => 'order-items-map', etl => 'etl-map');

my $t = Sfn::Test->new;
$t->copy_example("$_.asl.json") for values %m;
my $u = $svc->url;

# a copy of the files machine listing a bucket that does not exist

my $def = $t->json->decode($t->read_file('conf/map-files.asl.json'));
$def->{States}{ListFiles}{Parameters}{Bucket} = 'no-such-bucket';
$t->write_file('conf/nobucket.json', $t->json->encode($def));

# and of the ETL map whose records fail (their keys say "bad")

$def = $t->json->decode($t->read_file('conf/etl-map.asl.json'));
$def->{States}{ListRecords}{Parameters}{Prefix} = 'bad/';
$t->write_file('conf/badrecords.json', $t->json->encode($def));

$t->start($t->sfn_http(
    machines => [ (map { $_ => "$m{$_}.asl.json" } sort keys %m),
                  nobucket => 'nobucket.json',
                  badrecords => 'badrecords.json' ],
    http => <<"END",
    sfn_integration   arn:aws:lambda:*:*:function:* $u/fn;
    sfn_integration   arn:aws:s3:::* $u/s3;
END
    server => "location = / { sfn_aws_api; }\n"));

sub run {
    my ($m, $in) = @_;
    my $d = $t->aws_run($m, $in, timeout => 60);
    $d->{states} = $t->states_entered($d->{executionArn})
        if $d->{executionArn};
    return $d;
}

# 004, Map over items: the seed's input and output

my $d = run('items', { items => [ { id => 1, name => 'item1' },
                                  { id => 2, name => 'item2' },
                                  { id => 3, name => 'item3' } ] });
is($d->{status}, 'SUCCEEDED', 'items: succeeded') or diag explain $d;
is_deeply($d->{output_json},
          [ map { { processed => JSON::PP::true, id => $_ } } 1 .. 3 ],
          'items: the seed\'s output, in order');
my @got = sort map { $_->{json}{name} }
          grep { ref $_->{json} eq 'HASH' && $_->{json}{name} }
          $svc->requests('/fn');
is_deeply(\@got, [ qw(item1 item2 item3) ], 'items: each item alone');

$d = run('items', { items => [ { id => 1 }, { id => 'bad-2' } ] });
is($d->{status}, 'FAILED', 'items, one failing: failed');
is($d->{error}, 'ItemError', '... the item\'s error');
unlike($d->{states}, qr/AllItemsProcessed/, '... AllItemsProcessed not entered');

# 002, Map over order items

$d = run('orderitems', { orderItems => [ { id => 'x' }, { id => 'y' } ] });
is($d->{status}, 'SUCCEEDED', 'order items: succeeded') or diag explain $d;
is(scalar @{ $d->{output_json} }, 2, 'order items: one result each');
is($d->{states}, 'ProcessItems,ProcessItem,ProcessItem,OrderComplete',
   'order items: the states entered');
$d = run('orderitems', { orderItems => [ { id => 'bad-x' } ] });
is($d->{status}, 'FAILED', 'order items, failing: failed');

# 004, Map over files

$d = run('files', {});
is($d->{status}, 'SUCCEEDED', 'files: succeeded') or diag explain $d;
my ($list) = $svc->requests('/s3');
is_deeply($list->{json}, { Bucket => 'my-data-bucket', Prefix => 'input/' },
          'files: ListObjectsV2 with the ItemReader\'s bucket and prefix');
is_deeply([ map { $_->{Payload}{file} } @{ $d->{output_json} } ],
          [ qw(input/a.csv input/b.csv input/c.csv) ],
          'files: ProcessFile for each listed key (lambda:invoke\'s shape)');

$d = run('nobucket', {});
is($d->{status}, 'FAILED', 'files, no such bucket: failed');
is($d->{error}, 'S3.NoSuchBucket', '... S3.NoSuchBucket');
is($d->{states}, 'ListFiles', '... before the Map');

# 002, the ETL-style Map over records

$d = run('etl', {});
is($d->{status}, 'SUCCEEDED', 'ETL map: succeeded') or diag explain $d;
is_deeply($d->{output_json}, { analyzed => 3 },
          'ETL map: AnalyzeResults had the three records\' results');
# a distributed Map's children are executions of their own: their states
# are in their histories, not the parent's
is($d->{states}, 'ListRecords,ProcessLargeDataset,AnalyzeResults',
   'ETL map: the states entered');

$d = run('badrecords', {});
is($d->{status}, 'FAILED', 'ETL map, records failing: failed');
is($d->{error}, 'States.ExceedToleratedFailureThreshold',
   '... as a distributed Map does (no failure tolerated)');
unlike($d->{states}, qr/AnalyzeResults/, '... AnalyzeResults not entered');

$t->stop;
$svc->stop;

done_testing();
