#!/usr/bin/perl

# sfn:http:invoke (lambda:invoke) and sfn:notify (sns:publish) through
# build/sfn-task against a small HTTP responder forked by the test: the
# bodies sent, the replies used, error names, notify's retries (a 500 then
# success; three failures), timeouts and cancellation

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Sfn::Test;
use File::Temp qw(tempdir);
use Fcntl qw(:flock);
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(_exit);
use Time::HiRes qw(time sleep);

Sfn::Test::need_tool('sfn-task');

my $dir = tempdir(CLEANUP => 1);
my $log = "$dir/requests.log";

# the responder: one child per connection, every request logged as a line
# of JSON; the route is the path

my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Proto => 'tcp', Listen => 16,
                                   ReuseAddr => 1)
    or die "listen: $!";
my $port = $listen->sockport;
my $base = "http://127.0.0.1:$port";

sub requests {
    open my $f, '<', $log or return ();
    local $/ = "\n";
    return map { decode_json($_) } <$f>;
}

sub respond {
    my ($c, $status, $body, %h) = @_;
    $body //= '';
    my $head = "HTTP/1.1 $status X\r\nContent-Length: " . length($body)
        . "\r\nConnection: close\r\n";
    $head .= "Content-Type: $h{type}\r\n" if $h{type};
    print $c "$head\r\n$body";
}

sub serve {
    my ($c) = @_;
    my ($line, $hdr, $body) = Sfn::Test::read_request($c);
    return unless defined $line;
    my ($method, $path) = split / /, $line;
    my %h = %$hdr;

    open my $f, '>>', $log or die;
    flock $f, LOCK_EX;
    print $f encode_json({ method => $method, path => $path, headers => \%h,
                           body => $body, at => time }), "\n";
    close $f;

    my $n = grep { $_->{path} eq $path } requests();

    if ($path eq '/echo') {
        respond($c, 200, encode_json({ received => decode_json($body),
                                       execution => $h{'x-sfn-execution'} }),
                type => 'application/json');
    } elsif ($path =~ m{^/status/(\d+)}) {
        respond($c, $1, '{"message":"status ' . $1 . '"}');
    } elsif ($path eq '/lambda-error') {
        respond($c, 500, '{"errorType":"VideoTooShort",'
                         . '"errorMessage":"only 1 s"}');
    } elsif ($path =~ m{^/flaky/}) {
        $n < 2 ? respond($c, 500, 'try again') : respond($c, 200, '{}');
    } elsif ($path eq '/slow') {
        sleep 5;
        respond($c, 200, '{}');
    } elsif ($path eq '/text') {
        respond($c, 200, 'plain words');
    } elsif ($path eq '/empty') {
        respond($c, 200, '');
    } elsif ($path eq '/big') {
        respond($c, 200, '"' . ('x' x (7 << 20)) . '"');
    } else {
        respond($c, 404, 'no route');
    }
}

my $server = fork // die "fork: $!";

if ($server == 0) {
    setpgrp(0, 0);
    $SIG{CHLD} = 'IGNORE';
    while (1) {
        my $c = $listen->accept or next;
        my $pid = fork;
        if (defined $pid && $pid == 0) {
            serve($c);
            close $c;
            _exit(0);
        }
        close $c;
    }
}

close $listen;

END {
    kill 'TERM', -$server if $server;
}

# served: from sfn-task's first request to its exit (from its start if
# it made none), what a back-off or a cancel takes, without the start of
# the process (slow on a loaded machine)

sub task {
    my ($resource, $input, @opts) = @_;
    my $seen = () = requests();
    my $start = time;
    my ($r, $rc) = Sfn::Test::run_task($resource, $input, dir => $dir,
                                       args => \@opts, stderr => 1);
    my $end = time;
    my $first = (requests())[$seen];
    $r->{served} = $end - ($first ? $first->{at} : $start);
    return ($r, $rc);
}

sub last_request {
    my ($path) = @_;
    my @r = grep { $_->{path} eq $path } requests();
    return $r[-1];
}

$ENV{SFN_EXECUTION} = 'arn:aws:states:us-east-1:1:execution:wf:run-7';

# sfn:http:invoke: the whole input, less the URL, is the body; the JSON
# reply is the output

my ($r, $rc) = task('sfn:http:invoke', { url => "$base/echo", jobId => 'j1',
                                         n => [ 1, 2 ] });
is($rc, 0, 'invoke: exit code') or diag explain $r;
is_deeply($r->{output}, { received => { jobId => 'j1', n => [ 1, 2 ] },
                          execution => $ENV{SFN_EXECUTION} },
          'invoke: reply is the output, the input was the body');
my $req = last_request('/echo');
is($req->{method}, 'POST', 'invoke: POST');
like($req->{headers}{'content-type'}, qr{application/json}, 'invoke: JSON');

($r, $rc) = task('sfn:http:invoke', { url => "$base/echo",
                                      Payload => { only => 'this' } });
is_deeply($r->{output}{received}, { only => 'this' }, 'invoke: Payload');

($r, $rc) = task('sfn:http:invoke.waitForTaskToken',
                 { url => "$base/echo", Payload => { token => 'in body' } },
                 '--token', 'tok-9');
is($rc, 0, 'invoke waitForTaskToken');
is(last_request('/echo')->{headers}{'x-sfn-task-token'}, 'tok-9',
   'invoke: the task token in X-Sfn-Task-Token');

# the Lambda integration's shape

($r, $rc) = task('arn:aws:states:::lambda:invoke',
                 { FunctionName => "$base/echo",
                   Payload => { bucket => 'b', key => 'k' } });
is($rc, 0, 'lambda:invoke: exit code') or diag explain $r;
is($r->{output}{StatusCode}, 200, 'lambda:invoke: StatusCode');
is($r->{output}{ExecutedVersion}, '$LATEST', 'lambda:invoke: ExecutedVersion');
is_deeply($r->{output}{Payload}{received}, { bucket => 'b', key => 'k' },
          'lambda:invoke: Payload is the reply');
like($r->{output}{SdkResponseMetadata}{RequestId}, qr/^[0-9a-f-]{36}$/,
     'lambda:invoke: RequestId');

($r, $rc) = task('arn:aws:states:::lambda:invoke',
                 { FunctionName => "$base/echo", Payload => {},
                   InvocationType => 'Event' });
is($r->{output}{StatusCode}, 202, 'lambda:invoke Event: 202');

($r, $rc) = task('arn:aws:states:::lambda:invoke',
                 { FunctionName => "$base/text", Payload => {} });
is($r->{output}{Payload}, 'plain words', 'lambda:invoke: text reply');

($r, $rc) = task('sfn:http:invoke', { url => "$base/text" });
is($rc, 1, 'invoke: non-JSON reply fails');
like($r->{cause}, qr/not JSON/, 'invoke: non-JSON cause');

($r, $rc) = task('sfn:http:invoke', { url => "$base/empty" });
is($rc, 0, 'invoke: empty reply');
is($r->{output}, undef, 'invoke: empty reply is null');

# errors

($r, $rc) = task('arn:aws:states:::lambda:invoke',
                 { FunctionName => "$base/status/500", Payload => {} });
is($r->{error}, 'Lambda.ServiceException', 'lambda:invoke 500');
like($r->{cause}, qr/HTTP 500.*status 500/, 'lambda:invoke 500: cause');

($r, $rc) = task('arn:aws:states:::lambda:invoke',
                 { FunctionName => "$base/status/429", Payload => {} });
is($r->{error}, 'Lambda.TooManyRequestsException', 'lambda:invoke 429');

($r, $rc) = task('arn:aws:states:::lambda:invoke',
                 { FunctionName => "$base/nothing", Payload => {} });
is($r->{error}, 'Lambda.ResourceNotFoundException', 'lambda:invoke 404');

($r, $rc) = task('sfn:http:invoke', { url => "$base/status/503" });
is($r->{error}, 'States.TaskFailed', 'invoke 503: States.TaskFailed');

($r, $rc) = task('sfn:http:invoke', { url => "$base/lambda-error" });
is($r->{error}, 'VideoTooShort', 'a function error names itself');
like($r->{cause}, qr/only 1 s/, 'function error: cause is the body');

($r, $rc) = task('arn:aws:states:::lambda:invoke',
                 { FunctionName => 'arn:aws:lambda:us-east-1:1:function:f',
                   Payload => {} });
is($r->{error}, 'Lambda.ResourceNotFoundException', 'an ARN is no URL');
like($r->{cause}, qr/not an http\(s\) URL/, 'ARN: cause');

($r, $rc) = task('sfn:http:invoke', { url => 'file:///etc/passwd' });
like($r->{cause}, qr/not an http\(s\) URL/, 'file:// refused');

my $closed = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Listen => 1)->sockport;
($r, $rc) = task('arn:aws:states:::lambda:invoke',
                 { FunctionName => "http://127.0.0.1:$closed/",
                   Payload => {} });
is($r->{error}, 'Lambda.SdkClientException', 'connection refused');

($r, $rc) = task('sfn:http:invoke', { url => "$base/big" });
like($r->{cause}, qr/larger than/, 'oversized reply refused');

($r, $rc) = task('sfn:http:invoke', { url => "$base/slow",
                                      timeoutSeconds => 1 });
is($r->{error}, 'States.TaskFailed', 'timeout: fails');
like($r->{cause}, qr/timeoutSeconds/, 'timeout: cause');
ok($r->{served} < 3, 'timeout: within a second or so');

($r, $rc) = task('sfn:http:invoke', { url => "$base/slow" },
                 '--cancel-after', '0.3');
is($r->{error}, 'States.Timeout', 'cancelled invoke: States.Timeout');
ok($r->{served} < 2, 'cancelled invoke: promptly');

# sfn:notify: SNS's HTTP delivery body, MessageId back

($r, $rc) = task('arn:aws:states:::sns:publish',
                 { TopicArn => "$base/echo", Subject => 'Video done',
                   Message => 'job j1 published' });
is($rc, 0, 'sns:publish: exit code') or diag explain $r;
like($r->{output}{MessageId}, qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-/,
     'sns:publish: MessageId is a UUID');
$req = last_request('/echo');
my $body = decode_json($req->{body});
is($body->{Type}, 'Notification', 'notify body: Type');
is($body->{MessageId}, $r->{output}{MessageId}, 'notify body: MessageId');
is($body->{TopicArn}, "$base/echo", 'notify body: TopicArn');
is($body->{Subject}, 'Video done', 'notify body: Subject');
is($body->{Message}, 'job j1 published', 'notify body: Message');
like($body->{Timestamp}, qr/^\d{4}-\d\d-\d\dT[\d:.]+Z$/, 'notify: Timestamp');
ok(!exists $body->{TaskToken}, 'notify body: no token without one');
is($req->{headers}{'x-amz-sns-message-type'}, 'Notification',
   'notify: SNS message type header');

($r, $rc) = task('sfn:notify', { url => "$base/echo",
                                 TopicArn => 'arn:aws:sns:us-east-1:1:topic',
                                 Message => { jobId => 'j1', ok => \1 } });
is($rc, 0, 'notify with url and a real TopicArn');
$body = decode_json(last_request('/echo')->{body});
is($body->{TopicArn}, 'arn:aws:sns:us-east-1:1:topic', 'TopicArn passed on');
is_deeply(decode_json($body->{Message}), { jobId => 'j1', ok => \1 },
          'a JSON Message is sent as its text');

# .waitForTaskToken: the token travels in the body

($r, $rc) = task('arn:aws:states:::sns:publish.waitForTaskToken',
                 { TopicArn => "$base/echo", Message => 'approve?' },
                 '--token', 'tok-123');
is($rc, 0, 'notify waitForTaskToken');
is(decode_json(last_request('/echo')->{body})->{TaskToken}, 'tok-123',
   'notify: TaskToken in the body');

($r, $rc) = task('arn:aws:states:::sns:publish',
                 { TopicArn => 'arn:aws:sns:us-east-1:1:topic',
                   Message => 'x' });
is($r->{error}, 'SNS.InvalidParameterException', 'no webhook: error');
like($r->{cause}, qr/give "url", or a "TopicArn" that is an http\(s\) URL/,
     'no webhook: cause');

($r, $rc) = task('sfn:notify', { url => "$base/echo" });
like($r->{cause}, qr/Empty message/, 'notify needs a Message');

# retries: a 500, then success

($r, $rc) = task('arn:aws:states:::sns:publish',
                 { TopicArn => "$base/flaky/a", Message => 'm' });
is($rc, 0, 'notify retried after a 500') or diag explain $r;
my @tries = grep { $_->{path} eq '/flaky/a' } requests();
is(scalar @tries, 2, 'notify: two attempts');
is(decode_json($tries[0]{body})->{MessageId},
   decode_json($tries[1]{body})->{MessageId},
   'notify: one MessageId across attempts');
ok($r->{served} >= 0.4, 'notify: backed off before the retry');

# three failures

($r, $rc) = task('arn:aws:states:::sns:publish',
                 { TopicArn => "$base/status/502", Message => 'm' });
is($rc, 1, 'notify fails after three attempts');
is($r->{error}, 'SNS.InternalErrorException', 'notify 5xx: error name');
like($r->{cause}, qr/after 3 attempts: HTTP 502/, 'notify 5xx: cause');
is(scalar(grep { $_->{path} eq '/status/502' } requests()), 3,
   'notify: exactly three attempts');
ok($r->{served} >= 1.4 && $r->{served} < 5,
   'notify: exponential back-off 0.5 s + 1 s');

($r, $rc) = task('sfn:notify', { url => "$base/status/500", Message => 'm' });
is($r->{error}, 'States.TaskFailed', 'sfn:notify exhausted: TaskFailed');

# a 4xx is not retried

($r, $rc) = task('arn:aws:states:::sns:publish',
                 { TopicArn => "$base/status/403", Message => 'm' });
is($r->{error}, 'SNS.AuthorizationErrorException', 'notify 403');
is(scalar(grep { $_->{path} eq '/status/403' } requests()), 1,
   'notify 403: not retried');

# cancellation during the back-off

($r, $rc) = task('arn:aws:states:::sns:publish',
                 { TopicArn => "$base/status/599", Message => 'm' },
                 '--cancel-after', '0.2');
is($r->{error}, 'States.Timeout', 'notify cancelled while backing off');
ok($r->{served} < 1, 'notify cancelled: promptly');

done_testing();
