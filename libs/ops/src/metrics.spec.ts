import { Counter, Registry } from 'prom-client';
import { counterChildren } from './metrics';

// Counter children add to their own number on the hot path and hand the sums to prom-client when the
// registry is read: a scrape must show every increment made before it, each exactly once.
describe('counterChildren', () => {
  const make = () => {
    const registry = new Registry();
    const metric = new Counter({ name: 'test_calls_total', help: 'calls', labelNames: ['route', 'status'], registers: [registry] });
    return { registry, metric };
  };
  const value = async (registry: Registry, labels: string) => {
    const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`test_calls_total{${labels}}`));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  };

  it('shows the increments made before a scrape, once, and the ones after at the next', async () => {
    const { registry, metric } = make();
    const calls = counterChildren(metric);
    calls.get('/a', '200').inc();
    calls.get('/a', '200').inc(2);
    calls.get('/b', '500').inc(0.5);
    expect(await value(registry, 'route="/a",status="200"')).toBe(3);
    expect(await value(registry, 'route="/b",status="500"')).toBe(0.5);
    // a second scrape with nothing new: the same totals, not doubled
    expect(await value(registry, 'route="/a",status="200"')).toBe(3);
    calls.get('/a', '200').inc(4);
    expect(await value(registry, 'route="/a",status="200"')).toBe(7);
    expect(calls.get('/a', '200')).toBe(calls.get('/a', '200'));
  });

  it('has no series before the first increment, like a prom-client child', async () => {
    const { registry, metric } = make();
    counterChildren(metric).get('/never', '200');
    expect(await value(registry, 'route="/never",status="200"')).toBeUndefined();
  });

  it('refuses a negative or non-finite increment when it is made', () => {
    const { metric } = make();
    const child = counterChildren(metric).get('/a', '200');
    expect(() => child.inc(-1)).toThrow(TypeError);
    expect(() => child.inc(Number.NaN)).toThrow(TypeError);
  });

  it('adds up children made by two caches of one counter (a module loaded twice in one process)', async () => {
    const { registry, metric } = make();
    counterChildren(metric).get('/a', '200').inc(1);
    counterChildren(metric).get('/a', '200').inc(2);
    expect(await value(registry, 'route="/a",status="200"')).toBe(3);
  });
});
