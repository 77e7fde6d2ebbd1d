import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { mockTokens, parseDirectives, replyPieces, sleep, stripDirectives, type Directives } from '../directives';
import type { MockState } from '../state';

interface ChatMessage {
  role: string;
  content?: string | Array<{ type: string; text?: string }> | null;
}

interface ChatBody {
  model?: string;
  messages?: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
  max_completion_tokens?: number;
}

function textOf(m: ChatMessage): string {
  if (typeof m.content === 'string') return m.content;
  if (Array.isArray(m.content)) return m.content.map((p) => p.text ?? '').join('');
  return '';
}

function openaiError(reply: FastifyReply, status: number, message: string, type = 'server_error') {
  return reply.code(status).send({ error: { message, type, param: null, code: null } });
}

export const MOCK_MODELS = ['gpt-4o-mini', 'gpt-4o', 'mock-chat'];

export function registerOpenAI(app: FastifyInstance, state: MockState): void {
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/v1/')) return;
    const auth = req.headers.authorization;
    if (!auth || !auth.startsWith('Bearer ') || auth.length <= 'Bearer '.length) {
      return openaiError(reply, 401, 'You didn\'t provide an API key.', 'invalid_request_error');
    }
  });

  app.get('/v1/models', async () => ({
    object: 'list',
    data: MOCK_MODELS.map((id) => ({ id, object: 'model', created: 1700000000, owned_by: 'mock' })),
  }));

  app.post('/v1/chat/completions', async (req: FastifyRequest<{ Body: ChatBody }>, reply) => {
    const body = req.body ?? {};
    state.record('openai', req);
    if (!body.model) return openaiError(reply, 400, 'you must provide a model parameter', 'invalid_request_error');
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return openaiError(reply, 400, "'messages' must be a non-empty array", 'invalid_request_error');
    }
    const allText = body.messages.map(textOf).join('\n');
    const d: Directives = parseDirectives(allText);
    const latency = d.latencyMs ?? state.latencyMs;
    if (latency > 0) await sleep(latency);
    if (d.status && d.status >= 400) return openaiError(reply, d.status, `mock forced status ${d.status}`);

    const lastUser = [...body.messages].reverse().find((m) => m.role === 'user');
    const prompt = stripDirectives(lastUser ? textOf(lastUser) : '');
    const text = d.reply ?? `This is a deterministic mock reply to: ${prompt.slice(0, 80)}`;
    const limit = body.max_completion_tokens ?? body.max_tokens;
    let pieces = replyPieces(text);
    let finish = 'stop';
    if (limit !== undefined && pieces.length > limit) {
      pieces = pieces.slice(0, limit);
      finish = 'length';
    }
    const promptTokens = body.messages.reduce((n, m) => n + mockTokens(textOf(m)) + 4, 3);
    const cached = Math.min(d.cachedTokens ?? 0, promptTokens);
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: pieces.length,
      total_tokens: promptTokens + pieces.length,
      prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    const id = `chatcmpl-${randomBytes(12).toString('hex')}`;
    const created = Math.floor(Date.now() / 1000);
    const model = body.model;

    if (!body.stream) {
      return {
        id,
        object: 'chat.completion',
        created,
        model,
        system_fingerprint: 'fp_mock',
        choices: [{ index: 0, message: { role: 'assistant', content: pieces.join(''), refusal: null }, logprobs: null, finish_reason: finish }],
        usage,
      };
    }

    const includeUsage = body.stream_options?.include_usage === true;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const base = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_mock' };
    const send = (chunk: object) => res.write(`data: ${JSON.stringify(includeUsage ? { ...chunk, usage: null } : chunk)}\n\n`);
    const delay = d.chunkDelayMs ?? state.chunkDelayMs;
    send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }] });
    for (let i = 0; i < pieces.length; i++) {
      if (res.destroyed) return;
      if (d.failAfterChunks !== undefined && i >= d.failAfterChunks) {
        // a real upstream dying mid-stream: what was sent arrives, then the connection drops without [DONE]
        res.write(': flush\n\n', () => res.destroy());
        return;
      }
      if (delay > 0) await sleep(delay);
      send({ ...base, choices: [{ index: 0, delta: { content: pieces[i] }, logprobs: null, finish_reason: null }] });
    }
    send({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: finish }] });
    if (includeUsage) res.write(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
    res.end('data: [DONE]\n\n');
  });
}
