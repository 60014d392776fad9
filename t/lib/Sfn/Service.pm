package Sfn::Service;

# A small HTTP service on loopback that the integration tests point
# sfn_integration at: a forked server, one child per connection, every
# request logged as a line of JSON before the handler answers it.
#
#   my $svc = Sfn::Service->new(sub {
#       my ($req, $svc) = @_;         # {method, path, headers, body, json, socket}
#       return (200, { ok => 1 });    # a structure is sent as JSON
#   });
#   $svc->url('/payment'); $svc->requests('/payment'); $svc->count('/x');
#
# A handler may answer (status, body, {header => value}), or write to
# $req->{socket} itself and return nothing (a reply cut short, a hang).
# Children share nothing but the log: state across requests is counted
# from it (count), or kept in files under $svc->dir.

use strict;
use warnings;

use Fcntl qw(:flock);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(_exit);

my $JSON = JSON::PP->new->canonical->allow_nonref;

sub new {
    my ($class, $handler) = @_;

    my $dir = tempdir('sfn-service-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                       LocalPort => 0, Proto => 'tcp',
                                       Listen => 64, ReuseAddr => 1)
        or die "listen: $!\n";

    my $self = bless { dir => $dir, log => "$dir/requests.log",
                       port => $listen->sockport }, $class;
    open my $f, '>', $self->{log} or die "$self->{log}: $!\n";
    close $f;

    my $pid = fork // die "fork: $!\n";

    if ($pid == 0) {
        setpgrp(0, 0);
        $SIG{CHLD} = 'IGNORE';
        $SIG{PIPE} = 'IGNORE';
        while (1) {
            my $c = $listen->accept or next;
            my $child = fork;
            if (defined $child && $child == 0) {
                eval { $self->serve($c, $handler) };
                close $c;
                _exit(0);
            }
            close $c;
        }
    }

    close $listen;
    $self->{pid} = $pid;
    return $self;
}

sub port { $_[0]{port} }
sub dir { $_[0]{dir} }
sub url { "http://127.0.0.1:$_[0]{port}" . ($_[1] // '') }
sub json { $JSON }

sub serve {
    my ($self, $c, $handler) = @_;

    local $/ = "\r\n";
    my $line = <$c> // return;
    $line =~ s/\r\n$//;
    my ($method, $path) = split / /, $line;
    my %h;
    while (defined(my $l = <$c>)) {
        last if $l eq "\r\n";
        $l =~ s/\r\n$//;
        my ($k, $v) = split /:\s*/, $l, 2;
        $h{lc $k} = $v;
    }
    my $body = '';
    read($c, $body, $h{'content-length'}) if $h{'content-length'};

    my $req = { method => $method, path => $path, headers => \%h,
                body => $body };

    open my $f, '>>', $self->{log} or die;
    flock $f, LOCK_EX;
    print $f $JSON->encode($req), "\n";
    close $f;

    $req->{json} = eval { $JSON->decode($body) } if length $body;
    $req->{socket} = $c;

    my ($status, $reply, $headers) = $handler->($req, $self);
    return unless defined $status;

    $reply = $JSON->encode($reply) if ref $reply;
    $reply //= '';
    my $head = "HTTP/1.1 $status X\r\nContent-Length: " . length($reply)
        . "\r\nConnection: close\r\n";
    $head .= "Content-Type: application/json\r\n"
        unless $headers && $headers->{'Content-Type'};
    $head .= "$_: $headers->{$_}\r\n" for sort keys %{ $headers // {} };
    print $c "$head\r\n$reply";
}

# the requests so far, those to a path (or matching a regex) if given

sub requests {
    my ($self, $path) = @_;
    open my $f, '<', $self->{log} or return ();
    local $/ = "\n";
    my @r = map { my $r = $JSON->decode($_);
                  $r->{json} = eval { $JSON->decode($r->{body}) };
                  $r } <$f>;
    return @r unless defined $path;
    return grep { ref $path ? $_->{path} =~ $path : $_->{path} eq $path } @r;
}

sub count { scalar(my @r = $_[0]->requests($_[1])) }

sub paths { map { $_->{path} } $_[0]->requests }

sub stop {
    my ($self) = @_;
    kill 'TERM', -$self->{pid} if $self->{pid};
    waitpid $self->{pid}, 0 if $self->{pid};
    $self->{pid} = undef;
}

sub DESTROY {
    local $?;
    $_[0]->stop;
}

1;
