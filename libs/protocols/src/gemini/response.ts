import type { TokenUsage } from '@gateway/contracts';
import type { IRLogprob, IRPart, IRResponse, IRStopReason } from '../ir';
import { safeArgs } from '../anthropic/response';

export interface GeminiUsage {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  cachedContentTokenCount?: number;
  totalTokenCount?: number;
}

/** Gemini counts thoughts apart from candidates; the IR's output includes reasoning, as OpenAI's does. */
export function usageFromGemini(u: GeminiUsage | undefined): TokenUsage {
  const thoughts = u?.thoughtsTokenCount ?? 0;
  return {
    input_tokens: u?.promptTokenCount ?? 0,
    cached_input_tokens: u?.cachedContentTokenCount ?? 0,
    output_tokens: (u?.candidatesTokenCount ?? 0) + thoughts,
    reasoning_tokens: thoughts,
  };
}

export function usageToGemini(u: TokenUsage): GeminiUsage {
  const out: GeminiUsage = {
    promptTokenCount: u.input_tokens,
    candidatesTokenCount: u.output_tokens - u.reasoning_tokens,
    totalTokenCount: u.input_tokens + u.output_tokens,
  };
  if (u.reasoning_tokens) out.thoughtsTokenCount = u.reasoning_tokens;
  if (u.cached_input_tokens) out.cachedContentTokenCount = u.cached_input_tokens;
  return out;
}

export function stopFromGemini(reason: string | undefined, hasCalls: boolean): IRStopReason {
  if (hasCalls) return 'tool_calls';
  switch (reason) {
    case 'MAX_TOKENS':
      return 'length';
    case 'SAFETY':
    case 'RECITATION':
    case 'BLOCKLIST':
    case 'PROHIBITED_CONTENT':
    case 'SPII':
    case 'IMAGE_SAFETY':
      return 'content_filter';
    default:
      return 'stop';
  }
}

export function stopToGemini(r: IRStopReason): string {
  switch (r) {
    case 'length':
      return 'MAX_TOKENS';
    case 'content_filter':
      return 'SAFETY';
    default:
      return 'STOP';
  }
}

export interface GeminiPartOut {
  text?: string;
  thought?: boolean;
  /** Gemini 3 signs function calls (the first of each step) and must get the signature back with them */
  thoughtSignature?: string;
  functionCall?: { id?: string; name: string; args?: Record<string, unknown> };
}

interface LogprobsCandidate {
  token?: string;
  logProbability?: number;
}

/** Gemini's log probabilities: the chosen token of each step, and the top candidates of each step. */
export interface GeminiLogprobs {
  chosenCandidates?: LogprobsCandidate[];
  topCandidates?: Array<{ candidates?: LogprobsCandidate[] }>;
}

export function logprobsFromGemini(r: GeminiLogprobs | undefined): IRLogprob[] | undefined {
  if (!r?.chosenCandidates) return undefined;
  return r.chosenCandidates.map((c, i) => {
    const top = r.topCandidates?.[i]?.candidates;
    return { token: c.token ?? '', logprob: c.logProbability ?? 0, ...(top?.length ? { top: top.map((t) => ({ token: t.token ?? '', logprob: t.logProbability ?? 0 })) } : {}) };
  });
}

export function logprobsToGemini(items: IRLogprob[]): GeminiLogprobs {
  const out: GeminiLogprobs = { chosenCandidates: items.map((i) => ({ token: i.token, logProbability: i.logprob })) };
  if (items.some((i) => i.top)) out.topCandidates = items.map((i) => ({ candidates: (i.top ?? []).map((t) => ({ token: t.token, logProbability: t.logprob })) }));
  return out;
}

export interface GeminiChunk {
  candidates?: Array<{
    content?: { parts?: GeminiPartOut[]; role?: string };
    finishReason?: string;
    index?: number;
    groundingMetadata?: { webSearchQueries?: string[] };
    logprobsResult?: GeminiLogprobs;
  }>;
  usageMetadata?: GeminiUsage;
  modelVersion?: string;
  responseId?: string;
  error?: { message?: string };
}

export function geminiToIR(body: unknown): IRResponse {
  const b = body as GeminiChunk;
  const cand = b.candidates?.[0];
  const parts: IRPart[] = [];
  let n = 0;
  for (const p of cand?.content?.parts ?? []) {
    if (p.functionCall) {
      const id = p.functionCall.id ?? `call_${n++}_${p.functionCall.name}`;
      parts.push({ type: 'tool_call', id, name: p.functionCall.name, arguments: JSON.stringify(p.functionCall.args ?? {}), ...(p.thoughtSignature ? { signature: p.thoughtSignature } : {}) });
    }
    else if (typeof p.text === 'string') parts.push(p.thought ? { type: 'thinking', text: p.text } : { type: 'text', text: p.text });
  }
  const logprobs = logprobsFromGemini(cand?.logprobsResult);
  return {
    id: b.responseId ?? '',
    model: b.modelVersion ?? '',
    ...(logprobs ? { logprobs } : {}),
    parts,
    stop_reason: stopFromGemini(cand?.finishReason, parts.some((p) => p.type === 'tool_call')),
    usage: withSearches(usageFromGemini(b.usageMetadata), searchesOf(b)),
  };
}

/** Web searches a grounded answer ran (grounding with Google Search is billed per search query). */
export function searchesOf(chunk: GeminiChunk): number {
  return chunk.candidates?.[0]?.groundingMetadata?.webSearchQueries?.length ?? 0;
}

export function withSearches(u: TokenUsage, searches: number): TokenUsage {
  return searches > 0 ? { ...u, web_searches: searches } : u;
}

// Arguments cut off by the output bound (MAX_TOKENS mid-call from another style's upstream) are not JSON:
// the call still goes out, its text under `_raw`, with the MAX_TOKENS finish saying why; the call is paid for.
export function irToGemini(ir: IRResponse, model: string): GeminiChunk {
  const parts: GeminiPartOut[] = [];
  for (const p of ir.parts) {
    if (p.type === 'text') parts.push({ text: p.text });
    else if (p.type === 'thinking') parts.push({ text: p.text, thought: true });
    else if (p.type === 'tool_call') parts.push({ functionCall: { id: p.id, name: p.name, args: safeArgs(p.arguments) }, ...(p.signature ? { thoughtSignature: p.signature } : {}) });
  }
  return {
    candidates: [
      {
        content: { parts: parts.length ? parts : [{ text: '' }], role: 'model' },
        finishReason: stopToGemini(ir.stop_reason),
        index: 0,
        ...(ir.logprobs ? { logprobsResult: logprobsToGemini(ir.logprobs) } : {}),
      },
    ],
    usageMetadata: usageToGemini(ir.usage),
    modelVersion: model,
    responseId: ir.id,
  };
}
