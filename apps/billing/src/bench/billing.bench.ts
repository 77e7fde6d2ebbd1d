// Holds + settles per second through the billing service (over its RPC transport, against the real
// Postgres), with group commit on (BILLING_BATCH=on) and off, on spread accounts and on one hot account.
//   npm run bench:billing [-- --seconds 8 --concurrency 64]
// It uses its own database (BENCH_DATABASE_URL, default gateway_bench), migrated first.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createPrisma } from '@gateway/db';
import { newId } from '@gateway/contracts';
import { RedisRpcClient } from '@gateway/transport';

const ROOT = path.resolve(__dirname, '../../../../..');
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = arg('seconds', 8);
const CONCURRENCY = arg('concurrency', 64);
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/gateway_bench';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function startBilling(batch: boolean, prefix: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/apps/billing/src/main.js')], {
    env: { ...process.env, DATABASE_URL, REDIS_URL, REDIS_PREFIX: prefix, BILLING_BATCH: batch ? 'on' : 'off', SWEEP_INTERVAL_MS: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve(child));
    child.once('exit', (c) => reject(new Error(`billing exited ${c}`)));
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : 0;
}

async function run(batch: boolean, hot: boolean) {
  const prefix = `bench-${randomUUID()}:`;
  const billing = await startBilling(batch, prefix);
  const prisma = createPrisma(DATABASE_URL, 4);
  const accounts: string[] = [];
  for (let i = 0; i < (hot ? 1 : 256); i++) {
    const id = newId('acct');
    await prisma.account.create({ data: { id, name: 'bench' } });
    await prisma.$queryRaw`SELECT status FROM gw_topup(${newId('topup')}, ${id}, ${BigInt(1e15)}, 'bench')`;
    accounts.push(id);
  }
  const rpc = new RedisRpcClient({ redisUrl: REDIS_URL, prefix, service: 'billing', timeoutMs: 30_000 });
  await rpc.connect();
  // warm up connections and plans
  for (let i = 0; i < 50; i++) {
    const h = await rpc.call('holds.place', { account_id: accounts[i % accounts.length], key_id: null, request_id: 'warm', model: 'm', amount_micros: 10 });
    await rpc.call('holds.settle', { hold_id: h.hold_id, cost_micros: 3 });
  }
  const latencies: number[] = [];
  let pairs = 0;
  let errors = 0;
  const until = Date.now() + SECONDS * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      let i = w;
      while (Date.now() < until) {
        const t0 = performance.now();
        try {
          const h = await rpc.call('holds.place', { account_id: accounts[i++ % accounts.length], key_id: null, request_id: 'bench', model: 'm', amount_micros: 1000 });
          await rpc.call('holds.settle', { hold_id: h.hold_id, cost_micros: 400 });
          latencies.push(performance.now() - t0);
          pairs++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  await rpc.close();
  // the books still balance after the run
  const [check] = await prisma.$queryRaw<Array<{ bad: bigint }>>`
    SELECT COUNT(*) AS bad FROM accounts a
     WHERE a.id = ANY(${accounts}) AND (a.balance_micros <> (SELECT COALESCE(SUM(amount_micros), 0) FROM ledger_entries l WHERE l.account_id = a.id) OR a.held_micros <> 0)`;
  await prisma.$disconnect();
  billing.kill('SIGTERM');
  await new Promise((r) => billing.once('exit', r));
  latencies.sort((a, b) => a - b);
  return { pairsPerSec: pairs / elapsed, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), errors, booksOk: Number(check.bad) === 0 };
}

async function main() {
  const migrate = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/prisma/build/index.js'), 'migrate', 'deploy'], { cwd: ROOT, env: { ...process.env, DATABASE_URL }, encoding: 'utf8' });
  if (migrate.status !== 0) throw new Error(`migrating the bench database failed: ${migrate.stderr}`);
  process.stdout.write(`billing benchmark: ${CONCURRENCY} concurrent callers, ${SECONDS} s per case, one hold + one settle per pair, over the Redis RPC transport\n`);
  const rows: string[][] = [['case', 'pairs/s', 'holds+settles/s', 'p50 ms', 'p99 ms', 'errors', 'books']];
  const results: Record<string, number> = {};
  for (const hot of [false, true]) {
    for (const batch of [false, true]) {
      const name = `${batch ? 'batched  ' : 'unbatched'} ${hot ? 'hot account' : '256 accounts'}`;
      const r = await run(batch, hot);
      results[name] = r.pairsPerSec;
      rows.push([name, r.pairsPerSec.toFixed(0), (r.pairsPerSec * 2).toFixed(0), r.p50.toFixed(2), r.p99.toFixed(2), String(r.errors), r.booksOk ? 'balance' : 'MISMATCH']);
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i])).join('  ')}\n`);
  const ratio = (hot: string) => results[`batched   ${hot}`] / results[`unbatched ${hot}`];
  process.stdout.write(`batched / unbatched: ${ratio('256 accounts').toFixed(2)}x spread, ${ratio('hot account').toFixed(2)}x hot\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.stack}\n`);
  process.exit(1);
});
