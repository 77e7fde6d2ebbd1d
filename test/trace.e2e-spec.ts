import 'reflect-metadata';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import type { INestMicroservice } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { billingConfigSchema, ingressConfigSchema, mockUpstreamConfigSchema, modelsConfigSchema, parseConfig } from '@gateway/config';
import { initTracing, shutdownTracing } from '@gateway/tracing';
import { randomUUID } from 'node:crypto';
import { startBilling } from '../apps/billing/src/bootstrap';
import { createIngress } from '../apps/ingress/src/bootstrap';
import { startMockUpstream } from '../apps/mock-upstream/src/server';
import { startModels } from '../apps/models/src/bootstrap';
import { freePort } from './support/gateway';

// The services run in this one process so that one in-memory exporter sees all their spans; each traces
// under its own scope (gateway.ingress, gateway.models, gateway.billing), and the context crosses the
// Redis transport exactly as it does between processes.
describe('one call, one trace across ingress, models and billing', () => {
  const exporter = new InMemorySpanExporter();
  const env = {
    DATABASE_URL: process.env.DATABASE_URL,
    REDIS_URL: process.env.REDIS_URL,
    REDIS_PREFIX: `trace-${randomUUID()}:`,
    ADMIN_TOKEN: 'trace-test-admin-token',
    SWEEP_INTERVAL_MS: '0',
    LOG_LEVEL: 'warn',
  };
  let billing: INestMicroservice;
  let models: INestMicroservice;
  let ingress: NestFastifyApplication;
  let mock: Awaited<ReturnType<typeof startMockUpstream>>;
  let base: string;
  let seeded: { key: string; modelId: string };

  beforeAll(async () => {
    initTracing('gateway-test', { exporters: [exporter] });
    const mockPort = await freePort();
    mock = await startMockUpstream(parseConfig(mockUpstreamConfigSchema, { MOCK_PORT: String(mockPort) }));
    billing = await startBilling(parseConfig(billingConfigSchema, env));
    models = await startModels(parseConfig(modelsConfigSchema, env));
    const port = await freePort();
    ingress = await createIngress(parseConfig(ingressConfigSchema, { ...env, PORT: String(port) }));
    await ingress.listen(port, '127.0.0.1');
    base = `http://127.0.0.1:${port}`;

    const admin = async (route: string, body: unknown) => {
      const r = await fetch(`${base}${route}`, { method: 'POST', headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return r.json() as Promise<Record<string, string>>;
    };
    const modelId = `trace-model-${randomUUID()}`;
    await admin('/admin/models', { id: modelId, kind: 'chat', pricing: { input_per_mtok_micros: 1000, output_per_mtok_micros: 2000 } });
    await admin('/admin/channels', { name: 'trace-mock', provider: 'openai', base_url: `${mock.url}/v1`, api_key: 'sk-upstream', models: [modelId] });
    const acct = await admin('/admin/accounts', { name: 'trace', credit_micros: 1_000_000 });
    const key = await admin(`/admin/accounts/${acct.id}/keys`, { name: 'trace' });
    seeded = { key: key.key, modelId };
  }, 60_000);

  afterAll(async () => {
    await ingress?.close();
    await models?.close();
    await billing?.close();
    await mock?.app.close();
    await shutdownTracing();
  });

  it('the spans of one chat call share one trace id and cover all three services', async () => {
    const { key, modelId } = seeded;
    exporter.reset();
    const r = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: modelId, messages: [{ role: 'user', content: 'trace me' }] }),
    });
    expect(r.status).toBe(200);
    const requestId = r.headers.get('x-tt-request-id');

    // the settle reaches billing through the outbox after the response: wait for its span
    for (let i = 0; i < 200 && !exporter.getFinishedSpans().some((s) => s.name === 'outbox settle'); i++) await new Promise((res) => setTimeout(res, 25));
    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === 'POST /v1/chat/completions');
    expect(root).toBeDefined();
    expect(root!.attributes['gateway.request_id']).toBe(requestId);
    expect(root!.parentSpanContext).toBeUndefined();
    const traceId = root!.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    const scopes = new Set(inTrace.map((s) => s.instrumentationScope.name));
    expect(scopes).toEqual(new Set(['gateway.ingress', 'gateway.models', 'gateway.billing']));
    const names = inTrace.map((s) => `${s.instrumentationScope.name} ${s.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'gateway.billing rpc keys.resolve',
        'gateway.models rpc models.resolve',
        'gateway.billing rpc holds.placeMany', // the places of one tick travel together (here, one)
        'gateway.ingress upstream POST /chat/completions',
        'gateway.billing outbox settle',
      ]),
    );
    // the upstream attempt carries its routing (attempt, breaker state) and the GenAI conventions' usage and cost
    const upstream = inTrace.find((s) => s.name === 'upstream POST /chat/completions')!;
    expect(upstream.attributes).toMatchObject({ 'gateway.attempt': 1, 'gateway.attempt.outcome': 'ok', 'gateway.breaker.state': 'closed', 'gen_ai.system': 'openai' });
    expect(upstream.attributes['gen_ai.request.model']).toEqual(expect.any(String));
    expect(upstream.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(upstream.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    expect(upstream.attributes['gen_ai.response.finish_reasons']).toEqual(['stop']);
    expect(upstream.attributes['gateway.cost_micros']).toEqual(expect.any(Number));
    // every span but the root hangs off another span of this same trace
    const ids = new Set(inTrace.map((s) => s.spanContext().spanId));
    for (const s of inTrace) if (s !== root) expect(ids.has(s.parentSpanContext!.spanId)).toBe(true);
  });
});
