import { DomainError } from '@gateway/contracts';

/** For staleOnErrorMs: errors that mean the owner could not answer, not that it said no. */
export function unreachable(err: unknown): boolean {
  return DomainError.from(err).code === 'service_unavailable';
}

export interface TtlCacheOptions {
  /** how long a loaded value is fresh */
  ttlMs: number;
  maxEntries?: number;
  /**
   * when a load fails with an error that `canServeStale` accepts (the owner is unreachable), an entry expired
   * less than this long ago is served instead; 0: never. An entry deleted (an invalidation) is never served stale.
   */
  staleOnErrorMs?: number;
  canServeStale?: (err: unknown) => boolean;
  /**
   * refresh ahead: a hit in the second half of its TTL starts a reload in the background and is served at
   * once, so a key in steady use never makes a call wait for its owner. A fresh value is still never older
   * than ttlMs. Default on.
   */
  refreshAhead?: boolean;
  /**
   * stale while revalidate: an entry expired less than this long ago is served at once while a background
   * reload replaces it (an entry deleted by an invalidation is gone, never served). 0 (default): an expired
   * entry makes the call wait for the reload. For data whose changes are announced (the TTL is a backstop).
   */
  serveStaleMs?: number;
}

/**
 * A small TTL cache that also coalesces concurrent misses: a burst of requests for one key makes one
 * lookup, not one each.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  private readonly loading = new Map<string, Promise<V>>();
  private generation = 0;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly staleOnErrorMs: number;
  private readonly canServeStale: (err: unknown) => boolean;
  private readonly refreshAfterMs: number;
  private readonly serveStaleMs: number;

  constructor(opts: TtlCacheOptions) {
    this.ttlMs = opts.ttlMs;
    this.maxEntries = opts.maxEntries ?? 100_000;
    this.staleOnErrorMs = opts.staleOnErrorMs ?? 0;
    this.canServeStale = opts.canServeStale ?? (() => true);
    // a hit this close to its expiry (or closer) reloads in the background
    this.refreshAfterMs = opts.refreshAhead === false ? 0 : opts.ttlMs / 2;
    this.serveStaleMs = opts.serveStaleMs ?? 0;
  }

  get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit) {
      const left = hit.until - Date.now();
      if (left > this.refreshAfterMs) return Promise.resolve(hit.value);
      if (left > 0 || -left < this.serveStaleMs) {
        if (!this.loading.has(key)) this.load(key, load).catch(() => undefined); // a failed refresh leaves the entry as it was
        return Promise.resolve(hit.value);
      }
    }
    return this.loading.get(key) ?? this.load(key, load);
  }

  private load(key: string, load: () => Promise<V>): Promise<V> {
    const generation = this.generation;
    const stale = (err: unknown): V => {
      const old = this.entries.get(key);
      if (old && generation === this.generation && Date.now() - old.until < this.staleOnErrorMs && this.canServeStale(err)) return old.value;
      throw err;
    };
    const p = load()
      .then((value) => {
        // an invalidation that arrived while loading wins over the value loaded before it
        if (generation === this.generation && this.ttlMs > 0) {
          if (this.entries.size >= this.maxEntries && !this.entries.has(key)) this.entries.clear();
          this.entries.set(key, { value, until: Date.now() + this.ttlMs });
        }
        return value;
      }, stale)
      .finally(() => {
        if (this.loading.get(key) === p) this.loading.delete(key);
      });
    this.loading.set(key, p);
    return p;
  }

  delete(key: string): void {
    this.entries.delete(key);
    this.loading.delete(key);
    this.generation++;
  }

  clear(): void {
    this.entries.clear();
    this.loading.clear();
    this.generation++;
  }
}
