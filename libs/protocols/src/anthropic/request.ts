import { z } from 'zod';
import { InvalidRequestError, UnsupportedFeatureError, type IRMessage, type IRPart, type IRRequest, type IRToolChoice } from '../ir';
import { parseRequest } from '../zod-path';

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
    stop_sequences: z.array(z.string()).optional(),
    tools: z.array(z.looseObject({ name: z.string().min(1) })).optional(),
    tool_choice: z.looseObject({ type: z.enum(['auto', 'any', 'tool', 'none']), name: z.string().optional() }).optional(),
    metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
  })
  .loose();

const UNTRANSLATABLE = ['top_k', 'thinking', 'container', 'mcp_servers', 'service_tier'];

interface Block {
  type: string;
  text?: string;
  source?: { type: string; media_type?: string; data?: string; url?: string };
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

function toPart(b: Block, at: string, role: 'user' | 'assistant'): IRPart | null {
  switch (b.type) {
    case 'text':
      return { type: 'text', text: b.text ?? '' };
    case 'image':
      if (b.source?.type === 'base64') return { type: 'image', mime_type: b.source.media_type, data: b.source.data };
      if (b.source?.type === 'url') return { type: 'image', url: b.source.url };
      throw new UnsupportedFeatureError(`${at}.source.type`, `image source '${b.source?.type}' cannot be translated`);
    case 'tool_use':
      if (role !== 'assistant') throw new InvalidRequestError(`${at}.type`, 'tool_use blocks belong to assistant messages');
      return { type: 'tool_call', id: b.id ?? '', name: b.name ?? '', arguments: JSON.stringify(b.input ?? {}) };
    case 'tool_result':
      return { type: 'tool_result', tool_call_id: b.tool_use_id ?? '', content: blockText(b.content), is_error: b.is_error };
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
  const tools = (req.tools ?? []).map((t, i) => {
    const tool = t as { type?: string; name: string; description?: string; input_schema?: Record<string, unknown> };
    if (tool.type && tool.type !== 'custom') throw new UnsupportedFeatureError(`tools[${i}].type`, `server tool '${tool.type}' cannot be translated for this model's upstream`);
    if (!tool.input_schema) throw new InvalidRequestError(`tools[${i}].input_schema`, 'input_schema is required');
    return { name: tool.name, description: tool.description, parameters: tool.input_schema };
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
  if ((req.tool_choice as { disable_parallel_tool_use?: boolean } | undefined)?.disable_parallel_tool_use) {
    throw new UnsupportedFeatureError('tool_choice.disable_parallel_tool_use', "'disable_parallel_tool_use' cannot be translated for this model's upstream");
  }
  return {
    model: req.model,
    system: typeof req.system === 'string' ? req.system : req.system ? blockText(req.system as Block[]) : undefined,
    messages,
    tools: tools.length ? tools : undefined,
    tool_choice,
    max_tokens: req.max_tokens,
    temperature: req.temperature,
    top_p: req.top_p,
    stop: req.stop_sequences,
    stream: req.stream === true,
    stream_usage: true,
    user: req.metadata?.user_id ?? undefined,
  };
}

function toBlock(p: IRPart): Record<string, unknown> | null {
  switch (p.type) {
    case 'text':
      return p.text ? { type: 'text', text: p.text } : null;
    case 'image':
      return p.url ? { type: 'image', source: { type: 'url', url: p.url } } : { type: 'image', source: { type: 'base64', media_type: p.mime_type, data: p.data } };
    case 'tool_call':
      return { type: 'tool_use', id: p.id, name: p.name, input: parseArgs(p.arguments) };
    case 'tool_result':
      return { type: 'tool_result', tool_use_id: p.tool_call_id, content: p.content, ...(p.is_error ? { is_error: true } : {}) };
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
  if (ir.response_format) throw new UnsupportedFeatureError('response_format', "JSON mode cannot be translated for this model's Anthropic upstream");
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
  if (ir.tool_choice) {
    body.tool_choice =
      ir.tool_choice === 'required' ? { type: 'any' } : typeof ir.tool_choice === 'string' ? { type: ir.tool_choice } : { type: 'tool', name: ir.tool_choice.name };
  }
  if (ir.temperature !== undefined) {
    if (ir.temperature > 1) throw new UnsupportedFeatureError('temperature', "Anthropic upstreams take a temperature from 0 to 1");
    body.temperature = ir.temperature;
  }
  if (ir.top_p !== undefined) body.top_p = ir.top_p;
  if (ir.stop) body.stop_sequences = ir.stop;
  if (ir.user) body.metadata = { user_id: ir.user };
  if (ir.stream) body.stream = true;
  return body;
}
