# Hostile HTTP around the AWS API, the origin, uploads, the console and
# metrics: the origin answers a request for several ranges with the whole
# file, as S3 does, never a multipart reply many times the file's size; a
# single range, a suffix, an unsatisfiable one behave as before.  Paths
# that climb out of a location (.., %2e%2e, backslashes, NUL, reserved
# names), chunked bodies good and broken, Content-Length lies, pipelined
# requests, HTTP/1.0, slow clients holding connections: each gets a clean
# 4xx (or its honest answer), the worker answers throughout, nothing is
# left behind in the bucket and the error log stays clean.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep time);
use IO::Socket::INET;
use Sfn::Test;

my $t = Sfn::Test->new;
$t->pg_start;

my $dir = $t->dir;
$t->write_file('conf/pass.asl.json',
               '{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}');
$t->write_file('source/.keep', '');
$t->write_file('output/hls/job1/a.ts', join '', map { chr(65 + $_ % 26) }
                                               0 .. 999);
$t->write_file('output/.sfn-published/job1.json', '{}');
$t->write_file('output/secret.txt', 'secret');

$t->nginx_start($t->sfn_http(
    buckets => [ source => 'source', output => 'output' ],
    machines => [ pass => 'pass.asl.json' ],
    server => <<'END'), workers => 1);
location = /          { sfn_aws_api; }
location /upload/     { sfn_upload source; sfn_trigger pass suffix=.json;
                        client_max_body_size 10k; }
location /vod/        { sfn_origin output; }
location /console/    { sfn_console; }
location = /metrics   { sfn_metrics; }
location /executions/ { sfn_api; }
location = /ping      { return 200 pong; }
END

my $port = $t->port;
my $file = $t->read_file('output/hls/job1/a.ts');

# bytes on a socket of their own: the status lines of what came back

sub wire {
    my ($bytes, $wait) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
        or die "connect: $!";
    print $s $bytes;
    $s->blocking(0);
    my ($buf, $t0) = ('', time);
    while (time - $t0 < ($wait // 3)) {
        my $n = sysread($s, my $c, 65536);
        last if defined $n && $n == 0;
        $buf .= $c if $n;
        sleep 0.02;
    }
    return join ',', $buf =~ m{HTTP/1\.[01] (\d{3}) }g;
}

sub api {
    my ($extra, $body) = @_;
    return "POST / HTTP/1.1\r\nHost: x\r\n"
           . "X-Amz-Target: AWSStepFunctions.ListStateMachines\r\n"
           . $extra . "\r\n" . ($body // '');
}

sub pings {
    my ($what) = @_;
    my $t0 = time;
    is($t->http('GET', '/ping')->{status}, 200, "$what: the worker answers");
    ok(time - $t0 < 1, "$what: at once");
}

# ranges at the origin

my $vod = '/vod/hls/job1/a.ts';
for my $c ([ 'bytes=0-9', 206, substr($file, 0, 10), 'bytes 0-9/1000' ],
           [ 'bytes=-10', 206, substr($file, 990), 'bytes 990-999/1000' ],
           [ 'bytes=990-', 206, substr($file, 990), 'bytes 990-999/1000' ],
           [ 'bytes=1000-', 416, undef, 'bytes */1000' ],
           [ 'bytes=5-2', 416, undef, 'bytes */1000' ],
           [ 'bytes=abc', 416, undef, 'bytes */1000' ],
           [ 'bytes=0-1,5-6', 200, $file, undef ],
           [ 'bytes=0-1,0-1,0-1', 200, $file, undef ],
           [ 'bytes=' . join(',', map { "$_-$_" } 0 .. 300), 200, $file,
             undef ],
           [ 'items=0-1', 200, $file, undef ]) {
    my ($range, $status, $body, $cr) = @$c;
    my $r = $t->http('GET', $vod, undef, { Range => $range });
    my $what = 'Range ' . substr($range, 0, 30);
    is($r->{status}, $status, "$what: $status");
    is($r->{content}, $body, "$what: the bytes") if defined $body;
    is($r->{headers}{'content-range'}, $cr, "$what: Content-Range");
    unlike($r->{headers}{'content-type'} // '', qr/multipart/,
           "$what: never multipart");
}

# paths that would leave the origin's bucket or reach what it hides

for my $p ('/vod/hls/job1/../../secret.txt',
           '/vod/hls/job1/%2e%2e/%2e%2e/secret.txt',
           '/vod/hls/job1/.%2e/.%2e/secret.txt',
           '/vod/hls/%2e%2e/job1/a.ts', '/vod/hls/job1\\..\\..\\secret.txt',
           '/vod/secret.txt', '/vod/.sfn-published/job1.json',
           '/vod/x/.sfn-published/job1.json', '/vod/hls/job1/%2fetc%2fpasswd',
           '/vod/hls/job1/a.ts/', '/vod/' . ('a/' x 600) . 'x.ts') {
    my $r = $t->http('GET', $p);
    is($r->{status}, 404, 'origin ' . substr($p, 0, 50) . ': 404');
}
is($t->http('GET', '/vod/hls/job1/a.ts%00.m3u8')->{status}, 400,
   'origin with %00: 400');
is($t->http('GET', '/vod//hls/job1/a.ts')->{content}, $file,
   'origin with // merged: the file');

# uploads: keys that climb, hide or cannot be named; bodies that lie

my %put = ('/upload/a\\..\\b.json' => 400, '/upload/a%00b.json' => 400,
           '/upload/.sfn-upload/x' => 400, '/upload/.sfn-published/x.json'
           => 400, '/upload/' => 400, '/upload/a/' => 400,
           '/upload/%ff.json' => 400, '/upload/a%0d%0ab.json' => 400,
           '/upload/' . ('x' x 256) => 400, '/upload/../x.json' => 405,
           '/upload/%2e%2e/x.json' => 405);
for my $p (sort keys %put) {
    my $r = $t->http('PUT', $p, '{"k":1}');
    is($r->{status}, $put{$p}, 'PUT ' . substr($p, 0, 40) . ": $put{$p}");
}

is(wire("PUT /upload/neg.json HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n"
        . "Connection: close\r\n\r\n"), '400', 'PUT Content-Length -5: 400');
is(wire("PUT /upload/huge.json HTTP/1.1\r\nHost: x\r\n"
        . "Content-Length: 99999999999\r\nConnection: close\r\n\r\nabc"),
   '413', 'PUT Content-Length past the limit: 413');
is(wire("PUT /upload/cut.json HTTP/1.1\r\nHost: x\r\n"
        . "Content-Length: 5000\r\n\r\nabc", 1), '',
   'PUT cut short, the client gone: no answer');
is(wire("PUT /upload/chunk.json HTTP/1.1\r\nHost: x\r\n"
        . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        . "7\r\n{\"k\":1}\r\n0\r\n\r\n"), '201', 'PUT chunked: 201');
is(wire("PUT /upload/big.json HTTP/1.1\r\nHost: x\r\n"
        . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        . ("1000\r\n" . ('x' x 4096) . "\r\n") x 5 . "0\r\n\r\n"), '413',
   'PUT chunked past the limit: 413');
is(wire("PUT /upload/chunkcut.json HTTP/1.1\r\nHost: x\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n100\r\nabc", 1), '',
   'PUT chunked cut short: no answer');
sleep 0.5;
my @left = glob("$dir/source/.sfn-upload/*");
is(scalar @left, 0, 'no upload temporary left behind');
ok(!-e "$dir/source/$_", "no $_ in the bucket")
    for qw(neg.json huge.json cut.json big.json chunkcut.json);
is($t->read_file('source/chunk.json'), '{"k":1}', 'the chunked body whole');

pings('after the uploads');

# the API on the wire

is(wire(api("Transfer-Encoding: chunked\r\nConnection: close\r\n",
            "2\r\n{}\r\n0\r\n\r\n")), '200', 'API chunked: 200');
is(wire(api("Transfer-Encoding: chunked\r\nConnection: close\r\n",
            "zz\r\n{}\r\n0\r\n\r\n")), '400', 'API bad chunk size: 400');
is(wire(api("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"
            . "Connection: close\r\n", "2\r\n{}\r\n0\r\n\r\n")), '400',
   'API Content-Length and chunked: 400');
is(wire(api("Content-Length: -1\r\nConnection: close\r\n", '{}')), '400',
   'API Content-Length -1: 400');
is(wire(api("Content-Length: 2\r\nContent-Length: 3\r\n"
            . "Connection: close\r\n", '{} ')), '400',
   'API two Content-Lengths: 400');
is(wire(api("Content-Length: 3000000\r\nConnection: close\r\n", '{}')),
   '413', 'API body past client_max_body_size: 413');
is(wire(api("Content-Length: 100\r\n", '{}'), 1), '',
   'API body cut short: no answer');
is(wire(join('', map { api("Content-Length: 2\r\n", '{}') } 1 .. 3)
        . "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
   '200,200,200,200', 'API pipelined: every answer, in order');
is(wire("POST / HTTP/1.0\r\nX-Amz-Target: AWSStepFunctions."
        . "ListStateMachines\r\nContent-Length: 2\r\n\r\n{}"), '200',
   'API over HTTP/1.0: 200');
is(wire("POST / HTTP/1.0\r\nX-Amz-Target: AWSStepFunctions."
        . "ListStateMachines\r\n\r\n"), '200', 'API without a body: 200');

# twenty clients that trickle their bodies hold connections, not the worker

my @slow;
for (1 .. 20) {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or last;
    print $s api("Content-Length: 1000\r\n", '{');
    push @slow, $s;
}
for (1 .. 3) {
    print $_ ' ' for @slow;
    pings("slow clients, turn $_");
}
my $r = $t->http('POST', '/', '{}',
                 { 'X-Amz-Target' => 'AWSStepFunctions.ListStateMachines' });
is($r->{status}, 200, 'the API answers others meanwhile');
close $_ for @slow;

# the console and metrics

for my $p ('/console/../conf/nginx.conf', '/console/%2e%2e/%2e%2e/etc/passwd',
           '/console/nonexist.js', '/console/' . ('a' x 5000),
           '/executions/%00', '/executions/' . ('a' x 300)) {
    $r = $t->http('GET', $p);
    ok($r->{status} >= 400 && $r->{status} < 500,
       'GET ' . substr($p, 0, 40) . ": $r->{status}");
    unlike($r->{content} // '', qr/sfn_aws_api|root:/,
           '... and nothing of the file system');
}
is($t->http('GET', '/console/x%00.js')->{status}, 400, 'console %00: 400');
is($t->http('POST', '/metrics', 'x')->{status}, 405, 'POST /metrics: 405');
is($t->http('GET', '/metrics?x=../..')->{status}, 200, '/metrics?..: 200');

pings('at the end');
$t->log_clean('hostile http');

$t->stop;

done_testing;
