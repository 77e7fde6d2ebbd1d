import { z } from 'zod';
import { InvalidRequestError, UnsupportedFeatureError, type IRMessage, type IRPart, type IRReasoning, type IRRequest, type IRToolChoice } from '../ir';
import { imagePartFromUrl } from '../openai/request';
import { parseRequest } from '../zod-path';
import { splitToolId } from '../signatures';
import { isEffort } from '../reasoning';

const schema = z
  .object({
    model: z.string().min(1),
    input: z.union([z.string(), z.array(z.looseObject({}))]),
    instructions: z.string().nullish(),
    stream: z.boolean().nullish(),
    max_output_tokens: z.number().int().positive().nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    tools: z.array(z.looseObject({ type: z.string() })).nullish(),
    tool_choice: z.union([z.enum(['auto', 'none', 'required']), z.looseObject({ type: z.string(), name: z.string().optional() })]).nullish(),
    text: z.looseObject({ format: z.looseObject({ type: z.string() }).optional() }).nullish(),
    user: z.string().nullish(),
    reasoning: z
      .object({
        effort: z.string().nullish(),
        summary: z.string().nullish(),
        generate_summary: z.string().nullish(),
      })
      .loose()
      .nullish(),
  })
  .loose();

// Stateful and hosted features the gateway cannot offer across upstreams: a 400 naming them.
const UNSUPPORTED = ['previous_response_id', 'conversation', 'background', 'prompt', 'include', 'truncation'];

interface Item {
  type?: string;
  role?: string;
  content?: string | Array<{ type: string; text?: string; image_url?: string; file_id?: string }>;
  call_id?: string;
  name?: string;
  arguments?: string;
  output?: string | Array<{ type: string; text?: string }>;
}

function contentParts(content: Item['content'], at: string): IRPart[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return (content ?? []).map((c, j): IRPart => {
    if (c.type === 'input_text' || c.type === 'output_text' || c.type === 'text') return { type: 'text', text: c.text ?? '' };
    if (c.type === 'input_image' && c.image_url) return imagePartFromUrl(c.image_url);
    throw new UnsupportedFeatureError(`${at}.content[${j}].type`, `input part '${c.type}' cannot be translated for this model's upstream`);
  });
}

/** OpenAI Responses API request -> IR. */
export function responsesToIR(raw: unknown): IRRequest {
  const req = parseRequest(schema, raw);
  for (const f of UNSUPPORTED) {
    const v = (req as Record<string, unknown>)[f];
    if (v !== undefined && v !== null) throw new UnsupportedFeatureError(f, `'${f}' is not supported by the gateway`);
  }
  const system: string[] = req.instructions ? [req.instructions] : [];
  const messages: IRMessage[] = [];
  const push = (role: IRMessage['role'], parts: IRPart[]) => {
    const last = messages[messages.length - 1];
    if (last && last.role === role) last.parts.push(...parts);
    else messages.push({ role, parts });
  };
  const items: Item[] = typeof req.input === 'string' ? [{ role: 'user', content: req.input }] : (req.input as Item[]);
  items.forEach((item, i) => {
    const at = `input[${i}]`;
    const type = item.type ?? 'message';
    if (type === 'message') {
      if (item.role === 'system' || item.role === 'developer') system.push(contentParts(item.content, at).map((p) => (p.type === 'text' ? p.text : '')).join(''));
      else if (item.role === 'user') push('user', contentParts(item.content, at));
      else if (item.role === 'assistant') push('assistant', contentParts(item.content, at));
      else throw new InvalidRequestError(`${at}.role`, `unknown role '${item.role}'`);
    } else if (type === 'function_call') {
      if (!item.call_id || !item.name) throw new InvalidRequestError(`${at}.call_id`, 'function_call items need call_id and name');
      const { id, signature } = splitToolId(item.call_id);
      push('assistant', [{ type: 'tool_call', id, name: item.name, arguments: item.arguments ?? '{}', ...(signature ? { signature } : {}) }]);
    } else if (type === 'function_call_output') {
      if (!item.call_id) throw new InvalidRequestError(`${at}.call_id`, 'function_call_output items need call_id');
      const output = typeof item.output === 'string' ? item.output : (item.output ?? []).map((o) => o.text ?? '').join('');
      push('user', [{ type: 'tool_result', tool_call_id: splitToolId(item.call_id).id, content: output }]);
    } else if (type === 'reasoning') {
      // opaque reasoning carried over from an earlier turn: meaningful only to the model that wrote it
    } else {
      throw new UnsupportedFeatureError(`${at}.type`, `input item '${type}' cannot be translated for this model's upstream`);
    }
  });

  const tools = (req.tools ?? []).map((t, i) => {
    const tool = t as { type: string; name?: string; description?: string; parameters?: Record<string, unknown> };
    if (tool.type !== 'function' || !tool.name) throw new UnsupportedFeatureError(`tools[${i}].type`, `hosted tool '${tool.type}' is not supported by the gateway`);
    return { name: tool.name, description: tool.description, parameters: tool.parameters ?? { type: 'object', properties: {} } };
  });
  let tool_choice: IRToolChoice | undefined;
  if (typeof req.tool_choice === 'string') tool_choice = req.tool_choice;
  else if (req.tool_choice?.type === 'function' && req.tool_choice.name) tool_choice = { name: req.tool_choice.name };
  else if (req.tool_choice) throw new UnsupportedFeatureError('tool_choice', `tool_choice '${req.tool_choice.type}' is not supported by the gateway`);

  const format = req.text?.format as { type: string; name?: string; schema?: Record<string, unknown>; strict?: boolean } | undefined;
  let response_format: IRRequest['response_format'];
  if (format?.type === 'json_object') response_format = { type: 'json_object' };
  else if (format?.type === 'json_schema') {
    if (!format.schema) throw new InvalidRequestError('text.format.schema', 'a json_schema format needs a schema');
    response_format = { type: 'json_schema', name: format.name ?? 'response', schema: format.schema, strict: format.strict };
  }

  return {
    model: req.model,
    system: system.length ? system.join('\n\n') : undefined,
    messages,
    tools: tools.length ? tools : undefined,
    tool_choice,
    max_tokens: req.max_output_tokens ?? undefined,
    temperature: req.temperature ?? undefined,
    top_p: req.top_p ?? undefined,
    response_format,
    stream: req.stream === true,
    stream_usage: true,
    user: req.user ?? undefined,
    reasoning: reasoningToIR(req.reasoning),
  };
}

/** `reasoning: {effort, summary}`: a summary asked for is the thinking shown, as a reasoning item. */
function reasoningToIR(r: { effort?: string | null; summary?: string | null; generate_summary?: string | null } | null | undefined): IRReasoning | undefined {
  if (!r) return undefined;
  const out: IRReasoning = {};
  if (r.effort) {
    if (!isEffort(r.effort) || r.effort === 'max') throw new UnsupportedFeatureError('reasoning.effort', `reasoning.effort '${r.effort}' cannot be translated for this model's upstream`);
    out.effort = r.effort;
  }
  if (r.summary ?? r.generate_summary) out.include_thoughts = true;
  return Object.keys(out).length ? out : undefined;
}
