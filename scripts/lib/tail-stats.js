// The figures `npm run bench:tail` prints: latency percentiles over every round's calls pooled, and ingress's
// garbage collections from its `--trace-gc` lines (how many scavenges a thousand calls, how long each paused).
// Pure functions; test/tail-stats.spec.ts pins them.

/** the value at percentile p (0-100) of an ascending array: the smallest value with at least p % at or below it */
function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  // (the epsilon: 99.9 / 100 * 1000 is 999.0000000000001 in floating point, which must stay rank 999)
  const i = Math.ceil((p * sorted.length) / 100 - 1e-9) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, i))];
}

/** p50, p90, p99 and p99.9 of latencies (any order; not modified) */
function latencySummary(latencies) {
  const s = Float64Array.from(latencies).sort();
  return { n: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), p999: percentile(s, 99.9) };
}

/**
 * One line of V8's `--trace-gc` output as { kind, pauseMs, beforeMb, afterMb }, or null for any other line
 * (before and after: the heap's used size around the collection). The lines read
 *   [pid:0x…]   26543 ms: Scavenge 97.4 (137.5) -> 73.3 (139.0) MB, 2.80 / 0.01 ms  (average mu = …) task;
 *   [pid:0x…]    1649 ms: Mark-Compact 63.9 (127.7) -> 48.6 (127.0) MB, 8.21 / 0.02 ms  (+ 0.7 ms in 9 steps …
 * where the first figure after "MB," is the main thread's pause. kind: 'scavenge', 'mark-compact' or 'other'
 * (Minor Mark-Sweep, Mark-Compact (reduce), …: whatever the collector's name, its pause counts).
 */
function parseGcLine(line) {
  const m = /\d+ ms: ([A-Za-z][A-Za-z -]*?)(?: \([a-z ]+\))? ([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB, ([\d.]+) /.exec(line);
  if (!m) return null;
  const name = m[1].trim();
  const kind = name === 'Scavenge' ? 'scavenge' : name === 'Mark-Compact' ? 'mark-compact' : 'other';
  // the line's process: an ingress run as a cluster (INGRESS_WORKERS) has its workers' lines on one stdout
  const pid = /^\[(\d+):/.exec(line);
  return { kind, pauseMs: Number(m[4]), beforeMb: Number(m[2]), afterMb: Number(m[3]), pid: pid ? Number(pid[1]) : 0 };
}

/**
 * What the process allocated between the collection before a line and this one: the heap's size before this
 * collection less its size after the one before of the same process (MB; NaN for a process's first line seen).
 * Set as allocMb on each event of the lines in order (several processes' lines may interleave).
 */
function withAllocations(events) {
  const after = new Map();
  for (const e of events) {
    e.allocMb = e.beforeMb - (after.get(e.pid) ?? NaN);
    after.set(e.pid, e.afterMb);
  }
  return events;
}

/**
 * What the collections of a run of `calls` calls cost: scavenges a thousand calls, their pauses' median and
 * largest, every collection's pause summed, how many major ones (mark-compact) and the longest of their pauses, and the KB allocated a call
 * (the allocMb of the run's collections, see withAllocations: what was allocated up to each; NaN without it).
 * V8 sizes the young generation as it sees fit, so scavenges a 1,000 calls move between processes of one build;
 * the bytes a call do not.
 */
function gcSummary(events, calls) {
  const scavenges = events.filter((e) => e.kind === 'scavenge').map((e) => e.pauseMs).sort((a, b) => a - b);
  const majors = events.filter((e) => e.kind === 'mark-compact');
  return {
    scavenges: scavenges.length,
    scavengesPerThousand: calls > 0 ? (1000 * scavenges.length) / calls : NaN,
    scavengeMedianMs: percentile(scavenges, 50),
    scavengeMaxMs: scavenges.length ? scavenges[scavenges.length - 1] : NaN,
    pausedMs: events.reduce((a, e) => a + e.pauseMs, 0),
    markCompacts: majors.length,
    markCompactMaxMs: majors.length ? Math.max(...majors.map((e) => e.pauseMs)) : NaN,
    allocatedKbPerCall: calls > 0 && events.length > 0 && events.every((e) => Number.isFinite(e.allocMb)) ? (1024 * events.reduce((a, e) => a + e.allocMb, 0)) / calls : NaN,
  };
}

/**
 * An answer's Server-Timing header as ingress writes it on a whole answer (`upstream;dur=0.84, gateway;dur=0.41`):
 * { upstream, gateway } in ms, or null when the header is missing or lacks either metric.
 */
function serverTiming(header) {
  if (typeof header !== 'string') return null;
  const dur = {};
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().split(';');
    for (const p of params) {
      const m = /^\s*dur=([\d.]+)\s*$/.exec(p);
      if (m) dur[name.trim()] = Number(m[1]);
    }
  }
  return Number.isFinite(dur.upstream) && Number.isFinite(dur.gateway) ? { upstream: dur.upstream, gateway: dur.gateway } : null;
}

module.exports = { percentile, latencySummary, parseGcLine, withAllocations, gcSummary, serverTiming };
