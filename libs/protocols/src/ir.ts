// The internal form every API style translates to and from. Requests, responses and stream events of
// OpenAI Chat, the Responses API, Anthropic Messages and Gemini all map onto these few types, so each
// style needs one decoder and one encoder instead of one translator per pair.
import type { TokenUsage } from '@gateway/contracts';

export type IRStopReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'stop_sequence';

export type IRPart =
  | { type: 'text'; text: string }
  | IRImage
  | IRDocument
  /** signature: Gemini's thoughtSignature of the call, returned with it on later turns (see signatures.ts) */
  | { type: 'tool_call'; id: string; name: string; arguments: string; signature?: string }
  /** media: images and documents the tool returned beside its text (a screenshot, a PDF it read) */
  | { type: 'tool_result'; tool_call_id: string; name?: string; content: string; is_error?: boolean; media?: IRMedia[] }
  | { type: 'thinking'; text: string; signature?: string };

export interface IRImage {
  type: 'image';
  url?: string;
  data?: string;
  mime_type?: string;
}

/**
 * A document the model reads (a PDF, a plain text): inline as base64 `data`, by `url`, or as its `text` (a
 * plain-text document, which every upstream can read as text). Anthropic `document` blocks, OpenAI `file`
 * parts, Gemini `inlineData` / `fileData` whose MIME type is not an image's.
 */
export interface IRDocument {
  type: 'document';
  mime_type: string;
  data?: string;
  url?: string;
  text?: string;
  /** Anthropic's title, OpenAI's filename */
  title?: string;
}

export type IRMedia = IRImage | IRDocument;

/** One output token's log probability, with the likeliest alternatives when asked for (OpenAI's logprobs, Gemini's logprobsResult). */
export interface IRLogprob {
  token: string;
  logprob: number;
  top?: Array<{ token: string; logprob: number }>;
}

export interface IRMessage {
  role: 'user' | 'assistant';
  parts: IRPart[];
}

export interface IRTool {
  name: string;
  description?: string;
  /** JSON Schema of the arguments */
  parameters: Record<string, unknown>;
  /**
   * The client's own kind of tool this function stands for (the Responses API's freeform `custom` tools and
   * `local_shell`), so that the client's encoder gives the model's calls of it back as that kind's items.
   */
  origin?: 'custom' | 'local_shell';
}

export type IRToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** How hard the model should think, in the vocabulary of every style (OpenAI's efforts, Anthropic's `max`). */
export type IREffort = 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh' | 'max';

/** The client's reasoning controls; each upstream maps the effort to a budget or the budget to an effort. */
export interface IRReasoning {
  /** 'none' turns thinking off; absent, the budget says, else the model decides */
  effort?: IREffort;
  /** tokens the model may think for (Anthropic budget_tokens, Gemini thinkingBudget): 0 off, -1 dynamic */
  budget_tokens?: number;
  /** the client wants the thinking (or its summary) in the answer */
  include_thoughts?: boolean;
}

export interface IRRequest {
  model: string;
  system?: string;
  messages: IRMessage[];
  tools?: IRTool[];
  /**
   * The provider's own server-side web search, asked for by the client (a Responses `web_search` tool, an
   * Anthropic `web_search_*` server tool, Gemini `googleSearch`): each upstream runs its own, billed per search.
   */
  web_search?: { max_uses?: number };
  tool_choice?: IRToolChoice;
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  /** JSON mode: any JSON object, or one matching a schema */
  response_format?: { type: 'json_object' } | { type: 'json_schema'; name: string; schema: Record<string, unknown>; strict?: boolean };
  stream: boolean;
  /** the client asked to see usage in the stream (OpenAI's stream_options.include_usage) */
  stream_usage?: boolean;
  user?: string;
  reasoning?: IRReasoning;
  /** sample from the k likeliest tokens (Anthropic top_k, Gemini topK); OpenAI has no such control and goes without */
  top_k?: number;
  /** a best-effort determinism hint (OpenAI seed, Gemini generationConfig.seed); Anthropic has none and goes without */
  seed?: number;
  /** false: at most one tool call per turn (OpenAI parallel_tool_calls, Anthropic disable_parallel_tool_use) */
  parallel_tool_calls?: boolean;
  /** return each output token's log probability, and top_logprobs alternatives (OpenAI logprobs, Gemini responseLogprobs) */
  logprobs?: boolean;
  top_logprobs?: number;
  /** Gemini's per-category safety thresholds: carried to Gemini upstreams, no counterpart elsewhere */
  safety_settings?: Array<Record<string, unknown>>;
  /** a Gemini cached context (`cachedContents/…`), stored at Google: only a Gemini upstream can read it */
  cached_content?: string;
  /**
   * The client keeps the reasoning to send it back next turn (the Responses API's `include:
   * ["reasoning.encrypted_content"]`): its answer carries each thinking block with its signature.
   */
  encrypted_reasoning?: boolean;
}

export interface IRResponse {
  id: string;
  model: string;
  parts: IRPart[];
  stop_reason: IRStopReason;
  usage: TokenUsage;
  /** the answer's tokens' log probabilities, when the request asked for them */
  logprobs?: IRLogprob[];
}

/** Stream events, in order: start, then content events, then finish and usage (either order), then end. */
export type IREvent =
  | { type: 'start'; id: string; model: string }
  /** logprobs: those of this piece's tokens, when the request asked for them */
  | { type: 'text'; text: string; logprobs?: IRLogprob[] }
  /** signature: the upstream's seal on the thinking block so far (Anthropic's signature_delta), sent as it ends */
  | { type: 'thinking'; text: string; signature?: string }
  | { type: 'tool_call_start'; index: number; id: string; name: string; signature?: string }
  | { type: 'tool_call_args'; index: number; delta: string }
  | { type: 'finish'; stop_reason: IRStopReason }
  | { type: 'usage'; usage: TokenUsage };

export const ZERO_USAGE: TokenUsage = { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0 };

/** A request field the target cannot express: the caller answers 400 naming it, never drops it silently. */
export class UnsupportedFeatureError extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

/** A malformed request body: 400 naming the field. */
export class InvalidRequestError extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

/** The text a model reads in a request, for local token estimates. */
export function irRequestTexts(req: IRRequest): string[] {
  const out: string[] = [];
  if (req.system) out.push(req.system);
  for (const m of req.messages) {
    out.push(
      m.parts
        .map((p) => {
          switch (p.type) {
            case 'text':
            case 'thinking':
              return p.text;
            case 'tool_call':
              return `${p.name} ${p.arguments}`;
            case 'tool_result':
              return [p.content, ...(p.media ?? []).map(mediaText)].join('\n');
            case 'image':
            case 'document':
              return mediaText(p);
          }
        })
        .join('\n'),
    );
  }
  for (const t of req.tools ?? []) out.push(`${t.name} ${t.description ?? ''} ${JSON.stringify(t.parameters)}`);
  return out;
}

/**
 * An image costs the model hundreds of tokens: bound it generously for the hold. A document's text is read
 * as it is; an inline or linked one is priced at the model's context window from the raw body (call-bounds.ts).
 */
function mediaText(p: IRMedia): string {
  return p.type === 'image' ? 'x'.repeat(3 * 1500) : (p.text ?? '');
}

/** Collects a stream of IR events into the response it amounts to (for tests and non-stream fallbacks). */
export class IRAccumulator {
  id = '';
  model = '';
  stop_reason: IRStopReason = 'stop';
  usage: TokenUsage = { ...ZERO_USAGE };
  readonly parts: IRPart[] = [];
  logprobs: IRLogprob[] | undefined;
  private readonly calls = new Map<number, Extract<IRPart, { type: 'tool_call' }>>();

  push(ev: IREvent): void {
    switch (ev.type) {
      case 'start':
        this.id = ev.id;
        this.model = ev.model;
        break;
      case 'text': {
        const last = this.parts[this.parts.length - 1];
        if (last?.type === 'text') last.text += ev.text;
        else this.parts.push({ type: 'text', text: ev.text });
        if (ev.logprobs) this.logprobs = [...(this.logprobs ?? []), ...ev.logprobs];
        break;
      }
      case 'thinking': {
        // a signed block is whole: thinking after it is a new block
        const last = this.parts[this.parts.length - 1];
        if (last?.type === 'thinking' && !last.signature) last.text += ev.text;
        else this.parts.push({ type: 'thinking', text: ev.text });
        if (ev.signature) (this.parts[this.parts.length - 1] as Extract<IRPart, { type: 'thinking' }>).signature = ev.signature;
        break;
      }
      case 'tool_call_start': {
        const call: Extract<IRPart, { type: 'tool_call' }> = { type: 'tool_call', id: ev.id, name: ev.name, arguments: '', ...(ev.signature ? { signature: ev.signature } : {}) };
        this.calls.set(ev.index, call);
        this.parts.push(call);
        break;
      }
      case 'tool_call_args': {
        const call = this.calls.get(ev.index);
        if (call) call.arguments += ev.delta;
        break;
      }
      case 'finish':
        this.stop_reason = ev.stop_reason;
        break;
      case 'usage':
        this.usage = ev.usage;
        break;
    }
  }

  response(): IRResponse {
    return { id: this.id, model: this.model, parts: this.parts, stop_reason: this.stop_reason, usage: this.usage, ...(this.logprobs ? { logprobs: this.logprobs } : {}) };
  }
}
