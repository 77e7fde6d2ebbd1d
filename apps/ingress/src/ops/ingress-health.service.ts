import { Inject, Injectable } from '@nestjs/common';
import type { IngressConfig } from '@gateway/config';
import { SERVICES } from '@gateway/contracts';
import { readiness, redisCheck, type Check, type Readiness } from '@gateway/ops';
import { liveInstances } from '@gateway/transport';
import type Redis from 'ioredis';
import { Lifecycle } from '../shared/lifecycle';
import { CONFIG, REDIS_CMD } from '../shared/tokens';

/**
 * Ready when ingress can serve a call: Redis answers (admission, holds' queue, outbox), at least one billing
 * and one models instance heartbeats, and this process is not draining. Postgres is not checked: ingress
 * reaches it only for async tasks.
 */
@Injectable()
export class IngressHealth {
  readonly checks: Record<string, Check>;

  constructor(
    @Inject(CONFIG) config: IngressConfig,
    @Inject(REDIS_CMD) redis: Redis,
    private readonly lifecycle: Lifecycle,
  ) {
    const live = (service: string): Check => async () => {
      if ((await liveInstances(redis, config.REDIS_PREFIX, service)) === 0) throw new Error(`no live ${service} instance`);
    };
    this.checks = { redis: redisCheck(redis), billing: live(SERVICES.billing), models: live(SERVICES.models) };
  }

  readonly draining = (): boolean => this.lifecycle.draining;

  ready(): Promise<Readiness> {
    return readiness(this.checks, this.draining);
  }
}
