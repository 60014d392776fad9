# StartSyncExecution and the "sync-" host prefix: AWS's clients send it to
# sync-<endpoint host> (the sync-states endpoint), so against
# --endpoint-url http://127.0.0.1:PORT they ask for "sync-127.0.0.1",
# which no resolver knows.  The ways README.md gives are tested here with
# the clients installed: the AWS CLI with "localhost" and a sync-localhost
# entry in /etc/hosts (in a private mount namespace, so the machine's file
# is never touched; root only), AWS_DISABLE_HOST_PREFIX_INJECTION for
# clients whose botocore knows it, and boto3's inject_host_prefix=False.
# The error each client gives without them names the prefixed host.
# (The JS SDK's disableHostPrefix is in t/602-aws-sdk.t.)

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use POSIX ();

my $t = Sfn::Test->new;
my $dir = $t->dir;

$t->write_file('conf/sum.asl.json', <<'END');
{"StartAt": "Sum",
 "States": {"Sum": {"Type": "Pass",
                    "Parameters": {"sum.$": "States.MathAdd($.a, $.b)"},
                    "End": true}}}
END

$t->start($t->sfn_http(zone => '4m', database => 0,
                       http => "    sfn_state_machine sum "
                               . "%%DIR%%/conf/sum.asl.json type=express;\n",
                       server => "location = / { sfn_aws_api; }\n"));

my $port = $t->port;
my $sm = 'arn:aws:states:us-east-1:000000000000:stateMachine:sum';

local $ENV{AWS_ACCESS_KEY_ID} = 'AKIDSYNCTEST';
local $ENV{AWS_SECRET_ACCESS_KEY} = 'secret';
local $ENV{AWS_DEFAULT_REGION} = 'us-east-1';
local $ENV{AWS_CONFIG_FILE} = '/dev/null';
local $ENV{AWS_SHARED_CREDENTIALS_FILE} = '/dev/null';
local $ENV{AWS_PAGER} = '';
local $ENV{AWS_MAX_ATTEMPTS} = '1';
delete local $ENV{AWS_DISABLE_HOST_PREFIX_INJECTION};

# every AWS CLI on the machine: the one first in PATH and Debian's

my %cli;
for (`sh -c 'command -v aws'`, '/usr/bin/aws') {
    (my $c = $_) =~ s/\s+$//;
    next unless $c && -x $c;
    my $v = `'$c' --version 2>&1`;
    $cli{$c} = $v if $v =~ /aws-cli/;
}

my $unshare = $> == 0 && !system('unshare -m true >/dev/null 2>&1');

$t->write_file('hosts', (Sfn::Test->read_file('/etc/hosts') // '')
                        . "127.0.0.1 sync-localhost\n");
$t->write_file('with-hosts', "#!/bin/sh\n"
               . "mount --bind '$dir/hosts' /etc/hosts && exec \"\$@\"\n");
chmod 0755, "$dir/with-hosts";

# (exit code, stdout and stderr) of a command
sub run {
    my (@cmd) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!\n";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

# hosts => 1: with sync-localhost in a copy of /etc/hosts that only this
# command sees (a private mount namespace); env => 1: with
# AWS_DISABLE_HOST_PREFIX_INJECTION=true

sub cli {
    my ($aws, $endpoint, %o) = @_;
    my @cmd = ($aws, 'stepfunctions', 'start-sync-execution',
               '--endpoint-url', $endpoint, '--state-machine-arn', $sm,
               '--input', '{"a":2,"b":40}', '--cli-connect-timeout', 5,
               '--output', 'json');
    unshift @cmd, 'unshare', '-m', "$dir/with-hosts" if $o{hosts};
    local $ENV{AWS_DISABLE_HOST_PREFIX_INJECTION} = 'true' if $o{env};
    return run(@cmd);
}

for my $aws (sort keys %cli) {
    my ($version) = $cli{$aws} =~ /(aws-cli\/\S+)/;

    my ($rc, $out) = cli($aws, "http://127.0.0.1:$port");
    isnt($rc, 0, "$version, 127.0.0.1: fails");
    like($out, qr/sync-127\.0\.0\.1/, "$version: the error names "
         . "sync-127.0.0.1") or diag($out);

  SKIP: {
        skip 'a private /etc/hosts needs root and unshare', 2 unless $unshare;
        ($rc, $out) = cli($aws, "http://localhost:$port", hosts => 1);
        is($rc, 0, "$version, localhost + sync-localhost in /etc/hosts")
            or diag($out);
        like($out, qr/"status":\s*"SUCCEEDED"/, 'the sync reply')
            && like($out, qr/\\"sum\\":\s*42/, 'with its output');
    }

    # botocore 1.36 and later read AWS_DISABLE_HOST_PREFIX_INJECTION
    my ($bc) = $cli{$aws} =~ /botocore\/(\d+)\.(\d+)/ ? ("$1.$2") : ();
  SKIP: {
        skip "$version has no AWS_DISABLE_HOST_PREFIX_INJECTION", 1
            unless $bc && $bc =~ /^(\d+)\.(\d+)$/ && ($1 > 1 || $2 >= 36);
        ($rc, $out) = cli($aws, "http://127.0.0.1:$port", env => 1);
        is($rc, 0, "$version, AWS_DISABLE_HOST_PREFIX_INJECTION=true")
            or diag($out);
    }
}

# boto3, wherever a python3 has it

my ($py) = grep { !system("$_ -c 'import boto3' >/dev/null 2>&1") }
           ('python3', '/usr/bin/python3');

SKIP: {
    skip 'no python3 with boto3 (python3-boto3)', 3 unless $py;

    $t->write_file('sync.py', <<"END");
import json, sys
import boto3
from botocore.config import Config

def client(**kw):
    return boto3.client('stepfunctions', endpoint_url='http://127.0.0.1:$port',
                        region_name='us-east-1', **kw)

cfg = dict(retries={'max_attempts': 1}, connect_timeout=5)
out = {}
try:
    client(config=Config(**cfg)).start_sync_execution(
        stateMachineArn='$sm', input='{}')
except Exception as e:
    out['default'] = type(e).__name__ + ': ' + str(e)

r = client(config=Config(inject_host_prefix=False, **cfg)) \\
    .start_sync_execution(stateMachineArn='$sm', input='{"a":2,"b":40}')
out['status'] = r['status']
out['output'] = json.loads(r['output'])
print(json.dumps(out))
END

    my $out = `$py '$dir/sync.py' 2>&1`;
    my $r = eval { $t->json->decode($out) } // {};
    like($r->{default} // '', qr/sync-127\.0\.0\.1/,
         'boto3 by default: the error names sync-127.0.0.1')
        or diag($out);
    is($r->{status}, 'SUCCEEDED', 'boto3, inject_host_prefix=False');
    is($r->{output}{sum}, 42, 'the output');
}

# the server answers whichever host the request names

my ($rc, $out) = run('curl', '-s', '-H', "Host: sync-localhost:$port",
                     '-H', 'Content-Type: application/x-amz-json-1.0',
                     '-H', 'X-Amz-Target: AWSStepFunctions.StartSyncExecution',
                     '--data', '{"stateMachineArn":"' . $sm
                               . '","input":"{\\"a\\":1,\\"b\\":1}"}',
                     "http://127.0.0.1:$port/");
like($out, qr/"status":"SUCCEEDED"/, 'Host: sync-localhost answered')
    or diag($out);

$t->stop;
done_testing;
