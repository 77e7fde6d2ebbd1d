import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastify } from '@bull-board/fastify';
import type { IngressConfig } from '@gateway/config';
import { QUEUE_OF, bullConnection, bullPrefix } from '@gateway/tasks';
import { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdminRole } from '@gateway/contracts';
import { adminRole, configureAdminTokens } from './admin.guard';

/**
 * Ops' BullMQ dashboard (bull-board) at /admin/queues, behind the admin token.
 *
 * A browser cannot send a Bearer header to a page, so the dashboard also takes HTTP basic auth: any user name,
 * the admin token as the password. The browser asks once (401 with WWW-Authenticate: Basic) and sends the same
 * credentials on every call the dashboard's own API makes, so the token is never in a URL. Bearer works too
 * (curl, scripts).
 *
 * `GET /admin/queues` stays the JSON counts endpoint (AdminQueuesController) for every client that does not ask
 * for HTML; a request whose Accept names text/html (a browser) gets the dashboard. That choice is a Fastify
 * route constraint, so the two routes share the path without a duplicate-route error.
 *
 * Who may do what is the admin API's rule (adminRole in admin.guard.ts): the admin token sees everything the
 * board allows, the read-only finance token (FINANCE_TOKEN) may view but changes nothing (403 on any non-GET).
 * Queues are read-only (no retry, clean, pause, remove…) for everyone unless QUEUE_UI_WRITE is on; QUEUE_UI=off
 * mounts nothing.
 */
export const QUEUES_UI_PATH = '/admin/queues';

/** The admin token from a Bearer or a Basic (password) Authorization header. */
export function presentedToken(authorization: string | undefined): string | null {
  const h = authorization ?? '';
  const bearer = /^Bearer\s+(.+)$/i.exec(h);
  if (bearer) return bearer[1].trim();
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(h);
  if (!basic) return null;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : null;
}

/** admin (ADMIN_TOKEN: everything the board allows) or finance (FINANCE_TOKEN: view only), as the admin API decides */
export function queuesUiRole(authorization: string | undefined): AdminRole | null {
  const token = presentedToken(authorization);
  return token ? adminRole(`Bearer ${token}`) : null;
}

const READ_METHODS = new Set(['GET', 'HEAD']);

function deny(reply: FastifyReply, status: 401 | 403, message: string): FastifyReply {
  if (status === 401) void reply.header('www-authenticate', 'Basic realm="gateway queues", charset="UTF-8"');
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .send({ error: { message, type: status === 401 ? 'authentication_error' : 'permission_error', code: status === 401 ? 'unauthorized' : 'forbidden' } });
}

/** Registers the dashboard on the ingress Fastify instance (before Nest adds its routes). */
export function mountQueuesUi(fastify: FastifyInstance, config: IngressConfig): void {
  if (!config.QUEUE_UI) return;
  configureAdminTokens({ ADMIN_TOKEN: config.ADMIN_TOKEN, FINANCE_TOKEN: config.FINANCE_TOKEN });
  const readOnlyMode = !config.QUEUE_UI_WRITE;
  const connection = bullConnection(config.REDIS_URL);
  const prefix = bullPrefix(config.REDIS_PREFIX);
  const queues = Object.values(QUEUE_OF).map((name) => {
    const q = new Queue(name, { connection, prefix });
    // a Redis outage shows in readiness and in the board's own answers; it must not crash ingress here
    q.on('error', () => undefined);
    return q;
  });

  const serverAdapter = new BullBoardFastify();
  serverAdapter.setBasePath(QUEUES_UI_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Gateway queues' } },
  });

  // a request that accepts HTML may take the dashboard's page at /admin/queues; any other falls through to
  // the unconstrained JSON route of the same path
  fastify.addConstraintStrategy({
    name: 'queuesUiPage',
    storage() {
      const handlers = new Map<string, unknown>();
      return {
        get: (v: string) => (handlers.get(v) ?? null) as never,
        set: (v: string, store: unknown) => void handlers.set(v, store),
      };
    },
    deriveConstraint: (req: { headers: Record<string, string | string[] | undefined> }) =>
      String(req.headers.accept ?? '').includes('text/html') ? 'html' : 'other',
    mustMatchWhenDerived: false,
  });

  void fastify.register(
    async (scope) => {
      scope.addHook('onRoute', (route) => {
        if (route.url === QUEUES_UI_PATH || route.url === `${QUEUES_UI_PATH}/`) {
          route.constraints = { ...(route.constraints ?? {}), queuesUiPage: 'html' };
        }
      });
      scope.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
        const role = queuesUiRole(req.headers.authorization);
        if (!role) return deny(reply, 401, 'the queue dashboard needs the admin token: basic auth (any user name, the token as password) or Authorization: Bearer');
        if (role !== 'admin' && !READ_METHODS.has(req.method)) return deny(reply, 403, "this token's role is finance, which may only view the queues; use the admin token");
        void reply.header('cache-control', 'no-store');
      });
      await scope.register(serverAdapter.registerPlugin() as never);
    },
    { prefix: QUEUES_UI_PATH },
  );
  fastify.addHook('onClose', async () => {
    await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
  });
}
