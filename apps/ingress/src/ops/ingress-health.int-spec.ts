import { randomUUID } from 'node:crypto';
import type { IngressConfig } from '@gateway/config';
import { keys } from '@gateway/transport';
import Redis from 'ioredis';
import { Lifecycle } from '../shared/lifecycle';
import { IngressHealth } from './ingress-health.service';

// Ingress readiness against the real Redis: live billing and models instances are read from their
// heartbeat sets, and a draining ingress is not ready whatever else answers.
describe('IngressHealth', () => {
  const redis = new Redis(process.env.REDIS_URL as string);
  const prefix = `ops-health-${randomUUID()}:`;
  const lifecycle = new Lifecycle();
  const health = new IngressHealth({ REDIS_PREFIX: prefix } as IngressConfig, redis, lifecycle);
  const beat = (service: string, id: string, ttlMs = 3000) => redis.zadd(keys.alive(prefix, service), Date.now() + ttlMs, id);

  afterAll(async () => {
    await redis.del(keys.alive(prefix, 'billing'), keys.alive(prefix, 'models'));
    redis.disconnect();
  });

  it('is ready only with a live billing and models instance, and not while draining', async () => {
    let r = await health.ready();
    expect(r.ready).toBe(false);
    expect(r.checks).toEqual({ redis: 'ok', billing: 'no live billing instance', models: 'no live models instance', draining: 'ok' });

    await beat('billing', 'b1');
    // a heartbeat that lapsed is no live instance
    await beat('models', 'm-dead', -1000);
    r = await health.ready();
    expect(r.checks).toEqual({ redis: 'ok', billing: 'ok', models: 'no live models instance', draining: 'ok' });

    await beat('models', 'm1');
    r = await health.ready();
    expect(r).toEqual({ ready: true, checks: { redis: 'ok', billing: 'ok', models: 'ok', draining: 'ok' } });

    lifecycle.draining = true;
    r = await health.ready();
    expect(r.ready).toBe(false);
    expect(r.checks.draining).toMatch(/^draining/);
    expect(r.checks.billing).toBe('ok');
    lifecycle.draining = false;
    expect((await health.ready()).ready).toBe(true);
  });
});
