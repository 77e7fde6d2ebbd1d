import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { CHANGE_CHANNELS } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import { ChangeListener, RESET } from './change-listener.service';

// a real Redis: a change message reaches the listeners, and after the subscription's connection is dropped
// (messages published meanwhile are lost to it) every listener hears a reset
describe('ChangeListener (real Redis)', () => {
  const prefix = `test-changes-${randomUUID()}:`;
  let sub: Redis;
  let pub: Redis;

  beforeAll(() => {
    sub = new Redis(process.env.REDIS_URL!);
    pub = new Redis(process.env.REDIS_URL!);
  });
  afterAll(async () => {
    sub.disconnect();
    await pub.quit();
  });

  const heard = (list: string[], n: number) =>
    new Promise<void>((resolve, reject) => {
      const t0 = Date.now();
      const tick = () => (list.length >= n ? resolve() : Date.now() - t0 > 10_000 ? reject(new Error(`heard ${JSON.stringify(list)}`)) : setTimeout(tick, 10));
      tick();
    });

  it('passes messages on, and a reset to every listener after its connection came back', async () => {
    const id = await sub.client('ID');
    const listener = new ChangeListener(sub, { REDIS_PREFIX: prefix } as IngressConfig);
    const keys: string[] = [];
    const models: string[] = [];
    listener.on('keys', (m) => keys.push(m));
    listener.on('models', (m) => models.push(m));
    await listener.onModuleInit();

    await pub.publish(`${prefix}${CHANGE_CHANNELS.keys}`, 'hash-1');
    await heard(keys, 1);
    expect(keys).toEqual(['hash-1']);
    expect(models).toEqual([]);

    await pub.client('KILL', 'ID', String(id));
    await heard(keys, 2);
    await heard(models, 1);
    expect(keys).toEqual(['hash-1', RESET]);
    expect(models).toEqual([RESET]);

    // subscribed again: messages flow as before
    for (let i = 0; i < 100 && keys.length < 3; i++) {
      await pub.publish(`${prefix}${CHANGE_CHANNELS.keys}`, 'hash-2');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(keys.slice(0, 3)).toEqual(['hash-1', RESET, 'hash-2']);
  });
});
