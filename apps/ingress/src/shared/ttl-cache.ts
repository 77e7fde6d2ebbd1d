import { DomainError } from '@gateway/contracts';

/** For staleOnErrorMs: errors that mean the owner could not answer, not that it said no. */
export function unreachable(err: unknown): boolean {
  return DomainError.from(err).code === 'service_unavailable';
}

/**
 * A small TTL cache that also coalesces concurrent misses: a burst of requests for one key makes one
 * lookup, not one each.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  private readonly loading = new Map<string, Promise<V>>();
  private generation = 0;

  /**
   * staleOnErrorMs: when a reload fails with an error that `canServeStale` accepts (the owner is
   * unreachable), an entry expired less than this long ago is served instead; 0: never. An entry deleted
   * (an invalidation) is never served stale.
   */
  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 100_000,
    private readonly staleOnErrorMs = 0,
    private readonly canServeStale: (err: unknown) => boolean = () => true,
  ) {}

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    const pending = this.loading.get(key);
    if (pending) return pending;
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
          if (this.entries.size >= this.maxEntries) this.entries.clear();
          this.entries.set(key, { value, until: Date.now() + this.ttlMs });
        }
        return value;
      }, stale)
      .finally(() => this.loading.delete(key));
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
