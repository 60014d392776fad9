# Activities end to end with boto3 (Debian's python3-boto3): CreateActivity
# (idempotent by name), DescribeActivity, ListActivities by pages,
# DeleteActivity; a worker loop that polls with GetActivityTask and answers
# with SendTaskSuccess; the long poll answering {} after AWS's 60 seconds;
# HeartbeatSeconds and TimeoutSeconds (States.HeartbeatTimeout,
# States.Timeout, ActivityTimedOut); two pollers waiting at once, each
# given its own task; a poll whose client went away never takes a task
# (the next poller gets it), and a task taken and never answered comes
# back through TimeoutSeconds and Retry (at least once); kill -9 of the
# worker that owns the execution, before and after the task was taken;
# a PostgreSQL restart with a poll waiting and a task queued; the
# activity ARN rejected in an Express state machine, and Activity* events.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

my ($py) = grep { !system("$_ -c 'import boto3' >/dev/null 2>&1") }
           ('/usr/bin/python3', 'python3');
plan(skip_all => 'no python3 with boto3 (python3-boto3)') unless $py;
Sfn::Test::need_postgres();

my $t = Sfn::Test->new;
my $dir = $t->dir;

$t->start($t->sfn_http(zone => '8m',
                       server => "location = / { sfn_aws_api; }\n"),
          workers => 2, connections => 2048);

my $port = $t->port;
my $region = 'arn:aws:states:us-east-1:000000000000';
my $role = 'arn:aws:iam::000000000000:role/activities';

# the boto3 side: one command a run, JSON out

$t->write_file('drv.py', <<"END");
import json, sys, time, threading
import boto3
from botocore.awsrequest import AWSConnection
from botocore.config import Config

# a poll's request, once written to the socket, is noted in sent: the
# worker's name and the client's port, for the test to wait on

polling = None
send_output = AWSConnection._send_output

def sent_output(self, *args, **kwargs):
    global polling
    r = send_output(self, *args, **kwargs)
    if polling:
        with open('$dir/sent', 'a') as f:
            f.write('%s %d\\n' % (polling, self.sock.getsockname()[1]))
        polling = None
    return r

AWSConnection._send_output = sent_output

def client():
    return boto3.client('stepfunctions',
        endpoint_url='http://127.0.0.1:$port', region_name='us-east-1',
        aws_access_key_id='AKID', aws_secret_access_key='secret',
        config=Config(inject_host_prefix=False, read_timeout=75,
                      connect_timeout=5,
                      retries={'total_max_attempts': 1}))

def err(f):
    try:
        f()
        return 'none'
    except client().exceptions.ClientError as e:
        return e.response['Error']['Code']

cmd, args = sys.argv[1], sys.argv[2:]
sfn = client()
out = {}

def poll(arn, worker, then):
    global polling
    out = {}
    t0 = time.time()
    polling = worker
    try:
        task = sfn.get_activity_task(activityArn=arn, workerName=worker)
    except sfn.exceptions.ClientError as e:
        task = {}
        out['error'] = e.response['Error']['Code']
    out['elapsed'] = time.time() - t0
    out['keys'] = sorted(task.keys() - {'ResponseMetadata'})
    tok = task.get('taskToken')
    out['token'] = tok
    out['input'] = task.get('input')
    if tok and then == 'ok':
        sfn.send_task_success(taskToken=tok, output=task['input'])
    elif tok and then == 'fail':
        sfn.send_task_failure(taskToken=tok, error='Worker.Error',
                              cause='it would not')
    elif tok and then.startswith('beat'):
        for i in range(int(then[4:])):
            time.sleep(1)
            sfn.send_task_heartbeat(taskToken=tok)
        sfn.send_task_success(taskToken=tok, output='{"beat": true}')
    if tok and then != 'none':
        out['again'] = err(lambda: sfn.send_task_success(taskToken=tok,
                                                         output='{}'))
    return out


if cmd == 'api':
    a = sfn.create_activity(name='work', tags=[{'key': 'k', 'value': 'v'}])
    b = sfn.create_activity(name='work', tags=[{'key': 'other', 'value': 'x'}])
    out['arn'] = a['activityArn']
    out['same'] = a['activityArn'] == b['activityArn'] \\
                  and a['creationDate'] == b['creationDate']
    d = sfn.describe_activity(activityArn=a['activityArn'])
    out['described'] = [d['name'], d['activityArn'] == a['activityArn']]
    for n in ('beta', 'alpha', 'gamma'):
        sfn.create_activity(name=n)
    names, token, pages = [], None, 0
    while True:
        kw = {'maxResults': 2}
        if token:
            kw['nextToken'] = token
        p = sfn.list_activities(**kw)
        pages += 1
        names += [x['name'] for x in p['activities']]
        token = p.get('nextToken')
        if not token:
            break
    out['listed'] = names
    out['pages'] = pages
    out['unknown'] = err(lambda: sfn.describe_activity(
        activityArn='$region:activity:nope'))
    out['bad_arn'] = err(lambda: sfn.describe_activity(
        activityArn='$region:stateMachine:work'))
    out['bad_name'] = err(lambda: sfn.create_activity(name='a b'))
    out['long_name'] = err(lambda: sfn.create_activity(name='x' * 81))
    out['delete_unknown'] = err(lambda: sfn.delete_activity(
        activityArn='$region:activity:nope'))
    out['bad_token'] = err(lambda: sfn.list_activities(nextToken='AAAA'))
    out['poll_unknown'] = err(lambda: sfn.get_activity_task(
        activityArn='$region:activity:nope'))

elif cmd == 'loop':
    # a worker: n tasks answered with the input doubled
    arn, n = args[0], int(args[1])
    while n:
        task = sfn.get_activity_task(activityArn=arn, workerName='loop')
        if not task.get('taskToken'):
            continue
        x = json.loads(task['input'])
        sfn.send_task_success(taskToken=task['taskToken'],
                              output=json.dumps({'y': 2 * x['x']}))
        n -= 1
    out['done'] = True

elif cmd == 'poll':
    # polls, one after the other (worker and what to do then); then
    # answer it (ok), fail it, beat for some seconds, or keep it (none)
    polls = []
    for i in range(1, len(args), 2):
        polls.append(poll(args[0], args[i], args[i + 1]))
    out = polls[0] if len(polls) == 1 else {'polls': polls}

elif cmd == 'answer':
    out['error'] = err(lambda: sfn.send_task_success(taskToken=args[0],
                                                     output=args[1]))

elif cmd == 'storm':
    # n raw long polls at once; m executions started once they wait; the
    # tasks answered; then every client still waiting goes away
    import asyncio
    arn, sm, n, m = args[0], args[1], int(args[2]), int(args[3])
    got, errors = [], []

    async def one(i):
        body = json.dumps({'activityArn': arn, 'workerName': 'storm%d' % i})
        try:
            r, w = await asyncio.open_connection('127.0.0.1', $port)
        except OSError as e:
            errors.append(str(e))
            return
        w.write(('POST / HTTP/1.1\\r\\nHost: x\\r\\n'
                 'Content-Type: application/x-amz-json-1.0\\r\\n'
                 'X-Amz-Target: AWSStepFunctions.GetActivityTask\\r\\n'
                 'Content-Length: %d\\r\\n\\r\\n%s'
                 % (len(body), body)).encode())
        await w.drain()
        try:
            head = await r.readuntil(b'\\r\\n\\r\\n')
            k = int([h.split(b':')[1] for h in head.split(b'\\r\\n')
                     if h.lower().startswith(b'content-length')][0])
            reply = json.loads(await r.readexactly(k))
            if 'taskToken' in reply:
                got.append(reply)
            elif reply:
                errors.append(reply)
        except asyncio.CancelledError:
            pass
        finally:
            w.close()

    async def main():
        polls = [asyncio.ensure_future(one(i)) for i in range(n)]
        await asyncio.sleep(3)
        loop = asyncio.get_event_loop()
        t0 = time.time()
        for j in range(m):
            await loop.run_in_executor(None, lambda j=j:
                sfn.start_execution(stateMachineArn=sm, name='storm%d' % j,
                                    input=json.dumps({'j': j})))
        while len(got) < m and time.time() < t0 + 30:
            await asyncio.sleep(0.1)
        out['took'] = time.time() - t0
        for p in polls:
            p.cancel()
        await asyncio.gather(*polls, return_exceptions=True)

    asyncio.run(main())
    for task in got:
        sfn.send_task_success(taskToken=task['taskToken'], output=task['input'])
    out['got'] = len(got)
    out['tokens'] = len(set(t['taskToken'] for t in got))
    out['inputs'] = len(set(t['input'] for t in got))
    out['errors'] = errors[:5]
    out['nerrors'] = len(errors)

elif cmd == 'hostile':
    arn = args[0]
    out['replayed'] = err(lambda: sfn.send_task_success(taskToken=args[1],
                                                        output='{}'))
    t = args[1]
    tampered = t[:-2] + ('A' if t[-2] != 'A' else 'B') + t[-1]
    out['tampered'] = err(lambda: sfn.send_task_success(taskToken=tampered,
                                                        output='{}'))
    out['tampered_beat'] = err(lambda: sfn.send_task_heartbeat(
        taskToken=tampered))
    out['huge_token'] = err(lambda: sfn.send_task_failure(
        taskToken='x' * 5000))
    out['colon'] = err(lambda: sfn.create_activity(name='a:b'))
    out['control'] = err(lambda: sfn.create_activity(name='a\\x01b'))
    out['unicode'] = sfn.create_activity(name='t\\u00e2che-80')['activityArn']
    out['max'] = err(lambda: sfn.create_activity(name='m' * 80))
    out['long_arn'] = err(lambda: sfn.get_activity_task(
        activityArn=arn + 'x' * 300))
    out['other_account'] = err(lambda: sfn.get_activity_task(
        activityArn=arn.replace('000000000000', '111111111111')))
    out['long_worker'] = err(lambda: sfn.get_activity_task(
        activityArn=arn, workerName='w' * 81))
    out['sm_arn'] = err(lambda: sfn.get_activity_task(
        activityArn=arn.replace(':activity:', ':stateMachine:')))

elif cmd == 'express':
    out['code'] = err(lambda: sfn.create_state_machine(name='express',
        roleArn='$role', type='EXPRESS', definition=args[0]))

print(json.dumps(out))
END

sub drv {
    my (@args) = @_;
    my $cmd = join ' ', map { "'$_'" } $py, "$dir/drv.py", @args;
    my $out = `$cmd 2>&1`;
    my $r = eval { $t->json->decode($out) };
    diag("drv @args: $out") unless $r;
    return $r // {};
}

# a drv.py run in the background: a handle to read its answer from

sub drv_bg {
    my (@args) = @_;
    open my $fh, '-|', $py, "$dir/drv.py", @args or die "python: $!\n";
    return $fh;
}

sub drv_wait {
    my ($fh) = @_;
    local $/;
    my $out = <$fh> // '';
    close $fh;
    my $r = eval { $t->json->decode($out) };
    diag("drv: $out") unless $r;
    return $r // {};
}

# the poll of a worker (a drv.py run) is in nginx: python, slow to
# start, wrote its request (sent names the client's port), and nginx
# read it; its claim went to the database at once

sub poll_waiting {
    my ($worker) = @_;
    my $from = $t->wait_for(sub {
        ($t->read_file('sent') // '') =~ /^\Q$worker\E (\d+)$/m ? $1 : 0
    }, 60) or return diag("the poll of $worker was never sent");
    $t->wait_for(sub { $t->request_read($from, $port) })
        or diag("the poll of $worker was never read");
}

# GetActivityTask written by hand on a connection of its own (closed by
# the reply): the socket

sub raw_poll {
    my ($to, $arn, $worker) = @_;
    my $body = qq({"activityArn":"$arn","workerName":"$worker"});
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$to") or die;
    print $s "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           . "Content-Type: application/x-amz-json-1.0\r\n"
           . "X-Amz-Target: AWSStepFunctions.GetActivityTask\r\n"
           . "Content-Length: " . length($body) . "\r\n\r\n$body";
    return $s;
}

sub machine {
    my ($name, $def) = @_;
    my ($s, $r) = $t->aws_api('CreateStateMachine', {
        name => $name, roleArn => $role,
        definition => $t->json->encode($def) });
    is($s, 200, "state machine $name") or diag(explain $r);
    return $r->{stateMachineArn};
}

sub activity {
    my ($name) = @_;
    my (undef, $r) = $t->aws_api('CreateActivity', { name => $name });
    return $r->{activityArn};
}

sub task {
    my ($act, %o) = @_;
    return { StartAt => 'A', States => { A => {
        Type => 'Task', Resource => $act, End => JSON::PP::true, %o } } };
}

sub start {
    my ($sm, $name, $input) = @_;
    my ($s, $r) = $t->aws_api('StartExecution', {
        stateMachineArn => $sm, name => $name, input => $input // '{}' });
    return $r->{executionArn};
}

sub wait_done {
    my ($arn, $timeout) = @_;
    my $deadline = time + ($timeout // 30);
    my $r;
    while (time < $deadline) {
        (undef, $r) = $t->aws_api('DescribeExecution',
                                  { executionArn => $arn });
        return $r if ($r->{status} // '') ne 'RUNNING';
        sleep 0.2;
    }
    return $r;
}

sub events {
    my ($arn) = @_;
    my (undef, $r) = $t->aws_api('GetExecutionHistory',
                                 { executionArn => $arn, maxResults => 1000 });
    return @{ $r->{events} // [] };
}

sub types {
    my ($arn) = @_;
    return join ',', grep { /^Activity/ } map { $_->{type} } events($arn);
}

# the 60-second long poll runs beside everything else

my $idle = activity('idle');
my $idle_poll = drv_bg('poll', $idle, 'idler', 'none');

# the API

my $api = drv('api');
my $work = $api->{arn};
is($work, "$region:activity:work", 'CreateActivity: the ARN');
ok($api->{same}, 'CreateActivity again: the same ARN and date');
is_deeply($api->{described}, [ 'work', JSON::PP::true ], 'DescribeActivity');
is(join(',', @{ $api->{listed} // [] }), 'alpha,beta,gamma,idle,work',
   'ListActivities: every activity, by name');
is($api->{pages}, 3, 'ListActivities: pages of 2');
is($api->{unknown}, 'ActivityDoesNotExist', 'DescribeActivity: unknown');
is($api->{bad_arn}, 'InvalidArn', 'DescribeActivity: not an activity ARN');
is($api->{bad_name}, 'InvalidName', 'CreateActivity: a name with a space');
is($api->{long_name}, 'InvalidName', 'CreateActivity: 81 characters');
is($api->{delete_unknown}, 'none', 'DeleteActivity: unknown is no error');
is($api->{bad_token}, 'InvalidToken', 'ListActivities: a made-up token');
is($api->{poll_unknown}, 'ActivityDoesNotExist',
   'GetActivityTask: unknown activity');

is(drv('express', $t->json->encode(task($work)))->{code},
   'InvalidDefinition', 'an activity in an Express state machine');

# a worker loop

my $double = machine('double', task($work, TimeoutSeconds => 60));
my $loop = drv_bg('loop', $work, 5);
my @execs = map { start($double, "d$_", qq({"x": $_})) } 1 .. 5;
my @out = map { wait_done($_) } @execs;
is(join(',', map { $_->{status} } @out), join(',', ('SUCCEEDED') x 5),
   'a worker loop: five executions succeeded');
is(join(',', map { $t->json->decode($_->{output} // '{}')->{y} // '' } @out),
   '2,4,6,8,10', 'each with its own output');
ok(drv_wait($loop)->{done}, 'the worker answered five tasks');
is(types($execs[0]), 'ActivityScheduled,ActivityStarted,ActivitySucceeded',
   'Activity events');
my ($started) = grep { $_->{type} eq 'ActivityStarted' } events($execs[0]);
is($started->{activityStartedEventDetails}{workerName}, 'loop',
   'ActivityStarted names the worker');
my ($sched) = grep { $_->{type} eq 'ActivityScheduled' } events($execs[0]);
is_deeply([ @{ $sched->{activityScheduledEventDetails} }
              {qw(resource input timeoutInSeconds)} ],
          [ $work, '{"x":1}', 60 ], 'ActivityScheduled: resource, input');

# heartbeats and timeouts: the pollers wait first, as python starts slowly

my $beat = activity('beat');
my $hb = machine('hb', task($beat, HeartbeatSeconds => 4,
                            TimeoutSeconds => 60));
my $bg = drv_bg('poll', $beat, 'silent', 'none', 'beating', 'beat6');
poll_waiting('silent');
my $e = start($hb, 'silent');
my $d = wait_done($e);
is("$d->{status} $d->{error}", 'FAILED States.HeartbeatTimeout',
   'HeartbeatSeconds: States.HeartbeatTimeout');
is(types($e), 'ActivityScheduled,ActivityStarted,ActivityTimedOut',
   'ActivityTimedOut');
$e = start($hb, 'beating');
my $p = drv_wait($bg)->{polls} // [];
ok($p->[0]{token}, 'a task for a worker that never beats');
is(drv('answer', $p->[0]{token}, '{}')->{error}, 'TaskTimedOut',
   'SendTaskSuccess after the timeout: TaskTimedOut');
$d = wait_done($e);
is($d->{status}, 'SUCCEEDED', 'heartbeats every second keep it for 6 s');
is($p->[1]{again}, 'TaskTimedOut', 'a second SendTaskSuccess: TaskTimedOut');

my $never = activity('never');
my $tmo = machine('tmo', task($never, TimeoutSeconds => 2));
$e = start($tmo, 'queued');
$d = wait_done($e);
is("$d->{status} $d->{error}", 'FAILED States.Timeout',
   'TimeoutSeconds counts from the schedule: States.Timeout');
is(types($e), 'ActivityScheduled,ActivityTimedOut', 'never started');
is($t->psql("SELECT count(*) FROM sfn_activity_tasks "
            . "WHERE activity = '$never'"), '0', 'its queue row is gone');

my $fails = machine('fails', task($beat, TimeoutSeconds => 30));
$e = start($fails, 'failing');
drv('poll', $beat, 'failer', 'fail');
$d = wait_done($e);
is("$d->{status} $d->{error} $d->{cause}",
   'FAILED Worker.Error it would not', 'SendTaskFailure: ActivityFailed');
is(types($e), 'ActivityScheduled,ActivityStarted,ActivityFailed',
   'ActivityFailed');

# two pollers waiting at once, each given its own task

my $pair = activity('pair');
my $two = machine('two', task($pair, TimeoutSeconds => 30));
my @polls = map { drv_bg('poll', $pair, "p$_", 'ok') } 1 .. 2;
poll_waiting("p$_") for 1 .. 2;
my @two = map { start($two, "two$_", qq({"n": $_})) } 1 .. 2;
my @got = map { drv_wait($_) } @polls;
ok($got[0]{token} && $got[1]{token} && $got[0]{token} ne $got[1]{token},
   'two pollers: two tokens');
is(join(',', sort map { $_->{input} // '' } @got), '{"n":1},{"n":2}',
   'two pollers: the two inputs');
is(join(',', map { wait_done($_)->{status} } @two), 'SUCCEEDED,SUCCEEDED',
   'both executions succeeded');

# a poll whose client went away takes nothing: the next poller gets it

my $drop = activity('drop');
my $dropm = machine('dropm', task($drop, TimeoutSeconds => 30));
for my $rst (0, 1) {
    my $s = raw_poll($port, $drop, 'gone');
    $t->wait_for(sub { $t->request_read($s->sockport, $port) })
        or diag('the poll that goes was never read');
    setsockopt($s, Socket::SOL_SOCKET(), Socket::SO_LINGER(),
               pack('ii', 1, 0)) if $rst;
    close $s;
}
sleep 0.5;
$e = start($dropm, 'dropped');
$p = drv('poll', $drop, 'kept', 'ok');
ok($p->{token} && $p->{elapsed} < 10, 'the task went to the next poller');
is(wait_done($e)->{status}, 'SUCCEEDED', 'and its execution succeeded');
($started) = grep { $_->{type} eq 'ActivityStarted' } events($e);
is($started->{activityStartedEventDetails}{workerName}, 'kept',
   'started by the poller still there');

# taken and never answered: TimeoutSeconds and Retry give it again

my $flaky = activity('flaky');
my $retry = machine('retry', task($flaky, TimeoutSeconds => 4,
    Retry => [ { ErrorEquals => [ 'States.Timeout' ], IntervalSeconds => 1,
                 MaxAttempts => 2 } ]));
$bg = drv_bg('poll', $flaky, 'dies', 'none', 'lives', 'ok');
poll_waiting('dies');
$e = start($retry, 'lost', '{"k": 7}');
$p = drv_wait($bg)->{polls} // [];
ok($p->[0]{token} && $p->[1]{token} && $p->[0]{token} ne $p->[1]{token},
   'the second attempt has a token of its own');
is($p->[1]{input}, '{"k":7}', 'and the same input');
is(wait_done($e)->{status}, 'SUCCEEDED', 'at least once: it succeeded');
is(types($e), 'ActivityScheduled,ActivityStarted,ActivityTimedOut,'
              . 'ActivityScheduled,ActivityStarted,ActivitySucceeded',
   'ActivityTimedOut, then the retry');

# PostgreSQL restarts with a task queued and a poll waiting

my $pgr = activity('pgr');
my $pgm = machine('pgm', task($pgr, TimeoutSeconds => 120));
my $before = start($pgm, 'before-restart', '{"r": 1}');
$t->wait_sql("SELECT count(*) FROM sfn_activity_tasks "
             . "WHERE execution_arn = '$before'", '1');
$t->pg_restart(1) or diag('nginx\'s writers did not connect again');
$p = drv('poll', $pgr, 'after-restart', 'ok');
is($p->{input}, '{"r":1}', 'a task queued before the restart');
is(wait_done($before, 60)->{status}, 'SUCCEEDED', 'and its execution');

my $waiting = drv_bg('poll', $pgr, 'across-restart', 'ok');
poll_waiting('across-restart');
$t->pg_restart(1) or diag('nginx\'s writers did not connect again');
my $after = start($pgm, 'after-restart', '{"r": 2}');
$p = drv_wait($waiting);
is($p->{input}, '{"r":2}', 'a poll waiting across the restart gets the task');
is(wait_done($after, 60)->{status}, 'SUCCEEDED', 'and its execution');

# deleting an activity with a poll waiting and a task queued

my $gone = activity('gone');
my $gm = machine('gm', task($gone, TimeoutSeconds => 3));
my $gpoll = drv_bg('poll', $gone, 'orphan', 'none');
poll_waiting('orphan');
my ($s) = $t->aws_api('DeleteActivity', { activityArn => $gone });
is($s, 200, 'DeleteActivity with a poll waiting');
$p = drv_wait($gpoll);
ok(defined $p->{elapsed} && $p->{elapsed} < 10,
   'the waiting poll was answered at once');
is($p->{error}, 'ActivityDoesNotExist', 'with ActivityDoesNotExist');
$e = start($gm, 'orphaned');
$d = wait_done($e);
is("$d->{status} $d->{error}", 'FAILED States.Runtime',
   'a task for a deleted activity: not scheduled');
is(types($e), 'ActivityScheduled,ActivityScheduleFailed',
   'ActivityScheduleFailed');

# a second node on the same database: its poll is woken by the first's
# task, and its answer reaches the first's execution

my $n2 = $t->node;
$n2->nginx_start($n2->sfn_http(zone => '8m',
                               server => "location = / { sfn_aws_api; }\n"));
my $far = activity('far');
my $farm = machine('farm', task($far, TimeoutSeconds => 60));
my $s2 = raw_poll($n2->port, $far, 'node2');
$t->wait_for(sub { $t->request_read($s2->sockport, $n2->port) })
    or diag('the poll of node2 was never read');
$e = start($farm, 'across', '{"node": 1}');
my $far_got = do { local $/; my $a = <$s2> // ''; $a =~ s/^.*?\r\n\r\n//s;
                   eval { $t->json->decode($a) } } // {};
is($far_got->{input}, '{"node":1}', 'a poll on another node is woken');
my ($fs) = $n2->aws_api('SendTaskSuccess', { taskToken => $far_got->{taskToken},
                                             output => '{"from": 2}' });
is($fs, 200, 'SendTaskSuccess on the other node');
$d = wait_done($e);
is("$d->{status} $d->{output}", 'SUCCEEDED {"from":2}',
   'the execution of the first node succeeded');
($started) = grep { $_->{type} eq 'ActivityStarted' } events($e);
is($started->{activityStartedEventDetails}{workerName}, 'node2',
   'started by node2');
$n2->stop;

# hostile: a thousand pollers at once, most of which go away

sub rss {
    my $kb = 0;
    for my $pid ($t->nginx_workers) {
        my $st = $t->read_file("/proc/$pid/status") // '';
        $kb += $1 if $st =~ /VmRSS:\s+(\d+)/;
    }
    return $kb;
}

my $storm = activity('storm');
my $stormm = machine('stormm', task($storm, TimeoutSeconds => 60));
my $rss0 = rss();
my $st = drv('storm', $storm, $stormm, 1000, 50);
is($st->{got}, 50, 'a thousand pollers: fifty tasks handed out')
    or diag(explain $st);
is($st->{tokens}, 50, 'fifty distinct tokens');
is($st->{inputs}, 50, 'fifty distinct inputs');
is($st->{nerrors}, 0, 'no poll refused');
my $rss1 = rss();
diag(sprintf('1000 polls: %.1f s to hand out 50 tasks; workers\' RSS '
             . '%d kB before, %d kB after', $st->{took} // -1, $rss0,
             $rss1));
ok($rss1 - $rss0 < 64 * 1024, 'the workers grew by less than 64 MB');
my $ok = 0;
for my $j (0 .. 49) {
    $ok++ if wait_done("$region:execution:stormm:storm$j")->{status}
             eq 'SUCCEEDED';
}
is($ok, 50, 'their fifty executions succeeded');
$e = start($stormm, 'after-storm', '{"after": 1}');
$p = drv('poll', $storm, 'after', 'ok');
ok($p->{token} && $p->{elapsed} < 10,
   'the 950 that went away took nothing: the next task is polled');
is(wait_done($e)->{status}, 'SUCCEEDED', 'and succeeds');

my $h = drv('hostile', $work, $p->{token});
is($h->{replayed}, 'TaskTimedOut', 'a replayed token: TaskTimedOut');
is($h->{tampered}, 'TaskDoesNotExist', 'a tampered token: TaskDoesNotExist');
is($h->{tampered_beat}, 'TaskDoesNotExist', 'and its heartbeat');
is($h->{huge_token}, 'ValidationException', 'a 5000-byte token');
is($h->{colon}, 'InvalidName', 'an activity name with a colon');
is($h->{control}, 'InvalidName', 'an activity name with a control byte');
is($h->{unicode}, "$region:activity:t\x{e2}che-80",
   'an activity name in Unicode');
is($h->{max}, 'none', 'an activity name of 80 characters');
is($h->{long_arn}, 'ValidationException', 'an activity ARN of 300 bytes');
is($h->{other_account}, 'ActivityDoesNotExist', 'of another account');
is($h->{long_worker}, 'ValidationException', 'a workerName of 81');
is($h->{sm_arn}, 'InvalidArn', 'a state machine ARN');

my ($code, $r) = $t->aws_api('GetActivityTask', 'not json');
is($r->{__type}, 'SerializationException', 'GetActivityTask: not JSON');

# the long poll of an idle activity, before any worker is killed

$p = drv_wait($idle_poll);
ok($p->{elapsed} >= 59 && $p->{elapsed} < 75,
   sprintf('the long poll answered after %.1f s', $p->{elapsed} // -1));
is(join(',', @{ $p->{keys} // [ 'none' ] }), '', 'with no task: {}');

# kill -9 of the worker that owns the execution

sub owner_pid {
    my ($arn) = @_;
    my $o = $t->wait_sql("SELECT count(*) FROM sfn_events "
                         . "WHERE execution_arn = '$arn' "
                         . "AND type = 'ActivityScheduled'", '1');
    my $owner = $t->psql("SELECT owner FROM sfn_executions "
                         . "WHERE arn = '$arn'");
    return $owner =~ /:(\d+)$/ ? $1 : 0;
}

my $crash = activity('crash');
my $durable = machine('durable', task($crash, TimeoutSeconds => 120));

$e = start($durable, 'killed-queued', '{"q": 1}');
my $pid = owner_pid($e);
ok($pid && kill('KILL', $pid), "kill -9 the owner ($pid) with the task "
                               . "queued");
$p = drv('poll', $crash, 'after-kill', 'ok');
is($p->{input}, '{"q":1}', 'the queued task is polled after the kill');
$d = wait_done($e, 60);
is("$d->{status} $d->{output}", 'SUCCEEDED {"q":1}',
   'the execution succeeded under a new owner');
is(types($e), 'ActivityScheduled,ActivityStarted,ActivitySucceeded',
   'one schedule, one start');

$e = start($durable, 'killed-started', '{"q": 2}');
$pid = owner_pid($e);
$p = drv('poll', $crash, 'before-kill', 'none');
$t->wait_sql("SELECT count(*) FROM sfn_events WHERE execution_arn = '$e' "
             . "AND type = 'ActivityStarted'", '1');
ok($pid && kill('KILL', $pid), 'kill -9 the owner with the task taken');
is(drv('answer', $p->{token}, '{"answered": true}')->{error}, 'none',
   'SendTaskSuccess to the owner that is gone');
$d = wait_done($e, 60);
is("$d->{status} $d->{output}", 'SUCCEEDED {"answered":true}',
   'the answer reached the new owner');

$t->stop(allow => qr/exited on signal 9|connection|server closed/);

done_testing;
