import { EventEmitter } from 'node:events';
import type { IngressConfig } from '@gateway/config';
import type { LeaseSplit } from '@gateway/contracts';
import type { RedisRpcClient } from '@gateway/transport';
import { HoldKeeper } from './hold-keeper.service';

describe('HoldKeeper', () => {
  const sent: Array<{ ids: string[]; ttl_ms?: number; splits?: LeaseSplit[] }> = [];
  let failNext = false;
  const billing = {
    call: async (_p: string, req: { ids: string[]; ttl_ms?: number; splits?: LeaseSplit[] }) => {
      sent.push(req);
      if (failNext) {
        failNext = false;
        throw new Error('billing unavailable');
      }
      return { extended: req.ids.length };
    },
  } as unknown as RedisRpcClient;
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

  it('a hold drawn from a lease is split off by its first extension that billing answered, and only by that one', async () => {
    const split: LeaseSplit = { lease_id: 'lease_x', hold_id: 'hold_d', draw_micros: 700, account_id: 'acct_1', key_id: null, request_id: 'req_1', model: 'm' };
    sent.length = 0;
    failNext = true; // the first extension is lost: the next one carries the split again
    keeper.track('hold_d', undefined, split);
    keeper.track('hold_e');
    for (let i = 0; i < 20 && sent.length < 3; i++) await tick();
    expect(sent[0]).toEqual({ ids: ['hold_d', 'hold_e'], ttl_ms: 900, splits: [split] });
    expect(sent[1]).toEqual({ ids: ['hold_d', 'hold_e'], ttl_ms: 900, splits: [split] });
    expect(sent[2]).toEqual({ ids: ['hold_d', 'hold_e'], ttl_ms: 900 });
    keeper.untrack('hold_d');
    keeper.untrack('hold_e');
  });
});
