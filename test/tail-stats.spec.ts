// scripts/lib/tail-stats.js, which `npm run bench:tail` prints: pooled latency percentiles and ingress's garbage
// collections read from V8's --trace-gc lines.

interface Gc {
  kind: 'scavenge' | 'mark-compact' | 'other';
  pauseMs: number;
}
const { percentile, latencySummary, parseGcLine, gcSummary } = require('../scripts/lib/tail-stats') as {
  percentile: (sorted: ArrayLike<number>, p: number) => number;
  latencySummary: (l: number[]) => { n: number; p50: number; p90: number; p99: number; p999: number };
  parseGcLine: (line: string) => Gc | null;
  gcSummary: (events: Gc[], calls: number) => { scavenges: number; scavengesPerThousand: number; scavengeMedianMs: number; scavengeMaxMs: number; pausedMs: number; markCompacts: number };
};

describe('tail-stats', () => {
  it('takes the smallest value with at least p % of the calls at or below it', () => {
    const ms = Array.from({ length: 1000 }, (_, i) => i + 1); // 1..1000
    expect(percentile(ms, 50)).toBe(500);
    expect(percentile(ms, 99)).toBe(990);
    expect(percentile(ms, 99.9)).toBe(999);
    expect(percentile(ms, 100)).toBe(1000);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 99)).toBeNaN();
  });

  it('summarises latencies in any order without sorting the caller’s array', () => {
    const lat = [5, 1, 4, 2, 3];
    expect(latencySummary(lat)).toEqual({ n: 5, p50: 3, p90: 5, p99: 5, p999: 5 });
    expect(lat).toEqual([5, 1, 4, 2, 3]);
  });

  it('reads the pause of each collector from --trace-gc lines and ignores every other line', () => {
    expect(parseGcLine('[7926:0x34292e80]    26543 ms: Scavenge 97.4 (137.5) -> 73.3 (139.0) MB, 2.80 / 0.01 ms  (average mu = 0.993, current mu = 0.993) task; ')).toEqual({ kind: 'scavenge', pauseMs: 2.8 });
    expect(parseGcLine('[7926:0x34292e80]     1649 ms: Mark-Compact 63.9 (127.7) -> 48.6 (127.0) MB, 8.21 / 0.02 ms  (+ 0.7 ms in 9 steps since start of marking, biggest step 0.1 ms) (average mu = 0.993) finalize incremental marking via stack guard; GC in old space requested')).toEqual({ kind: 'mark-compact', pauseMs: 8.21 });
    expect(parseGcLine('[1:0x1]   900 ms: Mark-Compact (reduce) 40.1 (60.0) -> 30.2 (50.0) MB, 12.50 / 0.00 ms  (average mu = 0.9) memory reducer')).toEqual({ kind: 'mark-compact', pauseMs: 12.5 });
    expect(parseGcLine('[1:0x1]   901 ms: Minor Mark-Sweep 20.0 (30.0) -> 10.0 (30.0) MB, 1.25 / 0.00 ms  (average mu = 0.9) allocation failure;')).toEqual({ kind: 'other', pauseMs: 1.25 });
    expect(parseGcLine('{"level":30,"msg":"ingress listening on :8080"}')).toBeNull();
    expect(parseGcLine('')).toBeNull();
  });

  it('counts scavenges a thousand calls, their median and largest pause, and every pause summed', () => {
    const events: Gc[] = [
      { kind: 'scavenge', pauseMs: 3 },
      { kind: 'scavenge', pauseMs: 1 },
      { kind: 'mark-compact', pauseMs: 8 },
      { kind: 'scavenge', pauseMs: 2 },
    ];
    expect(gcSummary(events, 1500)).toEqual({ scavenges: 3, scavengesPerThousand: 2, scavengeMedianMs: 2, scavengeMaxMs: 3, pausedMs: 14, markCompacts: 1 });
    const none = gcSummary([], 0);
    expect(none.scavenges).toBe(0);
    expect(none.scavengesPerThousand).toBeNaN();
    expect(none.scavengeMaxMs).toBeNaN();
  });
});
