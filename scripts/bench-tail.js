#!/usr/bin/env node
// Tail latency at a steady rate, side by side. Starts the system as bench:gateway does (its own database,
// gateway_tail, dropped and migrated first; its own Redis prefix), then one more ingress process per variant
// (each with its own environment and node flags, on its own port, beside the system's billing, models, Redis
// and Postgres), and sends non-streamed chat calls at --rate to each variant and to the mock upstream
// directly, one at a time, in alternating order, for --rounds rounds of --seconds each. Every target's calls
// are pooled over the rounds before percentiles are taken: on this 2-core VM one 5-second window's p99 can be
// off by a factor of three, so a tail figure needs tens of thousands of calls, and builds or settings compared
// in separate runs minutes apart meet different machines. Per variant it also prints ingress's CPU and wake-ups
// a call (/proc) and, from its --trace-gc lines over its own windows, the KB it allocated a call and its
// scavenges a thousand calls with their pauses, the usual cause of a call in ingress's slowest 1 %
// (docs/throughput-history.md).
//   npm run bench:tail [-- --rate 500 | --open 64] [--seconds 5 --rounds 8 --lead-in 1 --variant 'NAME:KEY=VALUE …' …]
// A variant is a name, a colon and environment assignments for its ingress; NODE_ARGS=… adds node flags after
// ingress's own (a later V8 flag wins), and DIST=DIR runs the ingress built in DIR instead of dist/ (another
// build's, e.g. a worktree of an earlier commit built with `node scripts/build.js`, beside this build's
// billing and models: for changes to ingress alone). Without --variant: batched:ANSWER_WRITES=batched and
// immediate:ANSWER_WRITES=immediate. Example: --variant 'semi64:NODE_ARGS=--min-semi-space-size=64 --max-semi-space-size=64'.
// Exits 1 if any call is answered other than 200. One benchmark at a time (shared cores).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const { Pool } = require('undici');
const prep = require('./lib/prepare');
const { latencySummary, parseGcLine, withAllocations, gcSummary, serverTiming } = require('./lib/tail-stats');
const { openLoop } = require('./lib/open-loop');

const USAGE = "usage: npm run bench:tail [-- --rate 500 | --open 64] [--seconds 5 --rounds 8 --lead-in 1 --variant 'NAME:KEY=VALUE …' …]\n";
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const RATE = prep.numberArg('rate', 500);
// --open N: N clients in closed loops (open throttle) instead of the steady rate; the table gives calls/s too
const OPEN = process.argv.some((a) => a === '--open' || a.startsWith('--open=')) ? Math.round(prep.numberArg('open', 64)) : 0;
const SECONDS = prep.numberArg('seconds', 5);
const ROUNDS = Math.round(prep.numberArg('rounds', 8));
const LEAD_IN = process.argv.includes('--no-lead-in') ? 0 : prep.numberArg('lead-in', 1);
const WARM_UP = 2;
const DATABASE_URL = process.env.TAIL_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/gateway_tail';
const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello to the benchmark' }] });
const ROUTE = '/v1/chat/completions';

const out = (s = '') => process.stdout.write(`${s}\n`);
const note = (s) => process.stderr.write(`  … ${s}\n`);
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ms = (v) => (Number.isFinite(v) ? v.toFixed(2) : '-');
/** a difference with its sign: +0.84, -1.20 */
const added = (v) => (v >= 0 ? `+${ms(v)}` : ms(v));

/** --variant values: [{ name, env, nodeArgs, dist }] */
function variants() {
  const argv = process.argv.slice(2);
  const raw = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--variant') raw.push(argv[++i] ?? '');
    else if (argv[i].startsWith('--variant=')) raw.push(argv[i].slice('--variant='.length));
  }
  if (raw.length === 0) raw.push('batched:ANSWER_WRITES=batched', 'immediate:ANSWER_WRITES=immediate');
  const seen = new Set();
  return raw.map((v) => {
    const colon = v.indexOf(':');
    const name = colon < 0 ? v : v.slice(0, colon);
    if (!/^[\w.-]+$/.test(name) || name === 'upstream' || seen.has(name)) prep.fail(`--variant wants a unique NAME:KEY=VALUE …, got ${JSON.stringify(v)}`);
    seen.add(name);
    const env = {};
    const rest = colon < 0 ? '' : v.slice(colon + 1).trim();
    for (const a of rest ? rest.split(/\s+(?=[A-Z_][A-Z0-9_]*=)/) : []) {
      const eq = a.indexOf('=');
      if (eq <= 0) prep.fail(`--variant ${name}: ${JSON.stringify(a)} is not KEY=VALUE`);
      env[a.slice(0, eq)] = a.slice(eq + 1);
    }
    const nodeArgs = (env.NODE_ARGS || '').split(/\s+/).filter(Boolean);
    // (this checkout's dist/ is built by readyToRun below; another build must be there already)
    const dist = env.DIST ? path.resolve(env.DIST) : path.join(prep.root, 'dist');
    if (env.DIST && !fs.existsSync(path.join(dist, 'apps/ingress/src/main.js'))) prep.fail(`--variant ${name}: no ingress build at ${dist}/apps/ingress/src/main.js`);
    delete env.NODE_ARGS;
    delete env.DIST;
    return { name, env, nodeArgs, dist };
  });
}

/** a new tally of answered calls: their latencies, and a gateway's answers split by their Server-Timing */
const tally = () => ({ lat: [], split: { upstream: [], gateway: [], rest: [] }, errors: new Map() });

/** one answered call in the tally: its latency, and (a gateway's) its upstream leg and its own share beside the rest */
function answered(w, took, headers) {
  w.lat.push(took);
  const timing = serverTiming(headers['server-timing']);
  if (timing) {
    w.split.upstream.push(timing.upstream);
    w.split.gateway.push(timing.gateway);
    w.split.rest.push(took - timing.upstream);
  }
}

/** a call that failed, counted by its error's code */
function countFailure(w, err) {
  const why = err.code || err.message;
  w.errors.set(why, (w.errors.get(why) || 0) + 1);
}

/** the answer's body read; a status other than 200 thrown as an error coded by it */
async function body200(r) {
  await r.body.text();
  if (r.statusCode !== 200) throw Object.assign(new Error(`HTTP ${r.statusCode}`), { code: `HTTP ${r.statusCode}` });
}

/**
 * Open loop: call i is due at start + i/rate and sent then, whatever the calls before it are doing; its latency
 * runs from when it was due (no coordinated omission). The first leadIn seconds are sent the same way and
 * answered but not counted. Resolves the measured calls' latencies, the errors, and the window's edges.
 */
async function steady(t, rate, seconds, leadIn) {
  const pool = new Pool(t.origin, { connections: 512, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const leading = Math.round(rate * leadIn);
  const total = leading + Math.max(1, Math.round(rate * seconds));
  const w = tally();
  const { start, interval } = await openLoop(rate, total, (due, i) =>
    pool
      .request({ path: ROUTE, method: 'POST', headers: t.headers, body: BODY })
      .then(async (r) => {
        await body200(r);
        if (i >= leading) answered(w, now() - due, r.headers);
      })
      .catch((err) => countFailure(w, err)),
  );
  const to = now();
  await pool.close();
  return { ...w, from: start + leading * interval, to, sent: total };
}

/**
 * Closed loops (--open): `clients` clients, each sending its next call when its last one is answered, for
 * leadIn + seconds; the calls answered in the last `seconds` are measured (latency from each call's send).
 */
async function closed(t, clients, seconds, leadIn) {
  const pool = new Pool(t.origin, { connections: clients, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const w = tally();
  const start = now();
  const from = start + leadIn * 1000;
  const to = from + seconds * 1000;
  let sent = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (now() < to) {
        const sentAt = now();
        sent++;
        try {
          const r = await pool.request({ path: ROUTE, method: 'POST', headers: t.headers, body: BODY });
          await body200(r);
          const end = now();
          if (end >= from && end <= to) answered(w, end - sentAt, r.headers);
        } catch (err) {
          countFailure(w, err);
        }
      }
    }),
  );
  await pool.close();
  return { ...w, from, to, sent, rps: w.lat.length / seconds };
}

function append(to, from) {
  for (const x of from) to.push(x);
}

/** times the threads of a process and its descendants gave up a core to wait (voluntary context switches, /proc), NaN once it is gone */
function waits(pid) {
  let n = 0;
  for (const p of prep.processTree(pid)) {
    try {
      for (const tid of fs.readdirSync(`/proc/${p}/task`)) {
        const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/task/${tid}/status`, 'utf8'));
        if (m) n += Number(m[1]);
      }
    } catch {
      if (p === pid) return NaN;
    }
  }
  return n;
}

/** rows (the first a header) as a markdown table, columns padded to their widest cell, then a blank line */
function markdown(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  for (const row of rows) out(`| ${row.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`);
  out();
}

/** one more ingress, beside the system's, with the variant's environment and flags and --trace-gc */
function startVariant(v, port, env, onGc) {
  const { INGRESS_NODE_ARGS } = require('./lib/system');
  const child = spawn(process.execPath, ['--enable-source-maps', ...INGRESS_NODE_ARGS, '--trace-gc', ...v.nodeArgs, path.join(v.dist, 'apps/ingress/src/main.js')], {
    cwd: prep.root,
    env: { ...process.env, ...env, ...v.env, PORT: String(port), OPS_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const gc = parseGcLine(buf.slice(0, i));
      if (gc) onGc({ ...gc, at: now() });
      buf = buf.slice(i + 1);
    }
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  return { child, stderr: () => stderr };
}

async function waitHealthy(origin, child, stderr) {
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`an ingress variant exited (${child.exitCode}): ${stderr()}`);
    try {
      if ((await fetch(`${origin}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`an ingress variant did not answer ${origin}/health in 30 s: ${stderr()}`);
}

async function main() {
  const vs = variants();
  await prep.readyToRun(DATABASE_URL);
  await prep.dropDatabase(DATABASE_URL);
  await prep.migrateIfNeeded(DATABASE_URL);
  const { startSystem, seedBenchKey } = require('./lib/system');
  const ports = await prep.freePorts(6 + vs.length);
  const [port, mockPort, ingressOps, billingOps, modelsOps, workerOps] = ports;
  const token = `tail-${crypto.randomBytes(12).toString('hex')}`;
  const redisPrefix = `bench-tail-${crypto.randomUUID()}:`;
  const env = {
    DATABASE_URL, PORT: String(port), MOCK_PORT: String(mockPort), ADMIN_TOKEN: token, REDIS_PREFIX: redisPrefix, LOG_LEVEL: 'warn',
    INGRESS_OPS_PORT: String(ingressOps), BILLING_OPS_PORT: String(billingOps), MODELS_OPS_PORT: String(modelsOps), WORKER_OPS_PORT: String(workerOps),
  };
  note('starting the system…');
  const system = await startSystem({ env, withMock: true });
  const extra = [];
  let failed = false;
  try {
    const base = `http://127.0.0.1:${port}`;
    const { key } = await seedBenchKey({ base, token, mockBaseUrl: `http://127.0.0.1:${mockPort}/v1`, name: 'tail' });

    const targets = [];
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i];
      const t = { name: v.name, origin: `http://127.0.0.1:${ports[6 + i]}`, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, gc: [] };
      const proc = startVariant(v, ports[6 + i], env, (e) => t.gc.push(e));
      t.pid = proc.child.pid;
      extra.push(proc.child);
      await waitHealthy(t.origin, proc.child, proc.stderr);
      targets.push(t);
    }
    targets.push({ name: 'upstream', origin: `http://127.0.0.1:${mockPort}`, headers: { authorization: 'Bearer mock', 'content-type': 'application/json' }, gc: null });
    for (const t of targets) {
      t.lat = [];
      t.split = { upstream: [], gateway: [], rest: [] };
      t.rounds = [];
      t.errors = new Map();
      t.gcIn = [];
      t.cpuMs = 0;
      t.waits = 0;
      t.sent = 0;
      t.rps = [];
    }

    const load = OPEN ? `${OPEN} clients at open throttle` : `${RATE}/s`;
    const drive = (t, seconds, leadIn) => (OPEN ? closed(t, OPEN, seconds, leadIn) : steady(t, RATE, seconds, leadIn));
    note(`warming up: ${WARM_UP} s at ${load} on each target…`);
    for (const t of targets) await drive(t, WARM_UP, 0);
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        note(`round ${r + 1} of ${ROUNDS}: ${t.name}`);
        const cpu0 = t.pid ? prep.processCpuMs(t.pid) : 0;
        const waits0 = t.pid ? waits(t.pid) : 0;
        const w = await drive(t, SECONDS, LEAD_IN);
        if (OPEN) t.rps.push(w.rps);
        if (t.pid) {
          t.cpuMs += prep.processCpuMs(t.pid) - cpu0;
          t.waits += waits(t.pid) - waits0;
          t.sent += w.sent;
        }
        // appended one by one: a spread of an open-throttle round's tens of thousands of figures overflows the stack
        append(t.lat, w.lat);
        for (const k of Object.keys(t.split)) append(t.split[k], w.split[k]);
        t.rounds.push(latencySummary(w.lat).p99);
        for (const [why, n] of w.errors) t.errors.set(why, (t.errors.get(why) || 0) + n);
        if (t.gc) t.gcIn.push(...t.gc.filter((e) => e.at >= w.from && e.at <= w.to));
      }
    }

    for (const t of targets) if (t.gc) withAllocations(t.gc); // every line of the process in order: each one's allocMb
    const up = latencySummary(targets[targets.length - 1].lat);
    const cores = os.cpus().length;
    out(`tail latency side by side · build ${prep.buildId()} · node ${process.version} · ${cores} cores`);
    if (OPEN) out(`${OPEN} clients at open throttle (closed loops), non-streamed chat to each target in turn, ${ROUNDS} rounds of ${SECONDS} s (after a ${LEAD_IN} s lead-in each), alternating order; latency from each call's send; percentiles over every round's calls pooled`);
    else out(`${RATE} calls/s of non-streamed chat to each target in turn, ${ROUNDS} rounds of ${SECONDS} s (after a ${LEAD_IN} s lead-in each), alternating order; latency from each call's due time; percentiles over every round's calls pooled`);
    out('variants (an ingress each, beside the same billing, models, Redis and Postgres):');
    for (const v of vs) {
      const what = [...Object.entries(v.env).map(([k, x]) => `${k}=${x}`), ...(v.nodeArgs.length ? [`node ${v.nodeArgs.join(' ')}`] : [])];
      if (v.dist !== path.join(prep.root, 'dist')) what.push(`the ingress built in ${v.dist} (${prep.buildId(path.dirname(v.dist))})`);
      out(`  ${v.name}: ${what.join(', ') || 'as configured'}`);
    }
    out();
    const rps = (t) => {
      const v = [...t.rps].sort((a, b) => a - b);
      return `${Math.round(v[Math.floor(v.length / 2)]).toLocaleString('en-US')} [${t.rps.map((x) => Math.round(x).toLocaleString('en-US')).join(', ')}]`;
    };
    const rows = [['target', 'calls', ...(OPEN ? ['calls/s, median [each round]'] : []), 'p50', 'p90', 'p99', 'p99.9', 'added p50 / p99 / p99.9', 'p99 of each round', 'ingress CPU a call', 'wake-ups a call', 'allocated a call', 'scavenges a 1,000 calls', 'scavenge pause median / max', 'GC paused a call', 'mark-compacts (longest pause)', 'errors']];
    for (const t of targets) {
      const s = latencySummary(t.lat);
      const isUp = t.gc === null;
      const g = isUp ? null : gcSummary(t.gcIn, s.n);
      rows.push([
        t.name,
        s.n.toLocaleString('en-US'),
        ...(OPEN ? [rps(t)] : []),
        `${ms(s.p50)} ms`,
        `${ms(s.p90)} ms`,
        `${ms(s.p99)} ms`,
        `${ms(s.p999)} ms`,
        // at open throttle each target sets its own rate, so its latency less the mock's says nothing of what it adds
        isUp || OPEN ? '' : `${added(s.p50 - up.p50)} / ${added(s.p99 - up.p99)} / ${added(s.p999 - up.p999)} ms`,
        t.rounds.map(ms).join(', '),
        isUp ? '' : `${(t.cpuMs / t.sent).toFixed(3)} ms`,
        isUp ? '' : (t.waits / t.sent).toFixed(2),
        isUp ? '' : `${g.allocatedKbPerCall.toFixed(1)} KB`,
        isUp ? '' : g.scavengesPerThousand.toFixed(2),
        isUp ? '' : `${ms(g.scavengeMedianMs)} / ${ms(g.scavengeMaxMs)} ms`,
        isUp ? '' : `${((1000 * g.pausedMs) / Math.max(1, s.n)).toFixed(1)} us`,
        isUp ? '' : g.markCompacts ? `${g.markCompacts} (${ms(g.markCompactMaxMs)} ms)` : '0',
        t.errors.size ? [...t.errors].map(([k, n]) => `${n}x ${k}`).join(', ') : 'none',
      ]);
      if (t.errors.size) failed = true;
    }
    markdown(rows);
    // where a gateway's time went, by its own Server-Timing (the upstream leg it saw, and its own share up to the answer's encoding)
    const split = [['variant', 'calls timed', 'upstream leg as the gateway saw it, p50 / p99 / p99.9', 'the upstream alone (above)', "gateway's own share, p50 / p99 / p99.9", 'latency less the upstream leg, p50 / p99 / p99.9']];
    for (const t of targets) {
      if (t.gc === null) continue;
      const [u, g, r] = [t.split.upstream, t.split.gateway, t.split.rest].map(latencySummary);
      const three = (x) => `${ms(x.p50)} / ${ms(x.p99)} / ${ms(x.p999)} ms`;
      split.push([t.name, u.n.toLocaleString('en-US'), three(u), three(up), three(g), three(r)]);
    }
    markdown(split);
    out('added: the target\'s percentile less the upstream\'s, both pooled. ingress CPU a call: its process\'s user and system time over its windows (lead-ins included, /proc, 10 ms ticks) over the calls sent in them; wake-ups a call: the times its threads (the main one, libuv\'s and V8\'s helpers) went to sleep and were woken, over the same calls. GC: the --trace-gc lines of that variant\'s ingress from each of its measured windows\' start to its last answer (allocated a call: the heap\'s growth up to each of those collections, over the measured calls); a call that arrives during a pause waits it out. The second table reads each answer\'s Server-Timing: the upstream leg as ingress timed it (the mock\'s work plus any wait of either process for a core), ingress\'s own share up to encoding the answer, and the latency less the upstream leg (that share, the answer\'s write and the load generator\'s side). An upstream leg whose p99 is well above the upstream alone\'s says the same mock answers slower with the gateway beside it on these cores.');
  } finally {
    for (const c of extra) c.kill('SIGTERM');
    await Promise.all(extra.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r)))));
    await system.stop();
    await prep.dropRedisPrefix(process.env.REDIS_URL || prep.DEFAULT_REDIS_URL, redisPrefix);
  }
  if (failed) {
    out('some calls were not answered 200: see the errors column');
    process.exit(1);
  }
}

main().catch((err) => {
  process.stderr.write(`bench:tail failed: ${err.stack || err.message}\n`);
  process.exit(1);
});
