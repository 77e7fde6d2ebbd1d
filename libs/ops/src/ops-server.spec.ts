import { counter } from './metrics';
import { readiness, startOpsServer } from './ops-server';

describe('ops server', () => {
  it('serves metrics, liveness, and readiness that names the failing check', async () => {
    counter('gateway_ops_spec_total', 'a test counter', ['kind']).labels('x').inc(3);
    let pgUp = true;
    const ops = await listen({
      postgres: async () => {
        if (!pgUp) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      },
      redis: async () => 'PONG',
    });
    try {
      const m = await fetch(`${ops.base}/metrics`);
      expect(m.status).toBe(200);
      expect(await m.text()).toContain('gateway_ops_spec_total{kind="x"} 3');
      expect((await fetch(`${ops.base}/health/live`)).status).toBe(200);
      let r = await fetch(`${ops.base}/health/ready`);
      expect([r.status, await r.json()]).toEqual([200, { status: 'ok', checks: { postgres: 'ok', redis: 'ok' } }]);
      pgUp = false;
      r = await fetch(`${ops.base}/health/ready`);
      expect([r.status, await r.json()]).toEqual([503, { status: 'unavailable', checks: { postgres: 'connect ECONNREFUSED 127.0.0.1:5432', redis: 'ok' } }]);
      expect((await fetch(`${ops.base}/nope`)).status).toBe(404);
    } finally {
      await ops.close();
    }
  });

  it('a check that hangs fails by timeout rather than hanging the probe', async () => {
    const r = await readiness({ stuck: () => new Promise(() => undefined) });
    expect(r).toEqual({ ready: false, checks: { stuck: 'no answer within 2000 ms' } });
  }, 5000);

  it('port 0 turns the server off', async () => {
    expect(await startOpsServer({ port: 0, checks: {} })).toBeUndefined();
  });
});

/** An ops server on a port the system picks. */
async function listen(checks: Parameters<typeof startOpsServer>[0]['checks']) {
  const { createServer } = await import('node:net');
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const server = (await startOpsServer({ port, host: '127.0.0.1', checks }))!;
  return { base: `http://127.0.0.1:${server.port}`, close: () => server.close() };
}
