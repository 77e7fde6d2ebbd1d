import { RedisRpcClient } from '@gateway/transport';
import { randomUUID } from 'node:crypto';
import { books, expectInvariants, testPrisma } from './support/db';
import { freePort, resetTestDatabase } from './support/gateway';
import { kill9, spawnService, stop, type Service } from './support/services';

// kill -9 of the processes holding a hold, mid-call: after billing restarts, its sweeper releases the
// hold; no money is lost and the books tie out.
describe('a crash between hold and settle', () => {
  const prisma = testPrisma(2);
  const prefix = `crash-${randomUUID()}:`;
  const services: Service[] = [];
  let port = 0;
  let mockPort = 0;
  const env = () => ({
    DATABASE_URL: process.env.DATABASE_URL as string,
    REDIS_URL: process.env.REDIS_URL as string,
    REDIS_PREFIX: prefix,
    ADMIN_TOKEN: 'crash-test-admin-token',
    PORT: String(port),
    MOCK_PORT: String(mockPort),
    HOLD_TTL_MS: '1500',
    SWEEP_INTERVAL_MS: '200',
    LOG_LEVEL: 'warn',
  });
  const start = async (name: string, ready: RegExp) => {
    const s = await spawnService(name, env(), ready);
    services.push(s);
    return s;
  };

  beforeAll(async () => {
    await resetTestDatabase();
    port = await freePort();
    mockPort = await freePort();
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => stop(s)));
    await prisma.$disconnect();
  }, 30_000);

  it('kill -9 of ingress and billing mid-stream: the restarted billing releases the hold, nothing is lost', async () => {
    await start('mock-upstream', /listening/);
    let billing = await start('billing', /listening/);
    await start('models', /listening/);
    const ingress = await start('ingress', /listening/);
    const base = `http://127.0.0.1:${port}`;
    const admin = async (route: string, body: unknown) => {
      const r = await fetch(`${base}${route}`, { method: 'POST', headers: { authorization: 'Bearer crash-test-admin-token', 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return (await r.json()) as Record<string, string>;
    };
    await admin('/admin/models', { id: 'crash-model', kind: 'chat', pricing: { input_per_mtok_micros: 1_000_000, output_per_mtok_micros: 1_000_000 } });
    await admin('/admin/channels', { name: 'mock', provider: 'openai', base_url: `http://127.0.0.1:${mockPort}/v1`, api_key: 'k', models: ['crash-model'] });
    const acct = await admin('/admin/accounts', { name: 'crash', credit_micros: 1_000_000 });
    const key = (await admin(`/admin/accounts/${acct.id}/keys`, { name: 'crash' })).key;

    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'crash-model', stream: true, messages: [{ role: 'user', content: `slow ${'w '.repeat(50)} [[mock:chunk_delay=200]]` }] }),
    });
    const holdId = res.headers.get('x-tt-hold-id')!;
    await res.body!.getReader().read(); // the call is under way, its hold placed
    expect(await prisma.hold.findUniqueOrThrow({ where: { id: holdId } })).toMatchObject({ state: 'active' });

    await Promise.all([kill9(ingress), kill9(billing)]);
    // past the hold's deadline, with no billing running, nothing has touched it
    await new Promise((r) => setTimeout(r, 2000));
    const stuck = await books(prisma, acct.id);
    expect(stuck.held).toBeGreaterThan(0);
    expect(await prisma.hold.findUniqueOrThrow({ where: { id: holdId } })).toMatchObject({ state: 'active' });

    billing = await start('billing', /listening/);
    const until = Date.now() + 5000;
    let state = 'active';
    while (Date.now() < until && state === 'active') {
      state = (await prisma.hold.findUniqueOrThrow({ where: { id: holdId } })).state;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(state).toBe('expired');
    const after = await books(prisma, acct.id);
    expect(after).toMatchObject({ balance: 1_000_000, held: 0, debt: 0 });
    expectInvariants(after);

    const rpc = new RedisRpcClient({ redisUrl: process.env.REDIS_URL as string, prefix, service: 'billing', timeoutMs: 5000 });
    await rpc.connect();
    const report = await rpc.call('reports.reconciliation', { from: new Date(0).toISOString(), to: new Date(Date.now() + 1000).toISOString() });
    await rpc.close();
    expect(report.ties_out).toBe(true);
    expect(report.accounts.find((a) => a.account_id === acct.id)).toMatchObject({ closing_balance_micros: 1_000_000, released_holds_micros: expect.any(Number), open_holds_micros: 0 });
  }, 60_000);
});
