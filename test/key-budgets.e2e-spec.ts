import OpenAI from 'openai';
import type { BudgetView, KeyView } from '@gateway/contracts';
import { testPrisma } from './support/db';
import { adminCall, settledAccount, startGateway, type StartedGateway } from './support/gateway';

// A key's spend budget through the HTTP API: set by the admin API, enforced on calls with a 402 in each
// style's own error shape that says the key's budget (not the balance) is spent, and reported back.
describe('per-key budgets end to end', () => {
  let g: StartedGateway;
  const prisma = testPrisma(2);

  beforeAll(async () => {
    g = await startGateway();
  }, 120_000);

  afterAll(async () => {
    await g?.stop();
    await prisma.$disconnect();
  });

  // 100 words of reply: about 60 micros a call at gpt-4o-mini's $0.60/Mtok, while each hold covers up to
  // 1000 output tokens (about 600 micros)
  const prompt = `[[mock:reply=${Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ')}]]`;
  const ask = (client: OpenAI) => client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 1000, messages: [{ role: 'user', content: prompt }] });

  const getKey = async (id: string) => {
    const r = await adminCall<KeyView>(g, 'GET', `/admin/keys/${id}`);
    expect(r.status).toBe(200);
    return r.json;
  };
  /** The key once its calls' settles reached the ledger (they go through the outbox after the response). */
  const settledKey = async (id: string) => {
    const until = Date.now() + 15_000;
    for (;;) {
      const k = await getKey(id);
      if (k.budget?.held_micros === 0 || Date.now() > until) return k;
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const spentByKey = async (keyId: string) => {
    const holds = await prisma.hold.findMany({ where: { keyId, state: 'settled' } });
    return holds.reduce((s, h) => s + Number(h.settledMicros + h.overageMicros + h.debtMicros), 0);
  };

  it('calls go through until the budget is spent, then 402 in OpenAI and Anthropic shapes; the key shows spent, held and remaining', async () => {
    const acct = await adminCall<{ id: string }>(g, 'POST', '/admin/accounts', { name: 'budgets', credit_micros: 10_000_000 });
    const created = await adminCall<KeyView & { key: string }>(g, 'POST', `/admin/accounts/${acct.json.id}/keys`, { name: 'capped', budget: { limit_micros: 1000, period: 'day' } });
    expect(created.status).toBe(201);
    const now = new Date();
    const periodStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())).toISOString();
    const resetsAt = new Date(Date.parse(periodStart) + 86_400_000).toISOString();
    expect(created.json).toMatchObject({ key: expect.stringMatching(/^sk-/), cache_ttl_s: 0 });
    expect(created.json.budget).toEqual<BudgetView>({ limit_micros: 1000, period: 'day', alert_webhook: null, spent_micros: 0, held_micros: 0, remaining_micros: 1000, period_start: periodStart, resets_at: resetsAt });
    const keyId = created.json.id;
    const client = new OpenAI({ apiKey: created.json.key, baseURL: `${g.base}/v1`, maxRetries: 0 });

    // one call at a time, each settled before the next, so a refusal is the spend's doing
    let ok = 0;
    let refusal: InstanceType<typeof OpenAI.APIError> | undefined;
    while (!refusal && ok < 30) {
      const r = await ask(client).catch((e: unknown) => e);
      if (r instanceof OpenAI.APIError) refusal = r;
      else {
        ok++;
        await settledKey(keyId);
      }
    }
    expect(ok).toBeGreaterThanOrEqual(2);
    expect(refusal).toBeInstanceOf(OpenAI.APIError);
    expect(refusal!.status).toBe(402);
    expect(refusal!.error).toEqual({
      message: expect.stringMatching(new RegExp(`^this API key's budget of \\$0\\.001000 per day is spent: .* it resets at ${resetsAt.replace(/\./g, '\\.')}$`)),
      type: 'insufficient_quota',
      param: null,
      code: 'insufficient_balance',
    });
    expect(refusal!.message).not.toMatch(/balance/);
    expect(refusal!.headers?.get('x-tt-request-id')).toMatch(/^req_/);

    // the same refusal in Anthropic's shape on /v1/messages, and on a dry run
    const messages = await fetch(`${g.base}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': created.json.key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 1000, messages: [{ role: 'user', content: prompt }] }),
    });
    expect(messages.status).toBe(402);
    expect(await messages.json()).toEqual({ type: 'error', error: { type: 'billing_error', message: expect.stringMatching(/^this API key's budget of \$0\.001000 per day is spent/) } });
    const dry = await fetch(`${g.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${created.json.key}`, 'content-type': 'application/json', 'x-tt-dry-run': 'true' },
      body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 1000, messages: [{ role: 'user', content: prompt }] }),
    });
    expect(dry.status).toBe(402);

    // the key's period: what its calls cost, nothing held, the rest remaining; the balance was never short
    const k = await settledKey(keyId);
    const spent = await spentByKey(keyId);
    expect(spent).toBeGreaterThan(0);
    expect(k.budget).toEqual<BudgetView>({ limit_micros: 1000, period: 'day', alert_webhook: null, spent_micros: spent, held_micros: 0, remaining_micros: 1000 - spent, period_start: periodStart, resets_at: resetsAt });
    expect(await settledAccount(g, acct.json.id)).toMatchObject({ balance_micros: 10_000_000 - spent, held_micros: 0 });

    // a higher limit lets calls through again, with the spend kept
    const raised = await adminCall<KeyView>(g, 'PATCH', `/admin/keys/${keyId}`, { budget: { limit_micros: 5000, alert_webhook: 'https://alerts.example.com/budget' } });
    expect(raised.status).toBe(200);
    expect(raised.json.budget).toMatchObject({ limit_micros: 5000, period: 'day', alert_webhook: 'https://alerts.example.com/budget', spent_micros: spent, remaining_micros: 5000 - spent });
    await ask(client);
    // no budget: nothing to report, nothing to refuse
    const cleared = await adminCall<KeyView>(g, 'PATCH', `/admin/keys/${keyId}`, { budget: null });
    expect(cleared.json.budget).toBeNull();
    expect((await getKey(keyId)).budget).toBeNull();
  });

  it('PATCH changes settings and validates the budget; GET of an unknown key is a 404', async () => {
    const acct = await adminCall<{ id: string }>(g, 'POST', '/admin/accounts', { name: 'settings', credit_micros: 1_000_000 });
    const created = await adminCall<KeyView>(g, 'POST', `/admin/accounts/${acct.json.id}/keys`, { name: 'plain' });
    expect(created.json).toMatchObject({ budget: null, cache_ttl_s: 0 });
    const id = created.json.id;

    const noLimit = await adminCall<{ error: { message: string; param: string } }>(g, 'PATCH', `/admin/keys/${id}`, { budget: { period: 'week' } });
    expect(noLimit.status).toBe(400);
    expect(noLimit.json.error.param).toBe('budget.limit_micros');
    for (const budget of [{ limit_micros: 10, period: 'year' }, { limit_micros: -1, period: 'day' }, { limit_micros: 10, period: 'day', alert_webhook: 'ftp://x.example' }]) {
      const bad = await adminCall<{ error: { param: string } }>(g, 'PATCH', `/admin/keys/${id}`, { budget });
      expect(bad.status).toBe(400);
      expect(bad.json.error.param).toMatch(/^budget\./);
    }
    expect((await adminCall(g, 'POST', `/admin/accounts/${acct.json.id}/keys`, { name: 'bad', cache_ttl_s: -5 })).status).toBe(400);

    const patched = await adminCall<KeyView>(g, 'PATCH', `/admin/keys/${id}`, { name: 'renamed', rpm: 60, cache_ttl_s: 120, budget: { limit_micros: 2_000_000, period: 'week' } });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ name: 'renamed', rpm: 60, cache_ttl_s: 120, budget: { limit_micros: 2_000_000, period: 'week', spent_micros: 0, held_micros: 0, remaining_micros: 2_000_000 } });
    const monday = new Date(patched.json.budget!.period_start);
    expect(monday.getUTCDay()).toBe(1);
    expect(Date.parse(patched.json.budget!.resets_at) - monday.getTime()).toBe(7 * 86_400_000);
    expect(await getKey(id)).toEqual(patched.json);

    expect((await adminCall(g, 'GET', '/admin/keys/key_unknown')).status).toBe(404);
  });
});
