import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type ModelView, type ResolvedModel } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import type { RedisRpcClient } from '@gateway/transport';
import { ChangeListener } from '../shared/change-listener.service';
import { TtlCache, unreachable } from '../shared/ttl-cache';
import { CONFIG, MODELS } from '../shared/tokens';

/**
 * The registry as ingress sees it: cached, dropped whenever the models service announces a change. The TTL
 * is a backstop for a missed announcement, so an entry up to MODEL_CACHE_STALE_MS past it is served at once
 * while a background reload replaces it: a call after a quiet spell does not wait for the registry.
 */
@Injectable()
export class ModelCacheService {
  private readonly resolved: TtlCache<ResolvedModel | null>;
  private readonly listed: TtlCache<ModelView[]>;

  constructor(
    @Inject(MODELS) private readonly models: RedisRpcClient,
    @Inject(CONFIG) config: IngressConfig,
    changes: ChangeListener,
  ) {
    const opts = { ttlMs: config.MODEL_CACHE_TTL_MS, staleOnErrorMs: config.STALE_ON_ERROR_MS, canServeStale: unreachable, serveStaleMs: config.MODEL_CACHE_STALE_MS };
    this.resolved = new TtlCache<ResolvedModel | null>(opts);
    this.listed = new TtlCache<ModelView[]>(opts);
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
