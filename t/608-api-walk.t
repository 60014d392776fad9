# Every action of the Step Functions API model, called with valid input,
# its reply checked against the model's output shape.  The model is the
# one @aws-sdk/client-sfn carries (its schemas: structures, lists, maps,
# required members, timestamps; its TypeScript declarations: which
# members are enums, and their values).  Requests go over plain HTTP, so
# what is checked is what nginx sends, not what an SDK makes of it:
# required members present, no member the shape lacks, strings, numbers,
# booleans, timestamps (epoch seconds) and enum values where the model
# has them.  An action not implemented must answer a clean
# UnknownOperationException; the test prints
# "actions answered: N of 37, shape mismatches: M" and fails on any
# mismatch, and on fewer actions answered than the floor below.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Sfn::Test;

my $sdk = Sfn::Test::need_npm('@aws-sdk/client-sfn');

# actions answered today; raise it as actions are added
my $FLOOR = 37;

my $t = Sfn::Test->new;
my $dir = $t->dir;

$t->start($t->sfn_http(zone => '8m', buckets => [ scratch => 'scratch' ],
                       server => "location = / { sfn_aws_api; }\n"),
          workers => 2);

my $port = $t->port;
(my $types = $sdk) .= '/dist-types/models/models_0.d.ts';

$t->write_file('walk.cjs', <<"END");
'use strict';
const fs = require('fs');
const m = require('$sdk/dist-cjs/index.js');

/* the model: operations, and enums by (structure, member) */

const ops = Object.keys(m).filter(k => k.endsWith('\$')
    && Array.isArray(m[k]) && m[k][0] === 9).map(k => k.slice(0, -1));

const enums = {};
for (const k of Object.keys(m)) {
    const v = m[k];
    if (v && typeof v === 'object' && !Array.isArray(v)
        && !k.endsWith('\$') && Object.keys(v).length
        && Object.values(v).every(x => typeof x === 'string'))
    {
        enums[k] = new Set(Object.values(v));
    }
}

const memberEnum = {};
const dts = fs.readFileSync('$types', 'utf8');
for (const [, iface, body] of dts.matchAll(
         /export interface (\\w+) \\{([\\s\\S]*?)\\n\\}/g))
{
    for (const [, name, type] of body.matchAll(
             /^\\s+(\\w+)\\??: (\\w+)(?:\\[\\])? \\| undefined;/gm))
    {
        if (enums[type]) memberEnum[iface + '.' + name] = type;
    }
}

/* a schema reference: a number (simple type), a schema, or a thunk */

function deref(s) {
    if (typeof s === 'function') s = s();
    if (Array.isArray(s) && s.length === 2 && !(typeof s[0] === 'number'
        && typeof s[1] === 'string'))
    {
        return deref(s[0]);      /* [schema, member traits] */
    }
    if (Array.isArray(s) && s[0] === 0) return deref(s[4]);
    return s;
}

function check(s, v, path, errs, owner, member) {
    s = deref(s);
    const bad = what => errs.push(path + ': ' + what + ', got '
                                  + JSON.stringify(v).slice(0, 80));

    if (typeof s === 'number') {
        if (s & 64) {
            if (!Array.isArray(v)) return bad('not a list');
            v.forEach((x, i) => check(s & 63, x, path + '[' + i + ']', errs,
                                      owner, member));
            return;
        }
        if (s & 128) {
            if (typeof v !== 'object' || v === null || Array.isArray(v))
                return bad('not a map');
            for (const k in v) check(s & 127, v[k], path + '.' + k, errs);
            return;
        }
        switch (s) {
        case 0: {
            if (typeof v !== 'string') return bad('not a string');
            const e = memberEnum[owner + '.' + member];
            if (e && !enums[e].has(v)) bad('not in the enum ' + e);
            return;
        }
        case 1:
            if (typeof v !== 'number' || !isFinite(v)) bad('not a number');
            return;
        case 2:
            if (typeof v !== 'boolean') bad('not a boolean');
            return;
        case 4: case 5: case 6: case 7:
            if (typeof v !== 'number' || !(v >= 0))
                bad('not a timestamp in epoch seconds');
            return;
        case 15:
            return;
        case 21:
            if (typeof v !== 'string') bad('not a blob');
            return;
        }
        return bad('unknown simple type ' + s);
    }

    switch (s[0]) {
    case 1:
        if (!Array.isArray(v)) return bad('not a list');
        v.forEach((x, i) => check(s[4], x, path + '[' + i + ']', errs,
                                  owner, member));
        return;
    case 2:
        if (typeof v !== 'object' || v === null || Array.isArray(v))
            return bad('not a map');
        for (const k in v) check(s[5], v[k], path + '.' + k, errs);
        return;
    case 3: case 4: {
        if (typeof v !== 'object' || v === null || Array.isArray(v))
            return bad('not a structure ' + s[2]);
        const names = s[4], req = s[6] || 0;
        for (let i = 0; i < req; i++) {
            if (!(names[i] in v)) errs.push(path + '.' + names[i]
                                            + ': required, missing');
        }
        for (const k in v) {
            const i = names.indexOf(k);
            if (i < 0) { errs.push(path + '.' + k + ': not in ' + s[2]);
                         continue; }
            if (v[k] === null) { errs.push(path + '.' + k + ': null');
                                 continue; }
            check(s[5][i], v[k], path + '.' + k, errs, s[2], k);
        }
        if (s[0] === 4 && Object.keys(v).length !== 1)
            errs.push(path + ': a union with ' + Object.keys(v).length
                      + ' members');
        return;
    }
    }
    bad('unknown schema kind ' + s[0]);
}

/* the checker finds what it is for: each of these is one mismatch */

const selfcheck = [
    [ 'DescribeExecutionOutput', { stateMachineArn: 'a', status: 'RUNNING',
                                   startDate: 1 } ],
    [ 'DescribeExecutionOutput', { executionArn: 'e', stateMachineArn: 'a',
                                   status: 'RUNNING', startDate: 1,
                                   surprise: 1 } ],
    [ 'DescribeExecutionOutput', { executionArn: 'e', stateMachineArn: 'a',
                                   status: 'WALKING', startDate: 1 } ],
    [ 'DescribeExecutionOutput', { executionArn: 'e', stateMachineArn: 'a',
                                   status: 'RUNNING', startDate: 'today' } ],
    [ 'DescribeExecutionOutput', { executionArn: 'e', stateMachineArn: 'a',
                                   status: 'RUNNING', startDate: 1,
                                   inputDetails: { included: 'yes' } } ],
    [ 'ListExecutionsOutput', { executions: [ { executionArn: 'e',
        stateMachineArn: 'a', name: 'n', status: 'RUNNING', startDate: 1,
        redriveCount: '0' } ] } ],
    [ 'GetExecutionHistoryOutput', { events: [ { timestamp: 1, id: 1,
        type: 'NoSuchEvent' } ] } ],
].map(([shape, v]) => { const e = []; check(m[shape + '\$'], v, shape, e);
                        return e.length; });

/* the calls */

const acct = 'arn:aws:states:us-east-1:000000000000';
const role = 'arn:aws:iam::000000000000:role/walk';
const results = {};

async function call(op, input) {
    const r = await fetch('http://127.0.0.1:$port/', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-amz-json-1.0',
                   'X-Amz-Target': 'AWSStepFunctions.' + op },
        body: JSON.stringify(input) });
    const text = await r.text();
    let body;
    try { body = JSON.parse(text); } catch (e) { body = undefined; }
    return { status: r.status, body, text };
}

async function walk(op, input, fake) {
    const r = await call(op, input);
    /* an action called more than once keeps every mismatch */
    const res = { op, status: r.status,
                  errs: results[op] ? results[op].errs : [] };
    results[op] = res;
    if (r.status === 200) {
        res.kind = 'answered';
        check(m[op + '\$'][5], r.body, op + 'Output', res.errs);
        return r.body;
    }
    const type = r.body && r.body.__type;
    if (type === 'UnknownOperationException') {
        res.kind = 'unknown';
        if (r.status !== 400 || typeof r.body.message !== 'string')
            res.errs.push('an unclean UnknownOperationException: '
                          + r.status + ' ' + r.text.slice(0, 80));
        return undefined;
    }
    res.kind = fake ? 'answered' : 'error';
    res.type = type;
    if (!type || typeof r.body.message !== 'string')
        res.errs.push('an error without __type and message: ' + r.status
                      + ' ' + r.text.slice(0, 80));
    else if (!fake)
        res.errs.push('valid input answered ' + r.status + ' ' + type + ': '
                      + r.body.message.slice(0, 120));
    return undefined;
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

async function token(arn) {
    for (let i = 0; i < 100; i++) {
        const h = await call('GetExecutionHistory', { executionArn: arn });
        for (const e of (h.body && h.body.events) || []) {
            const d = e.taskScheduledEventDetails;
            if (d) return JSON.parse(d.parameters).token;
        }
        await sleep(50);
    }
    return 'no-token';
}

async function settle(arn) {
    for (let i = 0; i < 100; i++) {
        const d = await call('DescribeExecution', { executionArn: arn });
        if (d.body && d.body.status !== 'RUNNING') return;
        await sleep(50);
    }
}

(async () => {
    const waitDef = JSON.stringify({ StartAt: 'Ask', States: {
        Ask: { Type: 'Task', Resource: 'sfn:file:delete.waitForTaskToken',
               Parameters: { bucket: 'scratch', key: 'none.txt',
                             'token.\$': '\$\$.Task.Token' },
               Next: 'Done' },
        Done: { Type: 'Succeed' } } });
    const passDef = JSON.stringify({ StartAt: 'P', States: {
        P: { Type: 'Pass', Result: { ok: true }, End: true } } });
    const failDef = JSON.stringify({ StartAt: 'F', States: {
        F: { Type: 'Fail', Error: 'Walk', Cause: 'by design' } } });

    await walk('ValidateStateMachineDefinition', { definition: waitDef });
    const sm = await walk('CreateStateMachine', { name: 'walk',
        definition: waitDef, roleArn: role,
        tags: [ { key: 'k', value: 'v' } ] });
    const smArn = (sm && sm.stateMachineArn) || acct + ':stateMachine:walk';
    await call('CreateStateMachine', { name: 'walkx', type: 'EXPRESS',
                                       definition: passDef, roleArn: role });
    await call('CreateStateMachine', { name: 'walkfail', definition: failDef,
                                       roleArn: role });
    await call('CreateStateMachine', { name: 'walkdel', definition: passDef,
                                       roleArn: role });

    await walk('DescribeStateMachine', { stateMachineArn: smArn });
    await walk('ListStateMachines', {});
    await walk('UpdateStateMachine', { stateMachineArn: smArn,
                                       definition: waitDef });
    const v = await walk('PublishStateMachineVersion',
                         { stateMachineArn: smArn, description: 'walk' });
    const vArn = (v && v.stateMachineVersionArn) || smArn + ':1';
    await walk('ListStateMachineVersions', { stateMachineArn: smArn });
    const a = await walk('CreateStateMachineAlias', { name: 'walk-alias',
        description: 'walk', routingConfiguration: [
            { stateMachineVersionArn: vArn, weight: 100 } ] });
    const aArn = (a && a.stateMachineAliasArn) || smArn + ':walk-alias';
    await walk('DescribeStateMachineAlias', { stateMachineAliasArn: aArn });
    await walk('UpdateStateMachineAlias', { stateMachineAliasArn: aArn,
                                            description: 'walked' });
    await walk('ListStateMachineAliases', { stateMachineArn: smArn });

    await walk('TagResource', { resourceArn: smArn,
                                tags: [ { key: 'k2', value: 'v2' } ] });
    await walk('ListTagsForResource', { resourceArn: smArn });
    await walk('UntagResource', { resourceArn: smArn, tagKeys: [ 'k2' ] });

    const e1 = await walk('StartExecution', { stateMachineArn: smArn,
        name: 'walk-1', input: '{"a":1}', traceHeader: 'Root=1-walk' });
    const e1Arn = (e1 && e1.executionArn) || acct + ':execution:walk:walk-1';
    const e2 = await call('StartExecution', { stateMachineArn: aArn,
                                              name: 'walk-2' });
    const e3 = await call('StartExecution', { stateMachineArn: smArn,
                                              name: 'walk-3' });
    const t1 = await token(e1Arn);
    await walk('DescribeExecution', { executionArn: e1Arn });
    await walk('DescribeStateMachineForExecution', { executionArn: e1Arn });
    await walk('GetExecutionHistory', { executionArn: e1Arn });
    await walk('ListExecutions', { stateMachineArn: smArn });
    const e2Arn0 = (e2.body && e2.body.executionArn) || e1Arn;
    await walk('DescribeExecution', { executionArn: e2Arn0 });
    await walk('DescribeStateMachineForExecution', { executionArn: e2Arn0 });
    await walk('DescribeStateMachine', { stateMachineArn: vArn });
    await walk('SendTaskHeartbeat', { taskToken: t1 });
    await walk('SendTaskSuccess', { taskToken: t1, output: '{"done":1}' });
    const e2Arn = (e2.body && e2.body.executionArn) || e1Arn;
    await walk('SendTaskFailure', { taskToken: await token(e2Arn),
                                    error: 'Walk', cause: 'walked' });
    await settle(e1Arn);
    await walk('GetExecutionHistory', { executionArn: e1Arn,
                                        reverseOrder: true });
    const e3Arn = (e3.body && e3.body.executionArn) || e1Arn;
    await token(e3Arn);
    await walk('StopExecution', { executionArn: e3Arn, error: 'Walk',
                                  cause: 'stopped' });
    await walk('DescribeExecution', { executionArn: e3Arn });

    await walk('StartSyncExecution', {
        stateMachineArn: acct + ':stateMachine:walkx', input: '{}' });

    const f = await call('StartExecution', {
        stateMachineArn: acct + ':stateMachine:walkfail', name: 'walk-f' });
    const fArn = (f.body && f.body.executionArn)
                 || acct + ':execution:walkfail:walk-f';
    await settle(fArn);
    await walk('RedriveExecution', { executionArn: fArn });
    await settle(fArn);
    await walk('DescribeExecution', { executionArn: fArn });
    await walk('ListExecutions', {
        stateMachineArn: acct + ':stateMachine:walkfail',
        redriveFilter: 'REDRIVEN' });
    await walk('GetExecutionHistory', { executionArn: fArn });

    /* map runs: a distributed Map's, listed while it runs, described and
       updated */

    await call('CreateStateMachine', { name: 'walkmap', roleArn: role,
        definition: JSON.stringify({ StartAt: 'M', States: { M: {
            Type: 'Map', ItemsPath: '\$.items', MaxConcurrency: 1,
            ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED',
                                                ExecutionType: 'EXPRESS' },
                StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 1,
                                             End: true } } },
            End: true } } }) });
    const em = await call('StartExecution', {
        stateMachineArn: acct + ':stateMachine:walkmap',
        input: JSON.stringify({ items: [1, 2, 3, 4, 5] }) });
    const emArn = (em.body && em.body.executionArn) || e1Arn;
    let lm;
    for (let i = 0; i < 50; i++) {
        lm = await walk('ListMapRuns', { executionArn: emArn });
        if (lm && lm.mapRuns && lm.mapRuns.length) break;
        await sleep(100);
    }
    const mr = (lm && lm.mapRuns && lm.mapRuns[0] && lm.mapRuns[0].mapRunArn);
    const mrArn = mr || acct + ':mapRun:walk/Map:00000000-0000-0000-0000-'
                       + '000000000000';
    await walk('DescribeMapRun', { mapRunArn: mrArn }, !mr);
    await walk('UpdateMapRun', { mapRunArn: mrArn, maxConcurrency: 2 }, !mr);
    await walk('ListExecutions', { mapRunArn: mrArn });
    await walk('GetExecutionHistory', { executionArn: emArn });
    await settle(emArn);
    await walk('DescribeMapRun', { mapRunArn: mrArn }, !mr);
    await walk('GetExecutionHistory', { executionArn: emArn });

    /* activities: GetActivityTask is answered at once when one is there */

    const act = await walk('CreateActivity', { name: 'walk-activity' });
    const actArn = (act && act.activityArn)
                   || acct + ':activity:walk-activity';
    await walk('DescribeActivity', { activityArn: actArn });
    await walk('ListActivities', {});
    if (act) {
        await call('CreateStateMachine', { name: 'walkact', roleArn: role,
            definition: JSON.stringify({ StartAt: 'A', States: {
                A: { Type: 'Task', Resource: actArn, End: true } } }) });
        await call('StartExecution', {
            stateMachineArn: acct + ':stateMachine:walkact' });
    }
    await walk('GetActivityTask', { activityArn: actArn,
                                    workerName: 'walker' });

    await walk('TestState', { roleArn: role, input: '{"x":1}',
        definition: JSON.stringify({ Type: 'Pass', End: true }) });

    await walk('DeleteStateMachineAlias', { stateMachineAliasArn: aArn });
    await walk('DeleteStateMachineVersion', { stateMachineVersionArn: vArn });
    await walk('DeleteActivity', { activityArn: actArn });
    await walk('DeleteStateMachine', {
        stateMachineArn: acct + ':stateMachine:walkdel' });

    let answered = 0, mismatches = 0;
    for (const op of ops.sort()) {
        const r = results[op];
        if (!r) {
            console.log('not called: ' + op);
            mismatches++;
            continue;
        }
        if (r.kind !== 'unknown') answered++;
        mismatches += r.errs.length;
        console.log((r.kind === 'unknown' ? 'not implemented: '
                     : r.errs.length ? 'MISMATCH: ' : 'ok: ') + op
                    + (r.type ? ' (' + r.type + ')' : ''));
        for (const e of r.errs) console.log('    ' + e);
    }
    console.log('actions answered: ' + answered + ' of ' + ops.length
                + ', shape mismatches: ' + mismatches);
    console.log(JSON.stringify({ ops: ops.length, answered, mismatches,
                                 enums: Object.keys(memberEnum).length,
                                 selfcheck }));
})().catch(e => { console.log('walk failed: ' + e.stack); process.exit(1); });
END

my $res = `node '$dir/walk.cjs' 2>&1`;
is($?, 0, 'the walk ran') or diag($res);
my ($line) = grep { /^\{/ } split /\n/, $res;
my $out = eval { $t->json->decode($line // '') } // {};
my ($summary) = grep { /^actions answered/ } split /\n/, $res;
diag($summary // 'no summary');

is($out->{ops}, 37, 'the model has 37 actions');
ok(($out->{enums} // 0) > 20, "enums found in the model ($out->{enums})");
is_deeply($out->{selfcheck}, [ (1) x 7 ],
          'the checker finds a missing member, an unknown one, a value out '
          . 'of its enum, a date that is not a number, a string for a '
          . 'boolean and for a number, an unknown event type');
is($out->{mismatches}, 0, 'no shape mismatch, every other action a clean '
                          . 'UnknownOperationException')
    or diag(join "\n", grep { /^(MISMATCH|not called|    )/ }
                       split /\n/, $res);
ok(($out->{answered} // 0) >= $FLOOR,
   "at least $FLOOR actions answered ($out->{answered})");
note($res);

$t->stop;

done_testing;
