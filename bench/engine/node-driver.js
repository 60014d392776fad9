#!/usr/bin/env node
// The reference side of bench/engine/run: the same definitions and inputs
// as sfn-bench.c, run in process by aws-local-stepfunctions.
//
//   node node-driver.js [--seconds S] [--warmup S] [--items N] pass|params|map
//   node node-driver.js [options] --file CASE.json --jsonata DIR jsonata
//
// aws-local-stepfunctions 3 runs a JSONata state as if it had no Output
// (it passes its input on): for the jsonata case the reference is
// jsonata-js (the package in DIR, 2.0.6, the version AWS runs) evaluating
// the same expressions: each state's Output fields with $states.input,
// state after state, as a Pass chain does.  One run of the chain through
// aws-local-stepfunctions tells whether it changed the input
// (als_jsonata=yes|no), and --print prints the chain's output and exits.
//
// Runs executions for S seconds after S of warm-up (1 by default) and
// prints one line: case=... execs=... events_per_exec=... seconds=...
// cpu_seconds=... exec_per_s=... exec_per_cpu_s=... transitions_per_s=...
// peak_rss_kb=...: the rate per second of wall clock and per second of the
// main thread's CPU time.

'use strict';

const fs = require('fs');
const { StateMachine } = require('aws-local-stepfunctions');


// the jsonata case: a Pass chain whose Output fields are JSONata
function jsonataChain(file, dir) {
  const jsonata = require(dir);
  const c = JSON.parse(fs.readFileSync(file, 'utf8'));
  const def = c.definition;

  // a template: literals, and "{% expression %}" strings compiled once
  function compile(v) {
    if (typeof v === 'string') {
      const m = /^{%([\s\S]*)%}$/.exec(v);
      if (m) {
        const e = jsonata(m[1].trim());
        return async (bindings) => {
          const r = await e.evaluate(undefined, bindings);
          if (r === undefined) throw new Error('undefined: ' + m[1]);
          return r;
        };
      }
      return async () => v;
    }
    if (Array.isArray(v)) {
      const items = v.map(compile);
      return async (b) => { const r = []; for (const f of items) r.push(await f(b)); return r; };
    }
    if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v), vals = keys.map((k) => compile(v[k]));
      return async (b) => {
        const r = {};
        for (let i = 0; i < keys.length; i++) r[keys[i]] = await vals[i](b);
        return r;
      };
    }
    return async () => v;
  }

  const states = {};
  for (const name of Object.keys(def.States)) {
    const st = def.States[name];
    states[name] = { output: st.Output === undefined ? null : compile(st.Output), next: st.Next };
  }

  return {
    def, input: c.input, transitions: Object.keys(def.States).length,
    run: async (input) => {
      let cur = input;
      for (let name = def.StartAt; name; name = states[name].next) {
        const out = states[name].output;
        if (out) {
          // a fresh $states per state; JSON in and out, as a state's
          // payload is
          cur = await out({ states: { input: cur } });
          cur = JSON.parse(JSON.stringify(cur));
        }
      }
      return cur;
    },
  };
}

function definition(name, items) {
  if (name === 'pass' || name === 'params') {
    const states = {};
    for (let i = 0; i < 10; i++) {
      const s = { Type: 'Pass' };
      if (name === 'params') {
        s.Parameters = {
          step: i,
          'id.$': '$.id',
          'msg.$': "States.Format('step {} of {} for {}', $.id, $.name, $.payload.kind)",
        };
        s.ResultPath = '$.last';
      }
      if (i < 9) s.Next = 'S' + (i + 1); else s.End = true;
      states['S' + i] = s;
    }
    return {
      def: { StartAt: 'S0', States: states },
      input: { id: 42, name: 'bench', payload: { kind: 'video', sizes: [1, 2, 3], tags: { a: 'x', b: 'y' } } },
      transitions: 10,
    };
  }
  if (name === 'map') {
    return {
      def: {
        StartAt: 'M',
        States: {
          M: {
            Type: 'Map', ItemsPath: '$.items',
            ItemProcessor: { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } },
            End: true,
          },
        },
      },
      input: { items: Array.from({ length: items }, (_, i) => i) },
      transitions: items + 1,
    };
  }
  throw new Error('unknown case ' + name);
}

// the events the reference's logger kept for one execution
async function countEvents(execution) {
  let n = 0;
  for await (const ev of execution.eventLogs) {
    if (!ev || !ev.type) throw new Error('bad history event');
    n++;
  }
  return n;
}

async function main() {
  const args = process.argv.slice(2);
  let seconds = 3, warmup = 1, items = 10000, name = null;
  let file = null, dir = null, print = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--seconds') seconds = parseFloat(args[++i]);
    else if (args[i] === '--warmup') warmup = parseFloat(args[++i]);
    else if (args[i] === '--items') items = parseInt(args[++i], 10);
    else if (args[i] === '--file') file = args[++i];
    else if (args[i] === '--jsonata') dir = args[++i];
    else if (args[i] === '--print') print = true;
    else name = args[i];
  }

  if (name === 'jsonata') {
    return timeJsonata(jsonataChain(file, dir), seconds, warmup, print);
  }

  const { def, input, transitions } = definition(name, items);
  const sm = new StateMachine(def);

  // its logger keeps every event of an execution in a queue until read:
  // one execution read to the end shows how many the timed ones keep
  const first = sm.run(input);
  const out = await first.result;
  if (name === 'map' && out.length !== items) throw new Error('bad map output');
  const events = await countEvents(first);

  // warm-up, not counted: the JIT compiles the hot paths
  let t0 = process.hrtime.bigint();
  while (Number(process.hrtime.bigint() - t0) / 1e9 < warmup) {
    await sm.run(input).result;
  }

  let execs = 0;
  let t = 0;
  t0 = process.hrtime.bigint();
  const c0 = process.threadCpuUsage();
  do {
    await sm.run(input).result;
    execs++;
    t = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (t < seconds);
  const c1 = process.threadCpuUsage();
  // the main thread's CPU time: the JIT's and GC's helper threads not counted
  const cpu = (c1.user - c0.user + c1.system - c0.system) / 1e6;
  const rss = process.resourceUsage().maxRSS;
  console.log(`case=${name} execs=${execs} events_per_exec=${events} seconds=${t.toFixed(3)} ` +
              `cpu_seconds=${cpu.toFixed(3)} exec_per_s=${(execs / t).toFixed(1)} ` +
              `exec_per_cpu_s=${(execs / cpu).toFixed(1)} ` +
              `transitions_per_s=${(execs * transitions / t).toFixed(1)} peak_rss_kb=${rss}`);
}

async function timeJsonata(c, seconds, warmup, print) {
  const out = await c.run(c.input);
  if (print) {
    console.log(JSON.stringify(out));
    return;
  }

  // what aws-local-stepfunctions makes of the same chain
  const als = await new StateMachine(c.def).run(c.input).result;
  const alsJsonata = JSON.stringify(als) === JSON.stringify(out) ? 'yes' : 'no';

  let t0 = process.hrtime.bigint();
  while (Number(process.hrtime.bigint() - t0) / 1e9 < warmup) {
    await c.run(c.input);
  }

  let execs = 0;
  let t = 0;
  t0 = process.hrtime.bigint();
  const c0 = process.threadCpuUsage();
  do {
    await c.run(c.input);
    execs++;
    t = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (t < seconds);
  const c1 = process.threadCpuUsage();
  const cpu = (c1.user - c0.user + c1.system - c0.system) / 1e6;
  const rss = process.resourceUsage().maxRSS;
  console.log(`case=jsonata execs=${execs} events_per_exec=0 als_jsonata=${alsJsonata} ` +
              `seconds=${t.toFixed(3)} cpu_seconds=${cpu.toFixed(3)} ` +
              `exec_per_s=${(execs / t).toFixed(1)} exec_per_cpu_s=${(execs / cpu).toFixed(1)} ` +
              `transitions_per_s=${(execs * c.transitions / t).toFixed(1)} peak_rss_kb=${rss}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
