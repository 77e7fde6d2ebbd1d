import { TtlCache } from './ttl-cache';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('TtlCache', () => {
  it('coalesces concurrent misses into one load', async () => {
    const cache = new TtlCache<number>({ ttlMs: 1000 });
    let loads = 0;
    const load = () => new Promise<number>((r) => setTimeout(() => r(++loads), 10));
    const values = await Promise.all(Array.from({ length: 20 }, () => cache.get('k', load)));
    expect(loads).toBe(1);
    expect(new Set(values)).toEqual(new Set([1]));
  });

  it('reloads after the TTL and after an invalidation', async () => {
    const cache = new TtlCache<number>({ ttlMs: 30, refreshAhead: false });
    let loads = 0;
    const load = async () => ++loads;
    expect(await cache.get('k', load)).toBe(1);
    expect(await cache.get('k', load)).toBe(1);
    cache.delete('k');
    expect(await cache.get('k', load)).toBe(2);
    await sleep(40);
    expect(await cache.get('k', load)).toBe(3);
  });

  it('does not keep a value loaded across an invalidation that arrived meanwhile', async () => {
    const cache = new TtlCache<string>({ ttlMs: 10_000 });
    let release!: (v: string) => void;
    const slow = cache.get('k', () => new Promise<string>((r) => (release = r)));
    cache.delete('k');
    release('stale');
    expect(await slow).toBe('stale');
    expect(await cache.get('k', async () => 'fresh')).toBe('fresh');
  });

  it('serves an expired entry while its owner is unreachable, within the stale window; never after an invalidation', async () => {
    const cache = new TtlCache<number>({ ttlMs: 10, staleOnErrorMs: 200, canServeStale: (err) => (err as Error).message === 'down' });
    expect(await cache.get('k', async () => 1)).toBe(1);
    await sleep(20);
    expect(await cache.get('k', async () => Promise.reject(new Error('down')))).toBe(1);
    // a refusal that is not "unreachable" is not papered over
    await expect(cache.get('k', async () => Promise.reject(new Error('no such key')))).rejects.toThrow('no such key');
    cache.delete('k');
    await expect(cache.get('k', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await cache.get('j', async () => 5)).toBe(5);
    await sleep(230); // past the stale window
    await expect(cache.get('j', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
  });

  it('refreshes ahead: a hit in the second half of its TTL is served at once and reloaded in the background, once', async () => {
    const cache = new TtlCache<number>({ ttlMs: 1000 });
    let loads = 0;
    let release: (() => void) | undefined;
    const load = () => new Promise<number>((r) => (release = () => r(++loads)));
    const first = cache.get('k', load);
    release!();
    expect(await first).toBe(1);
    await sleep(100); // first half: a plain hit, no reload
    expect(await cache.get('k', load)).toBe(1);
    expect(loads).toBe(1);
    release = undefined;
    await sleep(500); // second half
    // served the current value without waiting (the reload has not answered), and one reload for many hits
    expect(await Promise.all([cache.get('k', load), cache.get('k', load), cache.get('k', load)])).toEqual([1, 1, 1]);
    expect(release).toBeDefined();
    release!();
    await sleep(0);
    expect(loads).toBe(2);
    expect(await cache.get('k', load)).toBe(2);
  });

  it('never serves an entry past its TTL without serveStaleMs, however the refresh went', async () => {
    const cache = new TtlCache<number>({ ttlMs: 400 });
    expect(await cache.get('k', async () => 1)).toBe(1);
    await sleep(250);
    // the background refresh fails: the entry is left as it was, and still expires on time
    let tries = 0;
    expect(await cache.get('k', async () => (tries++, Promise.reject(new Error('refused'))))).toBe(1);
    await sleep(200); // past the TTL
    let waited = false;
    const v = await cache.get('k', () => new Promise<number>((r) => setTimeout(() => ((waited = true), r(7)), 15)));
    expect(tries).toBe(1);
    expect(waited).toBe(true);
    expect(v).toBe(7);
  });

  it('serves a stale entry within serveStaleMs while one background reload replaces it; not after an invalidation or the window', async () => {
    const cache = new TtlCache<string>({ ttlMs: 50, refreshAhead: false, serveStaleMs: 1000 });
    expect(await cache.get('m', async () => 'v1')).toBe('v1');
    await sleep(100); // expired, within the stale window
    let reloads = 0;
    let release!: () => void;
    const load = () => new Promise<string>((r) => ((reloads += 1), (release = () => r('v2'))));
    expect(await Promise.all([cache.get('m', load), cache.get('m', load)])).toEqual(['v1', 'v1']);
    expect(reloads).toBe(1);
    release();
    await sleep(0);
    expect(await cache.get('m', load)).toBe('v2');
    // an invalidated entry is gone: the call waits for the owner
    cache.delete('m');
    expect(await cache.get('m', async () => 'v3')).toBe('v3');
    // past the stale window the call waits too
    await sleep(1100);
    expect(await cache.get('m', async () => 'v4')).toBe('v4');
  });
});
