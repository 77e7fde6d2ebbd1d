import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { freePort } from './support/gateway';
import { hasSeries, scrape } from './support/metrics';
import { spawnService, stop, type Service } from './support/services';

// An idle service wakes for its own work only. The event-loop delay behind gateway_nodejs_eventloop_lag_* is
// sampled every METRICS_LOOP_RESOLUTION_MS (100 ms by default); prom-client's own default, 10 ms, woke every
// process of the gateway 100 times a second, busy or not, on the cores the calls' path shares with them.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** context switches of a process's main thread so far (voluntary and not): each wake-up is at least one */
function switches(pid: number): number {
  const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
  const count = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(status)![1]);
  return count('voluntary_ctxt_switches') + count('nonvoluntary_ctxt_switches');
}

/** main-thread wake-ups a second of an idle process, over `ms` */
async function wakeupsPerSecond(pid: number, ms: number): Promise<number> {
  const before = switches(pid);
  await sleep(ms);
  return ((switches(pid) - before) * 1000) / ms;
}

describe('ops: an idle service is not woken by its own metrics', () => {
  const services: Service[] = [];
  const env = (extra: Record<string, string>) => ({
    DATABASE_URL: process.env.DATABASE_URL as string,
    REDIS_URL: process.env.REDIS_URL as string,
    REDIS_PREFIX: `idle-${randomUUID()}:`,
    LOG_LEVEL: 'warn',
    ...extra,
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => stop(s)));
  });

  it('samples the event-loop delay every 100 ms by default (a 10 ms resolution wakes the process ten times as often), and still exports it', async () => {
    const opsPort = await freePort();
    const byDefault = await spawnService('models', env({ OPS_PORT: String(opsPort) }), /listening/);
    services.push(byDefault);
    const every10ms = await spawnService('models', env({ METRICS_LOOP_RESOLUTION_MS: '10' }), /listening/);
    services.push(every10ms);
    await sleep(1500); // past start-up's own work
    const [quiet, busy] = await Promise.all([wakeupsPerSecond(byDefault.child.pid!, 3000), wakeupsPerSecond(every10ms.child.pid!, 3000)]);
    // the 10 ms sampler alone is 100 a second; the rest of an idle models process (its transport's heartbeat,
    // Redis and Postgres keep-alives) is a few a second
    expect(busy).toBeGreaterThan(70);
    expect(quiet).toBeLessThan(30);
    const series = await scrape(`http://127.0.0.1:${opsPort}`);
    expect(hasSeries(series, 'gateway_nodejs_eventloop_lag_p99_seconds', { service: 'models' })).toBe(true);
  }, 60_000);
});
