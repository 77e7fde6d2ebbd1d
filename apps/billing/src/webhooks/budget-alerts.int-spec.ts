import { newId } from '@gateway/contracts';
import { billingConfigSchema, parseConfig, type BillingConfig } from '@gateway/config';
import type { PgPool, PrismaClient } from '@gateway/db';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeAccount, testPg, testPrisma } from '../../../../test/support/db';
import { HoldRepository } from '../holds/hold.repository';
import { WebhookOutboxRepository } from './webhook-outbox.repository';
import { WebhookSenderService } from './webhook-sender.service';
import { verifyWebhook } from './webhook-signature';

interface Received {
  body: string;
  json: Record<string, unknown>;
  signature: string;
  webhookId: string;
  answered: number;
}

/** A local receiver that answers each POST with the next status of `statuses` (then 200). */
async function receiver(statuses: number[] = []): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const answered = statuses.shift() ?? 200;
      received.push({ body, json: JSON.parse(body), signature: String(req.headers['x-tt-signature']), webhookId: String(req.headers['x-tt-webhook-id']), answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/budget`, received, server };
}

// Budget alerts: queued by the money functions once per key, period and threshold, and delivered by
// billing's webhook sender, signed, retried until the receiver takes them.
describe('budget alert webhooks', () => {
  let prisma: PrismaClient;
  let pg: PgPool;
  let holds: HoldRepository;
  let config: BillingConfig;
  const servers: Server[] = [];
  const senders: WebhookSenderService[] = [];

  beforeAll(() => {
    prisma = testPrisma(6);
    pg = testPg(6);
    holds = new HoldRepository(prisma, pg);
    config = parseConfig(billingConfigSchema, {
      DATABASE_URL: process.env.DATABASE_URL,
      REDIS_URL: process.env.REDIS_URL,
      WEBHOOK_SECRET: 'int-test-webhook-secret',
      WEBHOOK_INTERVAL_MS: '50',
      WEBHOOK_RETRY_MIN_MS: '300',
    });
  });
  afterAll(async () => {
    await Promise.all(senders.map((s) => s.beforeApplicationShutdown()));
    for (const s of servers) s.close();
    await Promise.all([prisma.$disconnect(), pg.end()]);
  });

  const sender = () => {
    const s = new WebhookSenderService(new WebhookOutboxRepository(prisma), config);
    senders.push(s);
    return s;
  };

  const budgetedKey = async (limitMicros: number, url: string) => {
    const accountId = await makeAccount(prisma, 1_000_000);
    const keyId = newId('key');
    await prisma.apiKey.create({
      data: { id: keyId, accountId, name: 'alerts', keyHash: newId('hash'), prefix: 'sk-test', budget: { create: { limitMicros: BigInt(limitMicros), period: 'day', alertWebhook: url } } },
    });
    return { accountId, keyId };
  };

  /** A call of the key: placed, then settled for its cost. */
  const call = async (k: { accountId: string; keyId: string }, hold: number, cost: number) => {
    const id = newId('hold');
    const placed = await holds.place({ id, accountId: k.accountId, keyId: k.keyId, requestId: newId('req'), kind: 'call', model: 'm', amountMicros: hold, ttlMs: 60_000 });
    expect(placed.status).toBe('ok');
    await holds.settle(id, cost);
  };

  const waitFor = async (check: () => boolean | Promise<boolean>, ms = 10_000) => {
    const until = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > until) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  it('50, 80 and 100 % each reach the receiver exactly once, signed, however many senders run', async () => {
    const r = await receiver();
    servers.push(r.server);
    const k = await budgetedKey(1000, r.url);
    await call(k, 300, 200); // 20 %
    await call(k, 400, 300); // 50 %
    await call(k, 300, 290); // 79 %
    await call(k, 100, 10); // 80 %
    await call(k, 100, 5); // 80.5 %: 80 again, not alerted again
    // three senders (as three billing instances) deliver side by side
    const many = [sender(), sender(), sender()];
    await Promise.all(many.map((s) => s.deliverDue()));
    await Promise.all(many.map((s) => s.deliverDue()));
    // several senders deliver side by side: in any order
    const pcts = () => r.received.map((x) => Number(x.json.threshold_pct)).sort((a, b) => a - b);
    expect(pcts()).toEqual([50, 80]);

    await call(k, 195, 195); // exactly the limit: 100 %
    await call(k, 0, 40); // past it: a cost above its hold is still spent, and alerts nothing more
    await Promise.all(many.map((s) => s.deliverDue()));
    await Promise.all(many.map((s) => s.deliverDue()));
    expect(pcts()).toEqual([50, 80, 100]);
    expect(new Set(r.received.map((x) => x.webhookId)).size).toBe(3);

    const today = new Date();
    const periodStart = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate())).toISOString();
    const resetsAt = new Date(Date.parse(periodStart) + 86_400_000).toISOString();
    for (const x of r.received) {
      const t = Number(/^t=(\d+),v1=[0-9a-f]{64}$/.exec(x.signature)?.[1]);
      expect(Math.abs(t - Date.now() / 1000)).toBeLessThan(60);
      expect(verifyWebhook('int-test-webhook-secret', x.body, x.signature, Math.floor(Date.now() / 1000))).toBe(true);
      expect(verifyWebhook('another-secret-entirely', x.body, x.signature, Math.floor(Date.now() / 1000))).toBe(false);
    }
    expect(r.received.map((x) => x.json).sort((a, b) => Number(a.threshold_pct) - Number(b.threshold_pct))).toEqual([
      { type: 'budget.threshold', key_id: k.keyId, account_id: k.accountId, threshold_pct: 50, limit_micros: 1000, spent_micros: 500, period: 'day', period_start: periodStart, resets_at: resetsAt },
      { type: 'budget.threshold', key_id: k.keyId, account_id: k.accountId, threshold_pct: 80, limit_micros: 1000, spent_micros: 800, period: 'day', period_start: periodStart, resets_at: resetsAt },
      { type: 'budget.threshold', key_id: k.keyId, account_id: k.accountId, threshold_pct: 100, limit_micros: 1000, spent_micros: 1000, period: 'day', period_start: periodStart, resets_at: resetsAt },
    ]);
    const rows = await prisma.webhookOutbox.findMany({ where: { keyId: k.keyId }, orderBy: { thresholdPct: 'asc' } });
    expect(rows.map((w) => [w.thresholdPct, w.attempts, w.deliveredAt !== null])).toEqual([
      [50, 1, true],
      [80, 1, true],
      [100, 1, true],
    ]);
  });

  it('a place the budget refuses alerts 100 % (and not the thresholds the spend has not reached)', async () => {
    const r = await receiver();
    servers.push(r.server);
    const k = await budgetedKey(1000, r.url);
    await call(k, 600, 550); // 55 %: 50 alerted
    const refused = await holds.place({ id: newId('hold'), accountId: k.accountId, keyId: k.keyId, requestId: newId('req'), kind: 'call', model: 'm', amountMicros: 500, ttlMs: 60_000 });
    expect(refused.status).toBe('key_budget_exceeded');
    // a second refusal alerts nothing more
    await holds.place({ id: newId('hold'), accountId: k.accountId, keyId: k.keyId, requestId: newId('req'), kind: 'call', model: 'm', amountMicros: 500, ttlMs: 60_000 });
    await sender().deliverDue();
    // delivered side by side: in any order
    expect(r.received.map((x) => [x.json.threshold_pct, x.json.spent_micros]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
      [50, 550],
      [100, 550],
    ]);
  });

  it('a receiver that fails first (500) gets the alert again later, from the sender on its timer', async () => {
    const r = await receiver([500]);
    servers.push(r.server);
    const k = await budgetedKey(1000, r.url);
    await call(k, 600, 500);
    const s = sender();
    s.onApplicationBootstrap();
    const outboxRow = () => prisma.webhookOutbox.findFirstOrThrow({ where: { keyId: k.keyId } });
    await waitFor(async () => (await outboxRow()).lastError !== null);
    expect(r.received).toHaveLength(1);
    const row = await outboxRow();
    expect(row).toMatchObject({ attempts: 1, lastError: 'HTTP 500', deliveredAt: null });
    expect(row.nextAttemptAt.getTime()).toBeGreaterThan(Date.now());
    // backed off: due again after WEBHOOK_RETRY_MIN_MS, not at once
    await waitFor(() => r.received.length >= 2);
    expect(r.received.map((x) => x.answered)).toEqual([500, 200]);
    expect(r.received[1].body).toBe(r.received[0].body);
    expect(r.received[1].webhookId).toBe(r.received[0].webhookId);
    expect(verifyWebhook('int-test-webhook-secret', r.received[1].body, r.received[1].signature, Math.floor(Date.now() / 1000))).toBe(true);
    await waitFor(async () => (await outboxRow()).deliveredAt !== null);
    expect(await outboxRow()).toMatchObject({ attempts: 2, lastError: null });
    await new Promise((res) => setTimeout(res, 400));
    expect(r.received).toHaveLength(2);
  });
});
