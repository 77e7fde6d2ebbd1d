import Fastify, { type FastifyInstance } from 'fastify';
import type { MockUpstreamConfig } from '@gateway/config';
import { registerOpenAI } from './openai/openai.routes';
import { MockState } from './state';

/**
 * A deterministic stand-in for the providers' APIs, in their real shapes. Plain Fastify rather than Nest:
 * it is a test double with no modules, DI or RPC to organise, and the benchmark baseline should be lean.
 */
export async function startMockUpstream(config: MockUpstreamConfig): Promise<{ app: FastifyInstance; state: MockState; url: string }> {
  const app = Fastify({ logger: false, bodyLimit: 50 * 1024 * 1024 });
  const state = new MockState({ latencyMs: config.MOCK_LATENCY_MS, chunkDelayMs: config.MOCK_CHUNK_DELAY_MS });

  app.get('/health', async () => ({ ok: true }));
  app.get('/_mock/requests', async () => ({ data: state.requests }));
  app.delete('/_mock/requests', async () => {
    state.requests.length = 0;
    return { ok: true };
  });
  app.post('/_mock/config', async (req) => {
    const b = (req.body ?? {}) as { latency_ms?: number; chunk_delay_ms?: number };
    if (b.latency_ms !== undefined) state.latencyMs = b.latency_ms;
    if (b.chunk_delay_ms !== undefined) state.chunkDelayMs = b.chunk_delay_ms;
    return { latency_ms: state.latencyMs, chunk_delay_ms: state.chunkDelayMs };
  });

  registerOpenAI(app, state);

  const address = await app.listen({ port: config.MOCK_PORT, host: config.MOCK_HOST });
  return { app, state, url: address };
}
