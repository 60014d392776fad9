# ValidateStateMachineDefinition's WARNING diagnostics (AWS's codes
# NO_DOLLAR, NO_PATH, PASS_RESULT_IS_STATIC), which leave the result OK,
# follow the errors and count against maxResults; no empty location.
# GetExecutionHistory with includeExecutionData false leaves the input and
# output out of every event, in the row-per-event and the packed forms.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;
use Time::HiRes qw(sleep);

Sfn::Test::need_postgres();

my $t = Sfn::Test->new;

$t->start($t->sfn_http(zone => '8m',
                       server => "location = / { sfn_aws_api; }\n"));

my $role = 'arn:aws:iam::000000000000:role/warnings';

sub validate {
    my ($def, %o) = @_;
    my ($s, $r) = $t->aws_api('ValidateStateMachineDefinition',
                              { definition => ref $def
                                              ? $t->json->encode($def)
                                              : $def, %o });
    is($s, 200, 'ValidateStateMachineDefinition answers 200')
        or diag(explain $r);
    return $r;
}

sub codes {
    my ($r) = @_;
    return join ',', map { "$_->{severity}:$_->{code}:"
                           . ($_->{location} // '-') }
                     @{ $r->{diagnostics} // [] };
}

# the definitions are written with their members sorted (JSON::PP
# canonical): the warnings come in the document's order



my $true = JSON::PP::true;

# each warning where AWS puts it

my $r = validate({ StartAt => 'P', States => {
    P => { Type => 'Pass', Result => { a => '$.x', b => [ 'ok', '$$.Execution.Id' ] },
           Next => 'T' },
    T => { Type => 'Pass',
           Parameters => { 'plain' => '$.input', 'fine.$' => '$.input',
                           'call' => 'States.Format(\'{}\', $.a)',
                           'deep' => { 'x' => '$[0]' },
                           'text' => 'no path here' },
           Next => 'C' },
    C => { Type => 'Choice', Choices => [
               { Variable => '$.a', StringEquals => '$.b', Next => 'S' },
               { And => [ { Variable => '$.n', NumericEqualsPath => '$.m' },
                          { Variable => '$.s', StringEquals => 'plain' } ],
                 Next => 'S' } ],
           Default => 'S' },
    S => { Type => 'Succeed' } } });

is($r->{result}, 'OK', 'warnings leave the result OK');
is(codes($r), join(',',
    'WARNING:NO_PATH:/States/C/Choices/0/StringEquals',
    'WARNING:PASS_RESULT_IS_STATIC:/States/P/Result/a',
    'WARNING:PASS_RESULT_IS_STATIC:/States/P/Result/b',
    'WARNING:NO_DOLLAR:/States/T/Parameters/call',
    'WARNING:NO_DOLLAR:/States/T/Parameters/deep/x',
    'WARNING:NO_DOLLAR:/States/T/Parameters/plain'),
   'PASS_RESULT_IS_STATIC, NO_DOLLAR, NO_PATH at their locations');
ok(!$r->{truncated}, 'not truncated');
like($r->{diagnostics}[1]{message}, qr/Result/, 'a message that says why');

# nested in Parallel and Map, and not in JSONata

$r = validate({ StartAt => 'Par', States => {
    Par => { Type => 'Parallel', Next => 'M', Branches => [
        { StartAt => 'In', States => { In => {
            Type => 'Pass', Result => '$.nested', End => $true } } } ] },
    M => { Type => 'Map', End => $true,
           ItemSelector => { 'v' => '$$.Map.Item.Value' },
           ItemProcessor => { StartAt => 'I', States => { I => {
               Type => 'Pass', Parameters => { 'p' => '$.q' },
               End => $true } } } } } });
is(codes($r), join(',',
    'WARNING:NO_DOLLAR:/States/M/ItemSelector/v',
    'WARNING:NO_DOLLAR:/States/M/ItemProcessor/States/I/Parameters/p',
    'WARNING:PASS_RESULT_IS_STATIC:/States/Par/Branches/0/States/In/Result'),
   'in branches, items and iterations');

$r = validate({ QueryLanguage => 'JSONata', StartAt => 'P', States => {
    P => { Type => 'Pass', Output => { a => '$.x' }, End => $true } } });
unlike(codes($r), qr/WARNING/, 'JSONata: no path to mistake');

$r = validate({ StartAt => 'P', States => {
    P => { Type => 'Pass', Result => { a => 'x$.y', b => '$x', c => 12 },
           Parameters => { a => 'States', b => 'States.Format' },
           End => $true } } });
is(codes($r), '', 'what only resembles a path is no warning');

# errors first, then warnings, both counted by maxResults

$r = validate({ StartAt => 'P', States => {
    P => { Type => 'Pass', Result => '$.x', Next => 'Nowhere' } } });
is($r->{result}, 'FAIL', 'an error and a warning: FAIL');
like(codes($r), qr/^ERROR:[A-Z_]+:[^,]+,WARNING:PASS_RESULT_IS_STATIC:/,
     'the error, then the warning');

$r = validate({ StartAt => 'P', States => {
    P => { Type => 'Pass', Parameters => { a => '$.a', b => '$.b',
                                           c => '$.c' }, End => $true } } },
              maxResults => 2);
is(scalar @{ $r->{diagnostics} }, 2, 'maxResults 2: two diagnostics');
ok($r->{truncated}, 'and truncated');

# a diagnostic of the whole has no location member at all

$r = validate('{"StartAt": ');
is($r->{result}, 'FAIL', 'not JSON: FAIL');
ok(!grep({ exists $_->{location} && $_->{location} eq '' }
         @{ $r->{diagnostics} }), 'no empty location');

# GetExecutionHistory includeExecutionData

my $def = $t->json->encode({ StartAt => 'A', States => {
    A => { Type => 'Pass', Parameters => { 'v.$' => '$.v' }, Next => 'B' },
    B => { Type => 'Pass', Result => { secret => 'kept out' },
           ResultPath => '$.r', End => $true } } });
my (undef, $sm) = $t->aws_api('CreateStateMachine', {
    name => 'data', roleArn => $role, definition => $def });
my (undef, $ex) = $t->aws_api('StartExecution', {
    stateMachineArn => $sm->{stateMachineArn}, name => 'd1',
    input => '{"v": "sensitive", "big": "' . ('x' x 2000) . '"}' });
my $arn = $ex->{executionArn};

my $d;
for (1 .. 100) {
    (undef, $d) = $t->aws_api('DescribeExecution', { executionArn => $arn });
    last if ($d->{status} // '') ne 'RUNNING';
    sleep 0.1;
}
is($d->{status}, 'SUCCEEDED', 'an execution to read');

sub history {
    my (%o) = @_;
    my (undef, $h) = $t->aws_api('GetExecutionHistory',
                                 { executionArn => $arn, %o });
    return $h->{events} // [];
}

for my $form ('packed', 'rows') {
    if ($form eq 'rows') {
        # the same history, a row per event, as a long one keeps it
        $t->psql("INSERT INTO sfn_history (execution_arn, id, previous_id, "
                 . "type, ts, details) SELECT execution_arn, id, "
                 . "previous_id, type, ts, details FROM sfn_events "
                 . "WHERE execution_arn = '$arn'; UPDATE sfn_executions "
                 . "SET history = NULL WHERE arn = '$arn'");
    }

    my $with = history();
    my $without = history(includeExecutionData => JSON::PP::false);
    my $text = $t->json->encode($without);

    is(scalar @$without, scalar @$with, "$form: the same events");
    like($t->json->encode($with), qr/sensitive/, "$form: with the data");
    unlike($text, qr/sensitive|kept out|xxxx/, "$form: without it");
    ok(!grep({ my $e = $_; grep { ref $e->{$_} eq 'HASH'
                                  && (exists $e->{$_}{input}
                                      || exists $e->{$_}{output}) }
                           keys %$e } @$without),
       "$form: no input or output member in any event's details");
    is(join(',', map { $_->{type} } @$without),
       join(',', map { $_->{type} } @$with), "$form: the same types");
    my ($started) = grep { $_->{type} eq 'ExecutionStarted' } @$without;
    is($started->{executionStartedEventDetails}{roleArn}, $role,
       "$form: what is not data stays");
}

$t->stop;

done_testing;
