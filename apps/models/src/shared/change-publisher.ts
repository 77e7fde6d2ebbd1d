import { Inject, Injectable } from '@nestjs/common';
import { CHANGE_CHANNELS } from '@gateway/contracts';
import type { ModelsConfig } from '@gateway/config';
import type Redis from 'ioredis';
import { CONFIG, REDIS } from './tokens';

/** Tells every ingress to drop its cached view of the registry. */
@Injectable()
export class ChangePublisher {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CONFIG) private readonly config: ModelsConfig,
  ) {}

  async modelsChanged(what: string): Promise<void> {
    await this.redis.publish(`${this.config.REDIS_PREFIX}${CHANGE_CHANNELS.models}`, what);
  }
}
