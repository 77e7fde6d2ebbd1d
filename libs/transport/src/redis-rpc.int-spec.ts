import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { INestMicroservice } from '@nestjs/common';
import { DomainError } from '@gateway/contracts';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import Redis from 'ioredis';
import { DomainErrorRpcFilter } from './domain-error.filter';
import { RedisRpcClient } from './redis-rpc.client';
import { RedisRpcServer } from './redis-rpc.server';

const REDIS_URL = process.env.REDIS_URL as string;

/** Handlers that say which instance ran them. */
function echoModule(instance: string, seen: string[]) {
  @Controller()
  class EchoController {
    @MessagePattern('accounts.get')
    get(@Payload() req: { id: string }) {
      seen.push(req.id);
      if (req.id === 'missing') throw new DomainError('not_found', 'no such thing');
      if (req.id === 'boom') throw new Error('unexpected');
      return { id: req.id, instance };
    }
  }
  @Module({ controllers: [EchoController] })
  class EchoModule {}
  return EchoModule;
}

async function startInstance(prefix: string, name: string, seen: string[]): Promise<INestMicroservice> {
  const app = await NestFactory.createMicroservice(echoModule(name, seen), {
    strategy: new RedisRpcServer({ redisUrl: REDIS_URL, prefix, service: 'billing' }),
    logger: false,
  });
  app.useGlobalFilters(new DomainErrorRpcFilter());
  await app.listen();
  return app;
}

describe('Redis work-queue RPC transport', () => {
  const prefix = `test-rpc-${randomUUID()}:`;
  const seenA: string[] = [];
  const seenB: string[] = [];
  let a: INestMicroservice;
  let b: INestMicroservice;
  let client: RedisRpcClient;

  beforeAll(async () => {
    a = await startInstance(prefix, 'a', seenA);
    b = await startInstance(prefix, 'b', seenB);
    client = new RedisRpcClient({ redisUrl: REDIS_URL, prefix, service: 'billing', timeoutMs: 2000 });
    await client.connect();
  });

  afterAll(async () => {
    await client.close();
    await a?.close();
    await b?.close();
  });

  it('delivers each request to exactly one of several instances, and both take a share', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `r${i}`);
    const replies = await Promise.all(ids.map((id) => client.call('accounts.get', { id }) as unknown as Promise<{ id: string; instance: string }>));
    expect(replies.map((r) => r.id)).toEqual(ids);
    const handled = [...seenA, ...seenB].filter((id) => id.startsWith('r'));
    expect(handled.sort()).toEqual([...ids].sort()); // each exactly once: no duplicates, none lost
    expect(seenA.length).toBeGreaterThan(0);
    expect(seenB.length).toBeGreaterThan(0);
  });

  it('carries a domain error across with its code; an unexpected one as internal', async () => {
    await expect(client.call('accounts.get', { id: 'missing' })).rejects.toMatchObject({ code: 'not_found', message: 'no such thing' });
    await expect(client.call('accounts.get', { id: 'boom' })).rejects.toMatchObject({ code: 'internal' });
  });

  it('answers a call made while its reply connection reconnects (sent once the reply channel is subscribed again)', async () => {
    expect(((await client.call('accounts.get', { id: 'before-drop' })) as unknown as { id: string }).id).toBe('before-drop');
    // the client's reply connection, by its name (its reply channel), dropped by Redis as a restart would
    const sub = (client as unknown as { subscriber: Redis }).subscriber;
    const admin = new Redis(REDIS_URL);
    try {
      const list = (await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
      const line = list.split('\n').find((l) => l.includes(` name=${(client as unknown as { replyChannel: string }).replyChannel} `));
      expect(line).toBeDefined();
      const closed = once(sub, 'close');
      await admin.client('KILL', 'ID', /\bid=(\d+)/.exec(line!)![1]);
      await closed;
      expect(sub.status).not.toBe('ready');
      // the commands connection is still up, so the request would reach the service at once and its answer be
      // published before the reply channel is subscribed again: lost, and the call failed at its deadline
      const started = Date.now();
      const reply = (await client.call('accounts.get', { id: 'after-drop' })) as unknown as { id: string };
      expect(reply.id).toBe('after-drop');
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      admin.disconnect();
    }
  });

  it('tells a prepared call (its request pushed by a script) to wait while the reply connection reconnects; pushed then, it is answered', async () => {
    const idle = client.prepareCall('accounts.get');
    expect(idle.ready).toBeNull(); // subscribed: push at once
    idle.cancel();
    const sub = (client as unknown as { subscriber: Redis }).subscriber;
    const admin = new Redis(REDIS_URL);
    try {
      const list = (await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
      const line = list.split('\n').find((l) => l.includes(` name=${(client as unknown as { replyChannel: string }).replyChannel} `));
      const closed = once(sub, 'close');
      await admin.client('KILL', 'ID', /\bid=(\d+)/.exec(line!)![1]);
      await closed;
      const call = client.prepareCall('accounts.get');
      expect(call.ready).not.toBeNull();
      await call.ready;
      expect(sub.status).toBe('ready');
      // what HoldPlacer's admission script does: the envelope's head, the request's JSON, its tail
      await admin.lpush(call.queue, `${call.head}${JSON.stringify({ id: 'prepared' })}${call.tail}`);
      expect(((await call.reply) as unknown as { id: string }).id).toBe('prepared');
    } finally {
      admin.disconnect();
    }
  });

  it('fails fast with a clear error when no instance of the service runs', async () => {
    const lonely = new RedisRpcClient({ redisUrl: REDIS_URL, prefix: `${prefix}empty:`, service: 'billing', timeoutMs: 300 });
    await lonely.connect();
    const started = Date.now();
    await expect(lonely.call('accounts.get', { id: 'x' })).rejects.toMatchObject({
      code: 'service_unavailable',
      message: expect.stringContaining('no billing instance is running'),
    });
    expect(Date.now() - started).toBeLessThan(1500);
    await lonely.close();
  });

  it('an instance that starts late drops requests whose caller already gave up', async () => {
    const late = `${prefix}late:`;
    const seen: string[] = [];
    const c = new RedisRpcClient({ redisUrl: REDIS_URL, prefix: late, service: 'billing', timeoutMs: 200 });
    await c.connect();
    await expect(c.call('accounts.get', { id: 'stale' })).rejects.toMatchObject({ code: 'service_unavailable' });
    const app = await startInstance(late, 'late', seen);
    const fresh = await c.call('accounts.get', { id: 'fresh' });
    expect(fresh).toMatchObject({ id: 'fresh' });
    expect(seen).toEqual(['fresh']);
    await c.close();
    await app.close();
  });
});
