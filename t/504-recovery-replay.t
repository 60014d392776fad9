# No transition is recorded twice, whatever becomes of a commit's reply
# or of a lease.  Three rounds, each made to happen rather than hoped for:
#
#   a commit whose reply is lost: a proxy between nginx and PostgreSQL
#   lets the statements through and drops the replies for 3.5 s while the
#   executions end, then closes; the writer reconnects and sends again
#   what had in fact committed (an end among it: the history packed, its
#   rows deleted);
#
#   a lease that ran out under a live worker: one worker is stopped
#   (SIGSTOP) past its lease, the other claims its executions and ends
#   them, then the first goes on and writes the steps it had in hand;
#
#   backends killed (pg_terminate_backend) every 250 ms while executions
#   step.
#
# Every execution must end SUCCEEDED with each of its events once, ids
# 1..n without a gap, and error.log must hold no [alert] or [crit].

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use IO::Select;
use POSIX ();
use Sfn::Test;

my $t = Sfn::Test->new;
my $dir = $t->dir;

$t->pg_start;

# the proxy: replies dropped for $black seconds after SIGUSR1, then every
# connection through it closed

my $proxy_port = Sfn::Test::free_port();
my $black = 3.5;

my $proxy = fork // die "fork: $!";

if ($proxy == 0) {
    my $until = 0;
    my $dropped = 0;
    local $SIG{USR1} = sub { $until = time + $black };
    local $SIG{PIPE} = 'IGNORE';

    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                    LocalPort => $proxy_port,
                                    Listen => 64, ReuseAddr => 1)
        or POSIX::_exit(1);
    my $sel = IO::Select->new($srv);
    my (%peer, %server);

    my $close = sub {
        my ($s) = @_;
        my $p = delete $peer{$s};
        delete $server{$s};
        $sel->remove($s);
        close $s;
        return unless $p;
        delete $peer{$p};
        delete $server{$p};
        $sel->remove($p);
        close $p;
    };

    while (1) {
        if ($until && time >= $until) {
            $until = 0;
            $close->($_) for grep { $server{$_} } $sel->handles;
            $t->write_file('dropped', $dropped);
        }

        for my $s ($sel->can_read(0.01)) {
            if ($s == $srv) {
                my $c = $srv->accept or next;
                my $u = IO::Socket::INET->new(
                    PeerAddr => "127.0.0.1:$t->{pg_port}");
                unless ($u) { close $c; next; }
                $peer{$c} = $u;
                $peer{$u} = $c;
                $server{$u} = 1;
                $sel->add($c, $u);
                next;
            }

            next unless $peer{$s};

            my $n = sysread $s, my $buf, 65536;
            if (!$n) {
                $close->($s);
                next;
            }

            if ($server{$s} && $until) {
                $dropped += $n;
                next;
            }

            my $p = $peer{$s};
            my $off = 0;
            while ($off < $n) {
                my $w = syswrite $p, $buf, $n - $off, $off;
                if (!defined $w) {
                    $close->($s);
                    last;
                }
                $off += $w;
            }
        }
    }
}

my $stopped;

END {
    local $?;
    kill 'CONT', $stopped if $stopped;
    if ($proxy) {
        kill 'KILL', $proxy;
        waitpid $proxy, 0;
    }
}

$t->write_file('conf/hold.json', <<'END');
{
  "StartAt": "Hold",
  "States": {
    "Hold": { "Type": "Wait", "Seconds": 3, "Next": "Mark" },
    "Mark": { "Type": "Pass", "Result": "held", "ResultPath": "$.mark",
              "Next": "Done" },
    "Done": { "Type": "Succeed" }
  }
}
END

$t->write_file('conf/steps.json', <<'END');
{
  "StartAt": "One",
  "States": {
    "One": { "Type": "Wait", "Seconds": 2, "Next": "Mark" },
    "Mark": { "Type": "Pass", "Result": 1, "ResultPath": "$.n",
              "Next": "Two" },
    "Two": { "Type": "Wait", "Seconds": 1, "Next": "Done" },
    "Done": { "Type": "Succeed" }
  }
}
END

my $conninfo = "host=127.0.0.1 port=$proxy_port dbname=sfn user=postgres "
               . "application_name=sfn504";

my $http = $t->sfn_http(zone => '8m', database => 0,
                        buckets => [ source => 'source' ],
                        machines => [ hold => 'hold.json',
                                      steps => 'steps.json' ],
                        http => "    sfn_database      \"$conninfo\";\n",
                        server => <<'END');
location /start/      { sfn_start; }
location /executions/ { sfn_api; }
END

$t->wait_port($proxy_port) or die "the proxy is not listening\n";
$t->nginx_start($http, workers => 2);

sub start_many {
    my ($machine, $n) = @_;
    my @jobs;
    for (1 .. $n) {
        my $r = $t->http('POST', "/start/$machine", '{"bucket":"source","key":"k"}');
        push @jobs, $r->{json}{jobId} if $r->{status} == 200;
    }
    return @jobs;
}

sub in_list {
    my ($jobs) = @_;
    return join ',', map { "'$_'" } @$jobs;
}

sub wait_all {
    my ($jobs, $timeout) = @_;
    my $list = in_list($jobs);
    return scalar $t->wait_sql("SELECT count(*) FROM sfn_executions "
                               . "WHERE name IN ($list) "
                               . "AND status = 'SUCCEEDED'",
                               scalar @$jobs, $timeout);
}

# what a writer sends again after it reconnects goes first: once both
# workers' connections (writer and reader each) are back and idle for a
# while, it has been written

sub settle {
    my $calm = 0;
    my $deadline = time + 20;
    while (time < $deadline && $calm < 3) {
        my $v = $t->psql("SELECT count(*) FILTER (WHERE state = 'idle') "
                         . "|| '/' || count(*) FROM pg_stat_activity "
                         . "WHERE application_name = 'sfn504'");
        $calm = $v eq '4/4' ? $calm + 1 : 0;
        sleep 0.3;
    }
    diag($t->psql("SELECT string_agg(pid || ' ' || state || ' '
                   || backend_start || ' ' || coalesce(wait_event, '-')
                   || ' ' || left(query, 50), E'\n')
                   FROM pg_stat_activity
                   WHERE application_name = 'sfn504'")) if $calm < 3;
    return $calm >= 3;
}

# (events recorded more than once, executions whose ids are not 1..n)

sub history_check {
    my ($jobs) = @_;
    my $list = in_list($jobs);
    my $dup = $t->psql(<<"END");
SELECT coalesce(string_agg(name || ' ' || type || ' x' || n, '; '), '')
FROM (SELECT e.name, h.type, count(*) AS n
      FROM sfn_executions e JOIN sfn_events h ON h.execution_arn = e.arn
      WHERE e.name IN ($list)
      GROUP BY e.name, h.type, h.id HAVING count(*) > 1
      UNION ALL
      SELECT e.name, h.type, count(*)
      FROM sfn_executions e JOIN sfn_events h ON h.execution_arn = e.arn
      WHERE e.name IN ($list)
      AND h.type IN ('ExecutionStarted', 'ExecutionSucceeded',
                     'PassStateEntered', 'SucceedStateEntered')
      GROUP BY e.name, h.type HAVING count(*) <> 1) x
END
    my $gaps = $t->psql(<<"END");
SELECT count(*) FROM (
    SELECT e.name FROM sfn_executions e
    JOIN sfn_events h ON h.execution_arn = e.arn
    WHERE e.name IN ($list)
    GROUP BY e.name
    HAVING min(h.id) <> 1 OR max(h.id) <> count(*)
        OR count(DISTINCT h.id) <> count(*)) x
END
    return ($dup, $gaps);
}

sub round_ok {
    my ($what, $jobs, $timeout) = @_;
    is(wait_all($jobs, $timeout), scalar @$jobs, "$what: all SUCCEEDED");
    ok(settle(), "$what: the writers are back and idle");
    my ($dup, $gaps) = history_check($jobs);
    is($dup, '', "$what: no event recorded twice");
    is($gaps, 0, "$what: event ids 1..n, none lost");
}

# 1. replies lost: every execution ends while its commit's reply is dropped

my @jobs = start_many('hold', 30);
is(scalar @jobs, 30, '30 executions started');

my $blackout = time;
kill 'USR1', $proxy;
sleep $black + 0.5;

ok(($t->read_file('dropped') // 0) > 0, 'replies were dropped');
round_ok('replies lost', \@jobs, 20);

my $ended = $t->psql("SELECT count(*) FROM sfn_executions "
                     . "WHERE name IN (" . in_list(\@jobs) . ") "
                     . "AND stop_date BETWEEN to_timestamp($blackout) "
                     . "AND to_timestamp($blackout + $black)");
ok($ended > 0, "$ended of them ended in the blackout");

my $lost = () = ($t->read_file('logs/error.log')
                 =~ /sfn database: connection lost/g);
ok($lost > 0, "the writers reconnected ($lost connections lost)");

# 2. a worker stopped past its lease: the other ends its executions, then
# it goes on with the steps it held

@jobs = start_many('steps', 20);
is(scalar @jobs, 20, '20 executions started');

my @workers = $t->nginx_workers;
my $list = in_list(\@jobs);
my %owned = map { /:(\d+)\|(\d+)$/ ? ($1 => $2) : () } split /\n/,
    $t->psql("SELECT owner || '|' || count(*) FROM sfn_executions "
             . "WHERE name IN ($list) GROUP BY owner");
my ($victim) = sort { ($owned{$b} // 0) <=> ($owned{$a} // 0) } @workers;
ok($owned{$victim}, "worker $victim owns $owned{$victim} of them");

$stopped = $victim;
kill 'STOP', $victim;
my $taken = wait_all(\@jobs, 20);
kill 'CONT', $victim;
$stopped = undef;
is($taken, 20, 'the other worker ended them');

# the stopped worker's timers fire now: its steps must change nothing
sleep 2;
round_ok('stale owner', \@jobs, 5);

my $dropped = () = ($t->read_file('logs/error.log')
                    =~ /is owned elsewhere now, dropped here/g);
ok($dropped > 0, "the stale worker was fenced out ($dropped runs)");

# 3. backends killed every 250 ms while executions step

@jobs = start_many('steps', 30);
is(scalar @jobs, 30, '30 executions started');

for (1 .. 12) {
    $t->psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             . "WHERE datname = 'sfn' AND pid <> pg_backend_pid() "
             . "AND backend_type = 'client backend'");
    sleep 0.25;
}

round_ok('backends killed', \@jobs, 30);

$t->stop;

done_testing;
