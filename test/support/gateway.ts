import OpenAI from 'openai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';

export interface StartedGateway {
  base: string;
  adminToken: string;
  /** the read-only finance token npm start generated ('' when FINANCE_TOKEN=off) */
  financeToken: string;
  key: string;
  accountId: string;
  curl: string;
  mockBase: string;
  /** each service's ops server (GET /metrics, /health/live, /health/ready), by service name */
  ops: Record<'ingress' | 'billing' | 'models' | 'task-worker', string>;
  output: string[];
  stop: () => Promise<void>;
}

/**
 * The lowest port the kernel hands out as a connection's local (ephemeral) port. A port asked of the kernel
 * with listen(0) comes from that range, and once released it can be taken by any outgoing connection on the
 * machine (the tests open many, to Postgres, Redis and the services) before the service meant to bind it
 * does: EADDRINUSE at start, seen in CI. So ports are picked below it.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) ? low : 0;
  } catch {
    return 0;
  }
}
const EPHEMERAL_LOW = ephemeralLow();
/** ports this test process handed out already (another file's workers pick at random, so rarely the same) */
const handedOut = new Set<number>();

function tryListen(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(null));
    // the services bind 0.0.0.0: a port free there is free on 127.0.0.1 too
    srv.listen(port, '0.0.0.0', () => {
      const got = (srv.address() as { port: number }).port;
      srv.close(() => resolve(got));
    });
  });
}

/** A port free now, outside the kernel's ephemeral range when that range leaves room below it. */
export async function freePort(): Promise<number> {
  if (EPHEMERAL_LOW > 12_000) {
    for (let i = 0; i < 200; i++) {
      const port = 10_000 + Math.floor(Math.random() * (EPHEMERAL_LOW - 10_000));
      if (handedOut.has(port)) continue;
      if ((await tryListen(port)) !== null) {
        handedOut.add(port);
        return port;
      }
    }
  }
  const port = await tryListen(0);
  if (port === null) throw new Error('no free port');
  return port;
}

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Starts the whole system exactly as a user does, with `npm start`'s script, on free ports, the test
 * database and a Redis prefix of its own; resolves once it printed its ready line.
 */
/**
 * E2E suites each start from an empty test database, so models and channels of an earlier run (pointing
 * at mock ports long gone) cannot leak in. The suites run one at a time (--runInBand).
 */
export async function resetTestDatabase(): Promise<void> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    await client.query(
      'TRUNCATE request_log, task_events, tasks, usage_records, hold_events, ledger_entries, holds, topups, api_keys, accounts, channels, models, model_prices RESTART IDENTITY CASCADE',
    );
  } finally {
    await client.end();
  }
}

export async function startGateway(env: Record<string, string> = {}, opts: { root?: string; command?: string[]; readyMs?: number } = {}): Promise<StartedGateway> {
  const root = opts.root ?? ROOT;
  await resetTestDatabase();
  const port = await freePort();
  const mockPort = await freePort();
  const opsPorts = { ingress: await freePort(), billing: await freePort(), models: await freePort(), 'task-worker': await freePort() };
  const output: string[] = [];
  const [cmd, ...args] = opts.command ?? [process.execPath, path.join(root, 'scripts/start.js')];
  const child: ChildProcess = spawn(cmd, args, {
    cwd: root,
    // its own process group, so stop() ends npm and everything it started
    detached: true,
    env: {
      ...process.env,
      PORT: String(port),
      MOCK_PORT: String(mockPort),
      INGRESS_OPS_PORT: String(opsPorts.ingress),
      BILLING_OPS_PORT: String(opsPorts.billing),
      MODELS_OPS_PORT: String(opsPorts.models),
      WORKER_OPS_PORT: String(opsPorts['task-worker']),
      REDIS_PREFIX: `e2e-${randomUUID()}:`,
      GATEWAY_STATE_DIR: mkdtempSync(path.join(tmpdir(), 'gw-e2e-')),
      ADMIN_TOKEN: '',
      FINANCE_TOKEN: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      process.kill(-child.pid!, 'SIGTERM');
    });
  const ready = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in time:\n${output.join('\n')}`)), opts.readyMs ?? 90_000);
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        output.push(line);
        if (line.startsWith('GATEWAY_READY ')) {
          clearTimeout(timer);
          resolve(JSON.parse(line.slice('GATEWAY_READY '.length)));
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before it was ready:\n${output.join('\n')}`));
    });
  });
  return {
    base: ready.base,
    adminToken: ready.admin_token,
    financeToken: ready.finance_token ?? '',
    key: ready.key,
    accountId: ready.account_id,
    curl: ready.curl,
    mockBase: `http://127.0.0.1:${mockPort}`,
    ops: {
      ingress: `http://127.0.0.1:${opsPorts.ingress}`,
      billing: `http://127.0.0.1:${opsPorts.billing}`,
      models: `http://127.0.0.1:${opsPorts.models}`,
      'task-worker': `http://127.0.0.1:${opsPorts['task-worker']}`,
    },
    output,
    stop,
  };
}

/**
 * One HTTP call with a bearer token: the status, the body parsed as JSON when it is JSON (else the text,
 * e.g. a CSV), the raw text and the content type.
 */
export async function apiCall<T = Record<string, unknown>>(
  g: Pick<StartedGateway, 'base'>,
  token: string,
  method: string,
  route: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: T; text: string; contentType: string }> {
  const r = await fetch(`${g.base}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* CSV, or another non-JSON body */
  }
  return { status: r.status, json: json as T, text, contentType: r.headers.get('content-type') ?? '' };
}

/** A call with the admin token (see apiCall). */
export async function adminCall<T = Record<string, unknown>>(g: StartedGateway, method: string, route: string, body?: unknown): Promise<{ status: number; json: T }> {
  const { status, json } = await apiCall<T>(g, g.adminToken, method, route, body);
  return { status, json };
}

/**
 * The account once its calls have settled. Settles reach the ledger through the outbox after the
 * response, so a test that checks a balance right after a call waits until nothing is held (up to 15 s;
 * after that it returns what it saw, and the test's own expectations fail).
 */
export async function settledAccount<T extends { held_micros: number } = { id: string; balance_micros: number; held_micros: number; available_micros: number; debt_micros: number }>(g: Pick<StartedGateway, 'base' | 'adminToken'>, id: string, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await fetch(`${g.base}/admin/accounts/${id}`, { headers: { authorization: `Bearer ${g.adminToken}` } });
    const json = (await r.json()) as T;
    if (json.held_micros === 0 || Date.now() > until) return json;
    await new Promise((res) => setTimeout(res, 25));
  }
}

/** A new account with credit and a key (the key body may set models, rpm, tpm…), and an OpenAI client on it. */
export async function newAccount(g: StartedGateway, credit: number, keyBody: Record<string, unknown> = {}) {
  const acct = await adminCall<{ id: string }>(g, 'POST', '/admin/accounts', { name: 'e2e', credit_micros: credit });
  if (acct.status !== 201) throw new Error(`account: ${JSON.stringify(acct.json)}`);
  const key = await adminCall<{ key: string; id: string }>(g, 'POST', `/admin/accounts/${acct.json.id}/keys`, { name: 'e2e', ...keyBody });
  if (key.status !== 201) throw new Error(`key: ${JSON.stringify(key.json)}`);
  const client = new OpenAI({ apiKey: key.json.key, baseURL: `${g.base}/v1`, maxRetries: 0 });
  return { id: acct.json.id, key: key.json.key, keyId: key.json.id, client };
}
