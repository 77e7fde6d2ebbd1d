#!/usr/bin/env node
// node stall-probe.js SECONDS: an otherwise idle process whose 1 ms timer measures how late the machine lets it
// run. Prints one JSON line: ticks, how often a tick came more than 5, 10 and 20 ms late, the latest, and the
// time lost to ticks more than 5 ms late. Used by the gateway benchmark to show, beside the latency figures,
// how long a process that wakes up waits for a core (a busy process waits longer: the scheduler favours one
// that slept, so this reads low).
const seconds = Number(process.argv[2]) || 5;
const late = [];
let last = performance.now();
const timer = setInterval(() => {
  const now = performance.now();
  late.push(Math.max(0, now - last - 1));
  last = now;
}, 1);
setTimeout(() => {
  clearInterval(timer);
  const over = (ms) => late.filter((l) => l > ms).length;
  const result = {
    seconds,
    ticks: late.length,
    over5: over(5),
    over10: over(10),
    over20: over(20),
    max_ms: Math.round(Math.max(0, ...late) * 10) / 10,
    lost_ms: Math.round(late.filter((l) => l > 5).reduce((a, b) => a + b, 0)),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}, seconds * 1000);
