#!/usr/bin/env node
// What the gateway adds to a call, measured against the mock upstream called directly (the baseline) with
// the same load shape in the same run, plus the CPU it spends per call and a check of the books.
//   npm run bench:gateway [-- --seconds 6 --concurrency 64 --rate 500 --stream-rate 200 --calls 2000 --rounds 1]
// Cases, each run against the mock directly and then through the gateway:
//   1. open throttle: --concurrency clients in closed loops on keep-alive connections, 1 s warm-up, then
//      --seconds measured; calls/s, p50, p99, errors; CPU of every process over the measured window.
//   2. steady rate: an open-loop generator sends --rate calls/s on a fixed schedule whether or not earlier
//      calls have finished; latency runs from the scheduled send time (no coordinated omission). The first
//      --lead-in seconds (1; --no-lead-in for none) on the same schedule and pool are not in the window: the
//      step from idle (a new pool, after the other targets' runs) is printed beside it, not mixed into it.
//   3. streams at --stream-rate calls/s, open loop: time to the first body chunk; every stream must end in [DONE].
//   4. one client, calls in sequence: up to --calls calls or --seconds, whichever ends first.
// Cases 1, 2 and 4 also run against a bare Node relay in front of the same mock (scripts/lib/bare-relay.js:
// node:http, JSON parsed and serialised, undici out; no auth, billing or logs): the floor any Node gateway
// pays on this machine, printed beside the goals. --no-bare leaves it out.
// During case 2, and for 3 s at rest before the rounds, an idle probe process (scripts/lib/stall-probe.js)
// counts how late its 1 ms timer runs: how long a process that wakes up waits for a core, the wait that
// stretches the p99 on shared cores (a busy process waits longer than this idle one). Steal time (/proc/stat:
// the hypervisor running another guest on these virtual cores) is printed for case 2 and the open-throttle
// windows, since on a shared host it moves every figure.
// --rounds N runs the four cases N times, the gateway first in every second round (so drift of the machine's
// speed within a round does not always favour one side), and the summary gives each figure's median over the
// rounds with every round's value beside it: on a noisy VM one round can be off by a third.
// --warm-up S (3 by default; --no-warm-up for none) first drives each target at open throttle for S + 1 s,
// unmeasured, so that round 1 does not meet a cold gateway.
// The load generator calls through undici's dispatch (--load-client request: request() with its body read by
// async iteration, as the rounds before the fifteenth did: 76-109 us of its CPU a call against 64 through dispatch).
// Then the books: every hold settled, the reconciliation ties out, one usage record per 200 the gateway gave.
// It starts its own system from dist/ on free ports, with its own database (gateway_bench) and Redis prefix.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { execFileSync, spawn } = require('node:child_process');
const { Pool } = require('undici');
const prep = require('./lib/prepare');
const { openLoop } = require('./lib/open-loop');

const arg = (name, def) => prep.numberArg(name, def);
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write('usage: npm run bench:gateway [-- --seconds 6 --concurrency 64 --rate 500 --stream-rate 200 --calls 2000 --rounds 1 --warm-up 3 --no-warm-up --lead-in 1 --no-lead-in --no-bare --keep-db --fresh-db --load-client dispatch|request]\n');
  process.exit(0);
}
const SECONDS = arg('seconds', 6);
const CONCURRENCY = Math.round(arg('concurrency', 64));
const RATE = arg('rate', 500);
const STREAM_RATE = arg('stream-rate', 200);
const SEQ_CALLS = Math.round(arg('calls', 2000));
const ROUNDS = Math.round(arg('rounds', 1));
// the steady case's unmeasured lead-in at its rate (see steady()); --no-lead-in for none
const LEAD_IN = process.argv.includes('--no-lead-in') ? 0 : arg('lead-in', 1);
const BARE = !process.argv.includes('--no-bare');
// how the load generator calls: through undici's dispatch (the default), or request() with its body read by async
// iteration, as every round before the fifteenth measured (--load-client request): see call()
const LOAD_CLIENT = (() => {
  const i = process.argv.indexOf('--load-client');
  const v = i >= 0 ? process.argv[i + 1] : process.argv.find((a) => a.startsWith('--load-client='))?.slice('--load-client='.length);
  if (v === undefined) return 'dispatch';
  if (v !== 'dispatch' && v !== 'request') {
    process.stderr.write(`--load-client is dispatch or request, not ${v}\n`);
    process.exit(2);
  }
  return v;
})();
// seconds of unmeasured open-throttle load on each target before the first round (its JIT warm, its pools full)
const WARM_UP = process.argv.includes('--no-warm-up') ? 0 : arg('warm-up', 3);
const WARMUP_MS = 1000;
// the throughput goal (issue 8): the CPU table says what it leaves a call on this machine's cores
const TARGET_RPS = 4000;
const DATABASE_URL = process.env.BENCH_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/gateway_bench';
// Every run starts on an empty database of its own (dropped and migrated again): it grows by some 70,000 calls'
// rows a run, and at 1 GB Postgres's CPU a call was up to four times that on a small one (0.28 ms in one window
// against 0.07, docs/throughput-history.md), so runs days apart measured the database's age as well. --keep-db keeps it;
// a database named by BENCH_DATABASE_URL is only dropped when asked with --fresh-db. One benchmark at a time: a
// second one started beside it would drop its database (and share its cores, which spoils both runs' figures).
const FRESH_DB = process.argv.includes('--fresh-db') || (!process.env.BENCH_DATABASE_URL && !process.argv.includes('--keep-db'));
const ROUTE = '/v1/chat/completions';
const MESSAGES = [{ role: 'user', content: 'Say hello to the benchmark' }];
const PLAIN = JSON.stringify({ model: 'gpt-4o-mini', messages: MESSAGES });
const STREAMED = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: MESSAGES });

const out = (s = '') => process.stdout.write(`${s}\n`);
const note = (s) => process.stderr.write(`  … ${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

// ---------------------------------------------------------------- numbers and tables

function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))];
}
function summary(latencies) {
  const s = Float64Array.from(latencies).sort();
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN;
  return { n: s.length, p50: pct(s, 0.5), p99: pct(s, 0.99), max: s.length ? s[s.length - 1] : NaN, mean };
}
const ms = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
const plus = (v, d = 2) => (Number.isFinite(v) ? `${v >= 0 ? '+' : '-'}${Math.abs(v).toFixed(d)}` : 'n/a');
const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');

/** Rows of cells; numbers (cells that look numeric) right-aligned. */
function table(rows, indent = '  ') {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  const numeric = (c) => /^[+\-]?[\d,.]+( ?ms| %|x)?$|^n\/a$/.test(c);
  for (const r of rows) {
    out(
      indent +
        r
          .map((c, i) => {
            c = String(c ?? '');
            return numeric(c) && i > 0 ? c.padStart(widths[i]) : c.padEnd(widths[i]);
          })
          .join('  ')
          .trimEnd(),
    );
  }
}
function pipeTable(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) out(`| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`);
}

// ---------------------------------------------------------------- CPU from /proc

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Every process: command, parent, own CPU ticks (utime+stime) and reaped children's (cutime+cstime). */
function readProcs() {
  const procs = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let s;
    try {
      s = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const f = s.slice(close + 2).split(' '); // f[0] is field 3 (state)
    procs.set(Number(name), { comm, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]), start: f[19] });
  }
  return procs;
}
/** the machine's busy ticks (all cores), and its steal: ticks the hypervisor gave these virtual cores' time to another guest */
function machineTicks() {
  const [, user, nice, system, , , irq, softirq, steal] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  return { busy: user + nice + system + irq + softirq, steal: steal || 0 };
}
/** steal between two machineTicks() readings, as % of the machine's time (all cores) over ms */
const stealPct = (a, b, ms) => (100 * (b.steal - a.steal) * 1000) / CLK_TCK / (ms * os.cpus().length);
function snapshot() {
  return { procs: readProcs(), ...machineTicks(), at: now() };
}
/** pid and all its descendants in a process table */
function family(procs, root) {
  const pids = new Set([root]);
  let grew = true;
  for (let round = 0; grew && round < 10; round++) {
    grew = false;
    for (const [pid, p] of procs) if (!pids.has(pid) && pids.has(p.ppid)) (pids.add(pid), (grew = true));
  }
  return pids;
}
/** CPU ticks a set of pids spent between two snapshots; a process that started in between counts whole. */
function ticksBetween(a, b, pids) {
  let t = 0;
  for (const pid of pids) {
    const pb = b.procs.get(pid);
    if (!pb) continue;
    const pa = a.procs.get(pid);
    t += pb.ticks - (pa && pa.start === pb.start ? pa.ticks : 0);
  }
  return t;
}
const isPostgres = (p) => p.comm === 'postgres' || p.comm === 'postmaster';
/** CPU by group over a window: each service of ours, Postgres, Redis, this process, the rest of the machine. */
function cpuBetween(a, b, children) {
  const groups = [];
  for (const { name, child } of children) {
    const pids = new Set([...family(a.procs, child.pid), ...family(b.procs, child.pid)]);
    groups.push({ name, pids: pids.size, ticks: ticksBetween(a, b, pids) });
  }
  const pgPids = [...b.procs].filter(([, p]) => isPostgres(p)).map(([pid]) => pid);
  let pgTicks = ticksBetween(a, b, pgPids);
  // backends that ended inside the window were reaped by the postmaster: their CPU is in its cutime+cstime
  for (const pid of pgPids) {
    const pb = b.procs.get(pid);
    const parent = b.procs.get(pb.ppid);
    if (parent && isPostgres(parent)) continue;
    const pa = a.procs.get(pid);
    if (pa && pa.start === pb.start) pgTicks += pb.reaped - pa.reaped;
  }
  groups.push({ name: 'postgres', pids: pgPids.length, ticks: pgTicks });
  const redisPids = [...b.procs].filter(([, p]) => p.comm === 'redis-server').map(([pid]) => pid);
  groups.push({ name: 'redis-server', pids: redisPids.length, ticks: ticksBetween(a, b, redisPids) });
  groups.push({ name: 'load generator (this bench)', pids: 1, ticks: ticksBetween(a, b, [process.pid]) });
  const known = groups.reduce((n, g) => n + g.ticks, 0);
  groups.push({ name: 'everything else on the machine', pids: NaN, ticks: b.busy - a.busy - known });
  groups.push({ name: 'steal', pids: NaN, ticks: b.steal - a.steal });
  const toMs = (t) => (t * 1000) / CLK_TCK;
  return Object.fromEntries(groups.map((g) => [g.name, { ...g, ms: toMs(g.ticks) }]));
}

/**
 * Per process, the ns its threads ran and the ns they waited on a run queue for a core (/proc/<pid>/task/*\/schedstat,
 * nanoseconds, so fine enough for a steady run where /proc/<pid>/stat's 10 ms ticks are too coarse).
 */
function schedOf(pid) {
  let run = 0;
  let wait = 0;
  let tasks;
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return null; // gone meanwhile
  }
  for (const t of tasks) {
    try {
      const [r, w] = fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').trim().split(' ').map(Number);
      run += r;
      wait += w;
    } catch {
      // a thread that ended meanwhile
    }
  }
  return { run, wait };
}
/** schedstat of the groups cpuBetween reports (our services with their children, Postgres, Redis, this process) */
function schedSnapshot(children) {
  const procs = readProcs();
  const groups = new Map();
  const add = (name, pid) => {
    const s = schedOf(pid);
    if (!s) return;
    const g = groups.get(name) || new Map();
    g.set(pid, s);
    groups.set(name, g);
  };
  for (const { name, child } of children) for (const pid of family(procs, child.pid)) add(name, pid);
  for (const [pid, p] of procs) {
    if (isPostgres(p)) add('postgres', pid);
    else if (p.comm === 'redis-server') add('redis-server', pid);
  }
  add('load generator (this bench)', process.pid);
  return groups;
}
/** ms run and ms waited for a core per group between two schedSnapshots (pids present at both ends) */
function schedBetween(a, b) {
  const out = {};
  for (const [name, gb] of b) {
    const ga = a.get(name) || new Map();
    let run = 0;
    let wait = 0;
    for (const [pid, sb] of gb) {
      const sa = ga.get(pid);
      if (!sa) continue;
      run += sb.run - sa.run;
      wait += sb.wait - sa.wait;
    }
    out[name] = { runMs: run / 1e6, waitMs: wait / 1e6 };
  }
  return out;
}

// ---------------------------------------------------------------- load

let gateway200 = 0; // every 200 the gateway gave in this run, warm-ups included: each must be charged once

/** A target: the mock directly or the gateway. */
function target(name, origin, key) {
  return { name, origin, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, isGateway: name === 'gateway' };
}
const newPool = (t, connections) => new Pool(t.origin, { connections, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000, keepAliveTimeout: 30_000 });

/** what a call's answer came to: the checks both ways of calling share */
function outcome(t, stream, status, firstByte, end, bytes, tail) {
  if (t.isGateway && status === 200) gateway200++;
  if (status !== 200) return { ok: false, status, firstByte, end, why: `HTTP ${status}` };
  if (bytes === 0) return { ok: false, status: 200, firstByte, end, why: 'empty body' };
  if (stream && !/data: \[DONE\]\s*$/.test(tail)) return { ok: false, status: 200, firstByte, end, why: 'stream without [DONE]' };
  return { ok: true, status: 200, firstByte, end };
}

/**
 * One call. Resolves { ok, status, firstByte, end, why } with times from performance.now(); never rejects.
 * A streamed call is ok only if its body ends with the [DONE] event. Through undici's dispatch (the same pool,
 * connections and HTTP as request()): the load generator shares the cores with what it measures, and
 * request()'s body stream read by async iteration cost it a fifth to two thirds more CPU a call (against the
 * mock alone, 76-109 us against 64; --load-client request is that way, as every round before 2026-12-04's
 * fifteenth measured).
 */
function call(pool, t, stream) {
  if (LOAD_CLIENT === 'request') return callByRequest(pool, t, stream);
  return new Promise((resolve) => {
    let status = 0;
    let firstByte = NaN;
    let tail = '';
    let bytes = 0;
    let settled = false;
    const done = (r) => {
      if (settled) return;
      settled = true;
      resolve(r);
    };
    try {
      pool.dispatch(
        { path: ROUTE, method: 'POST', headers: t.headers, body: stream ? STREAMED : PLAIN },
        {
          onConnect() {},
          onHeaders(code) {
            if (code >= 200) status = code;
            return true;
          },
          onData(chunk) {
            if (bytes === 0) firstByte = now();
            bytes += chunk.length;
            if (stream || status !== 200) tail = (tail + chunk.toString('utf8')).slice(-300);
            return true;
          },
          onComplete() {
            done(outcome(t, stream, status, firstByte, now(), bytes, tail));
          },
          onError(err) {
            done({ ok: false, status, firstByte, end: now(), why: err.code || err.message });
          },
        },
      );
    } catch (err) {
      done({ ok: false, status: 0, firstByte: NaN, end: now(), why: err.code || err.message });
    }
  });
}

/** One call through request() and its body's async iteration (--load-client request). */
async function callByRequest(pool, t, stream) {
  try {
    const r = await pool.request({ path: ROUTE, method: 'POST', headers: t.headers, body: stream ? STREAMED : PLAIN });
    let firstByte = NaN;
    let tail = '';
    let bytes = 0;
    for await (const chunk of r.body) {
      if (bytes === 0) firstByte = now();
      bytes += chunk.length;
      if (stream || r.statusCode !== 200) tail = (tail + chunk.toString('utf8')).slice(-300);
    }
    return outcome(t, stream, r.statusCode, firstByte, now(), bytes, tail);
  } catch (err) {
    return { ok: false, status: 0, firstByte: NaN, end: now(), why: err.code || err.message };
  }
}

function countErrors(map, why) {
  map.set(why, (map.get(why) || 0) + 1);
}
const errorText = (map) => (map.size ? [...map].map(([k, v]) => `${v}× ${k}`).join(', ') : 'none');

/**
 * Closed loop: `concurrency` clients, each sending its next call when the last one ends, for the warm-up
 * and then `seconds`. Counts the calls that end between the two CPU snapshots taken at the window's edges.
 */
async function openThrottle(t, seconds, concurrency, cpuOf) {
  const pool = newPool(t, concurrency);
  const done = []; // [end, latency or -1 for an error]
  const errorsAt = [];
  let before;
  let after;
  const t0 = now();
  const edges = [sleep(WARMUP_MS).then(() => (before = snapshot())), sleep(t0 + WARMUP_MS + seconds * 1000 - now()).then(() => (after = snapshot()))];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!after) {
        const start = now();
        const r = await call(pool, t, false);
        if (r.ok) done.push(r.end, r.end - start);
        else errorsAt.push([r.end, r.why]);
      }
    }),
  );
  await Promise.all(edges);
  await pool.close();
  const inWindow = (end) => end >= before.at && end <= after.at;
  const lat = [];
  for (let i = 0; i < done.length; i += 2) if (inWindow(done[i])) lat.push(done[i + 1]);
  const errors = new Map();
  for (const [end, why] of errorsAt) if (inWindow(end)) countErrors(errors, why);
  const window = (after.at - before.at) / 1000;
  return { ...summary(lat), served: lat.length, rps: lat.length / window, window, errors, cpu: cpuOf(before, after) };
}

/**
 * Open loop: call i is due at start + i/rate, sent then whether or not earlier calls have finished;
 * its latency (to the end, or to the first body chunk) runs from when it was due.
 */
/**
 * leadIn: seconds sent at the same rate on the same schedule and pool before the measured window, answered
 * but not counted in it (its own latencies come back as `lead`): the window then measures the steady state,
 * not the step from idle, which `lead` reports (its errors are counted with the window's).
 */
async function steady(t, rate, seconds, stream, { warmup = false, leadIn = 0 } = {}) {
  const pool = newPool(t, 512);
  const leading = Math.round(rate * leadIn);
  const total = leading + Math.max(1, Math.round(rate * seconds));
  const lat = [];
  const ttfb = [];
  const leadLat = [];
  const errors = new Map();
  const lag = [];
  let inFlight = 0;
  let maxInFlight = 0;
  // bounded by the pool's 30 s timeouts
  const { start, interval } = await openLoop(rate, total, (due, i, sentAt) => {
    const measured = i >= leading;
    if (measured) lag.push(sentAt - due);
    inFlight++;
    if (measured) maxInFlight = Math.max(maxInFlight, inFlight);
    return call(pool, t, stream).then((r) => {
      inFlight--;
      if (!r.ok) return countErrors(errors, r.why);
      if (!measured) return void leadLat.push(r.end - due);
      lat.push(r.end - due);
      ttfb.push(r.firstByte - due);
    });
  });
  const measuredFrom = start + leading * interval;
  const drained = now();
  await pool.close();
  if (warmup) return null;
  return {
    ...summary(lat),
    ttfb: summary(ttfb),
    lead: leading ? summary(leadLat) : null,
    sent: total - leading,
    sentAll: total, // the lead-in's too
    achieved: lat.length / ((drained - measuredFrom) / 1000),
    lag: summary(lag),
    maxInFlight,
    errors,
  };
}

/** One client on one connection: the next call when the last one ends. */
async function sequence(t, calls, seconds) {
  const pool = newPool(t, 1);
  const lat = [];
  const errors = new Map();
  for (let i = 0; i < 20; i++) await call(pool, t, false); // open the connection, warm the path
  const until = now() + seconds * 1000;
  for (let i = 0; i < calls && now() < until; i++) {
    const start = now();
    const r = await call(pool, t, false);
    if (r.ok) lat.push(r.end - start);
    else countErrors(errors, r.why);
  }
  await pool.close();
  return { ...summary(lat), errors };
}

/** the framework's floor: windows of FLOOR_S seconds, FLOOR_WINDOWS on each target, taking turns */
const FLOOR_S = 2;
const FLOOR_WINDOWS = 3;
/**
 * The framework's floor: GET /health at open throttle (`concurrency` clients, closed loop) against one process,
 * and that process's CPU a request over the measured window. Ingress's /health passes Fastify's routing, ingress's
 * request hooks (its request id, its metrics, and the call-logging hook, which writes no access line or
 * request-log row for /health) and a Nest controller; the mock's is a Fastify route alone; the bare relay's is
 * node:http alone. What they differ by is what a hot path outside the framework could save.
 */
async function healthFloor(origin, seconds, concurrency, cpuOf, name) {
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1 });
  let stop = false;
  let n = 0;
  let errors = 0;
  const loop = async () => {
    while (!stop) {
      try {
        const r = await pool.request({ path: '/health', method: 'GET' });
        await r.body.dump();
        if (r.statusCode === 200) n++;
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  const clients = Array.from({ length: concurrency }, loop);
  await sleep(WARMUP_MS);
  const a = snapshot();
  const n0 = n;
  await sleep(seconds * 1000);
  const b = snapshot();
  const calls = n - n0;
  stop = true;
  await Promise.all(clients);
  await pool.close();
  const cpu = cpuOf(a, b)[name];
  return { rps: calls / ((b.at - a.at) / 1000), us: (cpu.ms * 1000) / Math.max(1, calls), errors };
}

// ---------------------------------------------------------------- the run

/**
 * Runs scripts/lib/stall-probe.js for `seconds`: an idle process whose 1 ms timer says how long a process that
 * wakes up waits for a core on this machine. Resolves with its counts, or null if it failed.
 */
function runProbe(seconds) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'lib/stall-probe.js'), String(seconds)], { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.on('error', () => resolve(null));
    child.on('close', () => {
      try {
        resolve(JSON.parse(text));
      } catch {
        resolve(null);
      }
    });
  });
}
const probeText = (p) => (p ? `${int(p.over5)}× > 5 ms, ${int(p.over10)}× > 10 ms, latest ${ms(p.max_ms, 1)} ms` : 'n/a');

/** Starts scripts/lib/bare-relay.js on port in front of the upstream; resolves with the child once it listens. */
function startBareRelay(port, upstream) {
  const child = spawn(process.execPath, [path.join(__dirname, 'lib/bare-relay.js'), String(port), upstream, 'sk-mock'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error('the bare relay did not start in 10 s'))), 10_000);
    child.on('exit', (code) => (clearTimeout(timer), reject(new Error(`the bare relay exited (${code})`))));
    child.stdout.on('data', (d) => {
      if (String(d).includes('BARE_RELAY_READY')) (clearTimeout(timer), resolve(child));
    });
  });
}

async function adminCall(base, token, method, route, body) {
  const r = await fetch(`${base}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { raw: text.slice(0, 200) };
  }
  return { status: r.status, json };
}

async function main() {
  await prep.readyToRun(DATABASE_URL);
  if (FRESH_DB) await prep.dropDatabase(DATABASE_URL);
  await prep.migrateIfNeeded(DATABASE_URL);
  const { startSystem, seedDemo } = require('./lib/system');
  // gateway, mock, four ops ports and the bare relay
  const [port, mockPort, ingressOps, billingOps, modelsOps, workerOps, barePort] = await prep.freePorts(7);
  const token = `bench-${crypto.randomBytes(12).toString('hex')}`;
  const redisPrefix = `bench-gateway-${crypto.randomUUID()}:`;
  const env = { DATABASE_URL, PORT: String(port), MOCK_PORT: String(mockPort), ADMIN_TOKEN: token, REDIS_PREFIX: redisPrefix, LOG_LEVEL: 'warn' };
  // ops ports of their own, so a benchmark beside `npm start` does not collide
  Object.assign(env, { INGRESS_OPS_PORT: String(ingressOps), BILLING_OPS_PORT: String(billingOps), MODELS_OPS_PORT: String(modelsOps), WORKER_OPS_PORT: String(workerOps) });
  const logs = new Map(); // the last lines each service wrote, shown if something goes wrong
  const onOutput = (name, line) => {
    const l = logs.get(name) || [];
    l.push(line);
    if (l.length > 15) l.shift();
    logs.set(name, l);
  };
  const showLogs = () => {
    for (const [name, lines] of logs) for (const line of lines) process.stderr.write(`  [${name}] ${line}\n`);
  };
  let system;
  let bareChild = null;
  try {
    system = await startSystem({ env, withMock: true, onOutput });
  } catch (err) {
    showLogs();
    throw err;
  }
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-bench-'));
  let failed = false;
  try {
    const base = `http://127.0.0.1:${port}`;
    const demo = await seedDemo({ base, token, mockBaseUrl: `http://127.0.0.1:${mockPort}/v1`, stateDir });
    const accountId = demo.account_id;
    const topup = await adminCall(base, token, 'POST', `/admin/accounts/${accountId}/topups`, { amount_micros: 1_000_000_000_000, reference: `bench-${crypto.randomUUID()}` });
    if (topup.status !== 201 && topup.status !== 200) throw new Error(`top-up failed: ${topup.status} ${JSON.stringify(topup.json)}`);
    // the demo key has the default rate limit, which this benchmark exceeds: a key of its own with room
    const key = await adminCall(base, token, 'POST', `/admin/accounts/${accountId}/keys`, { name: 'bench', rpm: 100_000_000, tpm: 2_000_000_000 });
    if (key.status !== 201 || !key.json?.key) throw new Error(`creating the bench key failed: ${key.status} ${JSON.stringify(key.json)}`);

    const direct = target('direct', `http://127.0.0.1:${mockPort}`, 'sk-mock');
    let bare = null;
    if (BARE) {
      bareChild = await startBareRelay(barePort, `http://127.0.0.1:${mockPort}`);
      bare = target('bare Node relay', `http://127.0.0.1:${barePort}`, 'unused');
      const bp = newPool(bare, 1);
      const b = await call(bp, bare, false);
      await bp.close();
      if (!b.ok) throw new Error(`the bare relay does not answer: ${b.why}`);
    }
    const gw = target('gateway', base, key.json.key);
    const probe = newPool(gw, 1);
    const p = await call(probe, gw, false);
    const ps = await call(probe, gw, true);
    await probe.close();
    if (!p.ok || !ps.ok) throw new Error(`the gateway does not serve the bench key: plain ${p.why || 'ok'}, stream ${ps.why || 'ok'}`);

    const cores = os.cpus().length;
    out(`gateway benchmark · build ${prep.buildId()} · node ${process.version} · ${cores} cores (${os.cpus()[0]?.model?.trim() || 'cpu'})`);
    out(`one chat completion per call to a mock upstream with no added latency; direct = the mock called alone, added = gateway − direct`);
    out(`the load generator (undici's ${LOAD_CLIENT === 'dispatch' ? 'dispatch' : 'request()'}), the mock, the gateway, Postgres and Redis all share these ${cores} cores`);
    {
      // the database grows by every run; once the tables' indexes outgrow the buffer cache, Postgres's cost a
      // call depends on what their keys are (docs/throughput-history.md: time-ordered ids), so runs say how large it was
      const pg = new (require('pg').Client)({ connectionString: DATABASE_URL });
      await pg.connect();
      const { rows } = await pg.query("SELECT pg_database_size(current_database())::bigint AS db, pg_size_bytes(current_setting('shared_buffers'))::bigint AS sb, (SELECT count(*) FROM holds)::bigint AS holds");
      await pg.end();
      out(`its database at the start${FRESH_DB ? ' (new this run)' : ' (kept from earlier runs)'}: ${int(Number(rows[0].db) / 2 ** 20)} MB (${int(Number(rows[0].holds))} holds), Postgres's shared_buffers ${int(Number(rows[0].sb) / 2 ** 20)} MB`);
    }
    out();
    const alive = () => {
      const dead = system.isDead();
      if (dead) throw new Error(`${dead} during the run`);
    };

    const cpuOf = (a, b) => cpuBetween(a, b, bareChild ? [...system.children, { name: 'bare relay', child: bareChild }] : system.children);
    const GATEWAY = ['ingress', 'billing', 'models', 'task-worker'];
    /** one run of the four cases; in even rounds the gateway goes first */
    const round = async (k) => {
      const head = ROUNDS > 1 ? `round ${k} of ${ROUNDS}${k % 2 === 0 ? ' (gateway first)' : ''}: ` : '';
      /** the case against the mock alone and the gateway (and the bare relay, withBare), in this round's order */
      const pair = async (label, run, withBare = false) => {
        const sides = withBare && bare ? ['direct', 'bare', 'gateway'] : ['direct', 'gateway'];
        const order = k % 2 === 0 ? sides.reverse() : sides;
        const targets = { direct, gateway: gw, bare };
        const r = {};
        for (const side of order) {
          note(`${head}${label}, ${side}…`);
          r[side] = await run(targets[side]);
          alive();
        }
        return [r.direct, r.gateway, r.bare];
      };
      if (ROUNDS > 1) out(`== ${head.slice(0, -2)}`);

      // 1. open throttle
      const [otD, otG, otB] = await pair(`open throttle, ${CONCURRENCY} clients, 1 s warm-up + ${SECONDS} s`, (t) => openThrottle(t, SECONDS, CONCURRENCY, cpuOf), true);
      out(`1. open throttle: ${CONCURRENCY} clients, keep-alive, 1 s warm-up then ${SECONDS} s measured`);
      table([
        ['', 'calls/s', 'p50 ms', 'p99 ms', 'calls', 'errors'],
        ['direct', int(otD.rps), ms(otD.p50), ms(otD.p99), int(otD.served), errorText(otD.errors)],
        ['gateway', int(otG.rps), ms(otG.p50), ms(otG.p99), int(otG.served), errorText(otG.errors)],
        ...(otB ? [['bare Node relay', int(otB.rps), ms(otB.p50), ms(otB.p99), int(otB.served), errorText(otB.errors)]] : []),
      ]);

      // 2. steady rate
      const [stD, stG, stB] = await pair(
        `steady ${RATE}/s for ${SECONDS} s`,
        async (t) => {
          const probe = runProbe(SECONDS + LEAD_IN);
          const m0 = machineTicks();
          const kids = t === bare ? [...system.children, { name: 'bare relay', child: bareChild }] : system.children;
          const s0 = schedSnapshot(kids);
          const t0 = now();
          const r = await steady(t, RATE, SECONDS, false, { leadIn: LEAD_IN });
          r.steal = stealPct(m0, machineTicks(), now() - t0);
          r.sched = schedBetween(s0, schedSnapshot(kids));
          r.probe = await probe;
          return r;
        },
        true,
      );
      out(`2. steady ${int(RATE)} calls/s, open loop, ${LEAD_IN ? `${LEAD_IN} s lead-in then ` : ''}${SECONDS} s measured; latency from the scheduled send time`);
      const steadyRows = (r) => [int(r.achieved), ms(r.p50), ms(r.p99), ms(r.max), int(r.maxInFlight), ms(r.lag.p99), errorText(r.errors)];
      table([
        ['', 'done/s', 'p50 ms', 'p99 ms', 'max ms', 'max in flight', 'send lag p99 ms', 'errors'],
        ['direct', ...steadyRows(stD)],
        ['gateway', ...steadyRows(stG)],
        ['added', '', plus(stG.p50 - stD.p50), plus(stG.p99 - stD.p99), '', '', '', ''],
        ...(stB ? [['bare Node relay', ...steadyRows(stB)], ['added by it', '', plus(stB.p50 - stD.p50), plus(stB.p99 - stD.p99), '', '', '', '']] : []),
      ]);
      if (stG.lead && stD.lead) {
        out(
          `  the lead-in (from idle, a new pool: the first ${LEAD_IN} s at this rate, not in the figures above): p50 / p99 / max ms direct ${ms(stD.lead.p50)} / ${ms(stD.lead.p99)} / ${ms(stD.lead.max)}, ` +
            `gateway ${ms(stG.lead.p50)} / ${ms(stG.lead.p99)} / ${ms(stG.lead.max)}${stB?.lead ? `, bare relay ${ms(stB.lead.p50)} / ${ms(stB.lead.p99)} / ${ms(stB.lead.max)}` : ''}`,
        );
      }
      out(`  an idle process's 1 ms timer during the run, late (its wait for a core): direct ${probeText(stD.probe)}; gateway ${probeText(stG.probe)}`);
      {
        // what each process costs a call at this rate, and how long it waited for a core: beside the open-throttle
        // CPU below, a call at a steady rate costs more (each wakes every process on its path on its own)
        const per = (r, name) => (r.sched[name] ? `${ms(r.sched[name].runMs / r.sentAll, 3)} / ${ms(r.sched[name].waitMs / r.sentAll, 3)}` : 'n/a');
        out(`  per call over the run, lead-in included (schedstat: ms run / ms waited on a run queue for a core, all threads):`);
        out(
          `    gateway: ingress ${per(stG, 'ingress')}, billing ${per(stG, 'billing')}, models ${per(stG, 'models')}, task-worker ${per(stG, 'task-worker')}, ` +
            `postgres ${per(stG, 'postgres')}, redis ${per(stG, 'redis-server')}, mock ${per(stG, 'mock-upstream')}, load generator ${per(stG, 'load generator (this bench)')}`,
        );
        out(`    direct: mock ${per(stD, 'mock-upstream')}, load generator ${per(stD, 'load generator (this bench)')}`);
        if (stB) out(`    bare relay: relay ${per(stB, 'bare relay')}, mock ${per(stB, 'mock-upstream')}, load generator ${per(stB, 'load generator (this bench)')}`);
      }
      out(
        `  steal (the hypervisor running another guest on these cores) during the run: direct ${ms(stD.steal, 1)} %, gateway ${ms(stG.steal, 1)} %` +
          `${stB ? `, bare relay ${ms(stB.steal, 1)} %` : ''} of the machine's time`,
      );

      // 3. streams
      note(`${head}streams ${STREAM_RATE}/s, warm-up…`);
      await steady(direct, STREAM_RATE, 0.5, true, { warmup: true });
      await steady(gw, STREAM_RATE, 0.5, true, { warmup: true });
      const [srD, srG] = await pair(`streams ${STREAM_RATE}/s for ${SECONDS} s`, (t) => steady(t, STREAM_RATE, SECONDS, true));
      out(`3. streams at ${int(STREAM_RATE)}/s, open loop, ${SECONDS} s (after 0.5 s warm-up); first byte = first body chunk; each must end in [DONE]`);
      const streamRows = (r) => [ms(r.ttfb.p50), ms(r.ttfb.p99), ms(r.p50), ms(r.p99), `${int(r.n)}/${int(r.sent)}`, errorText(r.errors)];
      table([
        ['', 'first byte p50 ms', 'p99 ms', 'whole stream p50 ms', 'p99 ms', 'ok with [DONE]', 'errors'],
        ['direct', ...streamRows(srD)],
        ['gateway', ...streamRows(srG)],
        ['added', plus(srG.ttfb.p50 - srD.ttfb.p50), plus(srG.ttfb.p99 - srD.ttfb.p99), plus(srG.p50 - srD.p50), plus(srG.p99 - srD.p99), '', ''],
      ]);

      // 4. one client in sequence
      const [sqD, sqG, sqB] = await pair(`one client in sequence, up to ${SEQ_CALLS} calls or ${SECONDS} s`, (t) => sequence(t, SEQ_CALLS, SECONDS), true);
      out(`4. one client, calls in sequence on one connection (up to ${int(SEQ_CALLS)} calls or ${SECONDS} s, after 20 warm-up calls)`);
      table([
        ['', 'calls', 'mean ms', 'p50 ms', 'p99 ms', 'errors'],
        ['direct', int(sqD.n), ms(sqD.mean, 3), ms(sqD.p50, 3), ms(sqD.p99, 3), errorText(sqD.errors)],
        ['gateway', int(sqG.n), ms(sqG.mean, 3), ms(sqG.p50, 3), ms(sqG.p99, 3), errorText(sqG.errors)],
        ['added', '', plus(sqG.mean - sqD.mean, 3), plus(sqG.p50 - sqD.p50, 3), plus(sqG.p99 - sqD.p99, 3), ''],
        ...(sqB ? [['bare Node relay', int(sqB.n), ms(sqB.mean, 3), ms(sqB.p50, 3), ms(sqB.p99, 3), errorText(sqB.errors)]] : []),
      ]);

      // CPU per call
      out();
      out(`CPU per call over the measured open-throttle windows (/proc/<pid>/stat utime+stime, CLK_TCK ${CLK_TCK}, so ±${ms(1000 / CLK_TCK, 0)} ms per process per window)`);
      const cg = otG.cpu;
      const cd = otD.cpu;
      const per = (g, n) => g.ms / n;
      const gwMs = GATEWAY.reduce((n, g) => n + cg[g].ms, 0);
      const dbMs = cg.postgres.ms + cg['redis-server'].ms;
      const windowMs = otG.window * 1000;
      const cpuRow = (label, pids, msTotal, n, w) => [label, pids, ms(msTotal, 0), `${ms((100 * msTotal) / w, 0)} %`, ms(msTotal / n, 3)];
      const rows = [['process', 'pids', 'cpu ms', 'of a core', 'ms per call']];
      for (const g of GATEWAY) rows.push(cpuRow(g, String(cg[g].pids), cg[g].ms, otG.served, windowMs));
      rows.push(cpuRow('= gateway processes', '', gwMs, otG.served, windowMs));
      rows.push(cpuRow('postgres', String(cg.postgres.pids), cg.postgres.ms, otG.served, windowMs));
      rows.push(cpuRow('redis-server', String(cg['redis-server'].pids), cg['redis-server'].ms, otG.served, windowMs));
      rows.push(cpuRow('= gateway + Postgres + Redis', '', gwMs + dbMs, otG.served, windowMs));
      rows.push(cpuRow('mock-upstream (the upstream)', String(cg['mock-upstream'].pids), cg['mock-upstream'].ms, otG.served, windowMs));
      rows.push(cpuRow('load generator (this bench)', '1', cg['load generator (this bench)'].ms, otG.served, windowMs));
      rows.push(cpuRow('everything else on the machine', '', Math.max(0, cg['everything else on the machine'].ms), otG.served, windowMs));
      rows.push(cpuRow('steal (another guest ran)', '', cg.steal.ms, otG.served, windowMs));
      // the machine's whole busy time (every process, the kernel's interrupts included) a call: what a rate on these
      // cores is bounded by, the upstream and the load generator included
      const allMs = gwMs + dbMs + cg['mock-upstream'].ms + cg['load generator (this bench)'].ms + Math.max(0, cg['everything else on the machine'].ms);
      rows.push(cpuRow('= the whole machine', '', allMs, otG.served, windowMs));
      out(`  gateway case: ${int(otG.served)} calls in ${ms(otG.window, 2)} s`);
      table(rows);
      out(`  at ${int(TARGET_RPS)} calls/s these ${os.cpus().length} cores give ${ms((os.cpus().length * 1000) / TARGET_RPS, 3)} ms a call to everything on them; this window's calls took ${ms(allMs / otG.served, 3)}`);
      out(
        `  direct case, for comparison: mock-upstream ${ms(per(cd['mock-upstream'], otD.served), 3)} ms per call, load generator ${ms(per(cd['load generator (this bench)'], otD.served), 3)} ms per call, ` +
          `everything else ${ms(Math.max(0, cd['everything else on the machine'].ms), 0)} ms over ${ms(otD.window, 2)} s`,
      );
      if (otB) {
        const cb = otB.cpu;
        out(
          `  bare Node relay case: relay ${ms(per(cb['bare relay'], otB.served), 3)} ms per call, mock-upstream ${ms(per(cb['mock-upstream'], otB.served), 3)}, ` +
            `load generator ${ms(per(cb['load generator (this bench)'], otB.served), 3)} (${int(otB.served)} calls in ${ms(otB.window, 2)} s)`,
        );
      }
      out(`  Postgres and Redis include anything else using those servers in the window; "everything else" is the rest of the machine's busy time (high = noisy figures).`);
      if (k < ROUNDS) out();
      const busyElsewhere = Math.max(cd['everything else on the machine'].ms / otD.window, cg['everything else on the machine'].ms / otG.window) / 10; // % of a core
      return {
        rps: otG.rps,
        directRps: otD.rps,
        steadyP50: stG.p50 - stD.p50,
        steadyP99: stG.p99 - stD.p99,
        leadP50: stG.lead && stD.lead ? stG.lead.p50 - stD.lead.p50 : NaN,
        leadP99: stG.lead && stD.lead ? stG.lead.p99 - stD.lead.p99 : NaN,
        probe: { direct: stD.probe, gateway: stG.probe },
        steadySched: { ingress: stG.sched.ingress, calls: stG.sentAll, bareRelay: stB?.sched['bare relay'], bareCalls: stB?.sentAll },
        achieved: stG.achieved,
        ttfb: srG.ttfb.p50 - srD.ttfb.p50,
        seq: sqG.mean,
        seqDirect: sqD.mean,
        cpu: gwMs / otG.served,
        ingress: cg.ingress.ms / otG.served,
        cpuAll: (gwMs + dbMs) / otG.served,
        cpuMachine: allMs / otG.served,
        busyElsewhere,
        steal: { open: (100 * cg.steal.ms) / (windowMs * os.cpus().length), steady: stG.steal, steadyDirect: stD.steal },
        bare: otB ? { rps: otB.rps, seq: sqB.mean, cpu: otB.cpu['bare relay'].ms / otB.served, steadyP50: stB.p50 - stD.p50, steadyP99: stB.p99 - stD.p99 } : null,
      };
    };
    if (WARM_UP > 0) {
      // without it the first round meets a cold gateway (and a cold mock and relay) and is often the slowest by a third
      for (const t of [direct, gw, ...(bare ? [bare] : [])]) {
        note(`warming up: ${WARM_UP + WARMUP_MS / 1000} s at open throttle, ${t.name}, not measured…`);
        await openThrottle(t, WARM_UP, CONCURRENCY, cpuOf);
      }
      out(`warmed up first: ${WARM_UP + WARMUP_MS / 1000} s at open throttle against each target, not measured (--warm-up S, --no-warm-up)`);
    }
    note('the machine at rest, 3 s…');
    const rest = await runProbe(3);
    out(`at rest (the system up, no calls): an idle process's 1 ms timer ran late ${probeText(rest)} in 3 s`);
    out();
    const results = [];
    for (let k = 1; k <= ROUNDS; k++) results.push(await round(k));

    // the framework's floor: the same trivial route on ingress, on the mock (Fastify alone) and on node:http alone
    let floor = null;
    if (bare) {
      floor = { ingress: [], mock: [], bare: [] };
      for (let i = 0; i < FLOOR_WINDOWS; i++) {
        note(`the framework's floor, GET /health at open throttle, ${FLOOR_S} s each on ingress, the mock and node:http (${i + 1} of ${FLOOR_WINDOWS})…`);
        floor.ingress.push(await healthFloor(base, FLOOR_S, CONCURRENCY, cpuOf, 'ingress'));
        floor.mock.push(await healthFloor(`http://127.0.0.1:${mockPort}`, FLOOR_S, CONCURRENCY, cpuOf, 'mock-upstream'));
        floor.bare.push(await healthFloor(bare.origin, FLOOR_S, CONCURRENCY, cpuOf, 'bare relay'));
        alive();
      }
    }

    // the books
    out();
    note('checking the books…');
    const pg = new (require('pg').Client)({ connectionString: DATABASE_URL });
    await pg.connect();
    let held = NaN;
    let usage = NaN;
    // with credit leases (HOLD_LEASE, on unless set off) the account's last lease is closed at the end of its draw window
    // (LEASE_DRAW_MS, 30 s by default), and only then is nothing held
    const leaseOn = !/^(off|false|0)$/.test(process.env.HOLD_LEASE || 'on');
    const deadline = Date.now() + 30_000 + (leaseOn ? Number(process.env.LEASE_DRAW_MS || 30_000) + 5_000 : 0);
    const waitStart = Date.now();
    try {
      for (let i = 0; i < 300; i++) {
        const a = await adminCall(base, token, 'GET', `/admin/accounts/${accountId}`);
        held = a.json?.held_micros;
        usage = Number((await pg.query('SELECT count(*)::int AS n FROM usage_records WHERE account_id = $1', [accountId])).rows[0].n);
        if ((held === 0 && usage === gateway200) || Date.now() > deadline) break;
        await sleep(100);
      }
    } finally {
      await pg.end().catch(() => undefined);
    }
    const waited = (Date.now() - waitStart) / 1000;
    const rec = await adminCall(base, token, 'GET', `/admin/reconciliation?account_id=${encodeURIComponent(accountId)}`);
    const tiesOut = rec.status === 200 && rec.json?.ties_out === true;
    const recRow = rec.json?.accounts?.find((r) => r.account_id === accountId);
    out(`books (account ${accountId}, after ${ms(waited, 1)} s of waiting):`);
    out(`  held_micros ${held}${held === 0 ? ' (every hold settled)' : ' (holds still open)'}`);
    out(`  reconciliation ties_out: ${rec.status === 200 ? rec.json?.ties_out : `HTTP ${rec.status}`}${recRow ? ` (charges ${int(recRow.charges_micros)} micros, open holds ${int(recRow.open_holds_micros)}, debt ${int(recRow.debt_micros)})` : ''}`);
    out(`  usage_records ${int(usage)} vs 200 responses from the gateway ${int(gateway200)} (all cases, warm-ups included)`);
    // how the calls' holds were taken: drawn from the account's credit lease in Redis, or placed in billing
    try {
      const text = await (await fetch(`http://127.0.0.1:${env.INGRESS_OPS_PORT}/metrics`)).text();
      const via = (v) => Number(text.match(new RegExp(`^gateway_call_holds_total\\{via="${v}"[^}]*\\} (\\d+)`, 'm'))?.[1] ?? 0);
      const drawn = via('lease');
      const ahead = via('ahead');
      const placed = via('billing');
      out(`  call holds: ${int(drawn + ahead)} drawn from credit leases (${int(ahead)} of them admitted ahead, by the key's previous call), ${int(placed)} placed in billing (${ms((100 * (drawn + ahead)) / Math.max(1, drawn + ahead + placed), 1)} % drawn)`);
      // how the settle outbox's entries reached Redis: riding a call's admission script, or a round trip of their own
      const appended = (v) => Number(text.match(new RegExp(`^gateway_outbox_appends_total\\{via="${v}"[^}]*\\} (\\d+)`, 'm'))?.[1] ?? 0);
      const rode = appended('ride');
      const own = appended('own');
      out(`  settle outbox entries: ${int(rode)} rode a call's admission script, ${int(own)} took a round trip of their own (${ms((100 * rode) / Math.max(1, rode + own), 1)} % rode)`);
    } catch (err) {
      out(`  call holds: ingress metrics unreadable (${err.message})`);
    }
    const problems = [];
    if (held !== 0) problems.push(`held_micros is ${held}, not 0, after ${ms(waited, 0)} s`);
    if (!tiesOut) problems.push(`reconciliation does not tie out (${rec.status} ${JSON.stringify(rec.json).slice(0, 200)})`);
    if (usage !== gateway200) problems.push(`${int(usage)} usage records for ${int(gateway200)} served calls (${usage > gateway200 ? 'charged twice or for calls not served' : 'served calls not charged'})`);

    // the summary: each figure's median over the rounds, every round's value beside it when there are several
    out();
    const median = (f) => {
      const v = results.map(f).sort((a, b) => a - b);
      return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    };
    const each = (f, fmt) => (ROUNDS > 1 ? ` [${results.map((r) => fmt(f(r))).join(', ')}]` : '');
    const worstAchieved = Math.min(...results.map((r) => r.achieved));
    const saturated = worstAchieved < 0.95 * RATE ? ` (kept up with ${int(worstAchieved)}/s only)` : '';
    const ms3 = (v) => ms(v, 3);
    if (ROUNDS > 1) out(`median of ${ROUNDS} rounds, each round's value in brackets`);
    pipeTable([
      ['figure', 'measured', 'goal'],
      ['billed calls/s at open throttle', `${int(median((r) => r.rps))} (upstream alone ${int(median((r) => r.directRps))})${each((r) => r.rps, int)}`, '>= 4,000'],
      [`added latency at a steady ${int(RATE)} calls/s, p50 / p99`, `${plus(median((r) => r.steadyP50))} ms / ${plus(median((r) => r.steadyP99))} ms${saturated}${ROUNDS > 1 ? ` [${results.map((r) => `${plus(r.steadyP50)} / ${plus(r.steadyP99)}`).join(', ')}]` : ''}`, '< 1.5 ms / < 5 ms'],
      [`added time to first byte of a stream at ${int(STREAM_RATE)}/s, p50`, `${plus(median((r) => r.ttfb))} ms${each((r) => r.ttfb, plus)}`, '< 1.5 ms'],
      ['one client, calls in sequence', `${ms(median((r) => r.seq), 2)} ms a call (upstream alone ${ms(median((r) => r.seqDirect), 2)} ms)${each((r) => r.seq, ms)}`, '< 1.5 ms'],
      ['CPU of all gateway processes per call (open throttle)', `${ms3(median((r) => r.cpu))} ms (${ms3(median((r) => r.cpuAll))} with Postgres+Redis)${each((r) => r.cpu, ms3)}`, '<= 0.3 ms'],
    ]);
    if (LEAD_IN) {
      out(
        `from idle: the steady case's ${LEAD_IN} s lead-in (a new pool after the other targets' runs; not in the figure above), ` +
          `added p50 / p99 ${plus(median((r) => r.leadP50))} ms / ${plus(median((r) => r.leadP99))} ms${ROUNDS > 1 ? ` [${results.map((r) => `${plus(r.leadP50)} / ${plus(r.leadP99)}`).join(', ')}]` : ''}`,
      );
    }
    if (BARE) {
      out(
        `floor on this machine, a bare Node relay in front of the same mock (no auth, billing, translation or logs): ` +
          `${int(median((r) => r.bare.rps))} calls/s at open throttle${each((r) => r.bare.rps, int)}, ` +
          `${plus(median((r) => r.bare.steadyP50))} ms / ${plus(median((r) => r.bare.steadyP99))} ms added at a steady ${int(RATE)}/s (p50 / p99)${each((r) => r.bare.steadyP99, plus)}, ` +
          `${ms(median((r) => r.bare.seq), 2)} ms a call in sequence${each((r) => r.bare.seq, ms)}, ` +
          `${ms3(median((r) => r.bare.cpu))} ms of its CPU per call${each((r) => r.bare.cpu, ms3)}`,
      );
    }
    if (floor) {
      const us = (xs) => xs.map((x) => ms(x.us, 1)).join(' / ');
      const rps = (xs) => xs.map((x) => int(x.rps)).join(' / ');
      const errs = [...floor.ingress, ...floor.mock, ...floor.bare].reduce((n, x) => n + x.errors, 0);
      const mid = (xs) => {
        const v = xs.map((x) => x.us).sort((a, b) => a - b);
        return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
      };
      const ingressUs = median((r) => r.ingress) * 1000;
      out(
        `the framework's floor, GET /health at open throttle (${CONCURRENCY} clients, ${FLOOR_WINDOWS} windows of ${FLOOR_S} s each, taking turns), CPU a request: ingress (Fastify, Nest, its request-id and metrics hooks; /health writes no request-log row) ${us(floor.ingress)} us at ${rps(floor.ingress)}/s, ` +
          `the mock (a Fastify route alone) ${us(floor.mock)} us at ${rps(floor.mock)}/s, node:http alone ${us(floor.bare)} us at ${rps(floor.bare)}/s${errs ? ` (${int(errs)} errors)` : ''}; ` +
          `ingress above node:http (medians): ${ms(mid(floor.ingress) - mid(floor.bare), 1)} us a request, against ingress's ${ms(ingressUs, 0)} us a chat call at open throttle (${ms3(median((r) => r.ingress))} ms${each((r) => r.ingress, ms3)})`,
      );
    }
    out(
      `the whole machine's CPU a call at open throttle (every process, the mock and this load generator included): ${ms3(median((r) => r.cpuMachine))} ms${each((r) => r.cpuMachine, ms3)}; ` +
        `${int(TARGET_RPS)} calls/s on ${os.cpus().length} cores leaves ${ms3((os.cpus().length * 1000) / TARGET_RPS)} ms a call for all of it`,
    );
    const late = (side) => (r) => r.probe[side]?.over5 ?? NaN;
    out(
      `scheduling delay, an idle process's 1 ms timer ticks more than 5 ms late during the steady ${int(RATE)}/s runs (${SECONDS + LEAD_IN} s, lead-in included): ` +
        `${int(median(late('gateway')))} with the gateway${each(late('gateway'), int)}, ${int(median(late('direct')))} with the upstream alone${each(late('direct'), int)}, ` +
        `${int(rest?.over5 ?? NaN)} in 3 s at rest`,
    );
    {
      const ran = (r) => r.steadySched.ingress.runMs / r.steadySched.calls;
      const waited = (r) => r.steadySched.ingress.waitMs / r.steadySched.calls;
      const bareRan = (r) => (r.steadySched.bareRelay ? r.steadySched.bareRelay.runMs / r.steadySched.bareCalls : NaN);
      const ms3 = (v) => ms(v, 3);
      out(
        `at the steady ${int(RATE)}/s (schedstat), ingress ran ${ms3(median(ran))} ms a call${each(ran, ms3)} and waited ${ms3(median(waited))} ms a call on a run queue for a core${each(waited, ms3)}` +
          `${Number.isFinite(median(bareRan)) ? `; the bare relay ran ${ms3(median(bareRan))} ms a call${each(bareRan, ms3)}` : ''} (at open throttle, above: CPU a call when calls share wakeups)`,
      );
    }
    const pct1 = (v) => `${ms(v, 1)} %`;
    out(
      `steal, the hypervisor running another guest on these cores, as a share of the machine's time: ${pct1(median((r) => r.steal.steady))} during the gateway's steady runs${each((r) => r.steal.steady, pct1)}, ` +
        `${pct1(median((r) => r.steal.steadyDirect))} during the upstream's alone${each((r) => r.steal.steadyDirect, pct1)}, ${pct1(median((r) => r.steal.open))} during the gateway's open-throttle windows${each((r) => r.steal.open, pct1)}`,
    );
    const busyElsewhere = Math.max(...results.map((r) => r.busyElsewhere));
    if (busyElsewhere > 20) out(`note: other processes on the machine used up to ${ms(busyElsewhere, 0)} % of a core during the measured windows; the figures are noisy`);
    out();
    if (problems.length) {
      failed = true;
      out(`books: MISMATCH ${problems.join('; ')}`);
    } else out(`books: ok (${int(gateway200)} calls served, ${int(usage)} usage records, holds settled, reconciliation ties out)`);
  } catch (err) {
    showLogs();
    throw err;
  } finally {
    if (bareChild) bareChild.kill('SIGKILL');
    await system.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
    await prep.dropRedisPrefix(process.env.REDIS_URL || prep.DEFAULT_REDIS_URL, redisPrefix);
  }
  if (failed) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err.stack || err}\n`);
  process.exit(1);
});
