#!/usr/bin/env node
// Overhead per request: the same chat completion sent to the mock upstream directly (the baseline) and
// through the gateway (auth, model lookup, hold, upstream call, settle), plain and streamed, in one run.
//   npm run bench:gateway [-- --seconds 8 --concurrency 32]
// It starts its own system from dist/ on free ports, with its own database (gateway_bench) and Redis prefix.
const path = require('node:path');
const net = require('node:net');
const crypto = require('node:crypto');
const { Pool } = require('undici');
const prep = require('./lib/prepare');

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = arg('seconds', 8);
const CONCURRENCY = arg('concurrency', 32);
const DATABASE_URL = process.env.BENCH_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/gateway_bench';

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function load(origin, route, headers, body, stream) {
  const pool = new Pool(origin, { connections: CONCURRENCY, pipelining: 1 });
  const latencies = [];
  let errors = 0;
  const until = Date.now() + SECONDS * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < until) {
        const t0 = performance.now();
        try {
          const r = await pool.request({ path: route, method: 'POST', headers, body });
          const text = await r.body.text();
          if (r.statusCode !== 200 || (stream && !text.includes('[DONE]'))) errors++;
          else latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] || 0;
  return { rps: latencies.length / elapsed, p50: pct(0.5), p99: pct(0.99), errors };
}

async function main() {
  prep.ensureInstalled();
  prep.build();
  prep.migrate(DATABASE_URL);
  const { startSystem, seedDemo } = require('./lib/system');
  const port = await freePort();
  const mockPort = await freePort();
  const token = `bench-${crypto.randomBytes(12).toString('hex')}`;
  const env = { DATABASE_URL, PORT: String(port), MOCK_PORT: String(mockPort), ADMIN_TOKEN: token, REDIS_PREFIX: `bench-${crypto.randomUUID()}:`, LOG_LEVEL: 'warn' };
  const system = await startSystem({ env, withMock: true, onOutput: () => {} });
  try {
    const stateDir = path.join(require('node:os').tmpdir(), `gw-bench-${process.pid}`);
    const demo = await seedDemo({ base: `http://127.0.0.1:${port}`, token, mockBaseUrl: `http://127.0.0.1:${mockPort}/v1`, stateDir });
    // plenty of credit for the run
    await fetch(`http://127.0.0.1:${port}/admin/accounts/${demo.account_id}/topups`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ amount_micros: 1_000_000_000_000, reference: `bench-${Date.now()}` }),
    });
    const plain = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello to the benchmark' }] });
    const streamed = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Say hello to the benchmark' }] });
    const h = (key) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
    process.stdout.write(`gateway overhead: ${CONCURRENCY} concurrent clients, ${SECONDS} s per case, one chat completion per request (mock upstream, no latency)\n`);
    const cases = [
      ['mock direct, plain', `http://127.0.0.1:${mockPort}`, '/v1/chat/completions', h('sk-mock'), plain, false],
      ['gateway, plain', `http://127.0.0.1:${port}`, '/v1/chat/completions', h(demo.key), plain, false],
      ['mock direct, stream', `http://127.0.0.1:${mockPort}`, '/v1/chat/completions', h('sk-mock'), streamed, true],
      ['gateway, stream', `http://127.0.0.1:${port}`, '/v1/chat/completions', h(demo.key), streamed, true],
    ];
    const rows = [['case', 'req/s', 'p50 ms', 'p99 ms', 'errors']];
    const res = {};
    for (const [name, origin, route, headers, body, stream] of cases) {
      await load(origin, route, headers, body, stream).then(() => undefined, () => undefined); // warm-up is the first second of the real run below
      const r = await load(origin, route, headers, body, stream);
      res[name] = r;
      rows.push([name, r.rps.toFixed(0), r.p50.toFixed(2), r.p99.toFixed(2), String(r.errors)]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i])).join('  ')}\n`);
    const added = (a, b) => (res[a].p50 - res[b].p50).toFixed(2);
    process.stdout.write(`added p50 latency: ${added('gateway, plain', 'mock direct, plain')} ms plain, ${added('gateway, stream', 'mock direct, stream')} ms streamed (at ${CONCURRENCY} concurrent)\n`);
    const acct = await (await fetch(`http://127.0.0.1:${port}/admin/accounts/${demo.account_id}`, { headers: { authorization: `Bearer ${token}` } })).json();
    process.stdout.write(`after the run: held_micros=${acct.held_micros} (0 = every hold settled)\n`);
  } finally {
    await system.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err.stack || err}\n`);
  process.exit(1);
});
