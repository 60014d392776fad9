# The Debian package: `make deb` builds libnginx-mod-http-sfn with
# dh-sequence-nginx; installed, it puts the module in nginx's modules
# directory with its load_module snippet in modules-available, enabled by
# postinst in modules-enabled, and depends on the nginx ABI it was built
# for.  Debian's nginx then loads it (nginx -t on /etc/nginx/nginx.conf)
# and serves the console from the installed files with a bare
# "sfn_console;".  The package is removed at the end unless it was
# installed before.  Installing needs root: skipped otherwise (CI runs as
# root).  SFN_TEST_DEB=FILE tests that package instead of building one.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;

my $root = $Sfn::Test::ROOT;
my $pkg = 'libnginx-mod-http-sfn';

plan skip_all => 'installing a package needs root' if $> != 0;
plan skip_all => 'no dpkg-buildpackage (dpkg-dev)'
    if system('command -v dpkg-buildpackage >/dev/null 2>&1');
plan skip_all => 'no dh_nginx (nginx-dev)'
    if system('command -v dh_nginx >/dev/null 2>&1');

my $before = `dpkg-query -W -f='\${Status}' $pkg 2>/dev/null`
             =~ /install ok installed/;

# the package

my ($out, $deb);

if ($ENV{SFN_TEST_DEB}) {
    $deb = $ENV{SFN_TEST_DEB};

} else {
    $out = `cd '$root' && make -s deb 2>&1`;
    is($?, 0, 'make deb') or diag($out);
    ($deb) = glob("$root/build/deb/${pkg}_*.deb");
}

ok($deb && -s $deb, 'the package built') or BAIL_OUT('no package');

my $info = `dpkg-deb -f '$deb' Package Depends`;
like($info, qr/nginx-abi-[\d.]+-\d+/, 'depends on the nginx ABI');
like($info, qr/libpq5/, 'and on the libraries it links');

my $files = `dpkg-deb -c '$deb'`;
for my $f ('usr/lib/nginx/modules/ngx_http_sfn_module.so',
           'usr/share/nginx/modules-available/mod-http-sfn.conf',
           "usr/share/$pkg/console/index.html",
           "usr/share/$pkg/console/vendor/hls.light.min.js",
           "usr/share/$pkg/console/vendor/LICENSE-hls.js.txt",
           "usr/share/$pkg/sql/001_init.sql",
           "usr/share/doc/$pkg/examples/video-origin.conf",
           "usr/share/doc/$pkg/examples/video-workflow.asl.json")
{
    like($files, qr/\Q.\/$f\E\n/, "ships $f");
}

# installed: enabled by postinst, loaded by Debian's nginx

$out = `DEBIAN_FRONTEND=noninteractive dpkg -i '$deb' 2>&1`;
is($?, 0, 'dpkg -i') or diag($out);

my $link = "/etc/nginx/modules-enabled/50-mod-http-sfn.conf";
ok(-l $link, 'postinst enables it in modules-enabled');
is(readlink($link), '/usr/share/nginx/modules-available/mod-http-sfn.conf',
   'a link to modules-available');
is(Sfn::Test->read_file($link),
   "load_module modules/ngx_http_sfn_module.so;\n", 'the load_module line');

$out = `/usr/sbin/nginx -t -c /etc/nginx/nginx.conf 2>&1`;
is($?, 0, "Debian's nginx -t with the module enabled") or diag($out);

# a server of Debian's nginx with the installed module and console, in
# Debian's prefix (the snippet names modules/ relative to it)

my $t = Sfn::Test->new;
my $dir = $t->dir;
$t->{port} = Sfn::Test::free_port();

$t->write_file('conf/nginx.conf', $t->subst(<<'END'));
include /etc/nginx/modules-enabled/*.conf;
error_log %%DIR%%/logs/error.log info;
pid %%DIR%%/logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %%DIR%%/client_body_temp;
    proxy_temp_path %%DIR%%/proxy_temp;
    fastcgi_temp_path %%DIR%%/fastcgi_temp;
    uwsgi_temp_path %%DIR%%/uwsgi_temp;
    scgi_temp_path %%DIR%%/scgi_temp;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /console/ { sfn_console; }
    }
}
END

my @nginx = ('/usr/sbin/nginx', '-c', "$dir/conf/nginx.conf",
             '-e', "$dir/logs/error.log");

$out = `@nginx -t 2>&1`;
is($?, 0, 'sfn_console with the installed files') or diag($out);

system(@nginx) == 0
    or diag('nginx did not start');
$t->{nginx} = 1;
$t->wait_port($t->port);

my $r = $t->http('GET', '/console/');
is($r->{status}, 200, 'the console served');
like($r->{content}, qr/ngx_sfn console/, 'its page');
$r = $t->http('GET', '/console/config.json');
like($r->{content}, qr/"awsApi":"\/"/, 'and its config.json');
$r = $t->http('GET', '/console/vendor/hls.light.min.js');
is($r->{status}, 200, 'and hls.js');

$t->nginx_stop;
delete $t->{nginx};
$t->check_log;

# leave the machine as it was

if (!$before) {
    $out = `dpkg --purge $pkg 2>&1`;
    is($?, 0, 'purged') or diag($out);
    ok(!-e $link, 'the module disabled again');
}

done_testing;
