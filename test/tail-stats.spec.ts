// scripts/lib/tail-stats.js, which `npm run bench:tail` prints: pooled latency percentiles and ingress's garbage
// collections read from V8's --trace-gc lines.

interface Gc {
  kind: 'scavenge' | 'mark-compact' | 'other';
  pauseMs: number;
  beforeMb?: number;
  pid?: number;
  afterMb?: number;
  allocMb?: number;
}
const { percentile, latencySummary, parseGcLine, withAllocations, gcSummary, serverTiming } = require('../scripts/lib/tail-stats') as {
  percentile: (sorted: ArrayLike<number>, p: number) => number;
  latencySummary: (l: number[]) => { n: number; p50: number; p90: number; p99: number; p999: number };
  parseGcLine: (line: string) => Gc | null;
  withAllocations: (events: Gc[]) => Gc[];
  gcSummary: (
    events: Gc[],
    calls: number,
  ) => { scavenges: number; scavengesPerThousand: number; scavengeMedianMs: number; scavengeMaxMs: number; pausedMs: number; markCompacts: number; markCompactMaxMs: number; allocatedKbPerCall: number };
  serverTiming: (header: unknown) => { upstream: number; gateway: number } | null;
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
    expect(parseGcLine('[7926:0x34292e80]    26543 ms: Scavenge 97.4 (137.5) -> 73.3 (139.0) MB, 2.80 / 0.01 ms  (average mu = 0.993, current mu = 0.993) task; ')).toEqual({ kind: 'scavenge', pauseMs: 2.8, beforeMb: 97.4, afterMb: 73.3, pid: 7926 });
    expect(parseGcLine('[7926:0x34292e80]     1649 ms: Mark-Compact 63.9 (127.7) -> 48.6 (127.0) MB, 8.21 / 0.02 ms  (+ 0.7 ms in 9 steps since start of marking, biggest step 0.1 ms) (average mu = 0.993) finalize incremental marking via stack guard; GC in old space requested')).toEqual({ kind: 'mark-compact', pauseMs: 8.21, beforeMb: 63.9, afterMb: 48.6, pid: 7926 });
    expect(parseGcLine('[1:0x1]   900 ms: Mark-Compact (reduce) 40.1 (60.0) -> 30.2 (50.0) MB, 12.50 / 0.00 ms  (average mu = 0.9) memory reducer')).toEqual({ kind: 'mark-compact', pauseMs: 12.5, beforeMb: 40.1, afterMb: 30.2, pid: 1 });
    expect(parseGcLine('[1:0x1]   901 ms: Minor Mark-Sweep 20.0 (30.0) -> 10.0 (30.0) MB, 1.25 / 0.00 ms  (average mu = 0.9) allocation failure;')).toEqual({ kind: 'other', pauseMs: 1.25, beforeMb: 20, afterMb: 10, pid: 1 });
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
    expect(gcSummary(events, 1500)).toEqual({ scavenges: 3, scavengesPerThousand: 2, scavengeMedianMs: 2, scavengeMaxMs: 3, pausedMs: 14, markCompacts: 1, markCompactMaxMs: 8, allocatedKbPerCall: NaN });
    const none = gcSummary([], 0);
    expect(none.scavenges).toBe(0);
    expect(none.scavengesPerThousand).toBeNaN();
    expect(none.scavengeMaxMs).toBeNaN();
    expect(none.markCompactMaxMs).toBeNaN();
  });

  it('takes what was allocated up to each collection from the heap before it and after the one before', () => {
    const lines = [
      '[1:0x1]  100 ms: Scavenge 40.0 (60.0) -> 20.0 (60.0) MB, 1.00 / 0.00 ms  task;',
      '[1:0x1]  200 ms: Scavenge 45.0 (60.0) -> 21.0 (60.0) MB, 1.00 / 0.00 ms  task;',
      '[1:0x1]  300 ms: Mark-Compact 46.0 (60.0) -> 15.0 (50.0) MB, 5.00 / 0.00 ms  (average mu = 0.9) allocation failure',
      '[1:0x1]  400 ms: Scavenge 40.0 (60.0) -> 16.0 (60.0) MB, 1.00 / 0.00 ms  task;',
    ];
    const events = withAllocations(lines.map((l) => parseGcLine(l)!));
    expect(events.map((e) => e.allocMb)).toEqual([NaN, 25, 25, 25]);
    // the last three collections over 300 calls: 75 MB, 256 KB a call; a run whose first line has no predecessor has no figure
    expect(gcSummary(events.slice(1), 300).allocatedKbPerCall).toBeCloseTo(256, 6);
    expect(gcSummary(events, 300).allocatedKbPerCall).toBeNaN();
  });

  it('takes each process\'s allocations from its own lines when the lines of several processes interleave', () => {
    const lines = [
      '[1:0x1]  100 ms: Scavenge 40.0 (60.0) -> 20.0 (60.0) MB, 1.00 / 0.00 ms  task;',
      '[2:0x1]  110 ms: Scavenge 70.0 (90.0) -> 50.0 (90.0) MB, 1.00 / 0.00 ms  task;',
      '[1:0x1]  200 ms: Scavenge 45.0 (60.0) -> 21.0 (60.0) MB, 1.00 / 0.00 ms  task;',
      '[2:0x1]  210 ms: Scavenge 60.0 (90.0) -> 40.0 (90.0) MB, 1.00 / 0.00 ms  task;',
    ];
    const events = withAllocations(lines.map((l) => parseGcLine(l)!));
    expect(events.map((e) => e.allocMb)).toEqual([NaN, NaN, 25, 10]);
  });

  it("reads ingress's Server-Timing (upstream and gateway durations), and nothing from a header without both", () => {
    expect(serverTiming('upstream;dur=0.84, gateway;dur=0.41')).toEqual({ upstream: 0.84, gateway: 0.41 });
    expect(serverTiming('gateway;dur=2.50,upstream;desc="whole answer";dur=12.00')).toEqual({ upstream: 12, gateway: 2.5 });
    expect(serverTiming('upstream;dur=0.84')).toBeNull();
    expect(serverTiming(undefined)).toBeNull();
    expect(serverTiming(['upstream;dur=1', 'gateway;dur=2'])).toBeNull();
  });
});
