import { z } from 'zod';
import { InvalidRequestError, UnsupportedFeatureError, type IRDocument, type IRMedia, type IRMessage, type IRPart, type IRRequest, type IRToolChoice } from '../ir';
import { dataUrl, mediaPart, parseDataUrl, toolMediaLabel } from '../media';
import { fieldPath } from '../zod-path';
import { isEffort, reasoningEffort } from '../reasoning';
import { splitToolId } from '../signatures';
import type { OpenAIChatRequest } from './types';

const message = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
    content: z.union([z.string(), z.array(z.looseObject({ type: z.string() })), z.null()]).optional(),
  })
  .loose();

/** Validates what the gateway relies on; unknown fields pass through to an OpenAI-type upstream. */
export const chatRequestSchema = z
  .object({
    model: z.string().min(1),
    messages: z.array(message).min(1),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).loose().nullish(),
    max_tokens: z.number().int().positive().nullish(),
    max_completion_tokens: z.number().int().positive().nullish(),
    n: z.number().int().min(1).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    tools: z
      .array(z.object({ type: z.string(), function: z.object({ name: z.string().min(1), description: z.string().optional(), parameters: z.record(z.string(), z.unknown()).optional() }).loose().optional() }).loose())
      .nullish(),
  })
  .loose();

export function parseChatRequest(body: unknown): { ok: true; value: OpenAIChatRequest } | { ok: false; param: string; message: string } {
  const r = chatRequestSchema.safeParse(body);
  if (r.success) return { ok: true, value: r.data as OpenAIChatRequest };
  const issue = r.error.issues[0];
  const param = fieldPath(issue.path) || 'body';
  return { ok: false, param, message: `Invalid value for '${param}': ${issue.message}` };
}

// Fields with no counterpart in the other styles: refused with a 400 rather than dropped (an OpenAI upstream
// still takes them as they are).
const UNTRANSLATABLE = ['logit_bias', 'audio', 'prediction', 'presence_penalty', 'frequency_penalty', 'functions', 'function_call'];

interface ChatContentPart {
  type: string;
  text?: string;
  image_url?: { url: string } | string;
  file?: { file_data?: string; file_id?: string; filename?: string };
}

export function imagePartFromUrl(url: string): IRPart {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  return m ? { type: 'image', mime_type: m[1], data: m[2] } : { type: 'image', url };
}

/** A `file` part: a document sent inline (`file_data`, a data URL); one uploaded to OpenAI (`file_id`) is there only. */
function filePart(file: ChatContentPart['file'], at: string): IRMedia {
  if (file?.file_id) throw new UnsupportedFeatureError(`${at}.file.file_id`, "a file uploaded to OpenAI (file_id) cannot be read by this model's upstream; send it inline as file_data");
  if (!file?.file_data) throw new InvalidRequestError(`${at}.file.file_data`, 'a file part needs file_data or file_id');
  // a bare base64 string is a PDF, the one kind of file chat completions reads
  const blob = parseDataUrl(file.file_data) ?? { mime: 'application/pdf', data: file.file_data };
  return mediaPart({ data: blob.data }, blob.mime, `${at}.file.file_data`, file.filename);
}

function contentPart(p: ChatContentPart, at: string): IRPart {
  if (p.type === 'text') return { type: 'text', text: p.text ?? '' };
  if (p.type === 'image_url') {
    const url = typeof p.image_url === 'string' ? p.image_url : p.image_url?.url;
    if (!url) throw new InvalidRequestError(`${at}.image_url.url`, 'image_url.url is required');
    return imagePartFromUrl(url);
  }
  if (p.type === 'file') return filePart(p.file, at);
  throw new UnsupportedFeatureError(`${at}.type`, `content part type '${p.type}' cannot be translated for this model's upstream`);
}

function userParts(content: unknown, at: string): IRPart[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (content === null || content === undefined) return [];
  return (content as ChatContentPart[]).map((p, j) => contentPart(p, `${at}.content[${j}]`));
}

/** A tool message's content: its text, and the images and files some clients put there (OpenAI itself takes text only). */
function toolContent(content: unknown, at: string): { text: string; media: IRMedia[] } {
  const parts = userParts(content, at);
  const text = parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
  return { text, media: parts.filter((p): p is IRMedia => p.type === 'image' || p.type === 'document') };
}

function textOnly(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return (content as ChatContentPart[]).map((p) => p.text ?? '').join('');
  return '';
}

function pushMessage(out: IRMessage[], role: IRMessage['role'], parts: IRPart[]): void {
  const last = out[out.length - 1];
  if (last && last.role === role) last.parts.push(...parts);
  else out.push({ role, parts });
}

/** OpenAI Chat Completions request -> IR. */
export function chatToIR(raw: unknown): IRRequest {
  const parsed = parseChatRequest(raw);
  if (!parsed.ok) throw new InvalidRequestError(parsed.param, parsed.message);
  const req = parsed.value;
  for (const f of UNTRANSLATABLE) {
    const v = req[f];
    if (v !== undefined && v !== null && v !== false && v !== 0) throw new UnsupportedFeatureError(f, `'${f}' cannot be translated for this model's upstream`);
  }
  if (Array.isArray(req.modalities) && (req.modalities as string[]).some((m) => m !== 'text')) {
    throw new UnsupportedFeatureError('modalities', "only the 'text' modality can be translated for this model's upstream");
  }
  // several choices: only an upstream that speaks chat completions makes them (and bills them)
  if (typeof req.n === 'number' && req.n > 1) throw new UnsupportedFeatureError('n', "'n' above 1 cannot be translated for this model's upstream");

  const system: string[] = [];
  const messages: IRMessage[] = [];
  req.messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(textOnly(m.content));
        break;
      case 'user':
        pushMessage(messages, 'user', userParts(m.content, at));
        break;
      case 'assistant': {
        const parts: IRPart[] = [];
        const text = textOnly(m.content);
        if (text) parts.push({ type: 'text', text });
        const calls = (m.tool_calls ?? []) as Array<{ id: string; type: string; function: { name: string; arguments: string } }>;
        calls.forEach((c, j) => {
          if (!c?.function?.name) throw new InvalidRequestError(`${at}.tool_calls[${j}].function.name`, 'tool call needs a function name');
          const { id, signature } = splitToolId(c.id);
          parts.push({ type: 'tool_call', id, name: c.function.name, arguments: c.function.arguments ?? '{}', ...(signature ? { signature } : {}) });
        });
        pushMessage(messages, 'assistant', parts);
        break;
      }
      case 'tool': {
        if (!m.tool_call_id) throw new InvalidRequestError(`${at}.tool_call_id`, 'a tool message needs tool_call_id');
        const { text, media } = toolContent(m.content, at);
        pushMessage(messages, 'user', [{ type: 'tool_result', tool_call_id: splitToolId(m.tool_call_id).id, content: text, ...(media.length ? { media } : {}) }]);
        break;
      }
      case 'function':
        throw new UnsupportedFeatureError(`${at}.role`, "the legacy 'function' role cannot be translated; use 'tool'");
    }
  });

  const tools = (req.tools ?? []).map((t, i) => {
    const tool = t as { type: string; function?: { name: string; description?: string; parameters?: Record<string, unknown> } };
    if (tool.type !== 'function' || !tool.function) throw new UnsupportedFeatureError(`tools[${i}].type`, `tool type '${tool.type}' cannot be translated for this model's upstream`);
    return { name: tool.function.name, description: tool.function.description, parameters: tool.function.parameters ?? { type: 'object', properties: {} } };
  });

  const ir: IRRequest = {
    model: req.model,
    system: system.length ? system.join('\n\n') : undefined,
    messages,
    tools: tools.length ? tools : undefined,
    // a search model's own web search; another provider's model runs its own
    ...(req.web_search_options !== undefined && req.web_search_options !== null ? { web_search: {} } : {}),
    tool_choice: toolChoice(req.tool_choice),
    max_tokens: req.max_completion_tokens ?? req.max_tokens ?? undefined,
    temperature: (req.temperature as number | null | undefined) ?? undefined,
    top_p: (req.top_p as number | null | undefined) ?? undefined,
    stop: typeof req.stop === 'string' ? [req.stop] : Array.isArray(req.stop) ? (req.stop as string[]) : undefined,
    response_format: responseFormat(req.response_format),
    stream: req.stream === true,
    stream_usage: req.stream_options?.include_usage === true,
    user: typeof req.user === 'string' ? req.user : undefined,
  };
  // seed 0 is a seed
  if (typeof req.seed === 'number') ir.seed = req.seed;
  // top_k is not OpenAI's, but OpenAI-compatible servers (vLLM…) take it and clients send it for them
  if (typeof req.top_k === 'number') ir.top_k = req.top_k;
  if (req.parallel_tool_calls === false) ir.parallel_tool_calls = false;
  if (req.logprobs === true) {
    ir.logprobs = true;
    if (typeof req.top_logprobs === 'number') ir.top_logprobs = req.top_logprobs;
  }
  if (req.reasoning_effort != null) {
    // an effort the gateway does not know still passes through to an OpenAI upstream
    if (!isEffort(req.reasoning_effort) || req.reasoning_effort === 'max') {
      throw new UnsupportedFeatureError('reasoning_effort', `reasoning_effort '${String(req.reasoning_effort)}' cannot be translated for this model's upstream`);
    }
    ir.reasoning = { effort: req.reasoning_effort };
  }
  return ir;
}

function toolChoice(v: unknown): IRToolChoice | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === 'auto' || v === 'none' || v === 'required') return v;
  const choice = v as { type?: string; function?: { name?: string } };
  // a subset of the tools, or a custom tool: an OpenAI upstream takes it as it is
  if (choice?.type === 'allowed_tools' || choice?.type === 'custom') throw new UnsupportedFeatureError('tool_choice', `tool_choice of type '${choice.type}' cannot be translated for this model's upstream`);
  const name = choice?.function?.name;
  if (name) return { name };
  throw new InvalidRequestError('tool_choice', 'tool_choice must be auto, none, required or {type:"function",function:{name}}');
}

function responseFormat(v: unknown): IRRequest['response_format'] {
  const rf = v as { type?: string; json_schema?: { name?: string; schema?: Record<string, unknown>; strict?: boolean } } | undefined | null;
  if (!rf || rf.type === 'text') return undefined;
  if (rf.type === 'json_object') return { type: 'json_object' };
  if (rf.type === 'json_schema' && rf.json_schema?.schema) {
    return { type: 'json_schema', name: rf.json_schema.name ?? 'response', schema: rf.json_schema.schema, strict: rf.json_schema.strict };
  }
  throw new InvalidRequestError('response_format', 'response_format must be text, json_object or json_schema with a schema');
}

/** A user message's part: a PDF as a `file` part with its data URL, a plain-text document as text. */
function chatContentPart(p: IRPart): Record<string, unknown> {
  switch (p.type) {
    case 'text':
      return { type: 'text', text: p.text };
    case 'image':
      return { type: 'image_url', image_url: { url: p.url ?? dataUrl(p.mime_type ?? 'image/png', p.data ?? '') } };
    case 'document':
      return chatDocument(p);
    default:
      return { type: 'text', text: '' };
  }
}

function chatDocument(d: IRDocument): Record<string, unknown> {
  if (d.text !== undefined) return { type: 'text', text: d.title ? `${d.title}\n\n${d.text}` : d.text };
  // chat completions takes files inline only (or by an id in OpenAI's own storage)
  if (d.data === undefined) throw new UnsupportedFeatureError('document', "a document by URL cannot be sent to this model's OpenAI upstream, which takes files inline only; send its data");
  return { type: 'file', file: { filename: d.title ?? (d.mime_type === 'application/pdf' ? 'document.pdf' : 'document'), file_data: dataUrl(d.mime_type, d.data) } };
}

/** IR -> OpenAI Chat Completions request body, for an OpenAI-type upstream. */
export function irToChat(ir: IRRequest, upstreamModel: string): Record<string, unknown> {
  const messages: Array<Record<string, unknown>> = [];
  if (ir.system) messages.push({ role: 'system', content: ir.system });
  for (const m of ir.messages) {
    if (m.role === 'assistant') {
      const text = m.parts.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('');
      const calls = m.parts.filter((p): p is Extract<IRPart, { type: 'tool_call' }> => p.type === 'tool_call');
      messages.push({
        role: 'assistant',
        content: text || (calls.length ? null : ''),
        ...(calls.length ? { tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) } : {}),
      });
      continue;
    }
    // tool results become tool messages, in order, before the rest of the user turn. A tool message holds
    // text only, so the images and files a tool returned follow all of them in a user message, each tool's
    // under a line naming its call
    const rest: IRPart[] = [];
    for (const p of m.parts) {
      if (p.type !== 'tool_result') continue;
      messages.push({ role: 'tool', tool_call_id: p.tool_call_id, content: p.content });
      if (p.media?.length) rest.push({ type: 'text', text: toolMediaLabel(p.tool_call_id) }, ...p.media);
    }
    rest.push(...m.parts.filter((p) => p.type !== 'tool_result'));
    if (rest.length === 0) continue;
    const simple = rest.every((p) => p.type === 'text');
    messages.push({
      role: 'user',
      content: simple ? rest.map((p) => (p as { text: string }).text).join('') : rest.map(chatContentPart),
    });
  }
  const body: Record<string, unknown> = { model: upstreamModel, messages };
  if (ir.tools) body.tools = ir.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } }));
  // chat completions searches only on OpenAI's search models; another model's upstream refuses it in its own words
  if (ir.web_search) body.web_search_options = {};
  if (ir.tool_choice) body.tool_choice = typeof ir.tool_choice === 'string' ? ir.tool_choice : { type: 'function', function: { name: ir.tool_choice.name } };
  if (ir.max_tokens !== undefined) body.max_completion_tokens = ir.max_tokens;
  if (ir.temperature !== undefined) body.temperature = ir.temperature;
  if (ir.top_p !== undefined) body.top_p = ir.top_p;
  if (ir.stop) body.stop = ir.stop;
  if (ir.response_format) {
    body.response_format =
      ir.response_format.type === 'json_object'
        ? { type: 'json_object' }
        : { type: 'json_schema', json_schema: { name: ir.response_format.name, schema: ir.response_format.schema, strict: ir.response_format.strict } };
  }
  if (ir.user) body.user = ir.user;
  if (ir.seed !== undefined) body.seed = ir.seed;
  if (ir.logprobs) {
    body.logprobs = true;
    if (ir.top_logprobs !== undefined) body.top_logprobs = ir.top_logprobs;
  }
  // OpenAI refuses parallel_tool_calls on a request without tools
  if (ir.parallel_tool_calls === false && ir.tools) body.parallel_tool_calls = false;
  // top_k is a sampling hint OpenAI has no control for (Gemini CLI always sends topK): the model samples as
  // it does. Gemini's safetySettings have no counterpart either: OpenAI's own moderation applies.
  if (ir.cached_content !== undefined) throw new UnsupportedFeatureError('cachedContent', "a Gemini cached context (cachedContent) is stored at Google: this model's OpenAI upstream cannot read it");
  const effort = ir.reasoning && reasoningEffort(ir.reasoning);
  // 'none' is left unsaid: a model that does not reason refuses the field, and most that do cannot stop;
  // Anthropic's max is beyond what most OpenAI models take
  if (effort && effort !== 'none') body.reasoning_effort = effort === 'max' ? 'high' : effort;
  if (ir.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
}
