import { DomainError, tokenEstimateMicros, toSafeNumber, type ModelView } from '@gateway/contracts';
import { thinkingWithin, type ClientStyle } from '@gateway/protocols';

// What one conversational call may cost, read from the client's own body (whether or not it translates),
// and the bound the upstream is then sent so that it cannot produce more than the hold covers.

const positiveInt = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** Gemini's REST surface takes snake_case field names as well as camelCase. */
function geminiConfig(raw: Record<string, unknown>): Record<string, unknown> | undefined {
  return obj(raw.generationConfig) ?? obj(raw.generation_config);
}

/** The output bound the client asked for, in its style's own field, if any. */
export function clientOutputBound(style: ClientStyle, raw: Record<string, unknown>): number | undefined {
  switch (style) {
    case 'openai':
      return positiveInt(raw.max_completion_tokens) ?? positiveInt(raw.max_tokens);
    case 'responses':
      return positiveInt(raw.max_output_tokens);
    case 'anthropic':
      return positiveInt(raw.max_tokens);
    case 'gemini': {
      const gc = geminiConfig(raw);
      return positiveInt(gc?.maxOutputTokens) ?? positiveInt(gc?.max_output_tokens);
    }
  }
}

/**
 * The bound the call runs under: the client's own, never above the model's output limit; the model's
 * limit when the client gave none; the configured default when the model has no limit either.
 */
export function outputBound(clientBound: number | undefined, model: ModelView, fallback: number): number {
  const limit = model.limits.max_output_tokens;
  const bound = clientBound ?? limit ?? fallback;
  return limit !== undefined ? Math.min(bound, limit) : bound;
}

/** A pass-through body (in the client's own style) with the bound written into the field the upstream reads (the client's own when it gave one). */
export function withOutputBound(style: ClientStyle, body: Record<string, unknown>, bound: number): Record<string, unknown> {
  switch (style) {
    case 'openai':
      // the client's own field is kept (some OpenAI-compatible servers read only max_tokens); the current one otherwise
      if (body.max_completion_tokens == null && body.max_tokens != null) return { ...body, max_tokens: bound };
      return { ...body, max_completion_tokens: bound };
    case 'responses':
      // reasoning tokens count against it too, so it bounds everything the call is billed for as output
      return { ...body, max_output_tokens: bound };
    case 'anthropic':
      // a thinking budget must stay below max_tokens
      return thinkingWithin({ ...body, max_tokens: bound }, bound);
    case 'gemini': {
      const snake = body.generationConfig === undefined && obj(body.generation_config) !== undefined;
      const gc = { ...(geminiConfig(body) ?? {}) };
      delete gc.max_output_tokens;
      gc.maxOutputTokens = bound;
      return snake ? { ...body, generation_config: gc } : { ...body, generationConfig: gc };
    }
  }
}

/**
 * How many answers the call asks for (OpenAI's `n`, Gemini's `candidateCount`), each up to the bound: such a
 * body passes through to a native upstream only, and its hold covers every answer.
 */
export function outputChoices(style: ClientStyle, raw: Record<string, unknown>): number {
  if (style === 'openai') return positiveInt(raw.n) ?? 1;
  if (style === 'gemini') {
    const gc = geminiConfig(raw);
    return positiveInt(gc?.candidateCount) ?? positiveInt(gc?.candidate_count) ?? 1;
  }
  return 1;
}

/**
 * Input the internal form leaves out but a pass-through upstream reads, for the hold's estimate: the
 * Responses API's reasoning items carried back from earlier turns (their encrypted content is billed as input).
 */
export function opaqueInputTexts(style: ClientStyle, raw: Record<string, unknown>): string[] {
  if (style !== 'responses' || !Array.isArray(raw.input)) return [];
  return raw.input.filter((item) => obj(item)?.type === 'reasoning').map((item) => JSON.stringify(item));
}

/** What the body asks of the upstream beyond plain tokens, found by one walk over it. */
export interface BodyScan {
  /** documents and files referenced by id or URL, or PDFs inline: their size in tokens is not known here */
  documents: number;
  /** the longest prompt-cache TTL the body asks for (Anthropic cache_control) */
  cacheWrites?: '5m' | '1h';
  /** the field naming input the upstream keeps (a stored Responses conversation or prompt): its size is not known here */
  storedInput?: string;
}

// a Gemini cached context (cachedContent) is input too, billed at the cached rate, of a size not known here
const STORED_INPUT_KEYS = ['previous_response_id', 'conversation', 'prompt', 'cachedContent', 'cached_content'];

const DOC_KEYS = new Set(['fileData', 'file_data', 'file_id', 'file_url']);

export function scanBody(raw: unknown): BodyScan {
  const scan: BodyScan = { documents: 0 };
  const top = obj(raw);
  scan.storedInput = STORED_INPUT_KEYS.find((k) => top?.[k] != null);
  const walk = (v: unknown, depth: number): void => {
    if (depth > 12 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x, depth + 1);
      return;
    }
    const o = v as Record<string, unknown>;
    if (o.type === 'document' || o.type === 'input_file' || (o.type === 'file' && obj(o.file))) scan.documents++;
    for (const k of Object.keys(o)) {
      if (k === 'cache_control') {
        const ttl = obj(o[k])?.ttl;
        scan.cacheWrites = ttl === '1h' || scan.cacheWrites === '1h' ? '1h' : '5m';
      } else if (DOC_KEYS.has(k) && o.type !== 'document' && o.type !== 'input_file' && o.type !== 'file') {
        scan.documents++;
      } else if ((k === 'inlineData' || k === 'inline_data') && /pdf|text\//.test(String(obj(o[k])?.mimeType ?? obj(o[k])?.mime_type ?? ''))) {
        scan.documents++;
      } else {
        walk(o[k], depth + 1);
      }
    }
  };
  walk(raw, 0);
  return scan;
}

/**
 * The hold of a call: input at the dearest rate it may be billed (a cache write when asked for), output
 * at its bound, and priced server-side searches at their cap. A referenced document, or a conversation the
 * upstream stored (`previous_response_id`), may be as long as the model's context window, so its input is
 * priced at that; a model without a context limit cannot price one, and the call is refused rather than held short.
 */
export function callEstimateMicros(model: ModelView, inputEstimate: number, bound: number, scan: BodyScan, searches: number): number {
  let input = inputEstimate;
  if (scan.documents > 0 || scan.storedInput) {
    const context = model.limits.context_tokens;
    if (context === undefined) {
      if (scan.documents === 0) {
        const field = scan.storedInput!;
        throw new DomainError('invalid_request', `${field}: input stored upstream may be as long as the context window, which model ${model.id} cannot price: it has no context limit in the registry`, field);
      }
      throw new DomainError('invalid_request', `this request references a document or file, which model ${model.id} cannot price: it has no context limit in the registry`, 'messages');
    }
    input = Math.max(input, context);
  }
  const tokens = tokenEstimateMicros(model.pricing, input, bound, scan.cacheWrites);
  return toSafeNumber(BigInt(tokens) + BigInt(searches) * BigInt(model.pricing.per_web_search_micros ?? 0));
}

/** Web searches a request may run when the model prices them: each search tool's max_uses, else this many. */
export const DEFAULT_SEARCH_CAP = 5;

/**
 * Features the upstream bills beyond tokens. One the model's pricing does not cover is refused (400 naming
 * the field), never served at the token rate; a priced search tool returns how many searches to hold for.
 */
export function pricedFeatures(style: ClientStyle, raw: Record<string, unknown>, model: ModelView): { searches: number } {
  const tier = raw.service_tier;
  if ((style === 'openai' || style === 'responses' || style === 'anthropic') && typeof tier === 'string' && !['auto', 'default', 'standard_only'].includes(tier)) {
    throw new DomainError('invalid_request', `service_tier "${tier}" is billed at another rate, which model ${model.id} has no price for; omit it or use "auto"`, 'service_tier');
  }
  const searchPrice = model.pricing.per_web_search_micros;
  let searches = 0;
  const search = (param: string, cap: number | undefined) => {
    if (searchPrice === undefined) {
      throw new DomainError('invalid_request', `${param}: web search is billed per search, which model ${model.id} has no price for`, param);
    }
    searches += cap ?? DEFAULT_SEARCH_CAP;
  };
  if (style === 'openai' && raw.web_search_options !== undefined) search('web_search_options', 1);
  const tools = Array.isArray(raw.tools) ? raw.tools : [];
  tools.forEach((t, i) => {
    const tool = obj(t);
    if (!tool) return;
    const type = typeof tool.type === 'string' ? tool.type : '';
    if (style === 'anthropic') {
      if (type.startsWith('web_search')) search(`tools[${i}]`, positiveInt(tool.max_uses));
      else if (type.startsWith('web_fetch') || type.startsWith('code_execution')) {
        throw new DomainError('invalid_request', `tools[${i}]: the server tool ${type} is billed beyond tokens, which model ${model.id} has no price for`, `tools[${i}]`);
      }
    } else if (style === 'responses') {
      if (type.startsWith('web_search')) search(`tools[${i}]`, 1);
      else if (type === 'file_search' || type === 'code_interpreter' || type === 'image_generation') {
        throw new DomainError('invalid_request', `tools[${i}]: the hosted tool ${type} is billed beyond tokens, which model ${model.id} has no price for`, `tools[${i}]`);
      }
    } else if (style === 'gemini') {
      for (const k of ['googleSearch', 'google_search', 'googleSearchRetrieval', 'google_search_retrieval']) {
        if (tool[k] !== undefined) search(`tools[${i}].${k}`, undefined);
      }
    }
  });
  return { searches };
}
