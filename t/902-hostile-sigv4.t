# Hostile input, issue 11 defect 3: SigV4 requests forged or replayed.  A
# body swapped under an X-Amz-Content-Sha256 header of the signed body, a
# request signed for another region or service, or with a stale date, or
# whose signature leaves out Host or X-Amz-Date, is refused and changes
# nothing; the payload hash is the body nginx read, in memory or in a
# temporary file.  A replay of a captured request with the body that was
# signed, within the 15 minutes of its X-Amz-Date, is accepted, as AWS
# accepts it.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex sha256_hex);
use POSIX qw(strftime);

my $t = Sfn::Test->new;
$t->pg_start;

$t->nginx_start(<<'END', workers => 1);
    sfn_zone            sfn 4m;
    sfn_database        "%%DATABASE%%";
    sfn_thread_pool     sfn;
    sfn_aws_credentials AKIDSFNHOSTILE000001 hostile-secret/0123456789;

    server {
        listen 127.0.0.1:%%PORT%%;

        location = / { sfn_aws_api; }

        location = /file {
            client_body_in_file_only clean;
            sfn_aws_api;
        }
    }
END

my $port = $t->port;
my $json = $t->json;
my $acct = 'arn:aws:states:us-east-1:000000000000';
my $role = 'arn:aws:iam::000000000000:role/hostile';

sub log_clean {
    my ($what) = @_;
    my $log = $t->read_file('logs/error.log') // '';
    my @bad = grep { !/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[([a-z]+)\] /
                     || $1 =~ /^(crit|alert|emerg)$/
                     || /exited on signal/ }
              split /\n/, $log;
    ok(!@bad, "$what: a clean error log") or diag(join "\n", @bad);
}

# a request signed as the AWS CLI signs it; the options forge it:
#   send => a body other than the one signed, sha => X-Amz-Content-Sha256
#   (signed => 1: among the signed headers), region, service, skew (s),
#   path (default /), unsigned => [header names left out of SignedHeaders]

sub signed {
    my ($target, $body, %o) = @_;
    my $date = strftime('%Y%m%dT%H%M%SZ', gmtime(time + ($o{skew} // 0)));
    my $day = substr $date, 0, 8;
    my $region = $o{region} // 'us-east-1';
    my $service = $o{service} // 'states';
    my %h = ('content-type' => 'application/x-amz-json-1.0',
             'host' => "127.0.0.1:$port", 'x-amz-date' => $date,
             'x-amz-target' => "AWSStepFunctions.$target");
    $h{'x-amz-content-sha256'} = $o{sha} if $o{sha} && $o{signed};
    my %skip = map { $_ => 1 } @{ $o{unsigned} // [] };
    my @names = grep { !$skip{$_} } sort keys %h;
    my $path = $o{path} // '/';
    my $creq = join("\n", 'POST', $path, '',
                    (map { "$_:$h{$_}" } @names), '', join(';', @names),
                    $o{sha} && $o{signed} ? $o{sha} : sha256_hex($body));
    my $scope = "$day/$region/$service/aws4_request";
    my $sts = join("\n", 'AWS4-HMAC-SHA256', $date, $scope, sha256_hex($creq));
    my $k = hmac_sha256($day, 'AWS4hostile-secret/0123456789');
    $k = hmac_sha256($_, $k) for $region, $service, 'aws4_request';
    my %send = %h;
    delete $send{host};
    $send{'x-amz-content-sha256'} = $o{sha} if $o{sha};
    $send{authorization} = "AWS4-HMAC-SHA256 Credential="
        . "AKIDSFNHOSTILE000001/$scope, SignedHeaders="
        . join(';', @names) . ', Signature=' . hmac_sha256_hex($sts, $k);
    return $t->http('POST', $path, $o{send} // $body, \%send);
}

sub machine {
    my ($name, $result) = @_;
    return $json->encode({
        name => $name, roleArn => $role,
        definition => $json->encode({ StartAt => 'P', States => { P => {
            Type => 'Pass', Result => $result, End => JSON::PP::true } } })
    });
}

sub machines {
    return $t->psql('SELECT count(*) FROM sfn_state_machines');
}

my $r = signed('CreateStateMachine', machine('honest', 'b1'));
is($r->{status}, 200, 'an honest signed request is accepted')
    or diag($r->{content});
my $before = machines();

# the body swap: b1 signed, b2 sent, the hash of b1 in a header

my $b1 = machine('signed-one', 'b1');
my $b2 = machine('swapped-in', 'b2');

for my $in_signed (1, 0) {
    my $how = $in_signed ? 'a signed' : 'an unsigned';
    $r = signed('CreateStateMachine', $b1, send => $b2, sha => sha256_hex($b1),
                signed => $in_signed);
    is($r->{status}, 400,
       "b2 sent under $how X-Amz-Content-Sha256 of b1: 400");
    is($r->{json}{__type}, 'InvalidSignatureException',
       'InvalidSignatureException');
    is(machines(), $before, 'no state machine created');
}

# the header of b1 signed, and b1 signed, but b2 sent: the signature of
# the request as received does not match either

$r = signed('CreateStateMachine', $b1, send => $b2);
is($r->{status}, 400, 'b2 sent under a signature of b1 without the header');

# the same swap without the header is refused today already

$r = signed('CreateStateMachine', $b1, send => $b2);
is($r->{json}{__type}, 'InvalidSignatureException',
   'b2 sent under a signature of b1: InvalidSignatureException');

# an X-Amz-Content-Sha256 that matches the body it comes with is fine

my $b3 = machine('hashed', 'b3');
$r = signed('CreateStateMachine', $b3, sha => sha256_hex($b3), signed => 1);
is($r->{status}, 200, 'a true X-Amz-Content-Sha256 is accepted')
    or diag($r->{content});

$before = machines();

# another region, another service

$r = signed('CreateStateMachine', machine('eu', 'x'), region => 'eu-west-1');
is($r->{status}, 400, 'signed for eu-west-1: 400');
like($r->{json}{__type} // '', qr/^(InvalidSignatureException)$/,
     'InvalidSignatureException');
like($r->{json}{message} // '', qr/region/,
     'the message is about the region');

$r = signed('CreateStateMachine', machine('s3', 'x'), service => 's3');
is($r->{status}, 400, 'signed for s3: 400');
is($r->{json}{__type}, 'InvalidSignatureException',
   'InvalidSignatureException');

$r = signed('CreateStateMachine', machine('lambda', 'x'),
            region => 'us-east-1', service => 'lambda');
is($r->{json}{__type}, 'InvalidSignatureException', 'signed for lambda');

# a replay with a stale date, or one from the future

$r = signed('CreateStateMachine', machine('stale', 'x'), skew => -16 * 60);
is($r->{status}, 400, 'signed 16 minutes ago: 400');
like($r->{json}{message} // '', qr/expired/i, 'signature expired');

$r = signed('CreateStateMachine', machine('future', 'x'), skew => 16 * 60);
is($r->{status}, 400, 'dated 16 minutes ahead: 400');

# a signature that does not cover Host or X-Amz-Date

$r = signed('CreateStateMachine', machine('nohost', 'x'),
            unsigned => ['host']);
is($r->{status}, 400, 'Host not signed: 400');
like($r->{json}{message} // '', qr/Host/, 'the message says Host');

$r = signed('CreateStateMachine', machine('nodate', 'x'),
            unsigned => ['x-amz-date']);
is($r->{status}, 400, 'X-Amz-Date not signed: 400');
like($r->{json}{message} // '', qr/X-Amz-Date/, 'the message says X-Amz-Date');

# an X-Amz-Content-Sha256 that is not a hash at all

$r = signed('CreateStateMachine', machine('unsigned', 'x'),
            sha => 'UNSIGNED-PAYLOAD');
is($r->{json}{__type}, 'InvalidSignatureException',
   'X-Amz-Content-Sha256: UNSIGNED-PAYLOAD: InvalidSignatureException');

is(machines(), $before, 'nothing created by a forged request');

# the body in a temporary file, hashed as nginx read it

my $big = machine('in-file', 'f' x 40000);
$r = signed('CreateStateMachine', $big, path => '/file');
is($r->{status}, 200, 'a body in a temporary file: 200') or diag($r->{content});

$before = machines();
$r = signed('CreateStateMachine', $big, path => '/file',
            send => machine('in-fil2', 'f' x 40000));
is($r->{json}{__type}, 'InvalidSignatureException',
   'a swapped body in a temporary file: InvalidSignatureException');
$r = signed('CreateStateMachine', $big, path => '/file',
            send => machine('in-fil2', 'f' x 40000), sha => sha256_hex($big),
            signed => 1);
is($r->{json}{__type}, 'InvalidSignatureException',
   'and under a signed X-Amz-Content-Sha256 of the signed one');
is(machines(), $before, 'nothing created');

# a replay with the body that was signed is accepted within 15 minutes, as
# AWS accepts it: it does what the signer asked again, nothing else

$r = signed('ListStateMachines', '{}');
my @names = sort map { $_->{name} } @{ $r->{json}{stateMachines} // [] };
is("@names", 'hashed honest in-file', 'only the honest machines exist');

log_clean('defect 3');

$t->stop;

done_testing;
