#!/usr/bin/perl

# sfn_integration: nginx -t refuses bad rules and definitions whose
# resources go nowhere (whatever the order of the directives); the rules
# match as documented (an exact ARN first, then the first pattern in the
# file, the resource a call selects before the integration ARN); the
# request/response shapes: a function ARN gets the input and its result
# raw, lambda:invoke wraps it as AWS does, sns:publish delivers SNS's
# notification, a Glue start answers the reply; a DynamoDB table a rule
# names goes to its endpoint, the others stay the jobs table's; build/sfn
# validate --integration checks definitions against rules as nginx -t does,
# and every conf-examples/*.asl.json passes it with its conf's rules

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Sfn::Test;
use Sfn::Service;

Sfn::Test::need_postgres();

my $svc = Sfn::Service->new(sub {
    my ($req) = @_;
    return (200, { path => $req->{path}, got => $req->{json},
                   action => $req->{headers}{'x-sfn-action'},
                   resource => $req->{headers}{'x-sfn-resource'} });
});

# nginx -t in a prefix of its own (its error.log holds the refusals)

my $c = Sfn::Test->new;
my $t = Sfn::Test->new;
my $u = $svc->url;

sub machine {
    my ($name, $states) = @_;
    $c->write_file("conf/$name.json",
                   $t->json->encode({ StartAt => 'S', States => $states }));
    $t->write_file("conf/$name.json",
                   $t->json->encode({ StartAt => 'S', States => $states }));
}

sub task {
    my ($resource, %o) = @_;
    return { S => { Type => 'Task', Resource => $resource, End => \1, %o } };
}

machine('fn', task('arn:aws:lambda:us-east-1:123456789012:function:Pay'));

# nginx -t: each bad rule with its reason

my @bad = (
    [ 'foo http://127.0.0.1:1/', qr/"foo" is not an ARN/ ],
    [ 'arn:aws:ec2:us-east-1:1:instance/i-1 http://127.0.0.1:1/',
      qr/names no resource of a service integration/ ],
    [ 'arn:aws:states:::glue:startJobRun.sync http://127.0.0.1:1/',
      qr/without "\.sync"/ ],
    [ 'arn:aws:states:::mediaconvert:createJob http://127.0.0.1:1/',
      qr/runs as a built-in task only/ ],
    [ 'arn:aws:states:::ecs:runTask http://127.0.0.1:1/',
      qr/is not a service integration/ ],
    [ 'arn:aws:lambda:*:*:function:* ftp://127.0.0.1/',
      qr/invalid URL "ftp:/ ],
    [ 'arn:aws:lambda:*:*:function:* http://',
      qr/invalid URL "http:\/\/"/ ],
    [ 'arn:aws:lambda:*:*:function:* http://127.0.0.1:1/ timeout=0',
      qr/invalid "timeout=0"/ ],
    [ 'arn:aws:lambda:*:*:function:* http://127.0.0.1:1/ timeout=abc',
      qr/invalid "timeout=abc"/ ],
    [ 'arn:aws:lambda:*:*:function:* http://127.0.0.1:1/ poll=1ms',
      qr/invalid "poll=1ms"/ ],
    [ 'arn:aws:lambda:*:*:function:* http://127.0.0.1:1/ retries=3',
      qr/invalid parameter "retries=3"/ ],
    [ "arn:aws:lambda:*:*:function:* http://127.0.0.1:1/;\n"
      . "    sfn_integration arn:aws:lambda:*:*:function:* http://127.0.0.1:2/",
      qr/duplicate sfn_integration/ ],
);

for my $b (@bad) {
    my ($rc, $out) = $c->nginx_test($t->sfn_http(
        database => 0, http => "    sfn_integration $b->[0];\n"));
    isnt($rc, 0, "nginx -t refuses: $b->[0]");
    like($out, $b->[1], "... and says why") or diag $out;
}

# a definition whose resource has no rule: its state and the resource

my ($rc, $out) = $c->nginx_test($t->sfn_http(
    database => 0, machines => [ fn => 'fn.json' ],
    http => "    sfn_integration arn:aws:lambda:*:*:function:Other $u;\n"));
isnt($rc, 0, 'nginx -t refuses a function no rule names');
like($out, qr/state "S": SCHEMA_VALIDATION_FAILED: .*no\ task\ and\ no(?x)
              \ sfn_integration\ for\ "arn:aws:lambda:us-east-1:
              123456789012:function:Pay"/,
     '... naming the state and the resource')
    or diag $out;

# a Glue job with no rule at all for Glue

machine('glue0', task('arn:aws:states:::glue:startJobRun.sync',
                      Parameters => { JobName => 'J' }));
($rc, $out) = $c->nginx_test($t->sfn_http(
    database => 0, machines => [ glue0 => 'glue0.json' ]));
isnt($rc, 0, 'nginx -t refuses glue:startJobRun with no rule');
like($out, qr/glue:startJobRun\.sync/, '... naming it') or diag $out;

# the rule may come after the machine

($rc, $out) = $c->nginx_test($t->sfn_http(
    database => 0, machines => [ fn => 'fn.json' ],
    http => "    sfn_integration arn:aws:lambda:*:*:function:Pay $u;\n"));
is($rc, 0, 'nginx -t: a rule after the machine that uses it') or diag $out;

# conf-examples/seed-workflows.conf with every seed example beside it

my $root = $Sfn::Test::ROOT;
my $conf = $c->read_file("$root/conf-examples/seed-workflows.conf");
my ($http) = $conf =~ /^http \{\n(.*)^\}/ms or die "no http block";
$http =~ s/\@PREFIX\@/%%DIR%%/g;
$http =~ s/\@PORT\@/%%PORT%%/g;
$http =~ s/\@DATABASE\@/%%DATABASE%%/g;
my @ex = $http =~ m{%%DIR%%/conf/([\w-]+\.asl\.json)}g;
$c->copy_example($_) for @ex;
($rc, $out) = $c->nginx_test($http);
is($rc, 0, 'nginx -t: conf-examples/seed-workflows.conf, ' . scalar(@ex)
   . ' machines') or diag $out;
my @all = map { m{([^/]+)$} } glob("$root/conf-examples/*.asl.json");
my %in = map { $_ => 1 } @ex, 'video-workflow.asl.json',
                              'quickstart.asl.json', 'image-workflow.asl.json';
is_deeply([ grep { !$in{$_} } @all ], [],
          '... it names every seed example of conf-examples/');

# matching and shapes, through executions

machine('exact', task('arn:aws:lambda:us-east-1:123456789012:function:Pay'));
machine('wild', task('arn:aws:lambda:us-east-1:123456789012:function:Ship'));
machine('invoke', task('arn:aws:states:::lambda:invoke',
                       Parameters => { FunctionName => 'Pay',
                                       Payload => { 'n.$' => '$.n' } }));
machine('invoke_arn', task('arn:aws:states:::lambda:invoke',
    Parameters => { FunctionName =>
                    'arn:aws:lambda:us-east-1:123456789012:function:Ship',
                    'Payload.$' => '$' }));
machine('invoke_none', task('arn:aws:states:::lambda:invoke',
                            Parameters => { FunctionName => 'Nobody',
                                            Payload => {} }));
machine('sns', task('arn:aws:states:::sns:publish',
    Parameters => { TopicArn => 'arn:aws:sns:us-east-1:123456789012:orders',
                    'Message.$' => '$', Subject => 'Order' }));
machine('glue', task('arn:aws:states:::glue:startJobRun',
    Parameters => { JobName => 'AnyJob', Arguments => { '--x' => '1' } }));
machine('table', task('arn:aws:states:::dynamodb:putItem',
    Parameters => { TableName => 'Analytics',
                    Item => { orderId => { S => 'o-1' } } }));
machine('jobs', task('arn:aws:states:::dynamodb:putItem',
    Parameters => { TableName => 'Jobs',
                    Item => { JobId => { S => 'j-306' },
                              JobStatus => { S => 'DONE' } } }));

$t->start($t->sfn_http(
    machines => [ map { $_ => "$_.json" }
                  qw(exact wild invoke invoke_arn invoke_none sns glue table
                     jobs) ],
    http => <<"END",
    sfn_region        us-east-1;
    sfn_account       123456789012;
    sfn_integration   arn:aws:lambda:*:*:function:*ip $u/first;
    sfn_integration   arn:aws:lambda:*:*:function:S* $u/second;
    sfn_integration   arn:aws:lambda:*:*:function:P* $u/p-function;
    sfn_integration   arn:aws:lambda:us-east-1:123456789012:function:Pay $u/pay;
    sfn_integration   arn:aws:sns:*:*:orders $u/topic;
    sfn_integration   arn:aws:states:::glue:startJobRun $u/glue;
    sfn_integration   arn:aws:dynamodb:*:*:table/Analytics $u/table;
END
    server => "location = / { sfn_aws_api; }\n"));

my $acct = 'arn:aws:states:us-east-1:123456789012';
sub run { $t->aws_run($_[0], $_[1], account => '123456789012') }

my $d = run('exact', { n => 1 });
is($d->{status}, 'SUCCEEDED', 'function ARN: succeeded') or diag explain $d;
is($d->{output_json}{path}, '/pay', 'an exact ARN wins over the patterns');
is_deeply($d->{output_json}{got}, { n => 1 },
          'the input is the body, the reply the result (raw)');

$d = run('wild', { n => 2 });
is($d->{output_json}{path}, '/first',
   'otherwise the first pattern that matches, in order');

$d = run('invoke', { n => 3 });
is($d->{status}, 'SUCCEEDED', 'lambda:invoke: succeeded') or diag explain $d;
is($d->{output_json}{Payload}{path}, '/pay',
   'lambda:invoke: FunctionName selects the rule');
is_deeply($d->{output_json}{Payload}{got}, { n => 3 },
          'lambda:invoke: the Payload is the body');
is($d->{output_json}{StatusCode}, 200, 'lambda:invoke: AWS\'s shape');
ok($d->{output_json}{SdkResponseMetadata}{RequestId}, '... a request id');

$d = run('invoke_arn', { n => 4 });
is($d->{output_json}{Payload}{path}, '/first',
   'lambda:invoke: a FunctionName ARN');

$d = run('invoke_none', {});
is($d->{status}, 'FAILED', 'lambda:invoke of a function no rule names fails');
is($d->{error}, 'Lambda.ResourceNotFoundException',
   '... Lambda.ResourceNotFoundException');
like($d->{cause}, qr/no sfn_integration for "arn:aws:lambda:us-east-1:(?x)
                     123456789012:function:Nobody"/, '... saying so')
    or diag explain $d;

$d = run('sns', { order => 'o-1' });
is($d->{status}, 'SUCCEEDED', 'sns:publish: succeeded') or diag explain $d;
ok($d->{output_json}{MessageId}, 'sns:publish: a MessageId');
my ($n) = $svc->requests('/topic');
is($n->{json}{Type}, 'Notification', 'sns:publish: SNS\'s notification');
is($n->{json}{TopicArn}, 'arn:aws:sns:us-east-1:123456789012:orders',
   '... of the topic');
is($n->{json}{Message}, '{"order":"o-1"}', '... the message as its text');

$d = run('glue', {});
is($d->{status}, 'SUCCEEDED', 'glue:startJobRun: succeeded')
    or diag explain $d;
is($d->{output_json}{path}, '/glue', 'the integration ARN as a rule');
is($d->{output_json}{action}, 'glue:startJobRun', 'X-Sfn-Action');
is($d->{output_json}{resource},
   'arn:aws:glue:us-east-1:123456789012:job/AnyJob',
   'X-Sfn-Resource: the job\'s ARN, made from its name');
is_deeply($d->{output_json}{got}{Arguments}, { '--x' => '1' },
          'the Parameters are the body');

$d = run('table', {});
is($d->{status}, 'SUCCEEDED', 'dynamodb:putItem, a mapped table')
    or diag explain $d;
is($d->{output_json}{path}, '/table', '... goes to its endpoint');

$d = run('jobs', {});
is($d->{status}, 'SUCCEEDED', 'dynamodb:putItem, another table')
    or diag explain $d;
is($t->psql("SELECT status FROM sfn_jobs WHERE job_id = 'j-306'"), 'DONE',
   '... is the jobs table\'s, as before');
is($svc->count(qr{^/(?!pay|first|p-|topic|glue|table)}), 0,
   'no request went anywhere else');

$t->stop;
$svc->stop;

# build/sfn validate --integration: the rules' patterns, as nginx -t
# checks a definition against them.  Every conf-examples/*.asl.json is
# valid with the sfn_integration patterns of the example conf that loads
# it, and the examples served by rules only are refused without them

my $sfn = "$root/build/sfn";
my (%conf_of, %patterns);

for my $conf (glob "$root/conf-examples/*.conf") {
    my $text = $t->read_file($conf);
    $text =~ s/#[^\n]*//g;
    for my $d (split /;/, $text) {
        my @w = split ' ', $d;
        next unless @w >= 2;
        push @{ $patterns{$conf} }, $w[1] if $w[0] eq 'sfn_integration';
        $conf_of{$1} = $conf
            if $w[0] eq 'sfn_state_machine' && ($w[2] // '') =~ m{([^/]+)$};
    }
}

my @examples = glob "$root/conf-examples/*.asl.json";
ok(@examples >= 20, scalar(@examples) . ' example definitions');
my $refused = 0;

for my $f (@examples) {
    my ($base) = $f =~ m{([^/]+)$};
    my $conf = $conf_of{$base};
    ok($conf, "$base: loaded by an example conf") or next;
    my @opt = map { ('--integration', $_) } @{ $patterns{$conf} // [] };
    my $out = qx{"$sfn" validate @{[ map { "'$_'" } @opt ]} "$f" 2>&1};
    is($out, "$f: valid\n", "$base: valid with "
       . scalar(@{ $patterns{$conf} // [] }) . ' rule(s) of its conf');
    next unless @opt;
    $out = qx{"$sfn" validate "$f" 2>&1};
    $refused++ if $? >> 8 == 1
                  && $out =~ /SCHEMA_VALIDATION_FAILED:[ ]The[ ]resource
                              [ ]provided[ ]\S+[ ]is[ ]not[ ]recognized/x;
}

ok($refused >= 15, "$refused examples refused without their rules");

# a rule serves its own service only; the suffix stays the definition's

my $etl = "$root/conf-examples/etl-pipeline.asl.json";
my $lambda = "'arn:aws:lambda:*:*:function:*'";
$out = qx{"$sfn" validate --integration $lambda "$etl" 2>&1};
like($out, qr/"StartGlueJob": [ ] SCHEMA_VALIDATION_FAILED: [ ] The [ ]
               resource [ ] provided [ ] arn:aws:states:::glue:startJobRun
               \.sync [ ] is [ ] not [ ] recognized/x,
     'a Lambda rule does not serve a Glue job');
is($? >> 8, 1, '... exit 1');

for my $b (['http://127.0.0.1/', qr/is not an ARN/],
           ['arn:aws:states:::glue:startJobRun.sync',
            qr/without "\.sync" or "\.waitForTaskToken"/],
           ['arn:aws:states:::mediaconvert:createJob',
            qr/runs as a built-in task only/],
           ['', qr/must be 1\.\.1024 characters/],
           ['a' x 1025, qr/must be 1\.\.1024 characters/],
           ["arn:aws:lambda:\x01", qr/must be printable ASCII/],
           ['arn:aws:iam::1:role/x', qr/names no resource/]) {
    $out = qx{"$sfn" validate --integration '$b->[0]' "$etl" 2>&1};
    is($? >> 8, 2, 'sfn validate --integration "'
       . substr($b->[0], 0, 40) . '": exit 2');
    like($out, $b->[1], '... and why');
}

$out = qx{"$sfn" validate --integration 2>&1};
is($? >> 8, 2, 'sfn validate --integration without a pattern: exit 2');
$out = qx{"$sfn" validate --integration 'arn:aws:sns:*:*:*' 2>&1};
is($? >> 8, 2, 'sfn validate with a rule and no file: exit 2');

done_testing();
