import Fastify, { type FastifyInstance } from 'fastify';
import type { MockUpstreamConfig } from '@gateway/config';
import { anthropicError } from './anthropic/anthropic.errors';
import { registerAnthropic } from './anthropic/anthropic.routes';
import { registerBfl } from './bfl/bfl.routes';
import { geminiError } from './gemini/gemini.errors';
import { registerGemini } from './gemini/gemini.routes';
import { describeJob } from './jobs';
import { mjError, registerMidjourney } from './midjourney/midjourney.routes';
import { openaiError } from './openai/openai.errors';
import { registerOpenAI } from './openai/openai.routes';
import { MockState } from './state';

export { MOCK_MODELS } from './openai/openai.routes';
export { GEMINI_MODELS } from './gemini/gemini.routes';

/**
 * A deterministic stand-in for the providers' APIs (OpenAI, Anthropic, Gemini, and the async-job APIs of
 * OpenAI videos, midjourney-proxy and Black Forest Labs), in their real shapes, so
 * that the official SDKs work against it unchanged. Each provider registers in its own Fastify scope
 * with its own authentication and error shape. Plain Fastify rather than Nest:
 * it is a test double with no modules, DI or RPC to organise, and the benchmark baseline should be lean.
 */
export async function startMockUpstream(config: MockUpstreamConfig): Promise<{ app: FastifyInstance; state: MockState; url: string }> {
  const app = Fastify({ logger: false, bodyLimit: 50 * 1024 * 1024 });
  const state = new MockState({ latencyMs: config.MOCK_LATENCY_MS, chunkDelayMs: config.MOCK_CHUNK_DELAY_MS });

  app.get('/health', async () => ({ ok: true }));
  app.get('/_mock/requests', async () => ({ data: state.requests }));
  app.get('/_mock/served', async () => ({ count: state.served.length, data: state.served }));
  app.delete('/_mock/requests', async () => {
    state.requests.length = 0;
    state.served.length = 0;
    return { ok: true };
  });
  // the async jobs (state, poll counts) of every provider, so tests can see how the gateway polled
  app.get('/_mock/jobs', async () => ({ data: [...state.jobs.values()].map((job) => describeJob(job)) }));
  app.delete('/_mock/jobs', async () => {
    state.jobs.clear();
    return { ok: true };
  });
  app.post('/_mock/config', async (req) => {
    const b = (req.body ?? {}) as { latency_ms?: number; chunk_delay_ms?: number };
    if (b.latency_ms !== undefined) state.latencyMs = b.latency_ms;
    if (b.chunk_delay_ms !== undefined) state.chunkDelayMs = b.chunk_delay_ms;
    return { latency_ms: state.latencyMs, chunk_delay_ms: state.chunkDelayMs };
  });

  registerOpenAI(app, state);
  registerAnthropic(app, state);
  registerGemini(app, state);
  registerMidjourney(app, state);
  // after OpenAI's: its POST /v1/:model only matches flux* model names, and GET /v1/get_result is static
  registerBfl(app, state);
  // unknown routes answer in the shape of the provider whose path they are under
  app.setNotFoundHandler((req, reply) => {
    const what = `${req.method} ${req.url.split('?')[0]}`;
    if (req.url.startsWith('/v1beta/')) return geminiError(reply, 404, `Not found: ${what}`);
    if (req.url.startsWith('/mj/')) return mjError(reply, 404, `Not found: ${what}`);
    if (req.url.startsWith('/v1/messages')) return anthropicError(reply, 404, `Not found: ${what}`);
    if (req.url.startsWith('/v1/')) return openaiError(reply, 404, `Invalid URL (${what})`);
    return reply.code(404).send({ error: 'Not Found', message: `Route ${what} not found`, statusCode: 404 });
  });

  // Fastify answers with the bound address, so MOCK_PORT=0 (any free port) reports the real port
  const url = await app.listen({ port: config.MOCK_PORT, host: config.MOCK_HOST });
  return { app, state, url };
}
