import { Counter, Gauge, Histogram, collectDefaultMetrics, register, type Registry } from 'prom-client';

export { Counter, Gauge, Histogram, register };
export type { Registry };

/** Latency buckets in seconds, from a cache hit (ms) to a long stream (minutes). */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** RPC and job handling: sub-millisecond up to the RPC deadline. */
export const FAST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/*
 * Metrics are module singletons on prom-client's default registry. get-or-create, so a module loaded twice
 * (tests hosting several services in one process) does not throw on a second registration.
 */
export function counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
  return (register.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames });
}

export function gauge<L extends string>(name: string, help: string, labelNames: readonly L[], collect?: (this: Gauge<L>) => Promise<void> | void): Gauge<L> {
  return (register.getSingleMetric(name) as Gauge<L> | undefined) ?? new Gauge<L>({ name, help, labelNames, collect });
}

export function histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[] = LATENCY_BUCKETS): Histogram<L> {
  return (register.getSingleMetric(name) as Histogram<L> | undefined) ?? new Histogram<L>({ name, help, labelNames, buckets });
}

/**
 * Label children cached by their values in nested maps, so the hot path does no string building or
 * label hashing after a combination's first use (prom-client's own labels() hashes an object every call).
 * Values are positional, in labelNames' order.
 */
export class LabelCache<C> {
  private readonly root = new Map<string, unknown>();

  constructor(private readonly make: (values: string[]) => C) {}

  get(...values: string[]): C {
    let node = this.root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(values[i]) as Map<string, unknown> | undefined;
      if (!next) node.set(values[i], (next = new Map()));
      node = next;
    }
    let child = node.get(values[last]) as C | undefined;
    if (child === undefined) node.set(values[last], (child = this.make(values)));
    return child;
  }
}

/** A counter child on the hot path: `inc` adds to a number; `counterChildren` hands the sum to prom-client. */
export interface HotCounter {
  inc(value?: number): void;
}

/**
 * Cached children of a counter: `counterChildren(c).get('a', 'b').inc()`. An increment only adds to the
 * child's own number (prom-client's `inc` hashes the label object and validates it on every call); the sums
 * reach the counter when the registry is read (the metric's `collect`, run before every scrape), so a scrape
 * shows every increment made before it, each once.
 */
export function counterChildren<L extends string>(metric: Counter<L>): LabelCache<HotCounter> {
  const children: Array<{ labels: Partial<Record<L, string>>; pending: number }> = [];
  const names = (metric as unknown as { labelNames: L[] }).labelNames;
  const target = metric as unknown as { collect?: () => unknown };
  const before = target.collect;
  target.collect = function (this: unknown) {
    for (const c of children) {
      if (c.pending === 0) continue;
      metric.inc(c.labels, c.pending);
      c.pending = 0;
    }
    return before?.call(this);
  };
  return new LabelCache((values) => {
    const child = { labels: Object.fromEntries(names.map((n, i) => [n, values[i]])) as Partial<Record<L, string>>, pending: 0 };
    children.push(child);
    return {
      inc(value = 1) {
        if (!Number.isFinite(value) || value < 0) throw new TypeError(`a counter cannot grow by ${value}`);
        child.pending += value;
      },
    };
  });
}

export function histogramChildren<L extends string>(metric: Histogram<L>): LabelCache<Histogram.Internal<L>> {
  return new LabelCache((values) => metric.labels(...values));
}

let defaults = false;

/**
 * Process metrics (CPU, memory, event loop lag, GC) and a `service` label on every series; once per process.
 * loopResolutionMs: how often the event-loop delay is sampled (METRICS_LOOP_RESOLUTION_MS)
 */
export function initMetrics(service: string, loopResolutionMs: number): void {
  if (defaults) return;
  defaults = true;
  register.setDefaultLabels({ service });
  collectDefaultMetrics({ prefix: 'gateway_', eventLoopMonitoringPrecision: loopResolutionMs });
}

/** Seconds since a performance.now() reading. */
export function secondsSince(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}
