package SoakSabotage;

# SOAK_SABOTAGE=1: before the checks, break what the soak checks, one
# thing of each kind, so a run shows that every check can fail:
#
#   an acknowledged execution that does not exist     -> lost
#   a Standard execution's row deleted                 -> lost
#   a state entered twice (an event appended)          -> duplicated,
#                                                         incomplete
#   an event taken out of the middle of a history      -> incomplete
#   a stopped execution's row marked FAILED            -> wrong status
#   a temporary file and a job's outputs left behind   -> orphaned files
#   a worker that "exited on signal 11"                -> crashes
#
# The run must then exit 1 and name each of them on stderr.

use strict;
use warnings;
use File::Path qw(make_path);
use JSON::PP;

my $JSON = JSON::PP->new->canonical;

sub apply {
    my ($t, $cfg) = @_;
    my $dir = $cfg->{dir};
    my @plain = grep { /:plain:/ } split /\n/, $t->psql(
        "SELECT arn FROM sfn_executions WHERE state_machine = 'plain' "
        . "AND status = 'SUCCEEDED' ORDER BY arn LIMIT 3");
    die "sabotage: fewer than 3 plain executions\n" if @plain < 3;

    open my $fh, '>>', "$dir/soak/sabotage.log" or die;
    print $fh $JSON->encode({ ev => 'ack', kind => 'plain', via => 'none',
                              machine => 'plain', t => 1,
                              arn => 'arn:aws:states:us-east-1:'
                                     . '000000000000:execution:plain:'
                                     . 'never-started' }), "\n";
    close $fh;

    $t->psql("DELETE FROM sfn_executions WHERE arn = '$plain[0]'");

    # a finished history may be packed in its row (sql/006): unpacked
    # into rows first, where it is tampered with

    for my $arn (@plain[1, 2]) {
        $t->psql("INSERT INTO sfn_history (execution_arn, id, previous_id, "
                 . "type, ts, details) SELECT arn, u.* FROM sfn_executions, "
                 . "sfn_history_unpack(history) u WHERE arn = '$arn'; "
                 . "UPDATE sfn_executions SET history = NULL "
                 . "WHERE arn = '$arn'");
    }

    $t->psql("INSERT INTO sfn_history (execution_arn, id, previous_id, "
             . "type, ts, details) SELECT execution_arn, id + 100, id, "
             . "type, ts, details FROM sfn_history WHERE execution_arn = "
             . "'$plain[1]' AND type = 'PassStateEntered' ORDER BY id "
             . "LIMIT 1");

    $t->psql("DELETE FROM sfn_history WHERE execution_arn = '$plain[2]' "
             . "AND id = 3");

    $t->psql("UPDATE sfn_executions SET status = 'FAILED' WHERE arn = "
             . "(SELECT arn FROM sfn_executions WHERE state_machine = 'hold' "
             . "AND status = 'ABORTED' ORDER BY arn LIMIT 1)");

    make_path("$dir/media/output/.sfn-job-sabotage",
              "$dir/media/output/mp4/no-such-job");
    $t->write_file('media/output/.sfn-job-sabotage/x.mp4', 'x');
    $t->write_file('media/output/mp4/no-such-job/x.mp4', 'x');

    $t->write_file('logs/error.log', ($t->read_file('logs/error.log') // '')
        . "2026/01/01 00:00:00 [alert] 1#1: worker process 2 exited on "
        . "signal 11\n");

    warn "soak: sabotaged $plain[0] (row deleted), $plain[1] (a state "
         . "entered twice), $plain[2] (event 3 deleted), a "
         . "stopped one's status, a fake acknowledgement, two orphans and "
         . "a crash\n";
}

1;
