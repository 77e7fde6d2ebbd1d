// The internal form every API style translates to and from. Requests, responses and stream events of
// OpenAI Chat, the Responses API, Anthropic Messages and Gemini all map onto these few types, so each
// style needs one decoder and one encoder instead of one translator per pair.
import type { TokenUsage } from '@gateway/contracts';

export type IRStopReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'stop_sequence';

export type IRPart =
  | { type: 'text'; text: string }
  | { type: 'image'; url?: string; data?: string; mime_type?: string }
  /** signature: Gemini's thoughtSignature of the call, returned with it on later turns (see signatures.ts) */
  | { type: 'tool_call'; id: string; name: string; arguments: string; signature?: string }
  | { type: 'tool_result'; tool_call_id: string; name?: string; content: string; is_error?: boolean }
  | { type: 'thinking'; text: string; signature?: string };

export interface IRMessage {
  role: 'user' | 'assistant';
  parts: IRPart[];
}

export interface IRTool {
  name: string;
  description?: string;
  /** JSON Schema of the arguments */
  parameters: Record<string, unknown>;
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
}

export interface IRResponse {
  id: string;
  model: string;
  parts: IRPart[];
  stop_reason: IRStopReason;
  usage: TokenUsage;
}

/** Stream events, in order: start, then content events, then finish and usage (either order), then end. */
export type IREvent =
  | { type: 'start'; id: string; model: string }
  | { type: 'text'; text: string }
  | { type: 'thinking'; text: string }
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
              return p.content;
            case 'image':
              // an image costs the model hundreds of tokens; bound it generously for the hold
              return 'x'.repeat(3 * 1500);
          }
        })
        .join('\n'),
    );
  }
  for (const t of req.tools ?? []) out.push(`${t.name} ${t.description ?? ''} ${JSON.stringify(t.parameters)}`);
  return out;
}

/** Collects a stream of IR events into the response it amounts to (for tests and non-stream fallbacks). */
export class IRAccumulator {
  id = '';
  model = '';
  stop_reason: IRStopReason = 'stop';
  usage: TokenUsage = { ...ZERO_USAGE };
  readonly parts: IRPart[] = [];
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
        break;
      }
      case 'thinking': {
        const last = this.parts[this.parts.length - 1];
        if (last?.type === 'thinking') last.text += ev.text;
        else this.parts.push({ type: 'thinking', text: ev.text });
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
    return { id: this.id, model: this.model, parts: this.parts, stop_reason: this.stop_reason, usage: this.usage };
  }
}
