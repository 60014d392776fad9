package SoakLoad;

# The soak's load, faults and RSS sampler, each run in a process of its
# own by bench/soak/run.  Every process appends JSON lines to
# soak/<name>.log in the test directory: what was acknowledged (an ARN came
# back), what the soak asked of it afterwards (stop, task answer), the
# requests that failed and the faults injected.  SoakCheck reads them.

use strict;
use warnings;
use HTTP::Tiny;
use POSIX ();
use JSON::PP;
use Time::HiRes qw(time sleep);

my $JSON = JSON::PP->new->canonical->allow_nonref;
my $ACCT = 'arn:aws:states:us-east-1:000000000000';

sub new_log {
    my ($cfg, $name) = @_;
    open my $fh, '>>', "$cfg->{dir}/soak/$name.log" or die "$name.log: $!\n";
    $fh->autoflush(1);
    return $fh;
}

sub note {
    my ($fh, $cfg, %rec) = @_;
    $rec{t} = sprintf('%.3f', time - $cfg->{t0});
    print $fh $JSON->encode(\%rec), "\n";
}

# a connection per request, so that with reuseport both workers get work;
# a request cut by a worker's death answers 599

my $ua;

sub request {
    my ($cfg, $method, $path, $body, $headers) = @_;
    $ua //= HTTP::Tiny->new(timeout => 30, keep_alive => 0);
    my %o = (headers => $headers // {});
    $o{content} = $body if defined $body;
    my $t = time;
    my $r = $ua->request($method, "http://127.0.0.1:$cfg->{port}$path", \%o);
    $r->{elapsed} = time - $t;
    $r->{json} = eval { $JSON->decode($r->{content}) }
        if ($r->{headers}{'content-type'} // '') =~ /json/;
    $ua = undef if $r->{status} == 599;
    return $r;
}

sub api {
    my ($cfg, $op, $body) = @_;
    return request($cfg, 'POST', '/aws', $JSON->encode($body),
                   { 'Content-Type' => 'application/x-amz-json-1.0',
                     'X-Amz-Target' => "AWSStepFunctions.$op" });
}

sub refused {
    my ($fh, $cfg, $op, $r) = @_;
    my $why = $r->{json} ? ($r->{json}{__type} // $r->{json}{error} // '')
                         : substr($r->{content} // '', 0, 120);
    $why =~ s/\s+/ /g;
    note($fh, $cfg, ev => 'refused', op => $op, status => $r->{status},
         why => $why, elapsed => sprintf('%.3f', $r->{elapsed}));
}

sub pick {
    my (@w) = @_;
    my $sum = 0;
    $sum += $w[$_] for grep { $_ % 2 } 0 .. $#w;
    my $x = rand($sum);
    for (my $i = 0; $i < @w; $i += 2) {
        return $w[$i] if ($x -= $w[$i + 1]) < 0;
    }
    return $w[-2];
}

# the weights of pick() cut to the kinds asked for, if any

sub only {
    my ($kinds, @w) = @_;
    return @w unless $kinds && @$kinds;
    my %want = map { $_ => 1 } @$kinds;
    my @cut;
    for (my $i = 0; $i < @w; $i += 2) {
        push @cut, @w[$i, $i + 1] if $want{ $w[$i] };
    }
    die "no such kind of load: @$kinds\n" unless @cut;
    return @cut;
}

# a start through sfn_start: {"jobId","executionArn"}

sub sfn_start {
    my ($fh, $cfg, $machine, $kind, $n, %extra) = @_;
    my $r = request($cfg, 'POST', "/start/$machine",
                    $JSON->encode({ bucket => 'scratch',
                                    key => "soak/$kind-$n" }),
                    { 'Content-Type' => 'application/json' });
    if ($r->{status} != 200 || !$r->{json} || !$r->{json}{executionArn}) {
        refused($fh, $cfg, "sfn_start $machine", $r);
        return undef;
    }
    note($fh, $cfg, ev => 'ack', kind => $kind, via => 'sfn_start',
         machine => $machine, arn => $r->{json}{executionArn},
         job => $r->{json}{jobId}, %extra);
    return $r->{json}{executionArn};
}

sub start_execution {
    my ($fh, $cfg, $machine, $kind, $n, %extra) = @_;
    my $name = "$kind-$n-$$";
    my $r = api($cfg, 'StartExecution',
                { stateMachineArn => "$ACCT:stateMachine:$machine",
                  name => $name, input => $JSON->encode({ n => $n }) });
    if ($r->{status} != 200 || !$r->{json} || !$r->{json}{executionArn}) {
        refused($fh, $cfg, "StartExecution $machine", $r);
        note($fh, $cfg, ev => 'unacked', machine => $machine, name => $name);
        return undef;
    }
    note($fh, $cfg, ev => 'ack', kind => $kind, via => 'StartExecution',
         machine => $machine, name => $name,
         arn => $r->{json}{executionArn}, %extra);
    return $r->{json}{executionArn};
}

# the task token of an execution waiting in its .waitForTaskToken task:
# the last TaskScheduled event's parameters carry it

sub token_of {
    my ($cfg, $arn) = @_;
    my $r = api($cfg, 'GetExecutionHistory',
                { executionArn => $arn, maxResults => 1000 });
    return (undef, $r) if $r->{status} != 200 || !$r->{json};
    my $token;
    for my $ev (@{ $r->{json}{events} // [] }) {
        next unless $ev->{type} eq 'TaskScheduled';
        my $p = eval { $JSON->decode(
            $ev->{taskScheduledEventDetails}{parameters}) } // {};
        $token = $p->{token} if $p->{token};
    }
    return ($token, $r);
}

# Standard starts (sfn_start and StartExecution), stops of running ones
# and task-token callbacks

sub standard {
    my ($t, $cfg) = @_;
    my $fh = new_log($cfg, "standard-$$");
    my $end = $cfg->{t0} + $cfg->{seconds};
    my $gap = 1 / $cfg->{std_rate};
    my ($n, @pending) = (0);
    my $next = time;

    while (1) {
        my $now = time;
        if ($now < $end && $now >= $next) {
            $next += $gap;
            $next = $now if $next < $now - 5;
            $n++;
            my $op = pick(only($cfg->{std_ops}, plain_start => 25,
                               plain_api => 25, stop => 20, token_api => 20,
                               token_start => 10));
            if ($op eq 'plain_start') {
                sfn_start($fh, $cfg, 'plain', 'plain', $n);
            } elsif ($op eq 'plain_api') {
                start_execution($fh, $cfg, 'plain', 'plain', $n);
            } elsif ($op eq 'stop') {
                my $arn = start_execution($fh, $cfg, 'hold', 'stop', $n);
                push @pending, { op => 'stop', arn => $arn,
                                 at => time + 0.3 + rand(4),
                                 give_up => time + 120 } if $arn;
            } else {
                my $outcome = rand() < 0.7 ? 'success' : 'failure';
                my $arn = $op eq 'token_api'
                    ? start_execution($fh, $cfg, 'approve', 'token', $n,
                                      outcome => $outcome, answer => $n)
                    : sfn_start($fh, $cfg, 'approve', 'token', $n,
                                outcome => $outcome, answer => $n);
                push @pending, { op => 'token', arn => $arn,
                                 outcome => $outcome, answer => $n,
                                 at => time + 0.2 + rand(2),
                                 give_up => time + 180 } if $arn;
            }
        }

        my @keep;
        for my $p (@pending) {
            if (time < $p->{at}) {
                push @keep, $p;
                next;
            }
            push @keep, $p unless service($fh, $cfg, $p);
        }
        @pending = @keep;

        last if time >= $end && !@pending;
        sleep 0.02;
    }
}

# one step of a stop or a callback; true when it is done with

sub service {
    my ($fh, $cfg, $p) = @_;

    if (time > $p->{give_up}) {
        note($fh, $cfg, ev => "$p->{op}-gave-up", arn => $p->{arn},
             token => $p->{token});
        return 1;
    }

    if ($p->{op} eq 'stop') {
        my $r = api($cfg, 'StopExecution',
                    { executionArn => $p->{arn}, error => 'SoakStop',
                      cause => 'stopped by the soak' });
        if ($r->{status} == 200) {
            note($fh, $cfg, ev => 'stopped', arn => $p->{arn},
                 tries => ++$p->{tries});
            return 1;
        }
        refused($fh, $cfg, 'StopExecution', $r);
        $p->{tries}++;
        $p->{at} = time + 1;
        return 0;
    }

    # a callback: find the token, answer it

    if (!$p->{token}) {
        my ($token, $r) = token_of($cfg, $p->{arn});
        if (!$token) {
            refused($fh, $cfg, 'GetExecutionHistory', $r)
                if $r->{status} != 200;
            $p->{at} = time + 0.5;
            return 0;
        }
        $p->{token} = $token;
    }

    my $r = $p->{outcome} eq 'success'
        ? api($cfg, 'SendTaskSuccess',
              { taskToken => $p->{token},
                output => $JSON->encode({ ok => $p->{answer} }) })
        : api($cfg, 'SendTaskFailure',
              { taskToken => $p->{token}, error => 'SoakDenied',
                cause => "denied $p->{answer}" });
    $p->{tries}++;

    if ($r->{status} == 200) {
        note($fh, $cfg, ev => 'answered', arn => $p->{arn},
             outcome => $p->{outcome}, tries => $p->{tries});
        $p->{answered} = $p->{token};
        return 1;
    }

    my $type = $r->{json} ? $r->{json}{__type} // '' : '';
    if ($type eq 'TaskTimedOut' || $type eq 'TaskDoesNotExist') {
        # closed: answered by a try whose reply was lost, or the task was
        # scheduled again with another token after a fault

        my ($token) = token_of($cfg, $p->{arn});
        if ($token && $token ne $p->{token}) {
            note($fh, $cfg, ev => 'token-renewed', arn => $p->{arn},
                 was => $type);
            $p->{token} = $token;
            $p->{at} = time;
            return 0;
        }
        note($fh, $cfg, ev => 'answered', arn => $p->{arn},
             outcome => $p->{outcome}, tries => $p->{tries}, closed => $type);
        return 1;
    }

    refused($fh, $cfg, $p->{outcome} eq 'success' ? 'SendTaskSuccess'
                                                  : 'SendTaskFailure', $r);
    $p->{at} = time + 1;
    return 0;
}

# Express: StartSyncExecution (the reply has the end), StartExecution of a
# machine that waits 1 s, and sfn_start

sub express {
    my ($t, $cfg) = @_;
    my $fh = new_log($cfg, "express-$$");
    my $end = $cfg->{t0} + $cfg->{seconds};
    my $gap = 1 / $cfg->{express_rate};
    my ($n, @pending) = (0);
    my $next = time;

    while (1) {
        my $now = time;
        if ($now < $end && $now >= $next) {
            $next += $gap;
            $next = $now if $next < $now - 5;
            $n++;

            my $op = pick(only($cfg->{express_ops}, sync => 45, async => 25,
                               start => 15, stop => 15));
            if ($op eq 'async') {
                start_execution($fh, $cfg, 'slow', 'express', $n);
            } elsif ($op eq 'start') {
                sfn_start($fh, $cfg, 'quick', 'express', $n);
            } elsif ($op eq 'stop') {
                my $arn = start_execution($fh, $cfg, 'xhold', 'xstop', $n);
                push @pending, { op => 'stop', arn => $arn,
                                 at => time + 0.3 + rand(3),
                                 give_up => time + 60 } if $arn;
            } else {
                sync_start($fh, $cfg, $n);
            }
        }

        my @keep;
        for my $p (@pending) {
            if (time < $p->{at}) {
                push @keep, $p;
                next;
            }
            push @keep, $p unless service($fh, $cfg, $p);
        }
        @pending = @keep;

        last if time >= $end && !@pending;
        sleep 0.02;
    }
}


sub sync_start {
    my ($fh, $cfg, $n) = @_;
    my $r = api($cfg, 'StartSyncExecution',
                { stateMachineArn => "$ACCT:stateMachine:quick",
                  input => $JSON->encode({ n => $n }) });
    if ($r->{status} != 200 || !$r->{json} || !$r->{json}{executionArn}) {
        refused($fh, $cfg, 'StartSyncExecution', $r);
        return;
    }
    note($fh, $cfg, ev => 'ack', kind => 'sync', via => 'StartSyncExecution',
         machine => 'quick', arn => $r->{json}{executionArn},
         status => $r->{json}{status}, output => $r->{json}{output});
}

# uploads through the video workflow

sub uploads {
    my ($t, $cfg) = @_;
    my $fh = new_log($cfg, "uploads-$$");
    my $end = $cfg->{t0} + $cfg->{seconds};
    my $n = 0;
    my $next = time + 1;

    while (time < $end) {
        my $now = time;
        if ($now < $next) {
            sleep($next - $now < 1 ? $next - $now : 1);
            next;
        }
        $next += $cfg->{upload_period};
        $n++;
        my $key = "soak/u$n.mp4";
        my $r = request($cfg, 'PUT', "/upload/$key", $cfg->{clip});
        if ($r->{status} != 201 || !$r->{json}
            || !$r->{json}{executionArn})
        {
            refused($fh, $cfg, 'PUT /upload/', $r);
            note($fh, $cfg, ev => 'unacked-upload', key => $key);
            next;
        }
        note($fh, $cfg, ev => 'ack', kind => 'upload', via => 'PUT',
             machine => 'video-workflow', arn => $r->{json}{executionArn},
             job => $r->{json}{jobId}, key => $key);
    }
}

# a worker killed every kill_period, PostgreSQL restarted every pg_period;
# after each, how long until the service is whole again

sub faults {
    my ($t, $cfg) = @_;
    my $fh = new_log($cfg, 'faults');
    my $end = $cfg->{t0} + $cfg->{seconds};
    my $never = $cfg->{t0} + $cfg->{seconds};
    my $next_kill = $cfg->{kill_period} > 0
        ? $cfg->{t0} + $cfg->{kill_period} : $never;
    my $next_pg = $cfg->{pg_period} > 0
        ? $cfg->{t0} + $cfg->{pg_period} : $never;

    while (1) {
        my $now = time;
        my $next = $next_kill < $next_pg ? $next_kill : $next_pg;
        last if $next >= $end;
        if ($now < $next) {
            sleep($next - $now < 1 ? $next - $now : 1);
            next;
        }

        last unless alive($t, $fh, $cfg);

        if ($next == $next_kill) {
            $next_kill += $cfg->{kill_period};
            my @w = $t->nginx_workers;
            my $victim = $w[int rand @w];
            kill 'KILL', $victim;
            note($fh, $cfg, ev => 'kill', pid => $victim);
            my $back = recovered($t, $cfg, $fh, 2);
            note($fh, $cfg, ev => 'kill-recovered', pid => $victim,
                 seconds => $back);
        } else {
            $next_pg += $cfg->{pg_period};
            note($fh, $cfg, ev => 'pg-stop');
            $t->pg_stop;
            my $started;
            for (1 .. 5) {
                last if $started = eval { $t->pg_start_again; 1 };
                sleep 1;
            }
            note($fh, $cfg, ev => 'pg-start', ok => $started ? 1 : 0);
            my $back = recovered($t, $cfg, $fh, 2);
            note($fh, $cfg, ev => 'pg-recovered', seconds => $back);
        }
    }
}

# seconds until both workers are there, /ok answers and a Standard start
# through the AWS API is acknowledged (recorded as any other); undef after
# 60 s

my $probes = 0;

sub recovered {
    my ($t, $cfg, $fh, $workers) = @_;
    my $t0 = time;
    while (time < $t0 + 60) {
        my @w = $t->nginx_workers;
        my $r = request($cfg, 'GET', '/ok');
        if (@w >= $workers && $r->{status} == 204
            && start_execution($fh, $cfg, 'plain', 'plain', 'p' . ++$probes))
        {
            return sprintf('%.3f', time - $t0);
        }
        sleep 0.2;
    }
    return undef;
}

# false, and noted, once nginx's master is gone: something outside the
# soak stopped it

sub alive {
    my ($t, $fh, $cfg) = @_;
    my $master = $t->nginx_pid;
    return 1 if $master && kill 0, $master;
    note($fh, $cfg, ev => 'nginx-gone');
    return 0;
}

# VmRSS, the part of it in shared memory, threads and CPU seconds of each
# worker every rss_period; a worker that replaces a killed one takes its
# slot

sub rss {
    my ($t, $cfg) = @_;
    my $fh = new_log($cfg, 'rss');
    my $hz = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
    my $end = $cfg->{t0} + $cfg->{seconds};
    my @slots;

    while (time < $end) {
        last unless alive($t, $fh, $cfg);
        my %live = map { $_ => 1 } $t->nginx_workers;
        my %held;
        for my $i (0 .. $#slots) {
            if ($live{ $slots[$i] }) {
                $held{ $slots[$i] } = 1;
            } else {
                $slots[$i] = undef;
            }
        }
        for my $pid (sort { $a <=> $b } grep { !$held{$_} } keys %live) {
            my ($free) = grep { !defined $slots[$_] } 0 .. $#slots;
            $slots[$free // scalar @slots] = $pid;
        }
        for my $i (0 .. $#slots) {
            my $pid = $slots[$i] // next;
            open my $st, '<', "/proc/$pid/status" or next;
            my %f = map { /^(VmRSS|RssShmem|Threads):\s+(\d+)/
                          ? ($1, $2) : () } <$st>;
            close $st;
            my $kb = $f{VmRSS};
            open $st, '<', "/proc/$pid/stat" or next;
            my $stat = <$st> // '';
            close $st;
            # utime and stime, fields 14 and 15, after "(comm)"
            my @f = split ' ', ($stat =~ /\)\s*(.*)/)[0] // '';
            my $cpu = @f > 12 ? ($f[11] + $f[12]) / $hz : 0;
            note($fh, $cfg, ev => 'rss', slot => $i, pid => $pid,
                 kb => $kb, shmem => $f{RssShmem} // 0,
                 threads => $f{Threads} // 0,
                 cpu => sprintf('%.2f', $cpu)) if $kb;
        }
        sleep $cfg->{rss_period};
    }
}

1;
