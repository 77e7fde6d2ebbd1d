import { TtlCache } from './ttl-cache';

describe('TtlCache', () => {
  it('coalesces concurrent misses into one load', async () => {
    const cache = new TtlCache<number>(1000);
    let loads = 0;
    const load = () => new Promise<number>((r) => setTimeout(() => r(++loads), 10));
    const values = await Promise.all(Array.from({ length: 20 }, () => cache.get('k', load)));
    expect(loads).toBe(1);
    expect(new Set(values)).toEqual(new Set([1]));
  });

  it('reloads after the TTL and after an invalidation', async () => {
    const cache = new TtlCache<number>(30);
    let loads = 0;
    const load = async () => ++loads;
    expect(await cache.get('k', load)).toBe(1);
    expect(await cache.get('k', load)).toBe(1);
    cache.delete('k');
    expect(await cache.get('k', load)).toBe(2);
    await new Promise((r) => setTimeout(r, 40));
    expect(await cache.get('k', load)).toBe(3);
  });

  it('does not keep a value loaded across an invalidation that arrived meanwhile', async () => {
    const cache = new TtlCache<string>(10_000);
    let release!: (v: string) => void;
    const slow = cache.get('k', () => new Promise<string>((r) => (release = r)));
    cache.delete('k');
    release('stale');
    expect(await slow).toBe('stale');
    expect(await cache.get('k', async () => 'fresh')).toBe('fresh');
  });

  it('serves an expired entry while its owner is unreachable, within the stale window; never after an invalidation', async () => {
    const cache = new TtlCache<number>(10, 100, 200, (err) => (err as Error).message === 'down');
    expect(await cache.get('k', async () => 1)).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(await cache.get('k', async () => Promise.reject(new Error('down')))).toBe(1);
    // a refusal that is not "unreachable" is not papered over
    await expect(cache.get('k', async () => Promise.reject(new Error('no such key')))).rejects.toThrow('no such key');
    cache.delete('k');
    await expect(cache.get('k', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await cache.get('j', async () => 5)).toBe(5);
    await new Promise((r) => setTimeout(r, 230)); // past the stale window
    await expect(cache.get('j', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
  });
});
