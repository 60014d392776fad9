package SoakCheck;

# The soak's verdict: waits for the acknowledged executions to end, then
# compares each with what it must have become, reads the Standard
# histories, walks the buckets and the RSS samples, and prints the figures.
# Returns true when every check passed; details of failures go to stderr.

use strict;
use warnings;
use File::Find;
use JSON::PP;
use Time::HiRes qw(time sleep);
use SoakLoad;

my $JSON = JSON::PP->new->canonical->allow_nonref;

my %STANDARD = map { $_ => 1 } qw(plain hold approve video-workflow);
my %TERMINAL = (ExecutionSucceeded => 'SUCCEEDED',
                ExecutionFailed => 'FAILED',
                ExecutionAborted => 'ABORTED',
                ExecutionTimedOut => 'TIMED_OUT');

sub read_logs {
    my ($dir) = @_;
    my @recs;
    for my $f (sort glob("$dir/soak/*.log")) {
        open my $fh, '<', $f or next;
        while (<$fh>) {
            my $r = eval { $JSON->decode($_) } or next;
            push @recs, $r;
        }
    }
    return @recs;
}

sub line {
    my ($figure, $v, $unit, $ref, $rv) = @_;
    my $u = $unit eq '' ? '' : " $unit";
    my $ratio = $rv != 0 ? $v / $rv : 0;
    printf "%s: %s%s (reference %s: %s%s, ratio %s)\n", $figure, $v, $u,
        $ref, $rv, $u, $ratio == int($ratio) ? $ratio
                                              : sprintf('%.3f', $ratio);
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

sub describe {
    my ($cfg, $arn) = @_;
    for (1 .. 5) {
        my $r = SoakLoad::api($cfg, 'DescribeExecution',
                              { executionArn => $arn });
        return $r->{json} if $r->{status} == 200 && $r->{json};
        return { missing => $r->{json}{__type} }
            if $r->{status} == 400 && $r->{json};
        sleep 0.5;
    }
    return { missing => 'no answer' };
}

# the whole history through the API, page by page

sub api_history {
    my ($cfg, $arn) = @_;
    my (@events, $next);
    do {
        my $r = SoakLoad::api($cfg, 'GetExecutionHistory',
                              { executionArn => $arn, maxResults => 100,
                                $next ? (nextToken => $next) : () });
        return undef if $r->{status} != 200 || !$r->{json};
        push @events, @{ $r->{json}{events} // [] };
        $next = $r->{json}{nextToken};
    } while ($next);
    return \@events;
}

# when it was acknowledged, and the worker kills around it

sub near_kill {
    my ($a, $kills) = @_;
    my @k = grep { $_->{ev} eq 'kill' && $_->{t} >= $a->{t} - 2
                   && $_->{t} <= $a->{t} + 10 } @$kills;
    return sprintf(' (acknowledged at %.1f s%s)', $a->{t},
                   join('', map { sprintf('; worker %d killed at %.1f s',
                                          $_->{pid}, $_->{t}) } @k));
}

# after nginx is stopped: a worker that crashed while shutting down
# (QUIT from the soak's end) is a crash too; $from is the log's length
# when check() read it

sub shutdown_check {
    my ($t, $from) = @_;
    my $log = substr($t->read_file('logs/error.log') // '', $from);
    my @lines = split /\n/, $log;
    my @crashes = grep { /exited on signal/ } @lines;
    line('worker crashes at shutdown', scalar @crashes, '',
         'workers stopped', scalar grep { /exiting$/ } @lines);
    return 1 unless @crashes;
    warn "soak FAILED (crashes at shutdown, " . scalar(@crashes) . "):\n";
    warn "  $_\n" for grep { /exited on signal|assert|Assertion|failed/i }
                        @lines;
    return 0;
}

sub check {
    my ($t, $cfg) = @_;
    my $dir = $cfg->{dir};
    my @recs = read_logs($dir);
    my (%ack, @order, %stopped, %answered, %gave_up, @kills, @pg, @rss);
    my ($refused, $refused_other, $dup_ack, @unacked) = (0, 0, 0);
    my %fail;

    for my $r (@recs) {
        my $ev = $r->{ev};
        if ($ev eq 'ack') {
            if ($ack{ $r->{arn} }) {
                $dup_ack++;
                push @{ $fail{duplicated} },
                    "$r->{arn}: acknowledged twice";
                next;
            }
            $ack{ $r->{arn} } = $r;
            push @order, $r->{arn};
        } elsif ($ev eq 'refused') {
            if ($r->{op} =~ /^(sfn_start|Start|PUT)/) {
                $refused++;
            } else {
                $refused_other++;
            }
        } elsif ($ev eq 'unacked') {
            push @unacked, $r;
        } elsif ($ev eq 'stopped') {
            $stopped{ $r->{arn} } = $r;
        } elsif ($ev eq 'answered') {
            $answered{ $r->{arn} } = $r;
        } elsif ($ev =~ /gave-up$/) {
            $gave_up{ $r->{arn} } = $r;
        } elsif ($ev =~ /^kill/) {
            push @kills, $r;
        } elsif ($ev =~ /^pg-/) {
            push @pg, $r;
        } elsif ($ev eq 'rss') {
            push @rss, $r;
        }
    }

    # nginx or PostgreSQL stopped by something else than the soak: no
    # verdict on the module

    my $master = $t->nginx_pid;
    if (!$master || !kill 0, $master) {
        my @why = grep { /\(SIG(TERM|INT|QUIT)\) received/ }
                  split /\n/, $t->read_file('logs/error.log') // '';
        splice @why, 0, -3;
        warn "soak: nginx was stopped from outside the soak:\n"
             . join('', map { "  $_\n" } @why);
        return 0;
    }
    if ($t->psql('SELECT 1') ne '1') {
        warn "soak: PostgreSQL was stopped from outside the soak\n";
        return 0;
    }

    my @std = grep { $STANDARD{ $ack{$_}{machine} } } @order;
    my @exp = grep { !$STANDARD{ $ack{$_}{machine} } } @order;
    my $n = @order;

    # drain: until every acknowledged execution has ended, or the time
    # allowed runs out

    my %final;
    my %std_ack = map { $_ => 1 } @std;
    my @exp_open = @exp;
    my $deadline = time + $cfg->{drain};
    while (1) {
        my @running = grep { $std_ack{$_} } split /\n/,
            $t->psql("SELECT arn FROM sfn_executions "
                     . "WHERE status = 'RUNNING'");
        my @still;
        for my $arn (@exp_open) {
            my $d = describe($cfg, $arn);
            if (($d->{status} // '') eq 'RUNNING') {
                push @still, $arn;
            } else {
                $final{$arn} = $d;
            }
        }
        @exp_open = @still;
        # no Express execution here lasts a minute: those still running
        # after 90 s are not waited for any longer

        last if !@running
                && (!@exp_open || time > $deadline - $cfg->{drain} + 90);
        last if time > $deadline;
        warn sprintf("soak: waiting for %d Standard and %d Express "
                     . "executions\n", scalar @running, scalar @exp_open);
        sleep 5;
    }

    my $drained = time - ($deadline - $cfg->{drain});

    # the final word on each: DescribeExecution, and for Standard the row
    # and the history in PostgreSQL

    for my $arn (@std, @exp_open) {
        $final{$arn} = describe($cfg, $arn);
    }

    my %row;
    for (split /\n/, $t->psql(
            "SELECT arn, status, type, coalesce(job_id, ''), "
            . "coalesce(input::json->>'key', ''), state_machine "
            . "FROM sfn_executions"))
    {
        my @f = split /\|/, $_, 6;
        $row{ $f[0] } = { status => $f[1], type => $f[2], job => $f[3],
                          key => $f[4], machine => $f[5] };
    }

    my %hist;
    for (split /\n/, $t->psql(
            "SELECT execution_arn, id, previous_id, type, "
            . "coalesce(details->'stateEnteredEventDetails'->>'name', '') "
            . "FROM sfn_events ORDER BY execution_arn, id"))
    {
        my ($arn, $id, $prev, $type, $state) = split /\|/, $_, 5;
        push @{ $hist{$arn} }, { id => $id, prev => $prev, type => $type,
                                 state => $state };
    }

    my ($lost, $wrong, $dup, $incomplete, $by_death, $task_reruns)
        = (0, 0, 0, 0, 0, 0);
    my %dup_arn;
    my $kill_times = [ map { $_->{t} } grep { $_->{ev} eq 'kill' } @kills ];

    for my $arn (@order) {
        my $a = $ack{$arn};
        my $d = $final{$arn};
        my $is_std = $STANDARD{ $a->{machine} };
        my $what = "$a->{kind} ($a->{via}) $arn";

        if ($d->{missing} || ($is_std && !$row{$arn})) {
            $lost++;
            push @{ $fail{lost} }, "$what: does not exist ("
                . ($d->{missing} // 'no row') . ")" . near_kill($a, \@kills);
            next;
        }
        my $status = $d->{status} // '';

        if ($status eq 'RUNNING') {
            $lost++;
            my $why = $a->{kind} =~ /stop$/ && !$stopped{$arn}
                ? ' (its StopExecution never succeeded)'
                : $a->{kind} eq 'token' && !$answered{$arn}
                ? ' (its callback never succeeded)' : '';
            push @{ $fail{lost} }, "$what: still RUNNING after the drain"
                . $why . near_kill($a, \@kills);
            next;
        }

        if ($is_std && $row{$arn}{status} ne $status) {
            $wrong++;
            push @{ $fail{wrong} }, "$what: DescribeExecution says $status, "
                . "its row $row{$arn}{status}";
            next;
        }

        # what it must have become

        my $want = 'SUCCEEDED';
        my $ok = 1;
        my $out = eval { $JSON->decode($d->{output} // 'null') };
        if ($a->{kind} =~ /stop$/) {
            $want = 'ABORTED';
        } elsif ($a->{kind} eq 'token') {
            if ($a->{outcome} eq 'failure') {
                $want = 'FAILED';
                $ok = ($d->{error} // '') eq 'SoakDenied';
            } else {
                $ok = ref $out eq 'HASH' && ref $out->{answer} eq 'HASH'
                      && ($out->{answer}{ok} // -1) == $a->{answer};
            }
        } elsif ($a->{kind} eq 'upload') {
            my $job = $a->{job};
            $ok = ref $out eq 'HASH' && ($out->{status} // '') eq 'SUCCESS'
                  && $t->psql("SELECT status FROM sfn_jobs "
                              . "WHERE job_id = '$job'") eq 'PUBLISHED'
                  && -f "$dir/media/output/.sfn-published/$job.json"
                  && -f "$dir/media/archive/archived/$job/$a->{key}";
        } elsif ($a->{kind} eq 'sync') {
            $ok = ($a->{status} // '') eq 'SUCCEEDED';
        }

        if ($status ne $want || !$ok) {
            # an Express execution whose worker died ends FAILED or
            # ABORTED with a cause that says so: that is its correct end

            my $start = $a->{t};
            if (!$is_std && $status =~ /^(FAILED|ABORTED)$/
                && ($d->{cause} // '') ne ''
                && grep { $_ >= $start - 1 && $_ <= $start + 65 }
                        @$kill_times)
            {
                $by_death++;
            } else {
                $wrong++;
                push @{ $fail{wrong} }, "$what: $status (error "
                    . ($d->{error} // '-') . ", cause "
                    . substr($d->{cause} // '-', 0, 200) . ", output "
                    . substr($d->{output} // '-', 0, 200)
                    . "), expected $want"
                    . ($ok ? '' : ' with its result');
            }
        }

        # the Express row sfn_express_log wrote, if it did

        if (!$is_std && $row{$arn} && $row{$arn}{status} ne $status) {
            $wrong++;
            push @{ $fail{wrong} }, "$what: DescribeExecution says $status,"
                . " its logged row $row{$arn}{status}";
        }
    }

    # Standard histories: complete, one terminal event, no state entered
    # twice (none of these machines can loop)

    my @api_sample = grep { $ack{$_}{kind} =~ /^(upload|token)$/ } @std;
    my @others = grep { $ack{$_}{kind} !~ /^(upload|token)$/ } @std;
    push @api_sample, @others[ map { int rand @others } 1 .. 100 ]
        if @others;
    my %in_sample = map { $_ => 1 } @api_sample;

    for my $arn (@std) {
        next unless $row{$arn};
        my $h = $hist{$arn} // [];
        my $what = "$ack{$arn}{kind} ($ack{$arn}{via}) $arn";
        my @bad;

        push @bad, 'no history' unless @$h;
        push @bad, "starts with $h->[0]{type} $h->[0]{id}"
            if @$h && ($h->[0]{type} ne 'ExecutionStarted'
                       || $h->[0]{id} != 1);
        for my $i (1 .. $#$h) {
            if ($h->[$i]{id} != $h->[$i - 1]{id} + 1) {
                push @bad, "ids jump from $h->[$i - 1]{id} to $h->[$i]{id}";
                last;
            }
        }
        my @term = grep { $TERMINAL{ $_->{type} } } @$h;
        if (@term == 0) {
            push @bad, 'no terminal event';
        } elsif (@term == 1 && $term[0] != $h->[-1]) {
            push @bad, "$term[0]{type} is not the last event";
        } elsif (@term == 1
                 && $TERMINAL{ $term[0]{type} } ne $row{$arn}{status})
        {
            push @bad, "$term[0]{type} for status $row{$arn}{status}";
        }

        my (%entered, @twice);
        for my $e (@$h) {
            next unless $e->{type} =~ /StateEntered$/;
            push @twice, $e->{state} if $entered{ $e->{state} }++;
        }
        my $again = grep({ $_->{type} eq 'TaskScheduled' } @$h)
                    - grep({ $_->{type} eq 'TaskStateEntered' } @$h);
        $task_reruns += $again if $again > 0;

        if (@term > 1 || @twice) {
            $dup_arn{$arn}++;
            push @{ $fail{duplicated} }, "$what: "
                . (@term > 1 ? scalar(@term) . ' terminal events ('
                               . join(', ', map { "$_->{id} $_->{type}" }
                                                @term) . ') ' : '')
                . (@twice ? 'entered twice: ' . join(', ', @twice) : '');
        }

        if ($in_sample{$arn}) {
            my $ev = api_history($cfg, $arn);
            if (!$ev) {
                push @bad, 'GetExecutionHistory failed';
            } else {
                my %ids;
                my @d = grep { $ids{ $_->{id} }++ } @$ev;
                if (@d) {
                    $dup_arn{$arn}++;
                    push @{ $fail{duplicated} }, "$what: event ids "
                        . join(',', map { $_->{id} } @d)
                        . ' twice in GetExecutionHistory';
                }
                push @bad, scalar(@$ev) . ' events through the API, '
                    . scalar(@$h) . ' in PostgreSQL' if @$ev != @$h;
            }
        }

        if (@bad) {
            $incomplete++;
            push @{ $fail{incomplete} }, "$what: " . join('; ', @bad);
        }
    }

    # an upload started twice, or one job row twice

    my %by_key;
    for my $arn (keys %row) {
        next unless $row{$arn}{machine} eq 'video-workflow';
        push @{ $by_key{ $row{$arn}{key} } }, $arn;
    }
    for my $key (sort keys %by_key) {
        next if @{ $by_key{$key} } < 2;
        $dup_arn{$_}++ for @{ $by_key{$key} };
        push @{ $fail{duplicated} }, "upload $key: "
            . scalar(@{ $by_key{$key} }) . ' executions: '
            . join(', ', @{ $by_key{$key} });
    }
    $dup = keys(%dup_arn) + $dup_ack;

    # starts that failed and still made an execution

    my $made = 0;
    for my $u (@unacked) {
        my $st = $t->psql("SELECT status FROM sfn_executions WHERE "
                          . "state_machine = '$u->{machine}' "
                          . "AND name = '$u->{name}'");
        next if $st eq '';
        $made++;
        warn "soak: $u->{machine} $u->{name}, refused at $u->{t} s, "
             . "exists: $st\n";
    }

    # orphans: temporary files in the buckets, outputs, publications and
    # archives of jobs that did not succeed

    my %good_job = map { $row{$_}{job} => 1 }
        grep { $row{$_}{machine} eq 'video-workflow'
               && $row{$_}{status} eq 'SUCCEEDED' } keys %row;
    my ($orphans, $files) = (0, 0);
    my @orphan_list;
    find({ no_chdir => 1, wanted => sub {
        my $p = $File::Find::name;
        (my $rel = $p) =~ s{^\Q$dir\E/}{};
        my $isdir = -d $p;
        my @comp = split m{/}, $rel;
        $files++ unless $isdir;
        my $bad;
        if (grep { /^\.sfn-/ && $_ ne '.sfn-published'
                   && $_ ne '.sfn-upload' } @comp)
        {
            $bad = 'a temporary ' . ($isdir ? 'directory' : 'file');
        } elsif (!$isdir && grep { $_ eq '.sfn-upload' } @comp) {
            $bad = 'an upload body left behind';
        } elsif (!$isdir && $comp[0] eq 'client_body_temp') {
            $bad = 'a request body left behind';
        } elsif ($rel =~ m{/\.sfn-published/([^/]+)\.json$}) {
            $bad = "published, its job did not succeed" unless $good_job{$1};
        } elsif ($isdir
                 && $rel =~ m{^media/(output|archive)/[^/]+/([^/.][^/]*)$})
        {
            $bad = "outputs of a job that did not succeed"
                unless $good_job{$2};
        }
        if ($bad) {
            $orphans++;
            push @orphan_list, "$rel: $bad";
            $File::Find::prune = 1 if $isdir;
        }
    } }, grep { -d } map { "$dir/$_" }
           qw(media scratch client_body_temp));
    push @{ $fail{orphans} }, @orphan_list;

    # the log: a worker killed by us says "exited on signal 9"; any other
    # signal is a crash, any other alert a finding

    my $log = $t->read_file('logs/error.log') // '';
    $cfg->{log_read} = length $log;
    my @lines = split /\n/, $log;
    my $killed_logged = grep { /exited on signal 9\b/ } @lines;
    my @crashes = grep { /exited on signal (?!9\b)/ } @lines;
    my @alerts = grep { /\[(alert|crit|emerg)\]/ && !/exited on signal 9\b/ }
                 @lines;
    push @{ $fail{crashes} }, @crashes;
    push @{ $fail{alerts} }, @alerts;

    # faults

    my $kills = grep { $_->{ev} eq 'kill' } @kills;
    my @kill_back = map { $_->{seconds} } grep { $_->{ev} eq 'kill-recovered' }
                    @kills;
    my $restarts = grep { $_->{ev} eq 'pg-stop' } @pg;
    my @pg_back = map { $_->{seconds} } grep { $_->{ev} eq 'pg-recovered' }
                  @pg;
    my $kills_ok = grep { defined } @kill_back;
    my $pg_ok = grep { defined } @pg_back;
    my $sched_kills = $cfg->{kill_period} > 0
        ? int($cfg->{seconds} / $cfg->{kill_period} - 1e-9) : 0;
    my $sched_pg = $cfg->{pg_period} > 0
        ? int($cfg->{seconds} / $cfg->{pg_period} - 1e-9) : 0;

    # RSS: per slot (a killed worker's replacement takes its slot), the
    # samples after the run's warm-up taken while their worker was warm
    # and at rest.  Warm: it had used worker_warmup seconds of CPU.  Not
    # by its age: the kernel hands nearly every new connection to the same
    # worker, so a replacement may idle at its master's size for minutes,
    # then grow by its first transcodes' heap.  At rest: no thread beyond
    # the fewest it was seen with (its thread pool's), so no codec running.
    # A sample taken during a transcode measures that job's frames, and
    # how many jobs a sample overlaps is chance; what a worker keeps is
    # what it holds between them.  Its own: VmRSS less its pages of the
    # shared zone, a cache of PostgreSQL sized by sfn_zone, mapped whole
    # at start and filled by design until the oldest records are evicted;
    # which of its pages a worker has touched says how full the cache is,
    # not what the worker keeps (shown apart).  The median of the last
    # third against the median of the first; the same per worker over its
    # own warm life as a second figure.

    my (%fewest, %slot, %pid, %zone);
    my $busy = 0;
    for my $s (@rss) {
        my $f = \$fewest{ $s->{pid} };
        $$f = $s->{threads} if !defined $$f || $s->{threads} < $$f;
    }
    for my $s (@rss) {
        next if ($s->{cpu} // 0) < $cfg->{worker_warmup};
        if ($s->{threads} > $fewest{ $s->{pid} }) {
            $busy++;
            next;
        }
        my $own = $s->{kb} - ($s->{shmem} // 0);
        push @{ $pid{ $s->{pid} } }, $own;
        next if $s->{t} < $cfg->{warmup};
        push @{ $slot{ $s->{slot} } }, $own;
        push @{ $zone{ $s->{slot} } }, $s->{shmem} // 0;
    }
    my ($growth, @rss_notes);
    push @rss_notes, "$busy warm samples left out: taken during a task "
                     . 'that ran threads';
    for my $k (sort keys %slot) {
        my $v = $slot{$k};
        my $third = int(@$v / 3);
        if ($third < 1) {
            push @rss_notes, "slot $k: " . scalar(@$v) . ' samples';
            next;
        }
        my $first = median(@$v[0 .. $third - 1]);
        my $last = median(@$v[$#$v - $third + 1 .. $#$v]);
        my $g = ($last - $first) / $first * 100;
        my $z = $zone{$k};
        push @rss_notes, sprintf('slot %s: %d kB -> %d kB (%+.1f %%, '
                                 . '%d samples; shared zone pages beside '
                                 . 'them %d kB -> %d kB)', $k, $first,
                                 $last, $g, scalar @$v,
                                 median(@$z[0 .. $third - 1]),
                                 median(@$z[$#$z - $third + 1 .. $#$z]));
        $growth = $g if !defined $growth || $g > $growth;
    }
    my $pid_growth;
    for my $p (sort keys %pid) {
        my $v = $pid{$p};
        my $third = int(@$v / 3);
        next if $third < 2;
        my $g = (median(@$v[$#$v - $third + 1 .. $#$v])
                 - median(@$v[0 .. $third - 1]))
                / median(@$v[0 .. $third - 1]) * 100;
        push @rss_notes, sprintf('worker %s alone: %+.1f %% over %d '
                                 . 'samples', $p, $g, scalar @$v);
        $pid_growth = $g if !defined $pid_growth || $g > $pid_growth;
    }

    # the figures

    my %kinds;
    $kinds{ $ack{$_}{kind} }++ for @order;
    warn 'soak: acknowledged ' . join(', ', map { "$_ $kinds{$_}" }
                                            sort keys %kinds) . "\n";
    warn "soak: rss $_\n" for @rss_notes;

    line('executions acknowledged', $n, '', 'start requests',
         $n + $refused);
    line('executions lost', $lost, '', 'acknowledged', $n);
    line('executions duplicated', $dup, '', 'acknowledged', $n);
    line('executions with a wrong status', $wrong, '', 'acknowledged', $n);
    line('histories incomplete', $incomplete, '', 'Standard acknowledged',
         scalar @std);
    line('express ended by a worker death', $by_death, '',
         'Express acknowledged', scalar @exp);
    line('tasks scheduled again (retries, resumes)', $task_reruns, '',
         'Standard acknowledged', scalar @std);
    line('starts refused or unanswered', $refused, '', 'start requests',
         $n + $refused);
    line('callbacks, stops and reads refused or unanswered',
         $refused_other, '', 'acknowledged', $n);
    line('mail left in sfn_mailbox',
         $t->psql('SELECT count(*) FROM sfn_mailbox'), '', 'expected', 0);
    line('unacknowledged starts that exist', $made, '',
         'unacknowledged starts', scalar @unacked);
    line('orphaned files', $orphans, '', 'files', $files);
    printf "faults survived: worker kills %d, pg restarts %d (reference "
           . "scheduled: worker kills %d, pg restarts %d, ratio %s)\n",
           $kills_ok, $pg_ok, $sched_kills, $sched_pg,
           $sched_kills + $sched_pg
               ? sprintf('%.3g', ($kills_ok + $pg_ok)
                                 / ($sched_kills + $sched_pg)) : 0;
    for my $f ([ 'a worker kill', @kill_back ],
               [ 'a pg restart', @pg_back ])
    {
        my ($what, @back) = @$f;
        @back = sort { $b <=> $a } grep { defined } @back;
        next unless @back;
        line("worst time to service after $what", sprintf('%.2f', $back[0]),
             's', 'median', sprintf('%.2f', median(@back)));
    }
    line('drain after the load',
         sprintf('%.1f', $drained), 's', 'allowed', $cfg->{drain});
    line('worker rss growth', sprintf('%.1f', $growth // 0), '%', 'limit',
         10);
    line('worker rss growth of a single worker',
         sprintf('%.1f', $pid_growth // 0), '%', 'limit', 10)
        if defined $pid_growth;
    line('worker crashes', scalar @crashes, '', 'worker kills logged',
         $killed_logged);
    line('unexpected log alerts', scalar @alerts, '', 'log lines',
         scalar @lines);

    push @{ $fail{faults} }, "worker kills survived $kills_ok of $kills"
        if $kills_ok < $kills || $kills < $sched_kills;
    push @{ $fail{faults} }, "PostgreSQL restarts survived $pg_ok of "
        . "$restarts" if $pg_ok < $restarts || $restarts < $sched_pg;
    push @{ $fail{rss} }, sprintf('worker RSS grew %.1f %%', $growth)
        if defined $growth && $growth > 10;
    push @{ $fail{rss} }, 'no RSS samples after warm-up'
        unless defined $growth;

    for my $k (sort keys %fail) {
        my @l = @{ $fail{$k} };
        next unless @l;
        warn "soak FAILED ($k, " . scalar(@l) . "):\n";
        warn "  $_\n" for @l[0 .. ($#l < 29 ? $#l : 29)];
        warn "  ...\n" if @l > 30;
    }

    return !grep { @{ $fail{$_} } } keys %fail;
}

1;
