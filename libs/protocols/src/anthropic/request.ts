import { z } from 'zod';
import { InvalidRequestError, UnsupportedFeatureError, type IRDocument, type IRMedia, type IRMessage, type IREffort, type IRPart, type IRReasoning, type IRRequest, type IRToolChoice } from '../ir';
import { parseRequest } from '../zod-path';
import { EFFORT_BUDGET, reasoningBudget } from '../reasoning';
import { splitToolId } from '../signatures';

const block = z.looseObject({ type: z.string() });
const schema = z
  .object({
    model: z.string().min(1),
    max_tokens: z.number().int().positive(),
    messages: z.array(z.object({ role: z.enum(['user', 'assistant']), content: z.union([z.string(), z.array(block)]) }).loose()).min(1),
    system: z.union([z.string(), z.array(block)]).optional(),
    stream: z.boolean().optional(),
    temperature: z.number().min(0).max(1).optional(),
    top_p: z.number().min(0).max(1).optional(),
    top_k: z.number().int().nonnegative().optional(),
    stop_sequences: z.array(z.string()).optional(),
    tools: z.array(z.looseObject({ name: z.string().min(1) })).optional(),
    tool_choice: z.looseObject({ type: z.enum(['auto', 'any', 'tool', 'none']), name: z.string().optional() }).optional(),
    metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
    thinking: z.looseObject({ type: z.string(), budget_tokens: z.number().int().min(1024).optional(), display: z.string().nullish() }).optional(),
    output_config: z.looseObject({ effort: z.string().nullish(), format: z.looseObject({ type: z.string(), schema: z.record(z.string(), z.unknown()).optional() }).nullish() }).optional(),
  })
  .loose();

const UNTRANSLATABLE = ['container', 'mcp_servers', 'service_tier'];

/**
 * The tool a JSON answer is asked for as, where the model has no structured outputs (before Claude 4.5) or
 * the client wants any JSON object: its call is forced, and the decoders give its input back as the text.
 */
export const JSON_TOOL = 'gateway_json_answer';

interface Block {
  type: string;
  text?: string;
  source?: { type: string; media_type?: string; data?: string; url?: string; content?: string | Block[] };
  title?: string | null;
  context?: string | null;
  citations?: { enabled?: boolean } | null;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: string | Block[];
  is_error?: boolean;
  thinking?: string;
  signature?: string;
}

function blockText(content: string | Block[] | undefined): string {
  if (typeof content === 'string') return content;
  return (content ?? []).map((b) => (b.type === 'text' ? (b.text ?? '') : '')).join('');
}

function imagePart(b: Block, at: string): IRMedia {
  if (b.source?.type === 'base64') return { type: 'image', mime_type: b.source.media_type, data: b.source.data };
  if (b.source?.type === 'url') return { type: 'image', url: b.source.url };
  throw new UnsupportedFeatureError(`${at}.source.type`, `image source '${b.source?.type}' cannot be translated`);
}

/**
 * A document block: a PDF inline or by URL, a plain text, or content blocks of text. A file of Anthropic's
 * Files API is readable there only; citations are Anthropic's own answer format.
 */
function documentPart(b: Block, at: string): IRDocument {
  if (b.citations?.enabled) throw new UnsupportedFeatureError(`${at}.citations`, "document citations cannot be translated for this model's upstream");
  if (b.context) throw new UnsupportedFeatureError(`${at}.context`, "a document's context cannot be translated for this model's upstream");
  const title = b.title ? { title: b.title } : {};
  const s = b.source;
  switch (s?.type) {
    case 'base64':
      return { type: 'document', mime_type: s.media_type ?? 'application/pdf', data: s.data ?? '', ...title };
    case 'url':
      return { type: 'document', mime_type: 'application/pdf', url: s.url ?? '', ...title };
    case 'text':
      return { type: 'document', mime_type: s.media_type ?? 'text/plain', text: s.data ?? '', ...title };
    case 'content': {
      const blocks = typeof s.content === 'string' ? [{ type: 'text', text: s.content }] : (s.content ?? []);
      if (blocks.some((c) => c.type !== 'text')) throw new UnsupportedFeatureError(`${at}.source.content`, "a document of images cannot be translated for this model's upstream");
      return { type: 'document', mime_type: 'text/plain', text: blockText(blocks), ...title };
    }
    default:
      throw new UnsupportedFeatureError(`${at}.source.type`, `document source '${s?.type}' cannot be translated for this model's upstream`);
  }
}

/** A tool_result's content: its text, and the images and documents beside it. */
function toolResultPart(b: Block, at: string): IRPart {
  const blocks = typeof b.content === 'string' ? [] : (b.content ?? []);
  const media = blocks
    .map((c, k): IRMedia | null => {
      if (c.type === 'text') return null;
      if (c.type === 'image') return imagePart(c, `${at}.content[${k}]`);
      if (c.type === 'document') return documentPart(c, `${at}.content[${k}]`);
      throw new UnsupportedFeatureError(`${at}.content[${k}].type`, `tool_result content of type '${c.type}' cannot be translated for this model's upstream`);
    })
    .filter((m): m is IRMedia => m !== null);
  return { type: 'tool_result', tool_call_id: splitToolId(b.tool_use_id ?? '').id, content: blockText(b.content), is_error: b.is_error, ...(media.length ? { media } : {}) };
}

function toPart(b: Block, at: string, role: 'user' | 'assistant'): IRPart | null {
  switch (b.type) {
    case 'text':
      return { type: 'text', text: b.text ?? '' };
    case 'image':
      return imagePart(b, at);
    case 'document':
      return documentPart(b, at);
    case 'tool_use': {
      if (role !== 'assistant') throw new InvalidRequestError(`${at}.type`, 'tool_use blocks belong to assistant messages');
      const { id, signature } = splitToolId(b.id ?? '');
      return { type: 'tool_call', id, name: b.name ?? '', arguments: JSON.stringify(b.input ?? {}), ...(signature ? { signature } : {}) };
    }
    case 'tool_result':
      return toolResultPart(b, at);
    case 'thinking':
      return { type: 'thinking', text: b.thinking ?? '', signature: b.signature };
    case 'redacted_thinking':
      return null;
    default:
      throw new UnsupportedFeatureError(`${at}.type`, `content block type '${b.type}' cannot be translated for this model's upstream`);
  }
}

/** Anthropic Messages request -> IR. */
export function messagesToIR(raw: unknown): IRRequest {
  const req = parseRequest(schema, raw);
  for (const f of UNTRANSLATABLE) {
    if ((req as Record<string, unknown>)[f] !== undefined) throw new UnsupportedFeatureError(f, `'${f}' cannot be translated for this model's upstream`);
  }
  const messages: IRMessage[] = [];
  req.messages.forEach((m, i) => {
    const blocks: Block[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : (m.content as Block[]);
    const parts = blocks.map((b, j) => toPart(b, `messages[${i}].content[${j}]`, m.role)).filter((p): p is IRPart => p !== null);
    const last = messages[messages.length - 1];
    if (last && last.role === m.role) last.parts.push(...parts);
    else messages.push({ role: m.role, parts });
  });
  let web_search: IRRequest['web_search'];
  const tools = (req.tools ?? []).flatMap((t, i) => {
    const tool = t as { type?: string; name: string; description?: string; input_schema?: Record<string, unknown>; max_uses?: number };
    if (tool.type?.startsWith('web_search_')) {
      // the upstream's own search, whichever provider it is
      web_search = typeof tool.max_uses === 'number' ? { max_uses: tool.max_uses } : {};
      return [];
    }
    if (tool.type && tool.type !== 'custom') throw new UnsupportedFeatureError(`tools[${i}].type`, `server tool '${tool.type}' cannot be translated for this model's upstream`);
    if (!tool.input_schema) throw new InvalidRequestError(`tools[${i}].input_schema`, 'input_schema is required');
    return [{ name: tool.name, description: tool.description, parameters: tool.input_schema }];
  });
  let tool_choice: IRToolChoice | undefined;
  switch (req.tool_choice?.type) {
    case 'auto':
      tool_choice = 'auto';
      break;
    case 'any':
      tool_choice = 'required';
      break;
    case 'none':
      tool_choice = 'none';
      break;
    case 'tool':
      if (!req.tool_choice.name) throw new InvalidRequestError('tool_choice.name', 'tool_choice of type tool needs a name');
      tool_choice = { name: req.tool_choice.name };
      break;
  }
  const oneCall = (req.tool_choice as { disable_parallel_tool_use?: boolean } | undefined)?.disable_parallel_tool_use === true;
  return {
    model: req.model,
    system: typeof req.system === 'string' ? req.system : req.system ? blockText(req.system as Block[]) : undefined,
    messages,
    tools: tools.length ? tools : undefined,
    ...(web_search ? { web_search } : {}),
    tool_choice,
    max_tokens: req.max_tokens,
    temperature: req.temperature,
    top_p: req.top_p,
    ...(req.top_k !== undefined ? { top_k: req.top_k } : {}),
    ...(oneCall ? { parallel_tool_calls: false } : {}),
    stop: req.stop_sequences,
    response_format: outputFormat(req.output_config?.format ?? undefined),
    stream: req.stream === true,
    stream_usage: true,
    user: req.metadata?.user_id ?? undefined,
    reasoning: reasoningToIR(req.thinking, req.output_config ?? {}),
  };
}

const OUTPUT_EFFORTS = ['low', 'medium', 'high', 'xhigh', 'max'];

/**
 * `thinking` says whether and how long, `output_config.effort` how hard (Claude Code sends both). Values the
 * gateway does not know are refused for translation only (decoding never stops a native pass-through).
 */
function reasoningToIR(thinking: { type: string; budget_tokens?: number; display?: string | null } | undefined, config: Record<string, unknown>): IRReasoning | undefined {
  for (const k of Object.keys(config)) {
    if (k !== 'effort' && k !== 'format') throw new UnsupportedFeatureError(`output_config.${k}`, `'output_config.${k}' cannot be translated for this model's upstream`);
  }
  const effort = config.effort ?? undefined;
  if (effort !== undefined && !(typeof effort === 'string' && OUTPUT_EFFORTS.includes(effort))) {
    throw new UnsupportedFeatureError('output_config.effort', `output_config.effort '${String(effort)}' cannot be translated for this model's upstream`);
  }
  const r: IRReasoning = effort ? { effort: effort as IREffort } : {};
  if (!thinking) return effort ? r : undefined;
  switch (thinking.type) {
    case 'disabled':
      return { effort: 'none' };
    case 'enabled':
      if (thinking.budget_tokens === undefined) throw new InvalidRequestError('thinking.budget_tokens', 'thinking of type enabled needs budget_tokens');
      r.budget_tokens = thinking.budget_tokens;
      break;
    case 'adaptive':
      break;
    default:
      throw new UnsupportedFeatureError('thinking.type', `thinking of type '${thinking.type}' cannot be translated for this model's upstream`);
  }
  r.include_thoughts = thinking.display !== 'omitted';
  return r;
}

/** Structured output (`output_config.format`): a JSON schema the answer follows, as other styles' JSON mode. */
function outputFormat(format: { type: string; schema?: Record<string, unknown> } | undefined): IRRequest['response_format'] {
  if (!format) return undefined;
  if (format.type !== 'json_schema') throw new UnsupportedFeatureError('output_config.format.type', `output format '${format.type}' cannot be translated for this model's upstream`);
  if (!format.schema) throw new InvalidRequestError('output_config.format.schema', 'a json_schema output format needs a schema');
  return { type: 'json_schema', name: 'response', schema: format.schema };
}

/** A document block: a PDF inline (base64) or by URL, a plain text as a text source; Anthropic reads no other kind. */
function documentBlock(d: IRDocument): Record<string, unknown> {
  const title = d.title ? { title: d.title } : {};
  if (d.text !== undefined) return { type: 'document', source: { type: 'text', media_type: 'text/plain', data: d.text }, ...title };
  if (d.mime_type !== 'application/pdf') throw new UnsupportedFeatureError('document', `a document of type '${d.mime_type}' cannot be sent to this model's Anthropic upstream, which reads PDFs and plain text`);
  if (d.url !== undefined) return { type: 'document', source: { type: 'url', url: d.url }, ...title };
  return { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: d.data }, ...title };
}

function mediaBlock(p: IRMedia): Record<string, unknown> {
  if (p.type === 'document') return documentBlock(p);
  return p.url ? { type: 'image', source: { type: 'url', url: p.url } } : { type: 'image', source: { type: 'base64', media_type: p.mime_type, data: p.data } };
}

function toBlock(p: IRPart): Record<string, unknown> | null {
  switch (p.type) {
    case 'text':
      return p.text ? { type: 'text', text: p.text } : null;
    case 'image':
    case 'document':
      return mediaBlock(p);
    case 'tool_call':
      return { type: 'tool_use', id: p.id, name: p.name, input: parseArgs(p.arguments) };
    case 'tool_result': {
      // a tool_result holds images and documents beside its text
      const content = p.media?.length ? [...(p.content ? [{ type: 'text', text: p.content }] : []), ...p.media.map(mediaBlock)] : p.content;
      return { type: 'tool_result', tool_use_id: p.tool_call_id, content, ...(p.is_error ? { is_error: true } : {}) };
    }
    case 'thinking':
      // a thinking block is only valid with its signature; without one it cannot go back to Anthropic
      return p.signature ? { type: 'thinking', thinking: p.text, signature: p.signature } : null;
  }
}

export function parseArgs(args: string): Record<string, unknown> {
  if (!args) return {};
  try {
    const v = JSON.parse(args) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    throw new InvalidRequestError('tool_calls.arguments', `tool call arguments are not valid JSON: ${args.slice(0, 80)}`);
  }
}

/** IR -> Anthropic Messages body. Roles must alternate and tool results lead their user turn. */
export function irToMessages(ir: IRRequest, upstreamModel: string, defaultMaxTokens = 4096): Record<string, unknown> {
  if (ir.logprobs) throw new UnsupportedFeatureError('logprobs', "Anthropic upstreams return no log probabilities");
  if (ir.cached_content !== undefined) throw new UnsupportedFeatureError('cachedContent', "a Gemini cached context (cachedContent) is stored at Google: this model's Anthropic upstream cannot read it");
  const messages: Array<{ role: string; content: Array<Record<string, unknown>> }> = [];
  for (const m of ir.messages) {
    const ordered = m.role === 'user' ? [...m.parts.filter((p) => p.type === 'tool_result'), ...m.parts.filter((p) => p.type !== 'tool_result')] : m.parts;
    const content = ordered.map(toBlock).filter((b): b is Record<string, unknown> => b !== null);
    if (content.length === 0) continue;
    const last = messages[messages.length - 1];
    if (last && last.role === m.role) last.content.push(...content);
    else messages.push({ role: m.role, content });
  }
  const body: Record<string, unknown> = { model: upstreamModel, max_tokens: ir.max_tokens ?? defaultMaxTokens, messages };
  if (ir.system) body.system = ir.system;
  if (ir.tools) body.tools = ir.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.parameters }));
  if (ir.web_search) {
    const search = { type: 'web_search_20250305', name: 'web_search', ...(ir.web_search.max_uses !== undefined ? { max_uses: ir.web_search.max_uses } : {}) };
    body.tools = [...((body.tools as unknown[] | undefined) ?? []), search];
  }
  if (ir.tool_choice) {
    body.tool_choice =
      ir.tool_choice === 'required' ? { type: 'any' } : typeof ir.tool_choice === 'string' ? { type: ir.tool_choice } : { type: 'tool', name: ir.tool_choice.name };
  }
  // at most one call per turn; a choice of none has no such switch (and no calls)
  if (ir.parallel_tool_calls === false && ir.tools && ir.tool_choice !== 'none') {
    body.tool_choice = { ...((body.tool_choice as Record<string, unknown> | undefined) ?? { type: 'auto' }), disable_parallel_tool_use: true };
  }
  const jsonTool = ir.response_format && jsonAnswer(ir, upstreamModel, body);
  if (ir.temperature !== undefined) {
    if (ir.temperature > 1) throw new UnsupportedFeatureError('temperature', "Anthropic upstreams take a temperature from 0 to 1");
    body.temperature = ir.temperature;
  }
  if (ir.top_p !== undefined) body.top_p = ir.top_p;
  if (ir.stop) body.stop_sequences = ir.stop;
  if (ir.user) body.metadata = { user_id: ir.user };
  if (ir.stream) body.stream = true;
  // seed is a determinism hint Anthropic has no control for: the answer is sampled as usual. Gemini's
  // safetySettings have no counterpart either: Anthropic's own safeguards apply.
  // a forced JSON tool is a forced tool choice, which Anthropic refuses while thinking
  let thinking = ir.reasoning && thinkingFromIR(jsonTool ? { ...ir, tool_choice: { name: JSON_TOOL } } : ir, body.max_tokens as number);
  // thinking the client left to the model (Gemini's includeThoughts alone, or a dynamic budget: Gemini CLI
  // 0.1.x sends includeThoughts with temperature 0) gives way to the sampling it asked for
  const leftToModel = ir.reasoning?.effort === undefined && (ir.reasoning?.budget_tokens === undefined || ir.reasoning.budget_tokens < 0);
  if (thinking?.type === 'enabled' && leftToModel && ((ir.temperature !== undefined && ir.temperature !== 1) || (ir.top_p !== undefined && ir.top_p < 0.95))) thinking = undefined;
  // top_k is a sampling hint Anthropic refuses while thinking (Gemini CLI sends topK 64 with its thinking budget)
  if (ir.top_k !== undefined && thinking?.type !== 'enabled') body.top_k = ir.top_k;
  if (thinking) {
    if (thinking.type === 'enabled' && ir.temperature !== undefined && ir.temperature !== 1) {
      throw new UnsupportedFeatureError('temperature', 'Anthropic upstreams take no temperature other than 1 while thinking');
    }
    if (thinking.type === 'enabled' && ir.top_p !== undefined && ir.top_p < 0.95) {
      throw new UnsupportedFeatureError('top_p', 'Anthropic upstreams take no top_p below 0.95 while thinking');
    }
    body.thinking = thinking;
  }
  return body;
}

/** Claude 4.5 and later constrain their answer to a JSON schema (`output_config.format`); earlier ones cannot. */
export function takesOutputFormat(upstreamModel: string): boolean {
  const m = /claude-(?:opus|sonnet|haiku)-(\d+)(?:-(\d{1,2}))?(?=$|[-@:.])/.exec(upstreamModel);
  if (!m) return false;
  const major = Number(m[1]);
  return major > 4 || (major === 4 && Number(m[2] ?? 0) >= 5);
}

/**
 * JSON mode on an Anthropic upstream: a schema goes to `output_config.format` where the model takes it; any
 * JSON object, or a schema on an earlier model, is asked for as the input of a forced tool (JSON_TOOL),
 * which the response decoders give back as the answer's text. A forced tool leaves no room for the client's
 * own tools, so JSON mode beside them on such a model is refused. Returns whether the tool is used.
 */
function jsonAnswer(ir: IRRequest, upstreamModel: string, body: Record<string, unknown>): boolean {
  const rf = ir.response_format!;
  if (rf.type === 'json_schema' && takesOutputFormat(upstreamModel)) {
    body.output_config = { format: { type: 'json_schema', schema: rf.schema } };
    return false;
  }
  if (ir.tools?.length && ir.tool_choice !== 'none') {
    throw new UnsupportedFeatureError('response_format', `JSON mode${rf.type === 'json_schema' ? ' with a schema' : ''} beside tools cannot be translated for this model's Anthropic upstream`);
  }
  const schema = rf.type === 'json_schema' ? rf.schema : { type: 'object' };
  if (schema.type !== 'object') throw new UnsupportedFeatureError('response_format', "a JSON schema whose root is not an object cannot be translated for this model's Anthropic upstream");
  // the client's tools stay declared (calls of them in the history name them), but the choice is this one
  body.tools = [...((body.tools as unknown[] | undefined) ?? []), { name: JSON_TOOL, description: 'Give your whole answer as the input of this tool: a JSON object.', input_schema: schema }];
  body.tool_choice = { type: 'tool', name: JSON_TOOL };
  return true;
}

/**
 * A native body whose max_tokens the gateway lowered to the call's bound keeps its thinking budget below it,
 * as Anthropic requires; with no room left for the least budget (1024) it goes without thinking.
 */
export function thinkingWithin(body: Record<string, unknown>, maxTokens: number): Record<string, unknown> {
  const t = body.thinking as { type?: unknown; budget_tokens?: unknown } | null | undefined;
  if (t?.type !== 'enabled' || typeof t.budget_tokens !== 'number' || t.budget_tokens < maxTokens) return body;
  if (maxTokens - 1 < 1024) {
    const { thinking: _dropped, ...rest } = body;
    return rest;
  }
  return { ...body, thinking: { ...t, budget_tokens: maxTokens - 1 } };
}

/**
 * Anthropic thinks within a budget of at least 1024 tokens, below max_tokens. Thinking is left to the model's
 * default where it cannot be honoured: no room under the call's bound, a forced tool choice (refused while
 * thinking), or a tool loop whose earlier steps came back without their signed thinking blocks (a client of
 * another style cannot return them, and Anthropic refuses such a turn with thinking on).
 */
function thinkingFromIR(ir: IRRequest, maxTokens: number): { type: 'enabled'; budget_tokens: number } | { type: 'disabled' } | undefined {
  const budget = reasoningBudget(ir.reasoning!);
  if (budget === 0) return { type: 'disabled' };
  if (ir.tool_choice === 'required' || typeof ir.tool_choice === 'object' || !loopKeptThinking(ir.messages)) return undefined;
  const tokens = Math.min(budget === undefined || budget < 0 ? EFFORT_BUDGET.medium : budget, maxTokens - 1);
  return tokens >= 1024 ? { type: 'enabled', budget_tokens: tokens } : undefined;
}

/** Every step of the current tool loop (after the last user message that is more than tool results) that called a tool starts with a signed thinking block. */
function loopKeptThinking(messages: IRMessage[]): boolean {
  let start = messages.length;
  while (start > 0 && !(messages[start - 1].role === 'user' && messages[start - 1].parts.some((p) => p.type !== 'tool_result'))) start--;
  return messages.slice(start).every((m) => {
    if (m.role !== 'assistant' || !m.parts.some((p) => p.type === 'tool_call')) return true;
    const first = m.parts[0];
    return first?.type === 'thinking' && Boolean(first.signature);
  });
}
