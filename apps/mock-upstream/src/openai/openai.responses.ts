import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { forcedStatus, hexId, openStream, planChat, streamPieces as streamAll, waitLatency, type ChatPlan, type ChatTurn } from '../chat-logic';
import type { MockState } from '../state';
import { openaiError, openaiForcedError } from './openai.errors';

// OpenAI's Responses API, POST /v1/responses (streamed and not), in the real API's shapes: reasoning items
// (with encrypted_content when `include` asks for it, which the mock checks when it comes back), message or
// function_call items, usage with cached and reasoning tokens, and stored responses that a later request
// continues with `previous_response_id` (unless it was sent with `store: false`).

interface InputPart {
  type?: string;
  text?: string;
}

interface InputItem {
  type?: string;
  id?: string;
  role?: string;
  content?: string | InputPart[];
  call_id?: string;
  name?: string;
  arguments?: string;
  output?: string | InputPart[];
  encrypted_content?: string | null;
}

interface ResponsesBody {
  model?: string;
  input?: string | InputItem[];
  instructions?: string | null;
  tools?: Array<{ type?: string; name?: string }>;
  tool_choice?: unknown;
  max_output_tokens?: number | null;
  stream?: boolean;
  reasoning?: { effort?: string | null; summary?: string | null } | null;
  include?: string[] | null;
  store?: boolean | null;
  previous_response_id?: string | null;
  temperature?: number | null;
  top_p?: number | null;
  text?: unknown;
  user?: string;
  metadata?: Record<string, string>;
}

/** Reasoning tokens spent at each effort when the prompt sets none with [[mock:reasoning=N]]. */
const EFFORT_TOKENS: Record<string, number> = { none: 0, minimal: 8, low: 32, medium: 64, high: 128 };

/** How many stored responses and issued encrypted contents the mock remembers. */
const MEMORY = 10_000;

const partsText = (content: string | InputPart[] | undefined): string =>
  typeof content === 'string' ? content : (content ?? []).map((p) => (p.type === 'input_text' || p.type === 'output_text' || p.type === 'text' ? (p.text ?? '') : '')).join('');

function toTurn(item: InputItem): ChatTurn | null {
  switch (item.type ?? 'message') {
    case 'message': {
      const text = partsText(item.content);
      if (item.role === 'system' || item.role === 'developer') return { role: 'system', text };
      return { role: item.role === 'assistant' ? 'assistant' : 'user', text };
    }
    case 'function_call':
      return { role: 'assistant', text: `${item.name ?? ''} ${item.arguments ?? ''}` };
    case 'function_call_output': {
      const text = partsText(item.output);
      return { role: 'tool', text, toolResult: text };
    }
    default:
      // reasoning items are the model's own, carried over: not part of the prompt the mock counts
      return null;
  }
}

type OutputItem = Record<string, unknown> & { type: string; id: string };

export function registerOpenAIResponses(scope: FastifyInstance, state: MockState): void {
  /** the turns of each stored response (its input and its answer), for previous_response_id */
  const stored = new Map<string, ChatTurn[]>();
  /** encrypted_content the mock handed out; one it did not is refused when it comes back, as OpenAI does */
  const issued = new Set<string>();
  const remember = <T>(set: { size: number; clear(): void }, add: () => T) => {
    if (set.size >= MEMORY) set.clear();
    return add();
  };

  scope.post('/v1/responses', async (req: FastifyRequest<{ Body: ResponsesBody }>, reply: FastifyReply) => {
    const body = req.body ?? {};
    state.record('openai', req);
    if (!body.model) return openaiError(reply, 400, 'Missing required parameter: model.', 'invalid_request_error', 'model', 'missing_required_parameter');
    if (body.input === undefined && !body.previous_response_id) {
      return openaiError(reply, 400, 'Missing required parameter: input.', 'invalid_request_error', 'input', 'missing_required_parameter');
    }
    const items: InputItem[] = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : Array.isArray(body.input) ? body.input : [];
    const turns: ChatTurn[] = body.instructions ? [{ role: 'system', text: body.instructions }] : [];
    if (body.previous_response_id) {
      const previous = stored.get(body.previous_response_id);
      if (!previous) {
        return openaiError(reply, 400, `Previous response with id '${body.previous_response_id}' not found.`, 'invalid_request_error', 'previous_response_id', 'previous_response_not_found');
      }
      turns.push(...previous.filter((t) => t.role !== 'system'));
    }
    for (const [i, item] of items.entries()) {
      if (item.type === 'reasoning' && item.encrypted_content != null && !issued.has(item.encrypted_content)) {
        return openaiError(reply, 400, `The encrypted content for item ${item.id ?? `input[${i}]`} could not be verified.`, 'invalid_request_error', `input[${i}].encrypted_content`, 'invalid_encrypted_content');
      }
      const turn = toTurn(item);
      if (turn) turns.push(turn);
    }

    const toolNames = (body.tools ?? []).filter((t) => t.type === 'function' && t.name).map((t) => t.name ?? '');
    const plan = planChat({ turns, toolNames, maxOutputTokens: body.max_output_tokens ?? undefined }, state);
    await waitLatency(plan);
    const status = forcedStatus(plan, reply);
    if (status) return openaiForcedError(reply, status);

    const reasoningAsked = body.reasoning != null && body.reasoning.effort !== 'none';
    const reasoningTokens = plan.directives.reasoningTokens !== undefined ? plan.reasoningTokens : reasoningAsked ? (EFFORT_TOKENS[body.reasoning?.effort ?? 'medium'] ?? EFFORT_TOKENS.medium) : 0;
    const id = `resp_${hexId()}`;
    const created = Math.floor(Date.now() / 1000);
    const { output } = plan;
    const truncated = output.kind === 'text' && output.truncated;

    const reasoning: OutputItem | null =
      reasoningAsked || reasoningTokens > 0
        ? {
            type: 'reasoning',
            id: `rs_${hexId()}`,
            summary: body.reasoning?.summary ? [{ type: 'summary_text', text: `Considered the request in ${reasoningTokens} tokens.` }] : [],
            ...(body.include?.includes('reasoning.encrypted_content') ? { encrypted_content: remember(issued, () => encrypted(issued)) } : {}),
          }
        : null;
    const answer: OutputItem =
      output.kind === 'tool_call'
        ? { type: 'function_call', id: `fc_${hexId()}`, call_id: `call_${hexId()}`, name: output.name, arguments: output.argumentsJson, status: 'completed' }
        : { type: 'message', id: `msg_${hexId()}`, status: truncated ? 'incomplete' : 'completed', role: 'assistant', content: [{ type: 'output_text', text: output.pieces.join(''), annotations: [], logprobs: [] }] };
    const usage = {
      input_tokens: plan.promptTokens,
      input_tokens_details: { cached_tokens: plan.cachedTokens },
      // as OpenAI does: output_tokens include the reasoning tokens, which are reported apart as well
      output_tokens: plan.outputTokens + reasoningTokens,
      output_tokens_details: { reasoning_tokens: reasoningTokens },
      total_tokens: plan.promptTokens + plan.outputTokens + reasoningTokens,
    };
    const envelope = (status: string, out: OutputItem[], withUsage: boolean) => ({
      id,
      object: 'response',
      created_at: created,
      status,
      error: null,
      incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
      instructions: body.instructions ?? null,
      max_output_tokens: body.max_output_tokens ?? null,
      model: body.model,
      output: out,
      parallel_tool_calls: true,
      previous_response_id: body.previous_response_id ?? null,
      reasoning: { effort: body.reasoning?.effort ?? null, summary: body.reasoning?.summary ?? null },
      store: body.store !== false,
      temperature: body.temperature ?? 1,
      text: body.text ?? { format: { type: 'text' } },
      tool_choice: body.tool_choice ?? 'auto',
      tools: body.tools ?? [],
      top_p: body.top_p ?? 1,
      truncation: 'disabled',
      usage: withUsage ? usage : null,
      user: body.user ?? null,
      metadata: body.metadata ?? {},
    });
    const final = truncated ? 'incomplete' : 'completed';
    const outputItems = reasoning ? [reasoning, answer] : [answer];
    if (body.store !== false) {
      const said = output.kind === 'tool_call' ? `${output.name} ${output.argumentsJson}` : output.pieces.join('');
      remember(stored, () => stored.set(id, [...turns, { role: 'assistant', text: said }]));
    }

    if (!body.stream) return envelope(final, outputItems, true);

    reply.hijack();
    const res = reply.raw;
    openStream(res);
    let seq = 0;
    const send = (type: string, data: object) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`);
    send('response.created', { response: envelope('in_progress', [], false) });
    send('response.in_progress', { response: envelope('in_progress', [], false) });
    if (reasoning) streamReasoning(send, reasoning);
    // [[mock:error_after=N]]: N pieces, then the failure OpenAI reports when overloaded
    const failed = () => {
      send('response.failed', { response: { ...envelope('failed', [], false), error: { code: 'server_error', message: 'The server is overloaded. Please try again later.' } } });
      res.end();
    };
    const alive = await streamAnswer(res, send, answer, reasoning ? 1 : 0, output.pieces, plan, failed);
    if (!alive) return;
    send(`response.${final}`, { response: envelope(final, outputItems, true) });
    res.end();
  });
}

/** Looks like OpenAI's (a Fernet token); only its being one the mock issued matters. */
function encrypted(issued: Set<string>): string {
  const token = `gAAAAAB${Buffer.from(hexId(48), 'hex').toString('base64')}`;
  issued.add(token);
  return token;
}

type Send = (type: string, data: object) => void;

function streamReasoning(send: Send, item: OutputItem): void {
  const summary = item.summary as Array<{ type: string; text: string }>;
  send('response.output_item.added', { output_index: 0, item: { type: 'reasoning', id: item.id, summary: [] } });
  summary.forEach((part, summary_index) => {
    const at = { item_id: item.id, output_index: 0, summary_index };
    send('response.reasoning_summary_part.added', { ...at, part: { type: 'summary_text', text: '' } });
    send('response.reasoning_summary_text.delta', { ...at, delta: part.text });
    send('response.reasoning_summary_text.done', { ...at, text: part.text });
    send('response.reasoning_summary_part.done', { ...at, part });
  });
  send('response.output_item.done', { output_index: 0, item });
}

/** The answer item's events, its pieces with the plan's chunk delay (and [[mock:fail_after=N]]). */
async function streamAnswer(res: ServerResponse, send: Send, item: OutputItem, output_index: number, all: readonly string[], plan: ChatPlan, failed: () => void): Promise<boolean> {
  const at = { item_id: item.id, output_index };
  const cut = plan.directives.errorAfterChunks;
  const pieces = cut !== undefined ? all.slice(0, cut) : all;
  const streamPieces = async (...args: Parameters<typeof streamAll>) => {
    const alive = await streamAll(...args);
    if (alive && cut !== undefined) {
      failed();
      return false;
    }
    return alive;
  };
  if (item.type === 'function_call') {
    send('response.output_item.added', { output_index, item: { ...item, arguments: '', status: 'in_progress' } });
    const alive = await streamPieces(res, pieces, plan, (delta) => send('response.function_call_arguments.delta', { ...at, delta }));
    if (!alive) return false;
    send('response.function_call_arguments.done', { ...at, arguments: item.arguments });
    send('response.output_item.done', { output_index, item });
    return true;
  }
  const part = (item.content as Array<{ text: string }>)[0];
  send('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', content: [] } });
  send('response.content_part.added', { ...at, content_index: 0, part: { ...part, text: '' } });
  const alive = await streamPieces(res, pieces, plan, (delta) => send('response.output_text.delta', { ...at, content_index: 0, delta, logprobs: [] }));
  if (!alive) return false;
  send('response.output_text.done', { ...at, content_index: 0, text: part.text, logprobs: [] });
  send('response.content_part.done', { ...at, content_index: 0, part });
  send('response.output_item.done', { output_index, item });
  return true;
}
