import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { testPrisma } from './support/db';
import { newAccount, settledAccount, startGateway, type StartedGateway } from './support/gateway';

// The web console in a real browser (Debian's Chromium driven by playwright-core) against the whole
// system: each role signs in with what it already has, a client makes a key and calls the API with it,
// finds the call in its log and its spend, an admin tops up, finance downloads the reconciliation and the
// usage as CSV and they tie out. Every main page is saved as a screenshot in screenshots/console/.
const SHOTS = path.resolve(__dirname, '..', 'screenshots', 'console');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const LAPTOP = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };

/** CSV text to rows of objects keyed by the header (the console's CSVs have no embedded newlines). */
function parseCsv(text: string): Array<Record<string, string>> {
  const lines = text.trim().split(/\r?\n/);
  const split = (line: string) => {
    const out: string[] = [];
    let cur = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
        else if (c === '"') quoted = false;
        else cur += c;
      } else if (c === '"') quoted = true;
      else if (c === ',') out.push(cur), (cur = '');
      else cur += c;
    }
    out.push(cur);
    return out;
  };
  const header = split(lines[0]);
  return lines.slice(1).map((l) => Object.fromEntries(split(l).map((v, i) => [header[i], v])));
}

describe('the web console in a browser', () => {
  let g: StartedGateway;
  let browser: Browser;
  const prisma = testPrisma(2);
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    g = await startGateway();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 120_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await g?.stop();
    await prisma.$disconnect();
  }, 30_000);

  afterEach(() => {
    // an uncaught error in the page is a defect even when the assertions passed
    expect(pageErrors).toEqual([]);
    pageErrors.length = 0;
  });

  async function open(viewport = LAPTOP): Promise<Page> {
    const ctx = await browser.newContext({ viewport, acceptDownloads: true });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.setDefaultTimeout(15_000);
    await page.goto(`${g.base}/console/`);
    return page;
  }

  async function signIn(page: Page, token: string, role: string): Promise<void> {
    await page.getByTestId('token').fill(token);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('role').filter({ hasText: new RegExp(role, 'i') }).waitFor();
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  /** Reloads the page until `check` passes (data written after a response: the log batch, the settle). */
  async function eventually(page: Page, check: () => Promise<void>, ms = 15_000): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      try {
        await check();
        return;
      } catch (err) {
        if (Date.now() > until) throw err;
        await page.waitForTimeout(300);
        await page.reload();
      }
    }
  }

  async function download(page: Page, testId: string): Promise<string> {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
    const file = await dl.path();
    return readFileSync(file, 'utf8');
  }

  let requestId = '';

  it('a client signs in with its key, makes a key, calls the API with it, and finds the call in its log and spend', async () => {
    const page = await open();
    await shot(page, '00-sign-in');
    // a wrong token is refused with a message, not a stack
    await page.getByTestId('token').fill('sk-not-a-real-key-000000');
    await page.getByTestId('sign-in').click();
    await page.getByTestId('error').waitFor();
    expect(await page.getByTestId('error').innerText()).not.toMatch(/at .*\.js:\d+/);

    await signIn(page, g.key, 'client');
    await page.getByTestId('balance').waitFor();
    const acct = await settledAccount(g, g.accountId);
    expect(await page.getByTestId('balance').innerText()).toContain(`$${acct.balance_micros / 1e6}`);

    await page.getByTestId('nav-keys').click();
    await page.getByTestId('key-name').fill('from the browser');
    await page.getByTestId('key-rpm').fill('120');
    await page.getByTestId('key-budget-usd').fill('2.5');
    await page.getByTestId('key-create').click();
    const plaintext = (await page.getByTestId('new-key').innerText()).trim();
    expect(plaintext).toMatch(/^sk-/);
    await shot(page, '02-keys-created');
    const made = (await prisma.apiKey.findFirst({ where: { accountId: g.accountId, name: 'from the browser' } }))!;
    expect(made.rpm).toBe(120);
    expect(Number((await prisma.keyBudget.findUnique({ where: { keyId: made.id } }))!.limitMicros)).toBe(2_500_000);

    // the new key works against the API
    const r = await fetch(`${g.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${plaintext}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello from a console key' }] }),
    });
    expect(r.status).toBe(200);
    requestId = r.headers.get('x-tt-request-id')!;
    const usage = await (async () => {
      for (let i = 0; i < 300; i++) {
        const u = await prisma.usageRecord.findUnique({ where: { requestId } });
        if (u) return u;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error('no usage record');
    })();

    // the request log shows it, and a lookup by its id opens it
    await page.getByTestId('nav-requests').click();
    await eventually(page, async () => {
      await page.locator(`[data-testid="request-row"][data-request-id="${requestId}"]`).waitFor({ timeout: 1_000 });
    });
    await page.getByTestId('lookup-request-id').fill(requestId);
    await page.getByTestId('lookup').click();
    const detail = page.getByTestId('request-detail');
    await detail.filter({ hasText: requestId }).filter({ hasText: 'gpt-4o-mini' }).waitFor();
    const text = await detail.innerText();
    expect(text).toContain('200');
    expect(text).toContain('gpt-4o-mini');
    expect(text).toContain(String(usage.inputTokens));
    expect(text).toContain(String(usage.outputTokens));
    await shot(page, '03-requests');

    // the spend: the model in the per-model chart and the usage table, the day in the per-day chart
    await page.getByTestId('nav-overview').click();
    await eventually(page, async () => {
      await page.getByTestId('usage-table').filter({ hasText: 'gpt-4o-mini' }).waitFor({ timeout: 1_000 });
    });
    await page.getByTestId('spend-by-model').filter({ hasText: 'gpt-4o-mini' }).waitFor();
    expect(await page.getByTestId('spend-by-day').locator('svg').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('spend-by-day').locator('.recharts-bar-rectangle, .recharts-rectangle, path.recharts-curve').count()).toBeGreaterThan(0);
    await shot(page, '01-overview');

    // a video task made through the API shows in the Tasks page with its events and result
    const sub = await fetch(`${g.base}/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${g.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sora-2', prompt: 'a console cat [[mock:duration_ms=300]]', seconds: 4 }),
    });
    expect(sub.status).toBe(202);
    const task = (await sub.json()) as { id: string };
    for (let i = 0; i < 200; i++) {
      const t = (await (await fetch(`${g.base}/v1/tasks/${task.id}`, { headers: { authorization: `Bearer ${g.key}` } })).json()) as { status: string };
      if (t.status === 'succeeded') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    await page.getByTestId('nav-tasks').click();
    const taskRow = page.locator(`[data-testid="task-row"][data-task-id="${task.id}"]`);
    await eventually(page, async () => {
      await taskRow.filter({ hasText: 'succeeded' }).waitFor({ timeout: 1_000 });
    });
    await taskRow.click();
    await page.getByTestId('task-events').filter({ hasText: 'succeeded' }).waitFor();
    expect(await page.getByTestId('task-events').innerText()).toContain('queued');
    await shot(page, '04-tasks');

    // another account's request is not found from this account, in the page as at the API
    const other = await newAccount(g, 5_000_000);
    const theirCall = await fetch(`${g.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${other.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'private' }] }),
    });
    await theirCall.text();
    const theirs = theirCall.headers.get('x-tt-request-id') ?? '';
    expect(theirs).not.toBe('');
    await page.getByTestId('nav-requests').click();
    await page.getByTestId('lookup-request-id').fill(theirs);
    await page.getByTestId('lookup').click();
    await page.getByTestId('error').waitFor();
    expect((await page.getByTestId('request-detail').count()) === 0 || !(await page.getByTestId('request-detail').innerText()).includes(theirs)).toBe(true);
    const api = await fetch(`${g.base}/v1/account/requests/${theirs}`, { headers: { authorization: `Bearer ${g.key}` } });
    expect(api.status).toBe(404);

    await page.getByTestId('nav-statement').click();
    await page.getByTestId('statement-table').waitFor();
    await shot(page, '05-statement-client');

    // a phone-sized screen: the same pages, readable
    const phone = await open(PHONE);
    await signIn(phone, g.key, 'client');
    await phone.getByTestId('balance').waitFor();
    await phone.getByTestId('spend-by-model').locator('svg.recharts-surface').first().waitFor();
    await phone.getByTestId('spend-by-day').locator('svg.recharts-surface').first().waitFor();
    await shot(phone, '06-overview-phone');
    const wide = await phone.evaluate<number>('document.documentElement.scrollWidth');
    expect(wide).toBeLessThanOrEqual(PHONE.width + 1);
    await phone.getByTestId('nav-requests').click();
    await phone.locator(`[data-testid="request-row"][data-request-id="${requestId}"]`).waitFor();
    await shot(phone, '07-requests-phone');
    expect(await phone.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width + 1);
  }, 120_000);

  it('an admin sees channels, models, queues and the lookup across accounts, and tops an account up', async () => {
    expect(requestId).not.toBe('');
    const page = await open();
    await signIn(page, g.adminToken, 'admin');
    await page.getByTestId('nav-channels').click();
    await page.getByTestId('channel-row').first().waitFor();
    expect(await page.getByTestId('channels-table').innerText()).toMatch(/closed/i);
    await shot(page, '10-ops-channels');

    await page.getByTestId('nav-models').click();
    const row = page.locator('[data-testid="model-row"][data-model-id="gpt-4o-mini"]');
    await row.getByTestId('model-edit').click();
    // a bad price is refused in the page, and nothing changes
    const input = page.getByTestId('price-input_per_mtok_micros');
    const before = (await prisma.model.findUnique({ where: { id: 'gpt-4o-mini' } }))!.inputPerMtokMicros;
    await input.fill('-1');
    await page.getByTestId('model-save').click();
    await page.getByTestId('model-error').waitFor();
    expect((await prisma.model.findUnique({ where: { id: 'gpt-4o-mini' } }))!.inputPerMtokMicros).toBe(before);
    await input.fill('0.2');
    await page.getByTestId('model-save').click();
    await eventually(page, async () => {
      expect(Number((await prisma.model.findUnique({ where: { id: 'gpt-4o-mini' } }))!.inputPerMtokMicros)).toBe(200_000);
    }, 5_000);
    await shot(page, '11-ops-models');

    await page.getByTestId('nav-queues').click();
    await page.getByTestId('queues-table').waitFor();
    await shot(page, '12-ops-queues');

    await page.getByTestId('nav-lookup').click();
    await page.getByTestId('lookup-request-id').fill(requestId);
    await page.getByTestId('lookup').click();
    await page.getByTestId('request-detail').filter({ hasText: requestId }).filter({ hasText: g.accountId }).waitFor();
    await shot(page, '13-ops-lookup');

    // a top-up recorded from the account's page: a ledger entry with its reason and who made it
    await page.getByTestId('nav-accounts').click();
    await page.locator(`[data-testid="account-row"][data-account-id="${g.accountId}"]`).click();
    await page.getByTestId('statement-table').waitFor();
    const balanceBefore = (await settledAccount(g, g.accountId)).balance_micros;
    await page.getByTestId('entry-kind').selectOption('topup');
    await page.getByTestId('entry-amount').fill('5');
    await page.getByTestId('entry-reason').fill('wire transfer 1234');
    await page.getByTestId('entry-submit').click();
    await page.getByTestId('entry-result').waitFor();
    const after = await settledAccount(g, g.accountId);
    expect(after.balance_micros).toBe(balanceBefore + 5_000_000);
    const entry = await prisma.ledgerEntry.findFirst({ where: { accountId: g.accountId, kind: 'topup' }, orderBy: { id: 'desc' } });
    expect(entry).toMatchObject({ reason: 'wire transfer 1234' });
    expect(entry!.actor).toBeTruthy();
    // the statement's running balance ends at the account's balance
    await eventually(page, async () => {
      await page.getByTestId('statement-table').filter({ hasText: 'wire transfer 1234' }).waitFor({ timeout: 1_000 });
    });
    // a refund by a named person: the Actor field goes with it as X-TT-Actor
    await page.getByTestId('actor').fill('dana@example.com');
    await page.getByTestId('entry-kind').selectOption('refund');
    await page.getByTestId('entry-amount').fill('1.25');
    await page.getByTestId('entry-reason').fill(`goodwill for ${requestId}`);
    await page.getByTestId('entry-submit').click();
    await page.getByTestId('entry-result').filter({ hasText: 'refund' }).waitFor();
    const refund = await prisma.ledgerEntry.findFirst({ where: { accountId: g.accountId, kind: 'refund' } });
    expect(refund).toMatchObject({ actor: 'dana@example.com', reason: `goodwill for ${requestId}` });
    expect(Number(refund!.amountMicros)).toBe(1_250_000);
    const final = await settledAccount(g, g.accountId);
    expect(final.balance_micros).toBe(after.balance_micros + 1_250_000);
    await eventually(page, async () => {
      await page.getByTestId('statement-table').filter({ hasText: 'dana@example.com' }).waitFor({ timeout: 1_000 });
    });
    const closing = await page.getByTestId('running-balance').last().innerText();
    expect(closing.replace(/[$,\s]/g, '')).toBe(String(final.balance_micros / 1e6));
    await shot(page, '14-finance-statement');
  }, 120_000);

  it('finance reads reconciliation, holds and usage, downloads them as CSV, and they tie out', async () => {
    const page = await open();
    await signIn(page, g.financeToken, 'finance');
    // finance has no ops pages and no money form
    expect(await page.getByTestId('nav-channels').count()).toBe(0);

    await page.getByTestId('nav-reconciliation').click();
    await page.getByTestId('tie-out').filter({ hasText: 'Ties out' }).waitFor();
    await shot(page, '20-finance-reconciliation');
    const csv = parseCsv(await download(page, 'download-reconciliation-csv'));
    expect(csv.length).toBeGreaterThan(0);
    for (const row of csv) {
      const n = (k: string) => Number(row[k]);
      expect(n('opening_balance_micros') + n('topups_micros') + n('adjustments_micros') - n('charges_micros')).toBe(n('closing_balance_micros'));
      expect(row.ties_out).toBe('true');
    }
    const demo = csv.find((r) => r.account_id === g.accountId)!;
    expect(Number(demo.closing_balance_micros)).toBe((await settledAccount(g, g.accountId)).balance_micros);

    await page.getByTestId('nav-holds').click();
    await page.getByTestId('holds-table').waitFor();
    await shot(page, '21-finance-holds');

    await page.getByTestId('nav-usage').click();
    for (const gkey of ['group-key', 'group-model', 'group-day']) await page.getByTestId(gkey).check();
    await page.getByTestId('usage-table').filter({ hasText: 'gpt-4o-mini' }).waitFor();
    await shot(page, '22-finance-usage');
    const usageCsv = parseCsv(await download(page, 'download-usage-csv'));
    const records = await prisma.usageRecord.findMany();
    const sum = (rows: Array<Record<string, string>>, k: string) => rows.reduce((s, r) => s + Number(r[k]), 0);
    expect(sum(usageCsv, 'cost_micros')).toBe(records.reduce((s, r) => s + Number(r.costMicros), 0));
    expect(sum(usageCsv, 'requests')).toBe(records.length);
    expect(sum(usageCsv, 'input_tokens')).toBe(records.reduce((s, r) => s + r.inputTokens, 0));

    await page.getByTestId('nav-accounts').click();
    await page.locator(`[data-testid="account-row"][data-account-id="${g.accountId}"]`).click();
    await page.getByTestId('statement-table').waitFor();
    expect(await page.getByTestId('entry-submit').count()).toBe(0);
    const stmt = parseCsv(await download(page, 'download-statement-csv'));
    expect(Number(stmt[stmt.length - 1].running_balance_micros)).toBe((await settledAccount(g, g.accountId)).balance_micros);

    // the finance token is read-only at the API too
    const refused = await fetch(`${g.base}/admin/accounts/${g.accountId}/topups`, {
      method: 'POST',
      headers: { authorization: `Bearer ${g.financeToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ amount_micros: 1, reference: 'finance-try' }),
    });
    expect(refused.status).toBe(403);
  }, 120_000);
});
