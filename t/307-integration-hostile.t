#!/usr/bin/perl

# sfn_integration against endpoints that misbehave: down, slow past the
# rule's timeout, hanging, answering garbage, 500s, redirects, bodies cut
# short, replies of 7 MB and of "2 GB", JSON nested too deep, not JSON.
# Each ends the task with a clean error (and the worker lives on); a slow
# endpoint holds a thread, never the event loop.  .sync jobs: one that
# never finishes ends at TimeoutSeconds and is polled no more; a stopped
# execution stops polling; a Location elsewhere, a poll without a status,
# a start that is not an object all fail the task; transient poll errors
# are polled again.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Sfn::Test;
use Sfn::Service;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

Sfn::Test::need_postgres();

my $svc = Sfn::Service->new(sub {
    my ($req, $self) = @_;
    my ($p, $c) = ($req->{path}, $req->{socket});

    return (200, { ok => 1 }) if $p eq '/ok' || $p eq '/evil';
    if ($p eq '/slow') { sleep 3; return (200, { slow => 1 }) }
    if ($p eq '/hang') { sleep 30; return }
    return (200, 'plain words', { 'Content-Type' => 'text/plain' })
        if $p eq '/text';
    return (500, { errorType => 'InventoryLocked', errorMessage => 'busy' })
        if $p eq '/typed500';
    return (500, 'Internal Server Error', { 'Content-Type' => 'text/plain' })
        if $p eq '/plain500';
    return (302, '', { Location => $self->url('/ok') }) if $p eq '/redirect';
    if ($p eq '/cut') {
        print $c "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n"
                 . "Content-Type: application/json\r\n\r\n{\"a\":";
        return;
    }
    if ($p eq '/garbage') {
        print $c "\x00\xff\xfe garbage \x01\x02\r\n\r\n";
        return;
    }
    if ($p eq '/big') {
        return (200, '"' . ('x' x (7 << 20)) . '"');
    }
    if ($p eq '/huge') {
        print $c "HTTP/1.1 200 OK\r\nContent-Length: 2147483648\r\n"
                 . "Content-Type: application/json\r\n\r\n[";
        my $chunk = '1,' x 32768;
        for (1 .. 40000) { print $c $chunk or return }
        return;
    }
    return (200, '[' x 100000 . ']' x 100000) if $p eq '/deep';
    return (200, "{\"s\":\"\xff\xfe\",\"n\":\"a\\u0000b\"}") if $p eq '/badutf8';

    # .sync: Glue-shaped jobs

    return (200, { JobRunId => 'jr_never' }) if $p eq '/never';
    return (200, { JobRun => { JobRunState => 'RUNNING' } })
        if $p eq '/never/jr_never';
    return (200, { JobRunId => 'jr_x' },
            { Location => 'http://127.0.0.2:1/elsewhere' })
        if $p eq '/elsewhere';
    return (200, { JobRunId => 'jr_s' }) if $p eq '/nostatus';
    return (200, { JobRun => { Id => 'jr_s' } }) if $p eq '/nostatus/jr_s';
    return (200, '[1,2]') if $p eq '/array';
    return (200, { JobRunId => 'jr_f' }) if $p eq '/flaky';
    if ($p eq '/flaky/jr_f') {
        return (503, 'busy') if $self->count($p) <= 2;
        return (200, { JobRun => { Id => 'jr_f', JobRunState => 'SUCCEEDED' } });
    }
    return (200, { JobRunId => 'jr_d' }) if $p eq '/down';
    return (503, 'busy') if $p eq '/down/jr_d';
    return (404, {});
});

# a port nothing listens on

my $closed = Sfn::Test::free_port();

my $t = Sfn::Test->new;
my $u = $svc->url;

my %fn = (ok => '/ok', slow => '/slow', hang => '/hang', text => '/text',
          typed => '/typed500', plain => '/plain500', redirect => '/redirect',
          cut => '/cut', garbage => '/garbage', big => '/big', huge => '/huge',
          deep => '/deep', badutf8 => '/badutf8');

my $rules = '';
for my $f (sort keys %fn) {
    $rules .= "    sfn_integration arn:aws:lambda:*:*:function:$f $u$fn{$f}"
              . ($f eq 'hang' || $f eq 'slow' ? ' timeout=1s' : '') . ";\n";
}
$rules .= "    sfn_integration arn:aws:lambda:*:*:function:down "
          . "http://127.0.0.1:$closed/;\n";
$rules .= "    sfn_integration arn:aws:lambda:*:*:function:slow10 $u/slow;\n";
$rules .= "    sfn_integration arn:aws:lambda:*:*:function:evil* $u/evil;\n";
for my $j (qw(never elsewhere nostatus array flaky down)) {
    $rules .= "    sfn_integration arn:aws:glue:*:*:job/$j $u/$j poll=100ms;\n";
}

my @machines;
for my $f (sort(keys %fn), 'down', 'slow10') {
    $t->write_file("conf/$f.json", $t->json->encode({
        StartAt => 'S', States => { S => { Type => 'Task',
            Resource => "arn:aws:lambda:us-east-1:1:function:$f",
            End => \1 } } }));
    push @machines, $f => "$f.json";
}
$t->write_file('conf/evil.json', $t->json->encode({
    StartAt => 'S', States => { S => { Type => 'Task',
        Resource => "arn:aws:lambda:us-east-1:1:function:evil\r\nX-Evil: 1",
        End => \1 } } }));
push @machines, evil => 'evil.json';
$t->write_file('conf/invoke_text.json', $t->json->encode({
    StartAt => 'S', States => { S => { Type => 'Task',
        Resource => 'arn:aws:states:::lambda:invoke',
        Parameters => { FunctionName => 'text', Payload => {} },
        End => \1 } } }));
push @machines, invoke_text => 'invoke_text.json';
for my $j (qw(never elsewhere nostatus array flaky down)) {
    $t->write_file("conf/job_$j.json", $t->json->encode({
        StartAt => 'S', States => { S => { Type => 'Task',
            Resource => 'arn:aws:states:::glue:startJobRun.sync',
            Parameters => { JobName => $j }, TimeoutSeconds => 3,
            End => \1 } } }));
    push @machines, "job_$j" => "job_$j.json";
}

$t->start($t->sfn_http(machines => \@machines, http => $rules,
                       server => "location = / { sfn_aws_api; }\n"));

sub run {
    my ($m, %o) = @_;
    my $t0 = time;
    my $d = $t->aws_run($m, {}, timeout => 60, %o);
    $d->{elapsed} = time - $t0;
    return $d;
}

sub fails_with {
    my ($m, $error, $cause, $what) = @_;
    my $d = run($m);
    is($d->{status}, 'FAILED', "$what: failed") or diag explain $d;
    is($d->{error}, $error, "... $error");
    like($d->{cause} // '', $cause, '... saying why');
    return $d;
}

my $d = run('ok');
is($d->{status}, 'SUCCEEDED', 'a sane endpoint: succeeded') or diag explain $d;

fails_with('down', 'Lambda.SdkClientException', qr/(?i)connect/,
           'endpoint down');
$d = fails_with('hang', 'Lambda.SdkClientException',
                qr/\(the sfn_integration's timeout\)/,
                'endpoint hanging, timeout=1s');
ok($d->{elapsed} < 10, sprintf('... ended by the rule\'s timeout (%.1f s)',
                               $d->{elapsed}));
fails_with('slow', 'Lambda.SdkClientException',
           qr/\(the sfn_integration's timeout\)/,
           'endpoint slower than timeout=1s');
fails_with('text', 'Lambda.ServiceException', qr/not JSON: plain words/,
           'a function answering text');
$d = run('invoke_text');
is($d->{status}, 'SUCCEEDED', 'lambda:invoke answered text: succeeded');
is($d->{output_json}{Payload}, 'plain words', '... the text is the Payload');
fails_with('typed', 'InventoryLocked', qr/busy/,
           '500 with an errorType');
fails_with('plain', 'Lambda.ServiceException', qr/HTTP 500/,
           '500 without one');
fails_with('redirect', 'Lambda.ServiceException', qr/HTTP 302/,
           'a redirect');
is(scalar(grep { $_->{path} eq '/ok' } $svc->requests), 1,
   '... not followed');
fails_with('cut', 'Lambda.SdkClientException', qr/./, 'a body cut short');
fails_with('garbage', 'Lambda.SdkClientException', qr/./, 'garbage');
fails_with('big', 'Lambda.SdkClientException', qr/larger than 6291456 bytes/,
           'a 7 MB reply');
$d = fails_with('huge', 'Lambda.SdkClientException',
                qr/larger than 6291456 bytes/, 'a "2 GB" reply');
ok($d->{elapsed} < 30, sprintf('... cut at the limit (%.1f s)',
                               $d->{elapsed}));
fails_with('deep', 'Lambda.ServiceException', qr/not JSON/,
           'JSON nested 100,000 deep');
$d = run('badutf8');
is($d->{status}, 'FAILED', 'invalid UTF-8 in a reply: failed');
is($d->{error}, 'States.Runtime', '... States.Runtime, the engine\'s');
like($d->{cause}, qr/not valid JSON/, '... not valid JSON');

$d = run('evil');
my ($evil) = $svc->requests('/evil');
ok($evil && !exists $evil->{headers}{'x-evil'},
   'a Resource with CRLF in it: no header injected')
    or diag explain $evil;

# a slow endpoint holds a thread, not the event loop

my $s = run('slow10', nowait => 1);
ok($s->{executionArn}, 'a 3 s function started');
my $worst = 0;
for (1 .. 10) {
    my $t0 = time;
    my ($st) = $t->aws_api('ListStateMachines', {});
    my $dt = time - $t0;
    $worst = $dt if $dt > $worst;
    sleep 0.1;
}
ok($worst < 1, sprintf('the API answers meanwhile (worst %.3f s)', $worst));

# concurrent: more calls than threads wait their turn, none is lost

my @arns = map { run('ok', nowait => 1)->{executionArn} } 1 .. 16;
my %status;
for my $arn (@arns) {
    my $deadline = time + 60;
    my $e;
    while (time < $deadline) {
        (undef, $e) = $t->aws_api('DescribeExecution', { executionArn => $arn });
        last if ($e->{status} // '') ne 'RUNNING';
        sleep 0.1;
    }
    $status{$e->{status} // 'none'}++;
}
is_deeply(\%status, { SUCCEEDED => 16 }, '16 concurrent calls: all succeeded');

# .sync

$d = fails_with('job_never', 'States.Timeout', qr/.?/,
                '.sync, a job that never finishes, TimeoutSeconds 3');
my $n = $svc->count('/never/jr_never');
ok($n >= 5, "... polled until then ($n polls)");
sleep 1;
is($svc->count('/never/jr_never'), $n, '... and no more after');

fails_with('job_elsewhere', 'States.TaskFailed',
           qr{Location "http://127.0.0.2:1/elsewhere" is not on the endpoint},
           '.sync, a Location on another host');
fails_with('job_nostatus', 'States.TaskFailed',
           qr/has no JobRun.JobRunState/, '.sync, a poll without a status');
fails_with('job_array', 'States.TaskFailed', qr/not a JSON object/,
           '.sync, a start that is not an object');
$d = run('job_flaky');
is($d->{status}, 'SUCCEEDED', '.sync, two polls failing: polled again, '
   . 'succeeded') or diag explain $d;
fails_with('job_down', 'States.TaskFailed', qr/HTTP 503/,
           '.sync, polls failing 5 times in a row');

$s = run('job_never', nowait => 1);
sleep 0.5;
my ($st) = $t->aws_api('StopExecution', { executionArn => $s->{executionArn} });
is($st, 200, '.sync: StopExecution while polling');
$n = $svc->count('/never/jr_never');
sleep 1;
ok($svc->count('/never/jr_never') <= $n + 1, '... polled no more');

# the worker lives on

$d = run('ok');
is($d->{status}, 'SUCCEEDED', 'after all that: a sane endpoint succeeds');

$t->stop;
$svc->stop;

done_testing();
