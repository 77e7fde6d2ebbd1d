import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import type { IngressConfig } from '@gateway/config';
import { CircuitBreaker } from '../../apps/ingress/src/upstream/circuit-breaker';
import { UpstreamClient } from '../../apps/ingress/src/upstream/upstream.client';

/**
 * For the upstream client's integration tests: a real UpstreamClient (its breaker on the real Redis, under a
 * prefix of its own) and real HTTP servers on free ports, all closed by close().
 */
export function upstreamTestBed(name: string, timeoutMs: number) {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const config = {
    REDIS_PREFIX: `${name}-${randomUUID()}:`,
    BREAKER_FAILURES: 0,
    BREAKER_COOLDOWN_MS: 1000,
    BREAKER_LOCAL_MS: 0,
    UPSTREAM_TIMEOUT_MS: timeoutMs,
    UPSTREAM_RETRY_BACKOFF_MS: 10,
  } as unknown as IngressConfig;
  const client = new UpstreamClient(config, new CircuitBreaker(redis, config));
  const servers: Server[] = [];
  return {
    client,
    /** a server that calls handle with each request once its body is read; resolves with its base URL (…/v1) */
    async listen(handle: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
      const server = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => handle(req, res, body));
      });
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    },
    /** the last server listen() started */
    last: (): Server => servers[servers.length - 1],
    async close(): Promise<void> {
      await client.onApplicationShutdown();
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
      redis.disconnect();
    },
  };
}
