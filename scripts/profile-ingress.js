#!/usr/bin/env node
// Where ingress's CPU goes in a chat call, by part of the call: starts the system as bench:gateway does (its own
// database, gateway_profile, dropped and migrated first; its own Redis prefix), ingress under `node --cpu-prof`,
// drives non-streamed chat calls at open throttle (or at a steady --rate) for --seconds after a warm-up, and prints ingress's CPU a call
// over that window (/proc) and its CPU profile over the same window (scripts/lib/profile-summary.js): busy time
// by part of the call (the client leg, the upstream leg, money, translation, logs and metrics, …) in per cent
// and in microseconds a call, and the functions with the most self time.
//   npm run profile:ingress [-- --seconds 10 --concurrency 64 | --rate 500 --interval-us 200 --warm-up 3 --keep-profile DIR]
// The profiler's sampling costs ingress CPU of its own (at 200 us its CPU a call was 1.5-2 times what bench:gateway
// measured the same day): compare the parts and runs of this script, not its CPU a call with bench:gateway's. One run at a time, and not beside a benchmark (shared cores).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { Pool } = require('undici');
const prep = require('./lib/prepare');
const { summarize } = require('./lib/profile-summary');
const { openLoop } = require('./lib/open-loop');

/** --keep-profile DIR (or --keep-profile=DIR) */
function keepDir() {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--keep-profile');
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith('--keep-profile='))?.slice('--keep-profile='.length);
}
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write('usage: npm run profile:ingress [-- --seconds 10 --concurrency 64 | --rate 500 --interval-us 200 --warm-up 3 --keep-profile DIR]\n');
  process.exit(0);
}
const SECONDS = prep.numberArg('seconds', 10);
const CONCURRENCY = Math.round(prep.numberArg('concurrency', 64));
// --rate N: calls sent on an open-loop schedule at N a second instead of CONCURRENCY clients at open throttle
// (the steady rates where the tail is measured: each call wakes the processes it passes through on its own)
const RATE = process.argv.some((a) => a === '--rate' || a.startsWith('--rate=')) ? prep.numberArg('rate', 500) : 0;
const INTERVAL_US = Math.round(prep.numberArg('interval-us', 200));
const WARM_UP = prep.numberArg('warm-up', 3);
const KEEP = keepDir();
const DATABASE_URL = process.env.PROFILE_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/gateway_profile';
const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello to the benchmark' }] });

const out = (s = '') => process.stdout.write(`${s}\n`);
const note = (s) => process.stderr.write(`  … ${s}\n`);
const monoUs = () => Number(process.hrtime.bigint() / 1000n);

/** one call: its answer's status, or the error's code */
function callOnce(pool, key) {
  return pool
    .request({ path: '/v1/chat/completions', method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: BODY })
    .then(async (r) => {
      await r.body.text();
      return String(r.statusCode);
    })
    .catch((err) => err.code || err.message);
}

const count = (statuses, s) => statuses.set(s, (statuses.get(s) || 0) + 1);

/** closed-loop clients for `seconds`; counts answers by status */
async function drive(base, key, seconds) {
  const pool = new Pool(base, { connections: CONCURRENCY, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const statuses = new Map();
  let stop = false;
  const loop = async () => {
    while (!stop) count(statuses, await callOnce(pool, key));
  };
  const loops = Array.from({ length: CONCURRENCY }, loop);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  stop = true;
  await Promise.all(loops);
  await pool.close();
  return statuses;
}

/** calls on the open-loop schedule at RATE a second for `seconds`; counts answers by status */
async function driveSteady(base, key, seconds) {
  const pool = new Pool(base, { connections: 512, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const statuses = new Map();
  await openLoop(RATE, Math.max(1, Math.round(RATE * seconds)), () => callOnce(pool, key).then((s) => count(statuses, s)));
  await pool.close();
  return statuses;
}

async function main() {
  await prep.readyToRun(DATABASE_URL);
  await prep.dropDatabase(DATABASE_URL);
  await prep.migrateIfNeeded(DATABASE_URL);
  const { startSystem, seedBenchKey } = require('./lib/system');
  const profDir = KEEP ? path.resolve(KEEP) : fs.mkdtempSync(path.join(os.tmpdir(), 'gw-profile-'));
  fs.mkdirSync(profDir, { recursive: true });
  const before = new Set(fs.readdirSync(profDir));
  const [port, mockPort, ingressOps, billingOps, modelsOps, workerOps] = await prep.freePorts(6);
  const token = `profile-${crypto.randomBytes(12).toString('hex')}`;
  const redisPrefix = `profile-ingress-${crypto.randomUUID()}:`;
  const env = {
    DATABASE_URL, PORT: String(port), MOCK_PORT: String(mockPort), ADMIN_TOKEN: token, REDIS_PREFIX: redisPrefix, LOG_LEVEL: 'warn',
    INGRESS_OPS_PORT: String(ingressOps), BILLING_OPS_PORT: String(billingOps), MODELS_OPS_PORT: String(modelsOps), WORKER_OPS_PORT: String(workerOps),
  };
  const nodeArgs = { ingress: ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-interval=${INTERVAL_US}`] };
  const system = await startSystem({ env, withMock: true, nodeArgs });
  let windowUs;
  let calls = 0;
  let cpuMs = 0;
  let statuses;
  const ingressPid = system.children.find((c) => c.name === 'ingress').child.pid;
  try {
    const base = `http://127.0.0.1:${port}`;
    const { key } = await seedBenchKey({ base, token, mockBaseUrl: `http://127.0.0.1:${mockPort}/v1`, name: 'profile' });
    const load = RATE ? `${RATE} calls/s` : 'open throttle';
    const run = RATE ? driveSteady : drive;
    note(`warming up: ${WARM_UP} s at ${load}, not in the profile's window…`);
    await run(base, key, WARM_UP);
    note(`profiling ingress: ${SECONDS} s at ${RATE ? load : `open throttle, ${CONCURRENCY} clients`}, sampled every ${INTERVAL_US} us…`);
    const cpu0 = prep.processCpuMs(ingressPid);
    const from = monoUs();
    statuses = await run(base, key, SECONDS);
    const to = monoUs();
    cpuMs = prep.processCpuMs(ingressPid) - cpu0;
    windowUs = { fromUs: from, toUs: to };
    calls = statuses.get('200') || 0;
  } finally {
    await system.stop(); // ingress writes its profile as it exits
    await prep.dropRedisPrefix(process.env.REDIS_URL || prep.DEFAULT_REDIS_URL, redisPrefix);
  }
  const written = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile') && !before.has(f));
  if (written.length !== 1) throw new Error(`expected one profile from ingress in ${profDir}, found ${written.length}`);
  const file = path.join(profDir, written[0]);
  const s = summarize(JSON.parse(fs.readFileSync(file, 'utf8')), windowUs, 25);
  const seconds = (windowUs.toUs - windowUs.fromUs) / 1e6;
  const other = [...statuses].filter(([k]) => k !== '200');
  out(`ingress profile · build ${prep.buildId()} · node ${process.version} · ${os.cpus().length} cores · ${RATE ? `a steady ${RATE} calls/s` : `${CONCURRENCY} clients at open throttle`}, non-streamed chat to the mock`);
  out(`window: ${seconds.toFixed(2)} s, ${calls.toLocaleString('en-US')} calls answered 200 (${Math.round(calls / seconds).toLocaleString('en-US')}/s)${other.length ? `, other answers: ${other.map(([k, v]) => `${v}x ${k}`).join(', ')}` : ''}`);
  out(`ingress's CPU (/proc, profiler on): ${(cpuMs / calls).toFixed(3)} ms a call, ${Math.round((100 * cpuMs) / (seconds * 1000))} % of a core`);
  const sampled = s.busyUs + s.idleUs;
  out(`profile over the window: busy ${(s.busyUs / 1000).toFixed(0)} ms, idle ${(s.idleUs / 1000).toFixed(0)} ms (of the main thread's samples; GC helper threads and the kernel's work for the process are not sampled), start-up frames ${(s.startupUs / 1000).toFixed(0)} ms`);
  if (sampled === 0 || calls === 0) throw new Error('no samples or no calls in the window');
  out();
  out('busy time by part of the call (the innermost frame of the gateway\'s own code on the stack; without one, the library running)');
  const w = Math.max(...s.parts.map(([p]) => p.length));
  for (const [part, us] of s.parts) out(`  ${part.padEnd(w)}  ${((100 * us) / s.busyUs).toFixed(1).padStart(5)} %  ${(us / calls).toFixed(1).padStart(6)} us a call`);
  out();
  const writeUs = s.writes.reduce((a, [, us]) => a + us, 0);
  out(`socket writes (the write system calls' own time: on loopback the kernel delivers the bytes and wakes the receiver), ${((100 * writeUs) / s.busyUs).toFixed(1)} % of busy time, ${(writeUs / calls).toFixed(1)} us a call, by the part that wrote`);
  for (const [part, us] of s.writes) out(`  ${part.padEnd(w)}  ${((100 * us) / s.busyUs).toFixed(1).padStart(5)} %  ${(us / calls).toFixed(1).padStart(6)} us a call`);
  out();
  out('self time, the top functions');
  for (const [fn, us] of s.functions) out(`  ${((100 * us) / s.busyUs).toFixed(1).padStart(5)} %  ${fn}`);
  out();
  out(KEEP ? `profile kept: ${file}` : `profile: ${file} (open it in Chrome DevTools, Performance; pass --keep-profile DIR to keep it elsewhere)`);
}

main().catch((err) => {
  process.stderr.write(`profile:ingress failed: ${err.stack || err.message}\n`);
  process.exit(1);
});
