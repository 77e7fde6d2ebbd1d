import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { register } from 'prom-client';

/** A readiness check: resolves when the dependency answers, throws (or times out) when it does not. */
export type Check = () => Promise<unknown>;

export interface Readiness {
  ready: boolean;
  /** each check by name: "ok" or why it failed */
  checks: Record<string, string>;
}

/** A dependency that does not answer within this is down, as far as a probe is concerned. */
const CHECK_TIMEOUT_MS = 2000;

/**
 * Runs every check at once (each bounded by a timeout) and says which failed. `draining` is a check of its
 * own so that an operator sees why a healthy instance stopped taking traffic.
 */
export async function readiness(checks: Record<string, Check>, draining?: () => boolean): Promise<Readiness> {
  const names = Object.keys(checks);
  const results = await Promise.all(names.map((n) => withTimeout(checks[n]).then(() => 'ok', (err: unknown) => errorText(err))));
  const out: Record<string, string> = {};
  names.forEach((n, i) => (out[n] = results[i]));
  if (draining) out.draining = draining() ? 'draining: not taking new calls' : 'ok';
  return { ready: Object.values(out).every((v) => v === 'ok'), checks: out };
}

function withTimeout(check: Check): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  return Promise.race([Promise.resolve().then(check), timeout]).finally(() => clearTimeout(timer));
}

function errorText(err: unknown): string {
  const msg = err instanceof Error ? err.message || err.name : String(err);
  // probes are read by operators and load balancers, not clients, but keep them one short line anyway
  return msg.split('\n')[0].slice(0, 200) || 'failed';
}

export interface OpsServerOptions {
  /** 0 turns the ops server off */
  port: number;
  host?: string;
  checks: Record<string, Check>;
  draining?: () => boolean;
  /** the /metrics body, when it is not this process's registry (ingress's cluster primary aggregates its workers') */
  metrics?: () => Promise<string>;
  /** the /health/ready answer, when it is not `readiness(checks, draining)`; the object is sent as the body */
  ready?: () => Promise<{ ready: boolean; body: object }>;
}

export interface OpsServer {
  /** the bound port (differs from the option when it was picked by the system) */
  port: number;
  close(): Promise<void>;
}

/**
 * A small HTTP server beside the service, apart from its public port: GET /metrics (Prometheus text),
 * /health/live (the process answers) and /health/ready (200 only when every check passes, else 503; the body
 * lists each check). Returns undefined when the port is 0.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer | undefined> {
  if (!options.port) return undefined;
  const server = createServer((req, res) => void handle(options, req, res));
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  server.unref();
  return { port: (server.address() as AddressInfo).port, close: () => close(server) };
}

async function handle(options: OpsServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    if (path === '/metrics') return send(res, 200, register.contentType, await (options.metrics ? options.metrics() : register.metrics()));
    if (path === '/health/live') return send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
    if (path === '/health/ready' && options.ready) {
      const r = await options.ready();
      return send(res, r.ready ? 200 : 503, 'application/json', JSON.stringify(r.body));
    }
    if (path === '/health/ready') {
      const r = await readiness(options.checks, options.draining);
      return send(res, r.ready ? 200 : 503, 'application/json', JSON.stringify({ status: r.ready ? 'ok' : 'unavailable', checks: r.checks }));
    }
    send(res, 404, 'text/plain', 'not found\n');
  } catch (err) {
    send(res, 500, 'text/plain', `${errorText(err)}\n`);
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
