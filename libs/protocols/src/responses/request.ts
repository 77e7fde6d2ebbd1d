import { z } from 'zod';
import { InvalidRequestError, UnsupportedFeatureError, type IRMessage, type IRPart, type IRReasoning, type IRRequest, type IRTool, type IRToolChoice } from '../ir';
import { imagePartFromUrl } from '../openai/request';
import { parseRequest } from '../zod-path';
import { splitToolId } from '../signatures';
import { isEffort } from '../reasoning';
import { customArguments, customTool, localShellArguments, localShellTool, LOCAL_SHELL } from './client-tools';
import { thinkingFromEncrypted } from './encrypted-reasoning';

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
    include: z.array(z.string()).nullish(),
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
const UNSUPPORTED = ['previous_response_id', 'conversation', 'background', 'prompt', 'truncation'];

/**
 * `include` values a translated answer can honour: the reasoning to send back (see encrypted-reasoning.ts),
 * and those about hosted tools' items or the input's images, which a translated answer never has (its
 * hosted tools are refused). Others (output logprobs) are a 400.
 */
const INCLUDABLE = new Set([
  'reasoning.encrypted_content',
  'web_search_call.results',
  'web_search_call.action.sources',
  'file_search_call.results',
  'code_interpreter_call.outputs',
  'computer_call_output.output.image_url',
  'message.input_image.image_url',
]);

interface Item {
  type?: string;
  role?: string;
  content?: string | Array<{ type: string; text?: string; image_url?: string; file_id?: string }>;
  id?: string;
  call_id?: string;
  name?: string;
  arguments?: string;
  /** a custom_tool_call's freeform input */
  input?: string;
  /** a local_shell_call's exec action */
  action?: { type?: string; command?: unknown; working_directory?: unknown; timeout_ms?: unknown };
  output?: string | Array<{ type: string; text?: string }>;
  encrypted_content?: string | null;
}

function outputText(output: Item['output']): string {
  return typeof output === 'string' ? output : (output ?? []).map((o) => o.text ?? '').join('');
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
  (req.include ?? []).forEach((v, i) => {
    if (!INCLUDABLE.has(v)) throw new UnsupportedFeatureError('include', `include[${i}] '${v}' cannot be honoured for this model's upstream`);
  });
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
    } else if (type === 'function_call' || type === 'custom_tool_call' || type === 'local_shell_call') {
      // a local_shell_call may name its call by id alone
      const callId = item.call_id ?? (type === 'local_shell_call' ? item.id : undefined);
      const name = type === 'local_shell_call' ? LOCAL_SHELL : item.name;
      if (!callId || !name) throw new InvalidRequestError(`${at}.call_id`, `${type} items need call_id${type === 'local_shell_call' ? '' : ' and name'}`);
      const args = type === 'function_call' ? (item.arguments ?? '{}') : type === 'custom_tool_call' ? customArguments(item.input ?? '') : localShellArguments(item.action, at);
      const { id, signature } = splitToolId(callId);
      push('assistant', [{ type: 'tool_call', id, name, arguments: args, ...(signature ? { signature } : {}) }]);
    } else if (type === 'function_call_output' || type === 'custom_tool_call_output' || type === 'local_shell_call_output') {
      const callId = item.call_id ?? (type === 'local_shell_call_output' ? item.id : undefined);
      if (!callId) throw new InvalidRequestError(`${at}.call_id`, `${type} items need call_id`);
      push('user', [{ type: 'tool_result', tool_call_id: splitToolId(callId).id, content: outputText(item.output) }]);
    } else if (type === 'reasoning') {
      // the gateway's own encrypted_content is a thinking block to give back; any other reasoning (OpenAI's
      // encrypted) is meaningful only to the model that wrote it
      const thinking = thinkingFromEncrypted(item.encrypted_content);
      if (thinking) push('assistant', [{ type: 'thinking', ...thinking }]);
    } else {
      throw new UnsupportedFeatureError(`${at}.type`, `input item '${type}' cannot be translated for this model's upstream`);
    }
  });

  let web_search: IRRequest['web_search'];
  const tools = (req.tools ?? []).flatMap((t, i): IRTool[] => {
    const tool = t as { type: string; name?: string; description?: string; parameters?: Record<string, unknown> };
    if (tool.type.startsWith('web_search')) {
      web_search = {};
      return [];
    }
    return [responsesTool(tool, i)];
  });
  let tool_choice: IRToolChoice | undefined;
  if (typeof req.tool_choice === 'string') tool_choice = req.tool_choice;
  else if ((req.tool_choice?.type === 'function' || req.tool_choice?.type === 'custom') && req.tool_choice.name) tool_choice = { name: req.tool_choice.name };
  else if (req.tool_choice) throw new UnsupportedFeatureError('tool_choice', `tool_choice '${req.tool_choice.type}' is not supported by the gateway`);

  const format = req.text?.format as { type: string; name?: string; schema?: Record<string, unknown>; strict?: boolean } | undefined;
  let response_format: IRRequest['response_format'];
  if (format?.type === 'json_object') response_format = { type: 'json_object' };
  else if (format?.type === 'json_schema') {
    if (!format.schema) throw new InvalidRequestError('text.format.schema', 'a json_schema format needs a schema');
    response_format = { type: 'json_schema', name: format.name ?? 'response', schema: format.schema, strict: format.strict };
  }

  return {
    ...(web_search ? { web_search } : {}),
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
    ...(req.include?.includes('reasoning.encrypted_content') ? { encrypted_reasoning: true } : {}),
    ...((req as Record<string, unknown>).parallel_tool_calls === false ? { parallel_tool_calls: false } : {}),
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

function responsesTool(tool: { type: string; name?: string; description?: string; parameters?: Record<string, unknown> }, i: number): IRTool {
  if (tool.type === 'custom') return customTool(tool, `tools[${i}]`);
  if (tool.type === 'local_shell') return localShellTool();
  if (tool.type !== 'function' || !tool.name) throw new UnsupportedFeatureError(`tools[${i}].type`, `hosted tool '${tool.type}' is not supported by the gateway`);
  return { name: tool.name, description: tool.description, parameters: tool.parameters ?? { type: 'object', properties: {} } };
}
