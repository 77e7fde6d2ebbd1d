// The open-loop schedule both bench:gateway and bench:tail send a steady rate on: call i is due at
// start + i / rate and sent then, whatever the calls before it are doing, so a slow answer delays no later
// send and each latency can run from its due time (no coordinated omission).

const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends `total` calls at `rate` a second: send(due, i, sentAt) for each, at or just after its due time (on
 * performance.now()'s clock; sentAt - due is the generator's own lag). Resolves once every promise send
 * returned has settled (send must not reject), with the schedule's start.
 */
async function openLoop(rate, total, send) {
  const interval = 1000 / rate;
  const start = now() + 5;
  const pending = [];
  for (let i = 0; i < total; ) {
    const tnow = now();
    while (i < total && start + i * interval <= tnow) {
      pending.push(send(start + i * interval, i, tnow));
      i++;
    }
    if (i < total) await sleep(Math.max(0, start + i * interval - now()));
  }
  await Promise.all(pending);
  return { start, interval };
}

module.exports = { openLoop };
