import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { countPromptTokens, forcedStatus, hexId, openStream, planChat, streamPieces, waitLatency, type ChatTurn } from '../chat-logic';
import type { MockState } from '../state';
import { anthropicError, anthropicErrorHandler } from './anthropic.errors';

// Anthropic's Messages API: POST /v1/messages (streamed and not) and POST /v1/messages/count_tokens.

interface ContentBlock {
  type: string;
  text?: string;
  /** tool_result content: a string or blocks */
  content?: string | ContentBlock[];
}

interface AnthropicMessage {
  role?: string;
  content?: string | ContentBlock[];
}

interface AnthropicTool {
  name?: string;
}

interface MessagesBody {
  model?: string;
  max_tokens?: number;
  messages?: AnthropicMessage[];
  system?: string | ContentBlock[];
  tools?: AnthropicTool[];
  stream?: boolean;
  temperature?: number;
  /** taken as Anthropic takes it (the mock thinks as [[mock:reasoning=N]] says), and checked as Anthropic checks it */
  thinking?: { type?: string; budget_tokens?: number };
}

const blockText = (blocks: ContentBlock[]): string => blocks.map((b) => (b.type === 'text' ? (b.text ?? '') : '')).join('');

function toolResultText(block: ContentBlock): string {
  if (typeof block.content === 'string') return block.content;
  return Array.isArray(block.content) ? blockText(block.content) : '';
}

function toTurn(m: AnthropicMessage): ChatTurn {
  const role = m.role === 'assistant' ? 'assistant' : 'user';
  if (typeof m.content === 'string') return { role, text: m.content };
  const blocks = Array.isArray(m.content) ? m.content : [];
  const results = blocks.filter((b) => b.type === 'tool_result').map(toolResultText);
  const text = blocks.map((b) => (b.type === 'text' ? (b.text ?? '') : b.type === 'tool_result' ? toolResultText(b) : '')).join('');
  return results.length > 0 ? { role, text, toolResult: results[results.length - 1] } : { role, text };
}

function toTurns(body: MessagesBody): ChatTurn[] {
  const system = typeof body.system === 'string' ? body.system : Array.isArray(body.system) ? blockText(body.system) : '';
  const turns = (body.messages ?? []).map(toTurn);
  return body.system !== undefined && system.length > 0 ? [{ role: 'system', text: system }, ...turns] : turns;
}

/** The validation Anthropic does before anything else; the error message when the body is invalid. */
function problemWith(body: MessagesBody, needsMaxTokens: boolean): string | undefined {
  if (!body.model) return 'model: Field required';
  if (needsMaxTokens && body.max_tokens === undefined) return 'max_tokens: Field required';
  if (needsMaxTokens && (!Number.isInteger(body.max_tokens) || (body.max_tokens ?? 0) < 1)) return 'max_tokens: Input should be greater than or equal to 1';
  if (!Array.isArray(body.messages)) return 'messages: Field required';
  if (body.messages.length === 0) return 'messages: at least one message is required';
  const bad = body.messages.findIndex((m) => m.role !== 'user' && m.role !== 'assistant');
  if (bad >= 0) return `messages.${bad}.role: Input should be 'user' or 'assistant'`;
  if (body.thinking?.type === 'enabled') {
    const budget = body.thinking.budget_tokens;
    if (!Number.isInteger(budget) || (budget ?? 0) < 1024) return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
    if (needsMaxTokens && (budget ?? 0) >= (body.max_tokens ?? 0)) return '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size';
    if (body.temperature !== undefined && body.temperature !== 1) return '`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility';
  }
  return undefined;
}

export function registerAnthropic(app: FastifyInstance, state: MockState): void {
  app.register(async (scope) => {
    scope.setErrorHandler(anthropicErrorHandler);
    scope.addHook('onRequest', async (req, reply) => {
      const key = req.headers['x-api-key'];
      const auth = req.headers.authorization;
      const bearer = auth?.startsWith('Bearer ') && auth.length > 'Bearer '.length;
      if (!(typeof key === 'string' && key.length > 0) && !bearer) return anthropicError(reply, 401, 'x-api-key header is required');
    });

    scope.post('/v1/messages', (req: FastifyRequest<{ Body: MessagesBody }>, reply) => messages(req, reply, state));

    scope.post('/v1/messages/count_tokens', async (req: FastifyRequest<{ Body: MessagesBody }>, reply) => {
      const body = req.body ?? {};
      state.record('anthropic', req);
      const problem = problemWith(body, false);
      if (problem) return anthropicError(reply, 400, problem);
      return { input_tokens: countPromptTokens(toTurns(body)) };
    });
  });
}

async function messages(req: FastifyRequest<{ Body: MessagesBody }>, reply: FastifyReply, state: MockState) {
  const body = req.body ?? {};
  state.record('anthropic', req);
  const problem = problemWith(body, true);
  if (problem) return anthropicError(reply, 400, problem);
  const toolNames = (body.tools ?? []).map((t) => t.name ?? '').filter((n) => n.length > 0);
  const plan = planChat({ turns: toTurns(body), toolNames, maxOutputTokens: body.max_tokens }, state);
  await waitLatency(plan);
  const status = forcedStatus(plan, reply);
  if (status) return anthropicError(reply, status, `mock forced status ${status}`);

  const { output } = plan;
  const id = `msg_${hexId()}`;
  const toolId = `toolu_${hexId()}`;
  const stopReason = output.kind === 'tool_call' ? 'tool_use' : output.truncated ? 'max_tokens' : 'end_turn';
  // Anthropic's input_tokens exclude cache reads and writes; output_tokens include thinking
  const writes = plan.cacheWriteTokens + plan.cacheWrite1hTokens;
  const usage = {
    input_tokens: plan.promptTokens - plan.cachedTokens - writes,
    cache_creation_input_tokens: writes,
    cache_read_input_tokens: plan.cachedTokens,
    cache_creation: { ephemeral_5m_input_tokens: plan.cacheWriteTokens, ephemeral_1h_input_tokens: plan.cacheWrite1hTokens },
  };
  const outputTokens = plan.outputTokens + plan.reasoningTokens;
  // thinking comes first, as its own block with a signature (only when the mock spent reasoning tokens)
  const thinking = plan.reasoningTokens > 0 ? { type: 'thinking', thinking: `Considered the request in ${plan.reasoningTokens} tokens.`, signature: `sig_${hexId()}` } : null;
  const message = { id, type: 'message', role: 'assistant', model: body.model };

  if (!body.stream) {
    const content =
      output.kind === 'tool_call' ? [{ type: 'tool_use', id: toolId, name: output.name, input: output.args }] : [{ type: 'text', text: output.pieces.join('') }];
    return { ...message, content: thinking ? [thinking, ...content] : content, stop_reason: stopReason, stop_sequence: null, usage: { ...usage, output_tokens: outputTokens } };
  }

  reply.hijack();
  const res = reply.raw;
  openStream(res);
  const send = (event: string, data: object) => res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
  send('message_start', { message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } });
  let index = 0;
  if (thinking) {
    send('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
    send('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: thinking.thinking } });
    send('content_block_delta', { index, delta: { type: 'signature_delta', signature: thinking.signature } });
    send('content_block_stop', { index });
    index++;
  }
  const block = output.kind === 'tool_call' ? { type: 'tool_use', id: toolId, name: output.name, input: {} } : { type: 'text', text: '' };
  send('content_block_start', { index, content_block: block });
  send('ping', {});
  const alive = await streamPieces(
    res,
    output.pieces,
    plan,
    (piece) => send('content_block_delta', { index, delta: output.kind === 'tool_call' ? { type: 'input_json_delta', partial_json: piece } : { type: 'text_delta', text: piece } }),
    undefined,
    `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`,
  );
  if (!alive) return;
  send('content_block_stop', { index });
  send('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } });
  send('message_stop', {});
  res.end();
}
