import type { ServerResponse } from 'node:http';
import { randomHex } from '@gateway/contracts';
import { mockTokens, parseDirectives, replyPieces, sleep, stripDirectives, type Directives } from './directives';
import type { MockState } from './state';

// The one chat "model" behind all three providers: each provider's routes turn their request into
// ChatTurns, ask planChat what to answer, and render the plan in their own wire format.

/** One message of the conversation, reduced to what the mock model looks at. */
export interface ChatTurn {
  role: 'system' | 'user' | 'assistant' | 'tool';
  /** text parts joined, plus the text of any tool result; this is what is tokenised */
  text: string;
  /** present when the turn carries a tool result (OpenAI role tool, Anthropic tool_result, Gemini functionResponse) */
  toolResult?: string;
}

export interface ChatRequest {
  /** the system prompt, when any, is the first turn */
  turns: ChatTurn[];
  /** names of the declared tools, in declaration order */
  toolNames: string[];
  maxOutputTokens?: number;
}

export interface TextOutput {
  kind: 'text';
  /** one piece per output token; the reply is pieces.join('') */
  pieces: string[];
  /** the reply was cut by the output token limit */
  truncated: boolean;
}

export interface ToolCallOutput {
  kind: 'tool_call';
  name: string;
  args: Record<string, unknown>;
  argumentsJson: string;
  /** argumentsJson in the pieces a stream sends */
  pieces: string[];
}

export interface ChatPlan {
  directives: Directives;
  promptTokens: number;
  /** prompt tokens reported as read from cache; at most promptTokens */
  cachedTokens: number;
  /** prompt tokens reported as written to the cache (5-minute and 1-hour TTL); with cachedTokens at most promptTokens */
  cacheWriteTokens: number;
  cacheWrite1hTokens: number;
  /** visible output tokens (the pieces of a text answer) */
  outputTokens: number;
  /** tokens the model spent reasoning before it answered; billed as output on top of outputTokens */
  reasoningTokens: number;
  output: TextOutput | ToolCallOutput;
  latencyMs: number;
  chunkDelayMs: number;
}

export const TOOL_ARG_PIECE_CHARS = 8;

/** prompt tokens = sum over turns of (tokens(text) + 4) + 3 */
export function countPromptTokens(turns: readonly ChatTurn[]): number {
  return turns.reduce((n, t) => n + mockTokens(t.text) + 4, 3);
}

export function planChat(req: ChatRequest, state: MockState): ChatPlan {
  const d = parseDirectives(req.turns.map((t) => t.text).join('\n'));
  const promptTokens = countPromptTokens(req.turns);
  const last = req.turns.at(-1);
  const lastUser = [...req.turns].reverse().find((t) => t.role === 'user' && t.toolResult === undefined);
  const prompt = stripDirectives(lastUser?.text ?? '');

  let output: TextOutput | ToolCallOutput;
  if (req.toolNames.length > 0 && last?.role === 'user' && last.toolResult === undefined) {
    const args = d.toolArgs ?? { query: prompt.slice(0, 40) };
    const argumentsJson = JSON.stringify(args);
    output = { kind: 'tool_call', name: req.toolNames[0], args, argumentsJson, pieces: splitEvery(argumentsJson, TOOL_ARG_PIECE_CHARS) };
  } else {
    const text =
      d.reply ??
      (last?.toolResult !== undefined
        ? `Tool result received: ${last.toolResult.slice(0, 80)}`
        : `This is a deterministic mock reply to: ${prompt.slice(0, 80)}`);
    let pieces = replyPieces(text);
    let truncated = false;
    if (req.maxOutputTokens !== undefined && pieces.length > req.maxOutputTokens) {
      pieces = pieces.slice(0, req.maxOutputTokens);
      truncated = true;
    }
    output = { kind: 'text', pieces, truncated };
  }
  const outputTokens = output.kind === 'text' ? output.pieces.length : mockTokens(output.name + output.argumentsJson);
  const cachedTokens = Math.min(d.cachedTokens ?? 0, promptTokens);
  const cacheWriteTokens = Math.min(d.cacheWriteTokens ?? 0, promptTokens - cachedTokens);
  const cacheWrite1hTokens = Math.min(d.cacheWrite1hTokens ?? 0, promptTokens - cachedTokens - cacheWriteTokens);
  return {
    directives: d,
    promptTokens,
    cachedTokens,
    cacheWriteTokens,
    cacheWrite1hTokens,
    outputTokens,
    reasoningTokens: Math.max(0, Math.floor(d.reasoningTokens ?? 0)),
    output,
    latencyMs: d.latencyMs ?? state.latencyMs,
    chunkDelayMs: d.chunkDelayMs ?? state.chunkDelayMs,
  };
}

/**
 * The status a [[mock:status=N]] directive forces, when it is an error status; with [[mock:retry_after=S]]
 * the answer also carries `retry-after: S`, as a real rate limit or overload does.
 */
export function forcedStatus(plan: ChatPlan, reply?: { header(name: string, value: string): unknown }): number | undefined {
  const s = plan.directives.status;
  const forced = s !== undefined && Number.isInteger(s) && s >= 400 && s <= 599 ? s : undefined;
  if (forced && reply && plan.directives.retryAfter !== undefined) reply.header('retry-after', String(plan.directives.retryAfter));
  return forced;
}

export async function waitLatency(plan: ChatPlan): Promise<void> {
  if (plan.latencyMs > 0) await sleep(plan.latencyMs);
}

export function splitEvery(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

export const hexId = (bytes = 12): string => randomHex(bytes);

/** Takes the response over from Fastify and starts a streamed 200 answer. */
export function openStream(res: ServerResponse, contentType = 'text/event-stream; charset=utf-8'): void {
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache', connection: 'keep-alive' });
}

/**
 * Sends each piece with the plan's chunk delay. With [[mock:fail_after=N]] the connection drops before
 * piece N, as a real upstream dying mid-stream: what was sent arrives (flushed behind `flush`), then the
 * socket closes without a proper end. Returns false when the stream is gone and the caller must stop.
 */
export async function streamPieces(
  res: ServerResponse,
  pieces: readonly string[],
  plan: ChatPlan,
  send: (piece: string, index: number) => void,
  flush = ': flush\n\n',
  /** the provider's own mid-stream error event, sent at [[mock:error_after=N]] before the stream ends */
  errorFrame?: string,
): Promise<boolean> {
  for (let i = 0; i < pieces.length; i++) {
    if (res.destroyed) return false;
    if (errorFrame !== undefined && plan.directives.errorAfterChunks !== undefined && i >= plan.directives.errorAfterChunks) {
      res.end(errorFrame);
      return false;
    }
    if (plan.directives.failAfterChunks !== undefined && i >= plan.directives.failAfterChunks) {
      res.write(flush, () => res.destroy());
      return false;
    }
    if (plan.chunkDelayMs > 0) await sleep(plan.chunkDelayMs);
    send(pieces[i], i);
  }
  return !res.destroyed;
}
