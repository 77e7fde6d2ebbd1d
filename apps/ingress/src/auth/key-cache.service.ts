import { Inject, Injectable } from '@nestjs/common';
import { hashKey, type KeyPrincipal } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import type { RedisRpcClient } from '@gateway/transport';
import { ChangeListener, RESET } from '../shared/change-listener.service';
import { TtlCache, unreachable } from '../shared/ttl-cache';
import { BILLING, CONFIG } from '../shared/tokens';

/**
 * Key lookups, cached. A revocation reaches every ingress by pub/sub at once (and a reconnect of that
 * subscription drops the whole cache); the cache's TTL (KEY_CACHE_TTL_MS, 1 s by default) bounds how long a
 * missed message could let a revoked key through, so an entry is never served past it. A key in use is
 * reloaded in the background in the second half of its TTL, so its calls do not wait for billing.
 */
@Injectable()
export class KeyCacheService {
  private readonly cache: TtlCache<KeyPrincipal | null>;

  constructor(
    @Inject(BILLING) private readonly billing: RedisRpcClient,
    @Inject(CONFIG) config: IngressConfig,
    changes: ChangeListener,
  ) {
    // billing or its database briefly away: a key seen within STALE_ON_ERROR_MS still works (revocations
    // still drop it at once)
    this.cache = new TtlCache({ ttlMs: config.KEY_CACHE_TTL_MS, staleOnErrorMs: config.STALE_ON_ERROR_MS, canServeStale: unreachable });
    changes.on('keys', (keyHash) => (keyHash === RESET ? this.cache.clear() : this.cache.delete(keyHash)));
  }

  lookup(plaintext: string): Promise<KeyPrincipal | null> {
    const keyHash = hashKey(plaintext);
    return this.cache.get(keyHash, () => this.billing.call('keys.resolve', { key_hash: keyHash }));
  }
}
