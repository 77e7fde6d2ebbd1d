import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type HoldPlaced, type PlaceHoldRequest } from '@gateway/contracts';
import type { RedisRpcClient } from '@gateway/transport';
import { BILLING } from '../shared/tokens';

/**
 * Places holds in billing, the places of one event-loop tick in one message ('holds.placeMany'): under
 * load one transport round trip carries many holds, at no added delay when idle (a lone place goes at
 * the end of its own tick). Each place still answers on its own.
 */
@Injectable()
export class HoldPlacer {
  private tick: Array<{ req: PlaceHoldRequest; resolve: (h: HoldPlaced) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;

  constructor(@Inject(BILLING) private readonly billing: RedisRpcClient) {}

  place(req: PlaceHoldRequest): Promise<HoldPlaced> {
    return new Promise((resolve, reject) => {
      this.tick.push({ req, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.tick;
    this.tick = [];
    if (batch.length === 1) {
      const [one] = batch;
      this.billing.call('holds.place', one.req).then(one.resolve, one.reject);
      return;
    }
    this.billing.call('holds.placeMany', { items: batch.map((b) => b.req) }).then(
      (results) =>
        batch.forEach((b, i) => {
          const r = results[i];
          if (r?.ok) b.resolve(r.ok);
          else b.reject(DomainError.from(r?.err ?? { code: 'internal', message: 'no answer for this hold' }));
        }),
      (err: unknown) => batch.forEach((b) => b.reject(err)),
    );
  }
}
