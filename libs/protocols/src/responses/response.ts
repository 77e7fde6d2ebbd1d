import { randomHex, type TokenUsage } from '@gateway/contracts';
import type { IRPart, IRRequest, IRResponse } from '../ir';
import { signedToolId } from '../signatures';
import { customInput, localShellAction, type LocalShellAction } from './client-tools';
import { encryptedReasoning } from './encrypted-reasoning';

export function responsesUsage(u: TokenUsage) {
  return {
    input_tokens: u.input_tokens,
    input_tokens_details: { cached_tokens: u.cached_input_tokens },
    output_tokens: u.output_tokens,
    output_tokens_details: { reasoning_tokens: u.reasoning_tokens },
    total_tokens: u.input_tokens + u.output_tokens,
  };
}

export const rid = (prefix: string) => `${prefix}_${randomHex(12)}`;

export interface OutputMessage {
  type: 'message';
  id: string;
  status: 'completed' | 'in_progress';
  role: 'assistant';
  content: Array<{ type: 'output_text'; text: string; annotations: unknown[] }>;
}

export interface OutputFunctionCall {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: 'completed' | 'in_progress';
}

/** A call of a freeform `custom` tool: its input is the text itself. */
export interface OutputCustomToolCall {
  type: 'custom_tool_call';
  id: string;
  call_id: string;
  name: string;
  input: string;
  status: 'completed' | 'in_progress';
}

export interface OutputLocalShellCall {
  type: 'local_shell_call';
  id: string;
  call_id: string;
  action: LocalShellAction;
  status: 'completed' | 'in_progress';
}

/**
 * The model's thinking, as its summary (what a translated upstream shows of it), and with
 * `reasoning.encrypted_content` included, the block to give back next turn (encrypted-reasoning.ts).
 */
export interface OutputReasoning {
  type: 'reasoning';
  id: string;
  summary: Array<{ type: 'summary_text'; text: string }>;
  encrypted_content?: string;
}

export type OutputCall = OutputFunctionCall | OutputCustomToolCall | OutputLocalShellCall;
export type OutputItem = OutputMessage | OutputCall | OutputReasoning;

/** The kind of item a call of this tool is for the client: its own kind for a custom or local_shell tool. */
export function callKind(req: IRRequest, name: string): OutputCall['type'] {
  const origin = req.tools?.find((t) => t.name === name)?.origin;
  return origin === 'custom' ? 'custom_tool_call' : origin === 'local_shell' ? 'local_shell_call' : 'function_call';
}

/** A finished tool call as the client's item. */
export function callItem(req: IRRequest, p: Extract<IRPart, { type: 'tool_call' }>): OutputCall {
  const call_id = signedToolId(p.id, p.signature);
  switch (callKind(req, p.name)) {
    case 'custom_tool_call':
      return { type: 'custom_tool_call', id: rid('ctc'), call_id, name: p.name, input: customInput(p.arguments), status: 'completed' };
    case 'local_shell_call':
      return { type: 'local_shell_call', id: rid('lsh'), call_id, action: localShellAction(p.arguments), status: 'completed' };
    default:
      return { type: 'function_call', id: rid('fc'), call_id, name: p.name, arguments: p.arguments, status: 'completed' };
  }
}

export function reasoningItem(req: IRRequest, id: string, text: string, signature: string | undefined): OutputReasoning {
  return { type: 'reasoning', id, summary: text ? [{ type: 'summary_text', text }] : [], ...(req.encrypted_reasoning ? { encrypted_content: encryptedReasoning(text, signature) } : {}) };
}

/** The tools as the client declared them: its custom and local_shell tools are echoed as such. */
function echoTool(t: NonNullable<IRRequest['tools']>[number]): Record<string, unknown> {
  if (t.origin === 'local_shell') return { type: 'local_shell' };
  if (t.origin === 'custom') return { type: 'custom', name: t.name, description: t.description ?? null };
  return { type: 'function', name: t.name, description: t.description ?? null, parameters: t.parameters, strict: false };
}

/** The Response object around a given output, echoing the request's parameters as OpenAI does. */
export function responseEnvelope(
  id: string,
  model: string,
  req: IRRequest,
  output: OutputItem[],
  status: 'in_progress' | 'completed' | 'incomplete' | 'failed',
  usage: TokenUsage | null,
  createdAt: number,
): Record<string, unknown> {
  return {
    id,
    object: 'response',
    created_at: createdAt,
    status,
    error: null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: req.system ?? null,
    max_output_tokens: req.max_tokens ?? null,
    model,
    output,
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: req.reasoning?.effort ?? null, summary: req.reasoning?.include_thoughts ? 'auto' : null },
    store: false,
    temperature: req.temperature ?? 1,
    text: { format: req.response_format ? (req.response_format.type === 'json_object' ? { type: 'json_object' } : { type: 'json_schema', name: req.response_format.name, schema: req.response_format.schema, strict: req.response_format.strict ?? false }) : { type: 'text' } },
    tool_choice: typeof req.tool_choice === 'object' ? { type: callKind(req, req.tool_choice.name) === 'custom_tool_call' ? 'custom' : 'function', name: req.tool_choice.name } : (req.tool_choice ?? 'auto'),
    tools: (req.tools ?? []).map(echoTool),
    top_p: req.top_p ?? 1,
    truncation: 'disabled',
    usage: usage ? responsesUsage(usage) : null,
    user: req.user ?? null,
    metadata: {},
  };
}

/**
 * IR -> a Response: one reasoning item per thinking block (each with its own signature), then the text as
 * one message, then the calls, each as the item its tool's kind calls for.
 */
export function irToResponses(ir: IRResponse, model: string, req: IRRequest): Record<string, unknown> {
  const output: OutputItem[] = [];
  // thinking parts make one block until one of them is signed (Gemini may split its thoughts in parts)
  const blocks: Array<{ text: string; signature?: string }> = [];
  for (const p of ir.parts) {
    if (p.type !== 'thinking') continue;
    const last = blocks[blocks.length - 1];
    if (last && !last.signature) Object.assign(last, { text: last.text + p.text, signature: p.signature });
    else blocks.push({ text: p.text, signature: p.signature });
  }
  for (const b of blocks) if (b.text || b.signature) output.push(reasoningItem(req, rid('rs'), b.text, b.signature));
  const text = ir.parts.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('');
  if (text) output.push({ type: 'message', id: rid('msg'), status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] });
  for (const p of ir.parts) {
    if (p.type === 'tool_call') output.push(callItem(req, p));
  }
  return responseEnvelope(rid('resp'), model, req, output, ir.stop_reason === 'length' ? 'incomplete' : 'completed', ir.usage, Math.floor(Date.now() / 1000));
}
