# sfn_state_machine: definitions are loaded and validated at configuration
# time; nginx -t names the file, the state and the reason of a bad one.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;

my $t = Sfn::Test->new;

my $http = <<'END';
    sfn_zone sfn 1m;
    sfn_thread_pool sfn;
    sfn_bucket source %%DIR%%/source;
    sfn_state_machine sm %%DIR%%/conf/sm.json;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /upload/ { sfn_upload source; sfn_trigger sm suffix=.mp4; }
    }
END

my @cases = (
    [ 'valid definition',
      '{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},'
      . '"B":{"Type":"Task","Resource":"sfn:media:probe","End":true}}}',
      undef ],
    [ 'invalid JSON',
      '{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}',
      qr/INVALID_JSON_DESCRIPTION|invalid JSON/i ],
    [ 'missing StartAt',
      '{"States":{"A":{"Type":"Pass","End":true}}}',
      qr/StartAt/ ],
    [ 'Next names no state',
      '{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Nowhere"}}}',
      qr/state "A".*(MISSING_TRANSITION_TARGET|Nowhere)/ ],
    [ 'neither Next nor End',
      '{"StartAt":"A","States":{"A":{"Type":"Pass"}}}',
      qr/state "A"/ ],
    [ 'unknown Type',
      '{"StartAt":"A","States":{"A":{"Type":"Teleport","End":true}}}',
      qr/state "A".*(Teleport|Type)/ ],
    [ 'unknown Resource',
      '{"StartAt":"A","States":{"A":{"Type":"Task",'
      . '"Resource":"sfn:nope:never","End":true}}}',
      qr/state "A".*sfn:nope:never/ ],
);

for my $c (@cases) {
    my ($name, $def, $re) = @$c;

    $t->write_file('conf/sm.json', $def);
    my ($rc, $out) = $t->nginx_test($http);

    if (!defined $re) {
        is($rc, 0, "$name: nginx -t passes") or diag($out);
        next;
    }

    isnt($rc, 0, "$name: nginx -t fails");
    like($out, qr/\[emerg\].*sfn state machine "sm" in ".*sm\.json"/,
         "$name: names the file") or diag($out);
    like($out, $re, "$name: names the state and the reason") or diag($out);
}

# references to things that do not exist

$t->write_file('conf/sm.json',
               '{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}');

(my $bad = $http) =~ s/sfn_trigger sm/sfn_trigger other/;
my ($rc, $out) = $t->nginx_test($bad);
isnt($rc, 0, 'unknown state machine in sfn_trigger fails');
like($out, qr/unknown state machine "other"/, 'and says which');

($bad = $http) =~ s/sfn_upload source/sfn_upload nowhere/;
($rc, $out) = $t->nginx_test($bad);
isnt($rc, 0, 'unknown bucket in sfn_upload fails');
like($out, qr/unknown bucket "nowhere"/, 'and says which');

($bad = $http) =~ s{conf/sm.json;}{conf/sm.json type=fast;};
($rc, $out) = $t->nginx_test($bad);
isnt($rc, 0, 'bad type= fails');
like($out, qr/invalid parameter "type=fast"/, 'and says which');

($bad = $http) =~ s{conf/sm.json}{conf/missing.json};
($rc, $out) = $t->nginx_test($bad);
isnt($rc, 0, 'missing definition file fails');
like($out, qr/missing\.json/, 'and names the file');

($bad = $http) =~ s{(sfn_state_machine)}{sfn_express_log on;\n    $1};
($rc, $out) = $t->nginx_test($bad);
isnt($rc, 0, 'sfn_express_log without a database fails');
like($out, qr/"sfn_express_log" requires "sfn_database"/, 'and says why');

done_testing;
