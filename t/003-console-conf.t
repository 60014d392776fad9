# sfn_console at configuration time: nginx -t accepts the tree's console
# and a root= of its own, and names what is wrong otherwise (an unknown
# parameter, a location not starting with "/", a character that would
# break config.json, a directory without the console, a duplicate); a
# root= copy is what is served; the module runs without a database or any
# state machine for a server that has only the console.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use File::Copy qw(copy);
use File::Path qw(make_path);
use HTTP::Tiny;

my $t = Sfn::Test->new;
my $dir = $t->dir;

sub conf {
    my ($directive) = @_;
    return "    server {\n        listen 127.0.0.1:%%PORT%%;\n"
           . "        location /console/ { $directive }\n    }\n";
}

make_path("$dir/copy", "$dir/empty");
copy("$Sfn::Test::ROOT/console/index.html", "$dir/copy/index.html")
    or die "copy: $!";
$t->write_file('copy/extra.js', "export const copied = 1;\n");

my @cases = (
    [ 'no parameter', 'sfn_console;', undef ],
    [ 'all parameters', 'sfn_console aws_api=/aws api=/x/ origin=/o/ '
                        . 'root=%%DIR%%/copy/;', undef ],
    [ 'unknown parameter', 'sfn_console foo=/x;',
      qr/invalid parameter "foo=\/x"/ ],
    [ 'empty value', 'sfn_console api=;', qr/invalid parameter "api="/ ],
    [ 'relative location', 'sfn_console api=executions/;',
      qr/"api=executions\/" must start with "\/"/ ],
    [ 'a quote in a location', "sfn_console 'origin=/v\"od/';",
      qr/invalid character in "origin=\/v"od\/"/ ],
    [ 'a backslash', "sfn_console 'origin=/v\\\\od/';",
      qr/invalid character/ ],
    [ 'a space', "sfn_console 'api=/a b/';", qr/invalid character/ ],
    [ 'no console there', 'sfn_console root=%%DIR%%/empty;',
      qr/sfn_console: no console in "[^"]+\/empty".*index\.html/ ],
    [ 'missing directory', 'sfn_console root=%%DIR%%/nowhere;',
      qr/no console in/ ],
    [ 'duplicate', 'sfn_console; sfn_console;', qr/is duplicate/ ],
);

for my $c (@cases) {
    my ($name, $directive, $want) = @$c;
    my ($rc, $out) = $t->nginx_test(conf($directive));
    if ($want) {
        isnt($rc, 0, "$name: rejected");
        like($out, $want, "$name: says why") or diag($out);
    } else {
        is($rc, 0, "$name: accepted") or diag($out);
    }
}

# a root of its own, in a server with nothing else of the module's (the
# log starts anew: the refusals above are [emerg] by design)

$t->write_file('logs/error.log', '');
$t->nginx_start(conf('sfn_console root=%%DIR%%/copy api=/x/;'));

my $r = $t->http('GET', '/console/extra.js');
is($r->{status}, 200, 'served from root=');
is($r->{content}, "export const copied = 1;\n", 'that file');
$r = $t->http('GET', '/console/config.json');
is($r->{content}, '{"awsApi":"/","api":"/x/","origin":"/vod/"}',
   'config.json with the given location and the defaults');
is($r->{headers}{'cache-control'}, 'no-store', 'never cached');
$r = $t->http('GET', '/console/app.js');
is($r->{status}, 404, 'the tree\'s files are not there');
$r = $t->http('GET', '/console/');
like($r->{content}, qr/ngx_sfn console/, 'index.html for the location');
$r = HTTP::Tiny->new(max_redirect => 0)
    ->get('http://127.0.0.1:' . $t->port . '/console');
is($r->{status}, 301, '/console redirected');
like($r->{headers}{location}, qr{/console/$}, 'to /console/');

$t->stop;
done_testing;
