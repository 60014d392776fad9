# Hostile input, issue 11 defects 8 and 9: uploads whose key clashes with
# the bucket's tree, or that the file system cannot name, get a 409 or 400
# JSON error and no [crit]; a key with a newline is logged escaped; a start
# naming an unknown bucket or state machine echoes exactly what was sent.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;

my $t = Sfn::Test->new;
my $dir = $t->dir;

$t->write_file('conf/hello.asl.json', <<'END');
{"StartAt": "Hello",
 "States": {"Hello": {"Type": "Pass", "End": true}}}
END

$t->nginx_start(<<'END', workers => 1);
    sfn_zone          sfn 4m;
    sfn_thread_pool   sfn;
    sfn_bucket        source %%DIR%%/source;
    sfn_state_machine hello %%DIR%%/conf/hello.asl.json;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /upload/       { sfn_upload source; }
        location = /start-hello { sfn_start hello; }
        location /start/        { sfn_start; }
    }
END

# the error log of this file: nothing at crit or above, no worker lost, and
# no line that does not begin as nginx begins one (a forged or broken line)

sub log_clean {
    my ($what) = @_;
    my $log = $t->read_file('logs/error.log') // '';
    my @bad = grep { !/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[([a-z]+)\] /
                     || $1 =~ /^(crit|alert|emerg)$/
                     || /exited on signal/ }
              split /\n/, $log;
    ok(!@bad, "$what: a clean error log") or diag(join "\n", @bad);
}

sub is_json_error {
    my ($r, $status, $what) = @_;
    is($r->{status}, $status, "$what: $status");
    like($r->{headers}{'content-type'} // '', qr{^application/json},
         "$what: a JSON body");
    ok(defined $r->{json}{error} && defined $r->{json}{message},
       "$what: with error and message");
}

# defect 8: a key that names a directory

mkdir "$dir/source";
mkdir "$dir/source/etc";
$t->write_file('source/etc/passwd', 'kept');

my $r = $t->http('PUT', '/upload/etc', 'data');
is_json_error($r, 409, 'PUT over a directory');
ok(-d "$dir/source/etc", 'the directory is still there');
is($t->read_file('source/etc/passwd'), 'kept', 'and what is in it');

$r = $t->http('PUT', '/upload/etc', '');
is_json_error($r, 409, 'an empty PUT over a directory');

# a key under a prefix that is a file

$r = $t->http('PUT', '/upload/x', 'file');
is($r->{status}, 201, 'x is a file');
$r = $t->http('PUT', '/upload/x/y', 'data');
is_json_error($r, 409, 'PUT under a file');
is($t->read_file('source/x'), 'file', 'the file is untouched');
$r = $t->http('PUT', '/upload/x/y/z', '');
is_json_error($r, 409, 'an empty PUT two levels under a file');

# a 300-byte segment

my $long = 'a' x 300;
$r = $t->http('PUT', "/upload/$long", 'data');
is_json_error($r, 400, 'a 300-byte segment');
$r = $t->http('PUT', "/upload/d/$long/e", 'data');
is_json_error($r, 400, 'a 300-byte segment inside the key');
$r = $t->http('PUT', '/upload/' . ('b' x 255), 'data');
is($r->{status}, 201, 'a 255-byte segment is fine');

log_clean('defect 8, conflicts');

# a newline in a key is logged escaped

$r = $t->http('PUT', '/upload/in/a%0aforged%20line.txt', 'data');
ok($r->{status} == 201 || $r->{status} == 400,
   "a key with %0a: $r->{status}");
my $forged = '2026/01/01%2000:00:00%20%5bnotice%5d%20forged';
$r = $t->http('PUT', "/upload/.sfn-x%0d%0a$forged", 'data');
is($r->{status}, 400, 'an invalid key with %0d%0a: 400');
$r = $t->http('PUT', "/upload/x/y%0a$long", 'data');
ok($r->{status} >= 400, "a failing key with %0a: $r->{status}");

my $log = $t->read_file('logs/error.log') // '';
unlike($log, qr/^forged line\.txt/m, 'no raw newline from a key');
unlike($log, qr/^2026\/01\/01 00:00:00 \[notice\] forged/m,
       'no forged log line');
like($log, qr/a\\x0aforged line\.txt/, 'the newline is written as \x0a');

log_clean('defect 8, escaping');

# defect 9: the error names exactly what was sent

for my $bucket ('zz', 'q', 'a-bucket-name-of-forty-bytes-0123456789',
                'zz' x 200) {
    for my $loc ('/start-hello', '/start/hello') {
        $r = $t->http('POST', $loc,
                      $t->json->encode({ bucket => $bucket, key => 'k' }));
        is($r->{status}, 400, "$loc, unknown bucket: 400");
        is($r->{json}{message}, qq(unknown bucket "$bucket"),
           "$loc echoes a " . length($bucket) . '-byte bucket exactly');
    }
}

for my $sm ('nosuch', 'x' x 100) {
    $r = $t->http('POST', '/start/',
                  $t->json->encode({ stateMachine => $sm, bucket => 'source',
                                     key => 'k' }));
    is($r->{status}, 404, 'unknown state machine: 404');
    is($r->{json}{message}, qq(state machine "$sm" does not exist),
       'the state machine name echoed exactly');
}

$r = $t->http('POST', '/start/nosuch', '{"bucket":"source","key":"k"}');
is($r->{json}{message}, 'state machine "nosuch" does not exist',
   'a state machine named in the path echoed exactly');

log_clean('defect 9');

$t->stop;

done_testing;
