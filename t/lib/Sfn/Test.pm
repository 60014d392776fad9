package Sfn::Test;

# A small harness for ngx_sfn integration tests, modelled on nginx-tests'
# Test::Nginx: a temporary prefix, free loopback ports, a private PostgreSQL
# cluster, nginx started and stopped by PID, and error.log scanned for
# [alert], [crit] and [emerg] on teardown.  Core Perl only.
#
# SFN_TEST_SAN=1 (make prove SAN=1): the module and tools come from
# build/san, built with ASan + UBSan; nginx runs with libasan preloaded,
# sanitizer reports go to files (logs/asan.PID in the test prefix, a
# private directory for the tools), and any report fails the test.  gcc's
# UBSan runtime, loaded beside ASan's, ignores log_path and writes to
# stderr: that is error.log for nginx's workers, logs/san-stderr for its
# start and nginx -t, files beside the tools' reports for sfn-task; all
# are scanned.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use Fcntl qw(:flock);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

our $ROOT = abs_path(dirname(__FILE__) . '/../../..');
our $NGINX = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
our $SAN = $ENV{SFN_TEST_SAN} ? 1 : 0;
our $BUILD = $SAN ? "$ROOT/build/san" : "$ROOT/build";
our $MODULE = "$BUILD/ngx_http_sfn_module.so";

my $JSON = JSON::PP->new->canonical->allow_nonref;
my $TASK_JSON = JSON::PP->new->utf8->canonical;

# the sanitizer options; halt at the first report, leaks are not checked
# (nginx and libav keep memory for the life of the process by design)

sub san_env {
    my ($log) = @_;
    return (ASAN_OPTIONS => "detect_leaks=0:halt_on_error=1:abort_on_error=0"
                            . ":detect_stack_use_after_return=0"
                            . ":log_path=$log/asan",
            UBSAN_OPTIONS => "print_stacktrace=1:halt_on_error=1"
                             . ":log_path=$log/ubsan");
}

# sanitizer reports in a directory: the report files (asan.PID,
# ubsan.PID), and reports written to stderr (error.log, san-stderr,
# stderr.N), each with the lines after it

my $SAN_REPORT = qr/runtime error:|ERROR: AddressSanitizer|SUMMARY: \w+San/;

sub san_reports {
    my ($dir) = @_;
    my @text;
    for my $f (sort glob("$dir/asan.* $dir/ubsan.* $dir/error.log "
                         . "$dir/san-stderr $dir/stderr.*"))
    {
        open my $fh, '<', $f or next;
        local $/;
        my $r = <$fh> // '';
        if ($f =~ m{/u?b?asan\.\d+$|/ubsan\.\d+$}) {
            push @text, "$f:\n$r" if $r =~ /\S/;
        } elsif ($r =~ /^(.*?(?:$SAN_REPORT).*(?:\n.*){0,30})/m) {
            push @text, "$f:\n$1\n";
        }
    }
    return @text;
}

# tools (build/san/sfn-task) report into a directory of their own; a
# report there, or in the logs of any prefix (nginx -t too), fails the
# test file at exit

my ($san_tools, @san_dirs);
my $san_runs = 0;
my $san_pid = $$;

if ($SAN) {
    $san_tools = tempdir('sfn-san-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my %e = san_env($san_tools);
    @ENV{keys %e} = values %e;
    push @san_dirs, $san_tools;
}

END {
    if ($SAN && $$ == $san_pid) {
        my @r = map { san_reports($_) } @san_dirs;
        if (@r) {
            Test::More::diag("sanitizer reports:\n", @r);
            $? ||= 1;
        }
    }
}

# a built tool (sfn-task, sfn) of this build, or skip the whole file

sub tool {
    my ($name) = @_;
    return "$BUILD/$name";
}

sub need_tool {
    my ($name) = @_;
    my $tool = tool($name);
    plan(skip_all => "$tool not built") unless -x $tool;
    return $tool;
}

# an npm package (the library alone, never a browser download) installed
# at test time into a prefix of its own under t/.node, or skip the whole
# file: the package's directory

sub need_npm {
    my ($name) = @_;
    plan(skip_all => 'node is not installed')
        if system('node -v >/dev/null 2>&1');
    (my $prefix = "$ROOT/t/.node/$name") =~ s/\@//g;
    my $dir = "$prefix/node_modules/$name";
    # tests run at once (prove -j) install a package once, one at a time
    make_path("$ROOT/t/.node");
    open my $lock, '>', "$ROOT/t/.node/.lock" or die "t/.node/.lock: $!\n";
    flock $lock, LOCK_EX or die "flock: $!\n";
    system("npm install --no-save --no-package-lock --no-audit --no-fund "
           . "--prefix '$prefix' '$name' >/dev/null 2>&1")
        unless -d $dir;
    close $lock;
    plan(skip_all => "npm install $name failed (no registry?)")
        unless -d $dir;
    return $dir;
}

sub need_ffmpeg {
    plan(skip_all => 'ffmpeg not installed')
        if system('ffmpeg -version >/dev/null 2>&1');
}

sub need_postgres {
    plan(skip_all => 'no PostgreSQL server binaries')
        unless -x pg_bin('initdb');
}

sub new {
    my ($class, %opts) = @_;

    my $dir = tempdir('sfn-test-XXXXXX', TMPDIR => 1,
                      CLEANUP => !$ENV{SFN_TEST_KEEP});
    chmod 0755, $dir;

    make_path("$dir/conf", "$dir/logs", "$dir/html");

    my $self = bless { dir => $dir, %opts }, $class;
    push @san_dirs, "$dir/logs" if $SAN;
    return $self;
}

sub dir { $_[0]{dir} }
sub port { $_[0]{port} }
sub json { $JSON }

# a port nothing listens on, below the kernel's ephemeral ports: no
# connect() of this test or another takes it as its local port between
# this check and the server's bind (Linux's range starts at 32768)

my @ports;

sub free_port {
    if (!@ports) {
        my $top = 32768;
        if (open my $fh, '<', '/proc/sys/net/ipv4/ip_local_port_range') {
            my ($first) = split ' ', <$fh> // '';
            $top = $first if $first && $first > 12000;
        }
        @ports = (10000, $top);
    }
    for (1 .. 100) {
        my $port = $ports[0] + int(rand($ports[1] - $ports[0]));
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $port, Proto => 'tcp',
                                      ReuseAddr => 1, Listen => 1)
            or next;
        close $s;
        return $port;
    }
    die "no free port\n";
}

sub write_file {
    my ($self, $name, $content) = @_;
    my $path = $name =~ m{^/} ? $name : "$self->{dir}/$name";
    make_path(dirname($path));
    open my $fh, '>', $path or die "$path: $!\n";
    binmode $fh;
    print $fh $content;
    close $fh;
    return $path;
}

sub read_file {
    my ($self, $name) = @_;
    my $path = $name =~ m{^/} ? $name : "$self->{dir}/$name";
    open my $fh, '<', $path or return undef;
    binmode $fh;
    local $/;
    return scalar <$fh>;
}

sub run_as_postgres {
    my (@cmd) = @_;
    return $> == 0 ? ('runuser', '-u', 'postgres', '--', @cmd) : @cmd;
}

# system() with stdout silenced: initdb and pg_ctl chatter on the TAP stream

sub quiet {
    my (@cmd) = @_;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return $?;
}

sub pg_bin {
    my ($name) = @_;
    for my $d (glob('/usr/lib/postgresql/*/bin')) {
        return "$d/$name" if -x "$d/$name";
    }
    return $name;
}

# an empty data directory PostgreSQL's user may write

sub pg_data_dir {
    my ($data) = @_;
    make_path($data);
    chmod 0700, $data;
    if ($> == 0) {
        my (undef, undef, $uid, $gid) = getpwnam('postgres')
            or die "no postgres user\n";
        chown $uid, $gid, $data;
    }
    return $data;
}

sub pg_ctl_start {
    my ($data, $port, $sync, $settings) = @_;
    my $log = "$data/postgres.log";
    my $more = join '', map { " -c $_=$settings->{$_}" }
                        sort keys %{ $settings // {} };
    quiet(run_as_postgres(pg_bin('pg_ctl'), '-D', $data, '-l', $log, '-w',
           '-o', "-c listen_addresses=127.0.0.1 -p $port -k $data "
               . "-c fsync=$sync -c full_page_writes=$sync$more",
           'start') ) == 0 or die "pg_ctl start failed:\n"
        . (`tail -20 $log` // '');
}

# initdb and CREATE DATABASE sfn once per PostgreSQL version: a cluster
# kept in build/ (by its server's version), which each test copies into
# its prefix.  Made in a temporary prefix, copied beside the template's
# name and renamed to it: tests that run at once never see half of one.
# Remove build/t after changing how the template is made

my $pg_template;

sub pg_template {
    return $pg_template if $pg_template;
    my $version = `'${\pg_bin('postgres')}' --version` // '';
    $version =~ /(\d+(?:\.\d+)*)/ or die "no PostgreSQL version\n";
    my $dir = "$BUILD/t";
    $pg_template = "$dir/pg-$1";
    return $pg_template if -f "$pg_template/PG_VERSION";

    make_path($dir);
    my $tmp = tempdir('sfn-pg-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $tmp;
    my $data = pg_data_dir("$tmp/pg");
    quiet(run_as_postgres(pg_bin('initdb'), '-D', $data, '-A', 'trust',
           '-U', 'postgres', '--no-sync', '-E', 'UTF8')) == 0
        or die "initdb failed\n";
    my $port = free_port();
    pg_ctl_start($data, $port, 'off');
    my $made = quiet(pg_bin('psql'), '-X', '-q', '-h', '127.0.0.1',
                     '-p', $port, '-U', 'postgres', '-d', 'postgres',
                     '-c', 'CREATE DATABASE sfn');
    quiet(run_as_postgres(pg_bin('pg_ctl'), '-D', $data, '-w', '-m', 'fast',
           'stop')) == 0 or die "pg_ctl stop failed\n";
    $made == 0 or die "CREATE DATABASE sfn failed\n";
    unlink "$data/postgres.log";

    my $part = "$pg_template.$$";
    system('cp', '-a', $data, $part) == 0 or die "cp $data: $?\n";
    system('rm', '-rf', $data);
    rename $part, $pg_template
        or system('rm', '-rf', $part) == 0 && -f "$pg_template/PG_VERSION"
        or die "$pg_template: $!\n";
    return $pg_template;
}

# a private cluster on 127.0.0.1, socket in the test directory: a copy of
# the template, with its database sfn; settings => { name => value } are
# given to the server (and again by pg_start_again)

sub pg_start {
    my ($self, %opts) = @_;
    my $sync = $opts{fsync} ? 'on' : 'off';

    my $data = "$self->{dir}/pg";
    my $port = free_port();
    my $fresh = !-f "$data/PG_VERSION";

    if ($fresh) {
        my $template = pg_template();
        rmdir $data;
        system('cp', '-a', $template, $data) == 0
            or die "cp $template: $?\n";
    }

    pg_ctl_start($data, $port, $sync, $opts{settings});

    $self->{pg_data} = $data;
    $self->{pg_port} = $port;
    $self->{pg_sync} = $sync;
    $self->{pg_settings} = $opts{settings};

    $self->psql_db('postgres', 'CREATE DATABASE sfn') unless $fresh;

    return $self->conninfo;
}

sub pg_stop {
    my ($self) = @_;
    return unless $self->{pg_data};
    quiet(run_as_postgres(pg_bin('pg_ctl'), '-D', $self->{pg_data}, '-w',
           '-m', 'fast', 'stop'));
}

sub conninfo {
    my ($self) = @_;
    return "host=127.0.0.1 port=$self->{pg_port} dbname=sfn user=postgres";
}

sub psql_db {
    my ($self, $db, $sql) = @_;
    open my $fh, '-|', pg_bin('psql'), '-X', '-q', '-A', '-t', '-v',
        'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', $self->{pg_port},
        '-U', 'postgres', '-d', $db, '-c', $sql
        or die "psql: $!\n";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    $out =~ s/\s+\z//;
    return $out;
}

sub psql {
    my ($self, $sql) = @_;
    return $self->psql_db('sfn', $sql);
}

# nginx.conf around the given http{} body; %%PORT%%, %%DIR%%, %%ROOT%% and
# %%DATABASE%% are replaced

sub nginx_conf {
    my ($self, $http, %opts) = @_;

    $self->{port} //= free_port();

    my $workers = $opts{workers} // 1;
    $self->{workers} = $workers;
    my $connections = $opts{connections} // 256;
    my $user = $> == 0 ? "user root;\n" : '';
    my $main = $opts{main} // "thread_pool sfn threads=2 max_queue=64;\n";
    $main .= "worker_rlimit_core 4g;\nworking_directory $self->{dir};\n"
        if $ENV{SFN_TEST_CORE};

    my $conf = <<"EOF";
load_module $MODULE;
${user}worker_processes $workers;
pid logs/nginx.pid;
error_log logs/error.log info;
worker_shutdown_timeout 5s;
$main
events { worker_connections $connections; }

http {
    access_log logs/access.log;
    client_body_temp_path %%DIR%%/client_body_temp;
    proxy_temp_path %%DIR%%/proxy_temp;
    fastcgi_temp_path %%DIR%%/fastcgi_temp;
    uwsgi_temp_path %%DIR%%/uwsgi_temp;
    scgi_temp_path %%DIR%%/scgi_temp;

$http
}
EOF
    return $self->subst($conf);
}

# the http{} body most tests share: sfn_zone (zone => size), sfn_database
# unless database => 0, sfn_thread_pool, buckets => [NAME => directory in
# the prefix, ...], machines => [NAME => file in conf/, ...], more http
# directives (http => text), and one server on %%PORT%% holding the text
# of server => (its locations)

sub sfn_http {
    my ($self, %o) = @_;
    my $line = sub { sprintf "    %-17s %s;\n", @_ };
    my $h = $line->('sfn_zone', 'sfn ' . ($o{zone} // '4m'));
    $h .= $line->('sfn_database', '"%%DATABASE%%"') if $o{database} // 1;
    $h .= $line->('sfn_thread_pool', 'sfn');
    my @b = @{ $o{buckets} // [] };
    while (my ($name, $path) = splice @b, 0, 2) {
        $h .= $line->('sfn_bucket', "$name %%DIR%%/$path");
    }
    my @m = @{ $o{machines} // [] };
    while (my ($name, $file) = splice @m, 0, 2) {
        $h .= $line->('sfn_state_machine', "$name %%DIR%%/conf/$file");
    }
    $h .= $o{http} // '';
    my $server = $o{server} // '';
    $server =~ s/^/        /mg;
    return "$h\n    server {\n        listen 127.0.0.1:%%PORT%%;\n\n"
           . "$server    }\n";
}

sub subst {
    my ($self, $text) = @_;
    my $port = $self->{port} // '';
    my $db = $self->{pg_port} ? $self->conninfo : '';
    $text =~ s/%%PORT%%/$port/g;
    $text =~ s/%%DIR%%/$self->{dir}/g;
    $text =~ s/%%ROOT%%/$ROOT/g;
    $text =~ s/%%DATABASE%%/$db/g;
    return $text;
}

sub nginx_cmd {
    my ($self, @args) = @_;
    my @env;
    if ($SAN) {
        my %e = san_env("$self->{dir}/logs");
        @env = ('env', 'LD_PRELOAD=' . san_runtime(),
                map { "$_=$e{$_}" } sort keys %e);
    }
    return (@env, $NGINX, '-p', "$self->{dir}/", '-c', 'conf/nginx.conf',
            '-e', 'logs/error.log', @args);
}

# what nginx -t printed, kept for check_san

sub san_stderr {
    my ($self, $text) = @_;
    return unless $SAN;
    open my $fh, '>>', "$self->{dir}/logs/san-stderr" or return;
    print $fh $text;
    close $fh;
}

# nginx is not instrumented: the runtime must come first in its link map

my $san_runtime;

sub san_runtime {
    $san_runtime //= do {
        my $cc = $ENV{CC} || 'cc';
        my $lib = `$cc -print-file-name=libasan.so`;
        chomp $lib;
        die "libasan.so not found by $cc\n" unless $lib =~ m{^/} && -e $lib;
        $lib;
    };
    return $san_runtime;
}

# nginx -t: (exit code, output)

sub nginx_test {
    my ($self, $http, %opts) = @_;
    $self->write_file('conf/nginx.conf', $self->nginx_conf($http, %opts));
    my $cmd = join ' ', map { "'$_'" } $self->nginx_cmd('-t');
    my $out = `$cmd 2>&1`;
    my $rc = $? >> 8;
    $self->san_stderr($out);
    return ($rc, $out);
}

sub nginx_start {
    my ($self, $http, %opts) = @_;

    $self->write_file('conf/nginx.conf', $self->nginx_conf($http, %opts));

    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        # until nginx opens error.log, its stderr is kept for check_san
        open STDERR, '>>', "$self->{dir}/logs/san-stderr" if $SAN;
        exec { ($self->nginx_cmd)[0] } $self->nginx_cmd
            or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    $? == 0
        or die "nginx failed to start:\n"
               . ($self->read_file('logs/error.log') // '')
               . ($self->read_file('logs/san-stderr') // '');

    $self->wait_port($self->{port}) or die "nginx is not listening\n";
    $self->{nginx} = 1;
    return $self;
}

# PostgreSQL (unless this prefix has it or shares another's) and nginx

sub start {
    my ($self, $http, %opts) = @_;
    $self->pg_start unless $self->{pg_port};
    return $self->nginx_start($http, %opts);
}

# another prefix (a second node) on this one's PostgreSQL

sub node {
    my ($self) = @_;
    my $node = (ref $self)->new;
    $node->{pg_port} = $self->{pg_port};
    return $node;
}

sub nginx_pid {
    my ($self) = @_;
    my $pid = $self->read_file('logs/nginx.pid') // '';
    chomp $pid;
    return $pid;
}

# SIGHUP, then the new workers (one a worker_processes) run: false if
# they did not within 30 s.  The old ones may still be finishing

sub nginx_reload {
    my ($self) = @_;
    my %old = map { $_ => 1 } $self->nginx_workers;
    kill 'HUP', $self->nginx_pid;
    return $self->wait_for(sub {
        (grep { !$old{$_} } $self->nginx_workers) >= $self->{workers}
    });
}

sub nginx_stop {
    my ($self) = @_;
    return unless $self->{nginx};
    my $pid = $self->nginx_pid;
    if ($pid) {
        kill 'QUIT', $pid;
        for (1 .. 100) {
            last unless kill 0, $pid;
            sleep 0.1;
        }
        kill 'KILL', $pid if kill 0, $pid;
    }
    $self->{nginx} = 0;
}

sub nginx_workers {
    my ($self) = @_;
    my $master = $self->nginx_pid;
    my @pids = map { s/\s+//gr } grep { /\d/ } `ps -o pid= --ppid $master`;
    return @pids;
}

sub pg_start_again {
    my ($self) = @_;
    pg_ctl_start($self->{pg_data}, $self->{pg_port}, $self->{pg_sync},
                 $self->{pg_settings});
}

# the connections nginx's writers made to PostgreSQL, one a worker at
# its start and after each loss (error.log)

sub pg_writers {
    my ($self) = @_;
    return () = ($self->read_file('logs/error.log') // '')
                =~ /sfn database: connected$/mg;
}

# PostgreSQL stopped for down seconds (its outage, the scenario of a
# test), started again, then nginx's writers connected again (they try
# every second), one a worker: false if they did not within 60 s

sub pg_restart {
    my ($self, $down) = @_;
    my $n = $self->pg_writers;
    $self->pg_stop;
    sleep $down if $down;
    $self->pg_start_again;
    return 1 unless $self->{nginx};
    return $self->wait_for(
        sub { $self->pg_writers >= $n + $self->{workers} }, 60);
}

sub wait_port {
    my ($self, $port) = @_;
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
        return 1 if $s;
        sleep 0.05;
    }
    return 0;
}

sub http {
    my ($self, $method, $path, $body, $headers) = @_;
    my $ua = HTTP::Tiny->new(timeout => 30);
    my %o = (headers => $headers // {});
    $o{content} = $body if defined $body;
    my $r = $ua->request($method, "http://127.0.0.1:$self->{port}$path", \%o);
    $r->{json} = eval { $JSON->decode($r->{content}) }
        if ($r->{headers}{'content-type'} // '') =~ /json/;
    return $r;
}

# polls GET /executions/NAME until the execution leaves RUNNING

sub wait_execution {
    my ($self, $name, $timeout, $prefix, $headers) = @_;
    $timeout //= 30;
    $prefix //= '/executions/';
    my $deadline = time + $timeout;
    my $r;
    while (time < $deadline) {
        $r = $self->http('GET', "$prefix$name", undef, $headers);
        return $r->{json}
            if $r->{json} && ($r->{json}{status} // '') ne 'RUNNING';
        sleep 0.1;
    }
    return $r->{json};
}

sub ffmpeg {
    my ($self, @args) = @_;
    system('ffmpeg', '-nostdin', '-v', 'error', '-y', @args) == 0
        or die "ffmpeg @args failed\n";
}

# the key frames of a media file or playlist, in seconds from the first,
# as "%.1f" strings (ffprobe's packet flags)

sub keyframes {
    my ($file) = @_;
    my @k = map { (split /,/)[0] }
            grep { /K/ } split /\n/,
            `ffprobe -v error -select_streams v -show_entries packet=pts_time,flags -of csv=p=0 "$file"`;
    return [map { sprintf('%.1f', $_ - $k[0]) } @k];
}

# a generated clip: lavfi testsrc2 as H.264 (ultrafast), with a sine tone
# as AAC unless audio => 0.  size, rate, sine (the tone's options); either
# duration (of the sources, then -shortest) or t (of the output); args:
# more output options.  A class method too: Sfn::Test->lavfi_clip(...)

sub lavfi_clip {
    my ($self, $path, %o) = @_;
    my $audio = $o{audio} // 1;
    my $d = defined $o{duration} ? ":duration=$o{duration}" : '';
    my @a = ('-f', 'lavfi', '-i',
             'testsrc2=size=' . ($o{size} // '320x180')
             . ':rate=' . ($o{rate} // 25) . $d);
    push @a, '-f', 'lavfi', '-i', 'sine=' . ($o{sine} // 'frequency=440') . $d
        if $audio;
    push @a, '-t', $o{t} if defined $o{t};
    push @a, '-c:v', 'libx264', '-preset', 'ultrafast';
    push @a, '-c:a', 'aac' if $audio;
    push @a, @{ $o{args} // [] };
    push @a, '-shortest' if $audio && $d;
    $self->ffmpeg(@a, $path);
    return $path;
}

# build/sfn-task RESOURCE DIR/in.json: the input (a structure, or JSON
# text) is written to DIR/in.json; buckets => { NAME => DIR }, args =>
# [more arguments], env => { VAR => value }, stderr => 1 to read it with
# stdout.  (the decoded reply or { raw => output }, the exit code)

sub run_task {
    my ($resource, $input, %o) = @_;
    my $dir = $o{dir} // die "run_task: no dir\n";

    open my $f, '>', "$dir/in.json" or die "$dir/in.json: $!\n";
    print $f ref $input ? $TASK_JSON->encode($input) : $input;
    close $f;

    my @cmd = (tool('sfn-task'), $resource, "$dir/in.json",
               (map { ('--bucket', "$_=$o{buckets}{$_}") }
                sort keys %{ $o{buckets} // {} }),
               @{ $o{args} // [] });

    local @ENV{keys %{ $o{env} // {} }} = values %{ $o{env} // {} };

    # in a SAN run stderr goes to a file beside the tools' reports (and
    # follows stdout when stderr => 1)

    my $err = $SAN ? "$san_tools/stderr." . ++$san_runs : undef;

    my $pid = open(my $out, '-|') // die "fork: $!\n";
    if ($pid == 0) {
        open STDERR, $err ? ">$err" : $o{stderr} ? '>&STDOUT' : '>/dev/null';
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }
    local $/;
    my $text = <$out> // '';
    close $out;
    my $rc = $? >> 8;

    if ($err && $o{stderr} && open my $fh, '<', $err) {
        $text .= <$fh> // '';
    }

    my $r = eval { $TASK_JSON->decode($text) };
    $r = { raw => $text } unless ref $r eq 'HASH';
    return ($r, $rc);
}

# conf-examples/NAME copied into conf/

sub copy_example {
    my ($self, $name) = @_;
    my $text = $self->read_file("$ROOT/conf-examples/$name")
        // die "conf-examples/$name: $!\n";
    return $self->write_file("conf/$name", $text);
}

# the http{} body of conf-examples/NAME with this prefix's paths, port and
# database, and no access log

sub example_http {
    my ($self, $name) = @_;
    my $conf = $self->read_file("$ROOT/conf-examples/$name")
        // die "conf-examples/$name: $!\n";
    my ($http) = $conf =~ /^http \{\n(.*)^\}/ms or die "$name: no http{}\n";
    $http =~ s/\@PREFIX\@/%%DIR%%/g;
    $http =~ s/\@PORT\@/%%PORT%%/g;
    $http =~ s/\@DATABASE\@/%%DATABASE%%/g;
    $http =~ s/access_log logs\/access.log;//;
    return $http;
}

# one HTTP/1.x request read from a socket: (request line, {lower-case
# header => value}, body of Content-Length bytes); () at EOF

sub read_request {
    my ($c) = @_;
    local $/ = "\r\n";
    my $line = <$c> // return;
    my %h;
    while (defined(my $l = <$c>)) {
        last if $l eq "\r\n";
        $l =~ s/\r\n$//;
        my ($k, $v) = split /:\s*/, $l, 2;
        $h{lc $k} = $v;
    }
    my $body = '';
    read($c, $body, $h{'content-length'}) if $h{'content-length'};
    return ($line, \%h, $body);
}

# the AWS JSON 1.0 API at POST /: (status, decoded reply)

sub aws_api {
    my ($self, $op, $body, $headers) = @_;
    my $r = $self->http('POST', '/', $JSON->encode($body),
                        { 'Content-Type' => 'application/x-amz-json-1.0',
                          'X-Amz-Target' => "AWSStepFunctions.$op",
                          %{ $headers // {} } });
    return ($r->{status}, $r->{json});
}

# StartExecution of a machine of nginx.conf (by name) through the AWS API,
# then DescribeExecution until it leaves RUNNING: the last description

sub aws_run {
    my ($self, $machine, $input, %o) = @_;
    my $acct = 'arn:aws:states:' . ($o{region} // 'us-east-1') . ':'
               . ($o{account} // '000000000000');
    my ($st, $r) = $self->aws_api('StartExecution', {
        stateMachineArn => "$acct:stateMachine:$machine",
        ($o{name} ? (name => $o{name}) : ()),
        input => ref $input ? $JSON->encode($input) : $input });
    return { status => "StartExecution: $st", reply => $r }
        unless $st == 200 && $r->{executionArn};
    return $r if $o{nowait};
    my $d = $self->aws_settle($r->{executionArn}, $o{timeout});
    $d->{output_json} = eval { $JSON->decode($d->{output}) }
        if defined $d->{output};
    return $d;
}

# DescribeExecution until the execution leaves RUNNING (or timeout
# seconds, 30, pass): the last description

sub aws_settle {
    my ($self, $arn, $timeout) = @_;
    my $deadline = time + ($timeout // 30);
    my $d;
    while (time < $deadline) {
        (undef, $d) = $self->aws_api('DescribeExecution',
                                     { executionArn => $arn });
        last if $d && ($d->{status} // '') ne 'RUNNING';
        sleep 0.1;
    }
    return $d;
}

# polls a query until it answers $want: (its last answer, seconds taken)

sub wait_sql {
    my ($self, $sql, $want, $timeout) = @_;
    my $t0 = time;
    my $v;
    while (1) {
        $v = $self->psql($sql);
        return wantarray ? ($v, time - $t0) : $v if $v eq $want;
        last if time >= $t0 + ($timeout // 30);
        sleep 0.1;
    }
    return wantarray ? ($v, undef) : $v;
}

# polls a condition (a sub) every 50 ms until it is true or timeout
# seconds (30) pass: its last value.  A class method too

sub wait_for {
    my ($self, $cond, $timeout) = @_;
    my $deadline = time + ($timeout // 30);
    while (1) {
        my $v = $cond->();
        return $v if $v || time >= $deadline;
        sleep 0.05;
    }
}

# the loopback TCP connection from client port $from to server port $to
# (/proc/net/tcp): its state and the bytes its receiver has not read, or
# () if there is none

sub tcp_queue {
    my ($from, $to) = @_;
    my $want = sprintf '0100007F:%04X 0100007F:%04X', $to, $from;
    open my $fh, '<', '/proc/net/tcp' or return;
    while (<$fh>) {
        my @f = split;
        next unless "$f[1] $f[2]" eq $want;
        my (undef, $rx) = split /:/, $f[4];
        return ($f[3], hex $rx);
    }
    return;
}

# true once the server on port $to has read all that the client on port
# $from sent it (a request written, then read by nginx): the server's end
# of the connection is established with nothing left to read

sub request_read {
    my ($self, $from, $to) = @_;
    my ($st, $rx) = tcp_queue($from, $to);
    return defined $st && $st eq '01' && $rx == 0;
}

# the names of the states an execution entered, in order

sub states_entered {
    my ($self, $arn) = @_;
    return $self->psql("SELECT string_agg(details->'stateEnteredEventDetails'"
                       . "->>'name', ',' ORDER BY id) FROM sfn_events "
                       . "WHERE execution_arn = '$arn' "
                       . "AND type LIKE '%StateEntered'");
}

# nginx-tests' teardown check: no [alert], [crit] or [emerg] in error.log

sub check_log {
    my ($self, %opts) = @_;
    my $log = $self->read_file('logs/error.log') // '';
    my @bad = grep { /\[(alert|crit|emerg)\]/ } split /\n/, $log;
    @bad = grep { !/$opts{allow}/ } @bad if $opts{allow};
    ok(!@bad, 'no alerts in error.log') or diag(join "\n", @bad);
}

# the hostile tests' check: nothing at crit or above, no worker lost, and
# no line that does not begin as nginx begins one (a forged or broken line)

sub log_clean {
    my ($self, $what) = @_;
    my $log = $self->read_file('logs/error.log') // '';
    my @bad = grep { !/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[([a-z]+)\] /
                     || $1 =~ /^(crit|alert|emerg)$/
                     || /exited on signal/ }
              split /\n/, $log;
    ok(!@bad, "$what: a clean error log") or diag(join "\n", @bad);
}

# in a SAN run: no sanitizer report from this prefix's nginx

sub check_san {
    my ($self) = @_;
    return unless $SAN;
    my @r = san_reports("$self->{dir}/logs");
    ok(!@r, 'no sanitizer reports') or diag(join "\n", @r);
}

sub stop {
    my ($self, %opts) = @_;
    return if $self->{stopped}++;
    $self->nginx_stop;
    $self->check_log(%opts) unless $opts{no_check};
    $self->check_san;
    $self->pg_stop if $self->{pg_data};
}

sub DESTROY {
    my ($self) = @_;
    local $?;
    $self->nginx_stop if $self->{nginx};
    $self->pg_stop if $self->{pg_data} && !$self->{stopped}++;
}

1;
