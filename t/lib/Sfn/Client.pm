package Sfn::Client;

# A client of the AWS JSON 1.0 API for benchmarks: one keep-alive
# connection, TCP_NODELAY, each request in one write, so that the client
# adds no delayed-ACK wait to what is timed; the reply is returned as
# text (decoding it with JSON::PP takes longer than the server).
#
#   my $c = Sfn::Client->new($port);
#   my $text = $c->call('DescribeExecution', '{"executionArn":"..."}');

use strict;
use warnings;
use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_NODELAY);

sub new {
    my ($class, $port) = @_;
    return bless { port => $port }, $class;
}

# a connection of its own from now on (nginx closes one after 1000
# requests; a timed series starts on a fresh one)

sub reset {
    my ($self) = @_;
    delete $self->{conn};
}

# the reply's body; dies unless the status is 200

sub call {
    my ($self, $op, $content) = @_;
    my ($head, $fresh);

    # a connection idle past keepalive_timeout is closed: opened again once
    while (!defined $head) {
        if (!$self->{conn}) {
            $self->{conn} = IO::Socket::INET->new(
                PeerAddr => "127.0.0.1:$self->{port}", Proto => 'tcp')
                // die "connect: $!\n";
            setsockopt($self->{conn}, IPPROTO_TCP, TCP_NODELAY, 1);
            $fresh = 1;
        }

        my $conn = $self->{conn};

        print $conn "POST / HTTP/1.1\r\nHost: localhost\r\n"
            . "Content-Type: application/x-amz-json-1.0\r\n"
            . "X-Amz-Target: AWSStepFunctions.$op\r\n"
            . "Content-Length: " . length($content) . "\r\n\r\n$content";

        local $/ = "\r\n\r\n";
        $head = <$conn>;
        die "$op: no reply\n" if !defined $head && $fresh;
        delete $self->{conn} unless defined $head;
    }

    my ($status) = $head =~ m{^HTTP/1\.1 (\d+)};
    my ($len) = $head =~ /Content-Length: (\d+)/i;
    die "$op: no Content-Length\n" unless defined $len;
    my $reply = '';
    while (length($reply) < $len) {
        read($self->{conn}, $reply, $len - length($reply), length($reply))
            or die "$op: reply cut\n";
    }
    die "$op: $status $reply\n" unless $status == 200;
    return $reply;
}

1;
