import { EventEmitter } from 'node:events';
import type { IngressConfig } from '@gateway/config';
import type { RedisRpcClient } from '@gateway/transport';
import { HoldKeeper } from './hold-keeper.service';

describe('HoldKeeper', () => {
  const sent: Array<{ ids: string[]; ttl_ms?: number }> = [];
  const billing = { call: async (_p: string, req: { ids: string[]; ttl_ms?: number }) => (sent.push(req), { extended: req.ids.length }) } as unknown as RedisRpcClient;
  const keeper = new HoldKeeper(billing, { HOLD_TTL_MS: 900, HOLD_EXTEND_INTERVAL_MS: 20 } as IngressConfig);
  beforeAll(() => keeper.onModuleInit());
  afterAll(() => keeper.onApplicationShutdown());
  const tick = () => new Promise((r) => setTimeout(r, 50));

  it('extends the holds of running calls in one message, and stops once a call settled or its response closed', async () => {
    const response = new EventEmitter();
    keeper.track('hold_a');
    keeper.track('hold_b', response);
    await tick();
    expect(sent.at(-1)).toEqual({ ids: ['hold_a', 'hold_b'], ttl_ms: 900 });
    keeper.untrack('hold_a'); // settled
    response.emit('close'); // the call ended without a settle (an error): its hold is left to expire
    sent.length = 0;
    await tick();
    expect(sent).toEqual([]);
    expect(keeper.size).toBe(0);
  });
});
