# tools/quickstart-follow, the quickstart's terminal part, against the
# APIs of conf-examples/video-origin.conf (upload at /upload/, sfn_api at
# /executions/, the AWS API at /): it uploads, prints each state as it is
# entered (branches indented), the execution's end, the console's URL, and
# exits 0 only when the execution SUCCEEDED; an upload refused is said as
# such.  The whole video job is tools/quickstart's, by hand.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use POSIX ();

my $root = $Sfn::Test::ROOT;

plan skip_all => 'no python3' if system('python3 -c 1 >/dev/null 2>&1');

my $t = Sfn::Test->new;
my $dir = $t->dir;

$t->write_file('conf/steps.asl.json', <<'END');
{"StartAt": "First",
 "States": {
  "First": {"Type": "Pass", "Next": "Both"},
  "Both": {"Type": "Parallel", "Next": "Decide", "Branches": [
     {"StartAt": "Left", "States": {"Left": {"Type": "Wait", "Seconds": 1,
                                             "End": true}}},
     {"StartAt": "Right", "States": {"Right": {"Type": "Pass",
                                               "End": true}}}]},
  "Decide": {"Type": "Choice",
             "Choices": [{"Variable": "$[0].key", "StringMatches": "bad*",
                          "Next": "Broken"}],
             "Default": "Done"},
  "Broken": {"Type": "Fail", "Error": "Bad", "Cause": "a bad name"},
  "Done": {"Type": "Succeed"}}}
END

$t->start($t->sfn_http(zone => '4m', buckets => [ source => 'source' ],
                       machines => [ steps => 'steps.asl.json' ],
                       server => <<'END'));
location /upload/     { sfn_upload source; sfn_trigger steps suffix=.mp4; }
location /executions/ { sfn_api; }
location = /          { sfn_aws_api; }
END

mkdir "$dir/source";
$t->write_file('file.bin', 'x' x 1000);
my $base = 'http://127.0.0.1:' . $t->port;

sub follow {
    my ($key) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!\n";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec('python3', "$root/tools/quickstart-follow", $base,
             "$dir/file.bin", $key) or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

my ($rc, $out) = follow('good.mp4');
is($rc, 0, 'exit 0 for a SUCCEEDED execution') or diag($out);
like($out, qr{^PUT /upload/good\.mp4 \(0\.0 MB\)$}m, 'the upload');
like($out, qr/^execution arn:aws:states:\S+:execution:steps:\S+$/m,
     'the execution');
my @states = $out =~ /^(  +)(\w+)$/mg;
my %indent;
while (my ($sp, $name) = splice @states, 0, 2) {
    $indent{$name} = length $sp;
}
is_deeply([ sort keys %indent ], [ sort qw(First Both Left Right Decide Done) ],
          'each state entered, once');
ok($indent{Left} > $indent{Both} && $indent{Right} > $indent{Both},
   'branches indented under their Parallel');
like($out, qr/^SUCCEEDED in \d+\.\d s$/m, 'the end');
like($out, qr{^Console: \Q$base\E/console/$}m, "the console's URL");
like($out, qr{#/job/arn:aws:states:}, "the console's page of the job");

($rc, $out) = follow('bad.mp4');
is($rc, 1, 'exit 1 for a FAILED one') or diag($out);
like($out, qr/^FAILED in/m, 'said');
like($out, qr/Bad: a bad name/, 'with its error and cause');

($rc, $out) = follow('none.txt');
is($rc, 1, 'an upload that starts nothing');
like($out, qr/the upload started no execution: no sfn_trigger .*none\.txt/,
     'said as such') or diag($out);

$t->stop;
done_testing;
