import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type HoldPlaced, type PlaceHoldRequest } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import type { RedisRpcClient } from '@gateway/transport';
import type Redis from 'ioredis';
import { ADMIT_FN } from '../rate-limit/rate-limit.service';
import { BILLING, CONFIG, REDIS_CMD } from '../shared/tokens';

/** What a place also asks the rate limiter, in the same round trip. */
export interface Admission {
  reqKey: string;
  tokKey: string;
  rpm: number;
  tpm: number;
  /** count the call (false: only checked, e.g. a dry run) */
  count: boolean;
  /** the limiter's answer, [ok, requests, tokens, ttl ms]; throw to refuse the place (a 429) */
  onResult: (r: [number, number, number, number]) => void;
}

// Admits each call of a tick under its key's limits and puts one 'holds.placeMany' request with the
// admitted places on billing's queue: admission and the hold's request in one round trip. KEYS[1] is
// billing's queue, then a request and a token counter per item; ARGV[1..3] are the envelope's head
// and tail and the window, then per item rpm, tpm, count (1/0; rpm -1: no limit) and the place's JSON.
const ADMIT_AND_PLACE = `${ADMIT_FN}
local out = {}
local parts = {}
local window = tonumber(ARGV[3])
for i = 1, (#KEYS - 1) / 2 do
  local a = 3 + (i - 1) * 4
  local rpm = tonumber(ARGV[a + 1])
  local r = {1, 0, 0, 0}
  if rpm >= 0 then r = admit(KEYS[2 * i], KEYS[2 * i + 1], rpm, tonumber(ARGV[a + 2]), window, ARGV[a + 3] == '1') end
  if r[1] == 1 then parts[#parts + 1] = ARGV[a + 4] end
  out[i] = r
end
if #parts > 0 then redis.call('LPUSH', KEYS[1], ARGV[1] .. table.concat(parts, ',') .. ARGV[2]) end
return out
`;

type PlacerRedis = Redis & { gwAdmitPlace(...args: Array<string | number>): Promise<Array<[number, number, number, number]>> };

interface Pending {
  req: PlaceHoldRequest;
  admit?: Admission;
  resolve: (h: HoldPlaced) => void;
  reject: (e: unknown) => void;
}

/**
 * Places holds in billing, the places of one event-loop tick in one message ('holds.placeMany'): under
 * load one transport round trip carries many holds, at no added delay when idle (a lone place goes at
 * the end of its own tick). A place may carry its call's rate-limit admission: then the limiter and the
 * queue are one script call, and a refused call never reaches billing. Each place answers on its own.
 */
@Injectable()
export class HoldPlacer {
  private tick: Pending[] = [];
  private scheduled = false;
  private readonly redis: PlacerRedis;

  constructor(
    @Inject(BILLING) private readonly billing: RedisRpcClient,
    @Inject(REDIS_CMD) redis: Redis,
    @Inject(CONFIG) private readonly config: IngressConfig,
  ) {
    redis.defineCommand('gwAdmitPlace', { lua: ADMIT_AND_PLACE });
    this.redis = redis as PlacerRedis;
  }

  place(req: PlaceHoldRequest, admit?: Admission): Promise<HoldPlaced> {
    return new Promise((resolve, reject) => {
      this.tick.push({ req, admit, resolve, reject });
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
    if (batch.some((b) => b.admit)) {
      this.admitAndPlace(batch);
      return;
    }
    this.billing.call('holds.placeMany', { items: batch.map((b) => b.req) }).then(
      (results) => batch.forEach((b, i) => this.answer(b, results[i])),
      (err: unknown) => batch.forEach((b) => b.reject(err)),
    );
  }

  private answer(b: Pending, r: { ok?: HoldPlaced; err?: unknown } | undefined): void {
    if (r?.ok) b.resolve(r.ok);
    else b.reject(DomainError.from(r?.err ?? { code: 'internal', message: 'no answer for this hold' }));
  }

  private admitAndPlace(batch: Pending[]): void {
    const call = this.billing.prepareCall('holds.placeMany');
    const keys: string[] = [call.queue];
    const args: Array<string | number> = [`${call.head}{"items":[`, `]}${call.tail}`, this.config.RATE_WINDOW_MS];
    for (const b of batch) {
      keys.push(b.admit?.reqKey ?? '', b.admit?.tokKey ?? '');
      args.push(b.admit?.rpm ?? -1, b.admit?.tpm ?? -1, b.admit?.count ? '1' : '0', JSON.stringify(b.req));
    }
    this.redis.gwAdmitPlace(keys.length, ...keys, ...args).then(
      (verdicts) => {
        const placed: Pending[] = [];
        batch.forEach((b, i) => {
          try {
            b.admit?.onResult(verdicts[i]);
            if (verdicts[i][0] === 1) placed.push(b);
            else b.reject(new DomainError('rate_limited', 'rate limited'));
          } catch (err) {
            b.reject(err); // the limiter refused it (429): it was not placed
          }
        });
        if (placed.length === 0) return call.cancel();
        call.reply.then(
          (results) => placed.forEach((b, i) => this.answer(b, results[i])),
          (err: unknown) => placed.forEach((b) => b.reject(err)),
        );
      },
      (err: Error) => {
        call.cancel();
        const e = new DomainError('service_unavailable', `cannot reach Redis to place holds: ${err.message}`);
        batch.forEach((b) => b.reject(e));
      },
    );
  }
}
