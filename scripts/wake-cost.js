#!/usr/bin/env node
// What waking an idle process costs on this machine: two Node processes on one loopback TCP connection, a
// 100-byte ping and its echo, back to back and paced by a timer (the server idles between pings), with the
// round trip's time and the CPU both processes spent per round trip (process.cpuUsage).
//   node scripts/wake-cost.js
// A call through the gateway is a chain of such hops (client, ingress, Redis, the upstream); see
// docs/throughput-history.md, "Why a call costs more below saturation".
const net = require('node:net');
const { fork } = require('node:child_process');

if (process.argv[2] === 'server') {
  net
    .createServer((s) => s.on('data', (d) => s.write(d)))
    .listen(0, '127.0.0.1', function () {
      process.send({ port: this.address().port });
    });
  process.on('message', () => {
    const u = process.cpuUsage();
    process.send({ cpuMs: (u.user + u.system) / 1000 });
  });
} else {
  main().catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
}

async function main() {
  const child = fork(__filename, ['server']);
  const next = () => new Promise((r) => child.once('message', r));
  const { port } = await next();
  const serverCpu = async () => {
    const m = next();
    child.send('cpu');
    return (await m).cpuMs;
  };
  const s = net.connect(port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  s.setNoDelay(true);
  const ping = Buffer.alloc(100, 'x');
  const roundTrip = () =>
    new Promise((r) => {
      s.once('data', r);
      s.write(ping);
    });
  for (let i = 0; i < 2000; i++) await roundTrip(); // warm-up
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  for (const rate of [0, 100, 500, 2000]) {
    const n = rate ? rate * 3 : 10_000;
    const c0 = process.cpuUsage();
    const s0 = await serverCpu();
    const lat = [];
    for (let i = 0; i < n; i++) {
      if (rate) await sleep(1000 / rate);
      const t = performance.now();
      await roundTrip();
      lat.push(performance.now() - t);
    }
    const c1 = process.cpuUsage();
    const s1 = await serverCpu();
    lat.sort((a, b) => a - b);
    const us = (ms) => `${Math.round(ms * 1000)} µs`.padStart(7);
    const client = (c1.user + c1.system - c0.user - c0.system) / 1000 / n;
    process.stdout.write(
      `${(rate ? `paced ${rate} round trips/s` : 'back to back').padEnd(28)} p50 ${us(lat[n >> 1])} a round trip; CPU a round trip: client ${us(client)} (its timer included), server ${us((s1 - s0) / n)}\n`,
    );
  }
  s.destroy();
  child.kill();
}
