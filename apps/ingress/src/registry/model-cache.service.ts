import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type ModelView, type ResolvedModel } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import type { RedisRpcClient } from '@gateway/transport';
import { ChangeListener } from '../shared/change-listener.service';
import { TtlCache, unreachable } from '../shared/ttl-cache';
import { CONFIG, MODELS } from '../shared/tokens';

/** The registry as ingress sees it: cached, dropped whenever the models service announces a change. */
@Injectable()
export class ModelCacheService {
  private readonly resolved: TtlCache<ResolvedModel | null>;
  private readonly listed: TtlCache<ModelView[]>;

  constructor(
    @Inject(MODELS) private readonly models: RedisRpcClient,
    @Inject(CONFIG) config: IngressConfig,
    changes: ChangeListener,
  ) {
    this.resolved = new TtlCache(config.MODEL_CACHE_TTL_MS, 100_000, config.STALE_ON_ERROR_MS, unreachable);
    this.listed = new TtlCache(config.MODEL_CACHE_TTL_MS, 100_000, config.STALE_ON_ERROR_MS, unreachable);
    changes.on('models', () => {
      this.resolved.clear();
      this.listed.clear();
    });
  }

  async resolve(name: string): Promise<ResolvedModel> {
    const r = await this.resolved.get(name, () => this.models.call('models.resolve', { model: name }));
    if (!r) throw new DomainError('model_not_found', `The model '${name}' does not exist or you do not have access to it.`, 'model');
    return r;
  }

  list(): Promise<ModelView[]> {
    return this.listed.get('all', () => this.models.call('models.list', {}));
  }
}
