#!/usr/bin/env node
'use strict';
// What a call's Postgres writes cost with random ids against time-ordered ones, once the tables are larger
// than Postgres's buffer cache (as they are after a few runs of bench:gateway, and in any production that
// keeps its history).
//   npm run bench:ids [-- --rows 1200000 --batch 200 --batches 30 --rounds 3]
// It uses its own database (BENCH_IDS_DATABASE_URL, default gateway_ids_bench), migrated, then grown to --rows
// filler rows in each of holds, ledger_entries, usage_records and request_log (random ids, as every row had
// before ids carried the time; kept between runs). Each round then runs --batches batches of --batch calls
// with each kind of id, in alternating order, through the statements the services run for a call:
// billing's settle of calls drawn from a credit lease (SETTLE_DRAWN_MANY: the call's hold row, its ledger
// entry and its usage record, in one transaction) and ingress's request-log insert (REQUEST_LOG_INSERT).
// Random ids are made as before (`hold_` + 20 random base64url characters, `req_` + 16); time-ordered ones
// by newId and the same time part (timePrefix). Postgres's CPU is read from /proc for each backend (so
// Postgres must run on this machine), index blocks read from outside the buffer cache from pg_statio.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const prep = require('./lib/prepare');

const argv = process.argv.slice(2);
function arg(name, def) {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n <= 0) prep.fail(`--${name} wants a positive whole number, got ${argv[i + 1]}`);
  return n;
}
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write('usage: npm run bench:ids [-- --rows 1200000 --batch 200 --batches 30 --rounds 3]\n');
  process.exit(0);
}
const ROWS = arg('rows', 1_200_000);
const BATCH = arg('batch', 200);
const BATCHES = arg('batches', 30);
const ROUNDS = arg('rounds', 3);
const DATABASE_URL = process.env.BENCH_IDS_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/gateway_ids_bench';
const TABLES = ['holds', 'ledger_entries', 'usage_records', 'request_log'];

const cpuMs = prep.processCpuMs;

const out = (s) => process.stdout.write(`${s}\n`);
const fmt = (n, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

async function connect() {
  const { Client } = require('pg');
  const c = new Client({ connectionString: DATABASE_URL });
  await c.connect();
  const pid = (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p;
  if (!fs.existsSync(`/proc/${pid}/stat`)) prep.fail('Postgres does not run on this machine (its backend is not in /proc): the CPU figures need it local');
  return { c, pid };
}

/** Filler rows with random ids up to ROWS in each table, a chunk per statement. */
async function grow(c, acct) {
  for (const table of TABLES) {
    const have = Number((await c.query(`SELECT count(*)::bigint AS n FROM ${table}`)).rows[0].n);
    for (let left = ROWS - have; left > 0; left -= 100_000) {
      const n = Math.min(left, 100_000);
      // random base64url characters (32 random bytes from two md5s, in base64 with - and _): spread over the
      // key space as the random part of an id is
      const rid = (p, len) => `'${p}_' || substr(translate(encode(decode(md5(random()::text) || md5(random()::text), 'hex'), 'base64'), '+/', '-_'), 1, ${len})`;
      if (table === 'holds') {
        await c.query(`INSERT INTO holds (id, account_id, kind, amount_micros, state, expires_at, resolved_at, settled_micros, model)
                       SELECT ${rid('hold', 20)}, $1, 'call', 100, 'settled', now(), now(), 10, 'filler' FROM generate_series(1, ${n})`, [acct]);
      } else if (table === 'ledger_entries') {
        await c.query(`INSERT INTO ledger_entries (account_id, kind, amount_micros, balance_after_micros, hold_id)
                       SELECT $1, 'charge', -10, 0, ${rid('hold', 20)} FROM generate_series(1, ${n})`, [acct]);
      } else if (table === 'usage_records') {
        await c.query(`INSERT INTO usage_records (request_id, account_id, model, input_tokens, output_tokens, cost_micros)
                       SELECT ${rid('req', 16)}, $1, 'filler', 10, 5, 10 FROM generate_series(1, ${n})`, [acct]);
      } else {
        await c.query(`INSERT INTO request_log (request_id, account_id, method, path, model, status, latency_ms, created_at)
                       SELECT ${rid('req', 16)}, $1, 'POST', '/v1/chat/completions', 'filler', 200, 1, now() FROM generate_series(1, ${n})`, [acct]);
      }
    }
  }
  await c.query('VACUUM ANALYZE holds, ledger_entries, usage_records, request_log');
}

async function indexBlocksRead(c) {
  const { rows } = await c.query('SELECT COALESCE(sum(idx_blks_read), 0)::bigint AS r, COALESCE(sum(idx_blks_hit), 0)::bigint AS h FROM pg_statio_user_indexes WHERE relname = ANY($1)', [TABLES]);
  return { read: Number(rows[0].r), hit: Number(rows[0].h) };
}

async function main() {
  await prep.readyToRun(DATABASE_URL);
  await prep.migrateIfNeeded(DATABASE_URL);
  const { SETTLE_DRAWN_MANY } = require(path.join(prep.root, 'dist/apps/billing/src/holds/hold.repository.js'));
  const { REQUEST_LOG_INSERT } = require(path.join(prep.root, 'dist/apps/ingress/src/request-log/request-log.js'));
  const { newId, randomToken, timePrefix } = require(path.join(prep.root, 'dist/libs/contracts/src'));

  const admin = await connect();
  const tag = randomToken(6).replace(/[^A-Za-z0-9]/g, 'x');
  const filler = 'acct_bench_ids_filler';
  await admin.c.query(`INSERT INTO accounts (id, name) VALUES ($1, 'bench:ids filler') ON CONFLICT (id) DO NOTHING`, [filler]);
  const t0 = Date.now();
  await grow(admin.c, filler);
  const sizes = (await admin.c.query('SELECT relname, pg_total_relation_size(relid)::bigint AS b, n_live_tup::bigint AS n FROM pg_stat_user_tables WHERE relname = ANY($1)', [TABLES])).rows;
  const buffers = (await admin.c.query("SELECT pg_size_bytes(current_setting('shared_buffers'))::bigint AS b")).rows[0].b;

  // the calls' account, with a credit lease their draws come out of (as billing grants one)
  const draw = 100;
  const calls = ROUNDS * 2 * BATCHES * BATCH;
  const acct = `acct_bench_ids_${tag}`;
  const lease = `lease_bench_ids_${tag}`;
  await admin.c.query(`INSERT INTO accounts (id, name, balance_micros, held_micros) VALUES ($1, 'bench:ids', $2, $2)`, [acct, String(calls * draw * 2)]);
  await admin.c.query(`INSERT INTO holds (id, account_id, kind, amount_micros, state, expires_at) VALUES ($1, $2, 'lease', $3, 'active', now() + interval '1 hour')`, [lease, acct, String(calls * draw * 2)]);

  out(`bench:ids · node ${process.version} · ${os.cpus().length} cores · database ${DATABASE_URL.replace(/\/\/[^@]*@/, '//')}`);
  out(`tables: ${sizes.map((s) => `${s.relname} ${fmt(Number(s.n))} rows, ${fmt(Number(s.b) / 2 ** 20)} MB`).join('; ')}`);
  out(`together ${fmt(sizes.reduce((a, s) => a + Number(s.b), 0) / 2 ** 20)} MB against shared_buffers ${fmt(Number(buffers) / 2 ** 20)} MB${Date.now() - t0 > 2000 ? ` (grown in ${fmt((Date.now() - t0) / 1000, 1)} s)` : ''}`);
  out(`each round: ${BATCHES} batches of ${BATCH} calls with each kind of id, in alternating order; a call = its settle (hold row, ledger entry, usage record) and its request-log row\n`);

  const settler = await connect();
  const logger = await connect();
  await logger.c.query('SET synchronous_commit = off'); // as ingress's request-log pool
  const kinds = {
    random: { hold: () => `hold_${randomToken(15)}`, req: () => `req_${randomToken(12)}` },
    'time-ordered': { hold: () => newId('hold'), req: () => `req_${timePrefix()}${randomToken(12)}` },
  };
  const results = { random: [], 'time-ordered': [] };
  const ix = Array.from({ length: BATCH }, (_, i) => i);
  const same = (v) => ix.map(() => v);
  // SETTLE_DRAWN_MANY's parameters (HoldRepository.settleDrawnMany): idx, hold, cost, the usage record's
  // request, account, key, model, channel, seven token counts and price id, then the draw's lease, amount,
  // account, key, request and model, and the hold's TTL
  const settleValues = (holds, reqs) => [ix, holds, same('10'), reqs, same(acct), same('key_bench'), same('gpt-4o-mini'), same('chan_bench'),
    same(12), same(0), same(5), same(0), same(0), same(0), same(0), same(null), same(lease), same(String(draw)), same(acct), same('key_bench'), reqs, same('gpt-4o-mini'), '600000'];

  async function runKind(kind) {
    const mk = kinds[kind];
    const before = { s: cpuMs(settler.pid), l: cpuMs(logger.pid), blocks: await indexBlocksRead(admin.c) };
    const started = performance.now();
    for (let b = 0; b < BATCHES; b++) {
      const holds = ix.map(() => mk.hold());
      const reqs = ix.map(() => mk.req());
      await settler.c.query({ name: 'settle', text: SETTLE_DRAWN_MANY, values: settleValues(holds, reqs) });
      const now = new Date().toISOString();
      const rows = reqs.map((r) => ({ request_id: r, account_id: acct, key_id: 'key_bench', method: 'POST', path: '/v1/chat/completions', model: 'gpt-4o-mini', status: 200, error_code: null, latency_ms: 2, stream: false, cache: null, channel_id: 'chan_bench', input_tokens: 12, output_tokens: 5, cost_micros: 10, created_at: now }));
      await logger.c.query({ name: 'log', text: REQUEST_LOG_INSERT, values: [JSON.stringify(rows)] });
    }
    const wall = performance.now() - started;
    await settler.c.query('SELECT pg_stat_force_next_flush()');
    await logger.c.query('SELECT pg_stat_force_next_flush()');
    await new Promise((r) => setTimeout(r, 50));
    const blocks = await indexBlocksRead(admin.c);
    const n = BATCHES * BATCH;
    results[kind].push({
      settleUs: (1000 * (cpuMs(settler.pid) - before.s)) / n,
      logUs: (1000 * (cpuMs(logger.pid) - before.l)) / n,
      wallMs: wall / BATCHES,
      readPerCall: (blocks.read - before.blocks.read) / n,
      hitPerCall: (blocks.hit - before.blocks.hit) / n,
    });
  }

  // a batch of each kind first, unmeasured: the statements prepared, the lease's pages cached
  for (const kind of Object.keys(kinds)) {
    const holds = ix.map(() => kinds[kind].hold());
    const reqs = ix.map(() => kinds[kind].req());
    await settler.c.query({ name: 'settle', text: SETTLE_DRAWN_MANY, values: settleValues(holds, reqs) });
  }

  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? ['random', 'time-ordered'] : ['time-ordered', 'random'];
    for (const kind of order) await runKind(kind);
    const row = (k) => results[k][r];
    out(`round ${r + 1}: ${order.map((k) => `${k} ${fmt(row(k).settleUs + row(k).logUs, 1)} us of Postgres CPU a call`).join(', ')}`);
  }

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const col = (k, f) => median(results[k].map(f));
  out('\nmedian of the rounds, each round in brackets');
  const rows = [['ids', 'Postgres CPU a call', 'of it: settle', 'request log', 'index blocks read a call', 'wall ms a batch']];
  for (const k of Object.keys(kinds)) {
    rows.push([
      k,
      `${fmt(col(k, (x) => x.settleUs + x.logUs), 1)} us [${results[k].map((x) => fmt(x.settleUs + x.logUs, 1)).join(', ')}]`,
      `${fmt(col(k, (x) => x.settleUs), 1)} us`,
      `${fmt(col(k, (x) => x.logUs), 1)} us`,
      `${fmt(col(k, (x) => x.readPerCall), 2)} (of ${fmt(col(k, (x) => x.readPerCall + x.hitPerCall), 1)})`,
      `${fmt(col(k, (x) => x.wallMs), 1)}`,
    ]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) out(`| ${r.map((c, i) => c.padEnd(w[i])).join(' | ')} |`);
  const ratio = col('random', (x) => x.settleUs + x.logUs) / col('time-ordered', (x) => x.settleUs + x.logUs);
  out(`\nrandom ids cost ${fmt(ratio, 2)} times the time-ordered ones' Postgres CPU a call (CPU from /proc, ±10 ms a backend a measurement: ±${fmt((2 * 10_000) / (BATCHES * BATCH), 1)} us a call)`);

  for (const x of [admin, settler, logger]) await x.c.end();
}

main().catch((err) => {
  process.stderr.write(`bench:ids failed: ${err.stack || err.message}\n`);
  process.exit(1);
});
