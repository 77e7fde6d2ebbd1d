import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { forcedStatus, hexId, openStream, planChat, streamPieces, waitLatency, type ChatTurn } from '../chat-logic';
import { acceptMultipart } from '../multipart';
import type { MockState } from '../state';
import { MOCK_PNG } from './media-bytes';
import { openaiError, openaiErrorHandler, openaiForcedError } from './openai.errors';
import { registerOpenAIMedia } from './openai.media';
import { registerOpenAIResponses } from './openai.responses';
import { registerOpenAIVideos } from './openai.videos';

interface ContentPart {
  type: string;
  text?: string;
}

interface ChatMessage {
  role: string;
  content?: string | ContentPart[] | null;
}

interface ChatTool {
  type?: string;
  function?: { name?: string };
}

interface ChatBody {
  model?: string;
  messages?: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
  max_completion_tokens?: number;
  tools?: ChatTool[];
}

function textOf(m: ChatMessage): string {
  if (typeof m.content === 'string') return m.content;
  if (Array.isArray(m.content)) return m.content.map((p) => (p.type === 'text' || p.type === 'input_text' ? (p.text ?? '') : '')).join('');
  return '';
}

function toTurn(m: ChatMessage): ChatTurn {
  const text = textOf(m);
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: 'system', text };
    case 'tool':
    case 'function':
      return { role: 'tool', text, toolResult: text };
    case 'assistant':
      return { role: 'assistant', text };
    default:
      return { role: 'user', text };
  }
}

export const MOCK_MODELS = ['gpt-4o-mini', 'gpt-4o', 'mock-chat'];

export function registerOpenAI(app: FastifyInstance, state: MockState): void {
  // where image URLs point; unauthenticated, as a CDN link is
  app.get('/_mock/files/:name', async (_req, reply) => reply.type('image/png').send(MOCK_PNG));

  // an encapsulated scope, so that the Bearer check and OpenAI's error shape apply to OpenAI's routes only
  app.register(async (scope) => {
    scope.setErrorHandler(openaiErrorHandler);
    acceptMultipart(scope);
    scope.addHook('onRequest', async (req, reply) => {
      const auth = req.headers.authorization;
      if (!auth || !auth.startsWith('Bearer ') || auth.length <= 'Bearer '.length) {
        return openaiError(reply, 401, "You didn't provide an API key.", 'invalid_request_error');
      }
    });

    scope.get('/v1/models', async () => ({
      object: 'list',
      data: MOCK_MODELS.map((id) => ({ id, object: 'model', created: 1700000000, owned_by: 'mock' })),
    }));

    scope.post('/v1/chat/completions', (req: FastifyRequest<{ Body: ChatBody }>, reply) => chatCompletions(req, reply, state));
    registerOpenAIResponses(scope, state);
    registerOpenAIMedia(scope, state);
    registerOpenAIVideos(scope, state);
  });
}

async function chatCompletions(req: FastifyRequest<{ Body: ChatBody }>, reply: FastifyReply, state: MockState) {
  const body = req.body ?? {};
  state.record('openai', req);
  if (!body.model) return openaiError(reply, 400, 'you must provide a model parameter', 'invalid_request_error');
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return openaiError(reply, 400, "'messages' must be a non-empty array", 'invalid_request_error', 'messages');
  }
  const toolNames = (body.tools ?? []).filter((t) => t.type === 'function' && t.function?.name).map((t) => t.function?.name ?? '');
  const plan = planChat({ turns: body.messages.map(toTurn), toolNames, maxOutputTokens: body.max_completion_tokens ?? body.max_tokens }, state);
  await waitLatency(plan);
  const status = forcedStatus(plan, reply);
  if (status) return openaiForcedError(reply, status);

  const { output } = plan;
  const usage = {
    prompt_tokens: plan.promptTokens,
    // as OpenAI does: completion_tokens include the reasoning tokens, which are reported apart as well
    completion_tokens: plan.outputTokens + plan.reasoningTokens,
    total_tokens: plan.promptTokens + plan.outputTokens + plan.reasoningTokens,
    prompt_tokens_details: { cached_tokens: plan.cachedTokens, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: plan.reasoningTokens, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
  const finish = output.kind === 'tool_call' ? 'tool_calls' : output.truncated ? 'length' : 'stop';
  const id = `chatcmpl-${hexId()}`;
  const callId = `call_${hexId()}`;
  const created = Math.floor(Date.now() / 1000);
  const model = body.model;

  if (!body.stream) {
    const message =
      output.kind === 'tool_call'
        ? { role: 'assistant', content: null, tool_calls: [{ id: callId, type: 'function', function: { name: output.name, arguments: output.argumentsJson } }], refusal: null }
        : { role: 'assistant', content: output.pieces.join(''), refusal: null };
    return {
      id,
      object: 'chat.completion',
      created,
      model,
      system_fingerprint: 'fp_mock',
      choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
      usage,
    };
  }

  const includeUsage = body.stream_options?.include_usage === true;
  reply.hijack();
  const res = reply.raw;
  openStream(res);
  const base = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_mock' };
  const send = (delta: object, finishReason: string | null = null) => {
    const chunk = { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] };
    res.write(`data: ${JSON.stringify(includeUsage ? { ...chunk, usage: null } : chunk)}\n\n`);
  };
  let alive: boolean;
  if (output.kind === 'tool_call') {
    send({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: output.name, arguments: '' } }] });
    alive = await streamPieces(res, output.pieces, plan, (piece) => send({ tool_calls: [{ index: 0, function: { arguments: piece } }] }), undefined, OVERLOADED);
  } else {
    send({ role: 'assistant', content: '', refusal: null });
    alive = await streamPieces(res, output.pieces, plan, (piece) => send({ content: piece }), undefined, OVERLOADED);
  }
  if (!alive) return;
  send({}, finish);
  if (includeUsage) res.write(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
  res.end('data: [DONE]\n\n');
}

/** What OpenAI sends when a stream fails under load: an error object in a data line, and the stream ends. */
const OVERLOADED = `data: ${JSON.stringify({ error: { message: 'The server is overloaded. Please try again later.', type: 'server_error', param: null, code: 'server_is_overloaded' } })}\n\n`;
