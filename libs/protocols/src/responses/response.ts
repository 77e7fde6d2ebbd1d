import type { TokenUsage } from '@gateway/contracts';
import { randomBytes } from 'node:crypto';
import type { IRRequest, IRResponse } from '../ir';
import { signedToolId } from '../signatures';

export function responsesUsage(u: TokenUsage) {
  return {
    input_tokens: u.input_tokens,
    input_tokens_details: { cached_tokens: u.cached_input_tokens },
    output_tokens: u.output_tokens,
    output_tokens_details: { reasoning_tokens: u.reasoning_tokens },
    total_tokens: u.input_tokens + u.output_tokens,
  };
}

export const rid = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

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

/** The model's thinking, as its summary (what a translated upstream shows of it). */
export interface OutputReasoning {
  type: 'reasoning';
  id: string;
  summary: Array<{ type: 'summary_text'; text: string }>;
}

/** The Response object around a given output, echoing the request's parameters as OpenAI does. */
export function responseEnvelope(
  id: string,
  model: string,
  req: IRRequest,
  output: Array<OutputMessage | OutputFunctionCall | OutputReasoning>,
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
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: req.reasoning?.effort ?? null, summary: req.reasoning?.include_thoughts ? 'auto' : null },
    store: false,
    temperature: req.temperature ?? 1,
    text: { format: req.response_format ? (req.response_format.type === 'json_object' ? { type: 'json_object' } : { type: 'json_schema', name: req.response_format.name, schema: req.response_format.schema, strict: req.response_format.strict ?? false }) : { type: 'text' } },
    tool_choice: typeof req.tool_choice === 'object' ? { type: 'function', name: req.tool_choice.name } : (req.tool_choice ?? 'auto'),
    tools: (req.tools ?? []).map((t) => ({ type: 'function', name: t.name, description: t.description ?? null, parameters: t.parameters, strict: false })),
    top_p: req.top_p ?? 1,
    truncation: 'disabled',
    usage: usage ? responsesUsage(usage) : null,
    user: req.user ?? null,
    metadata: {},
  };
}

export function irToResponses(ir: IRResponse, model: string, req: IRRequest): Record<string, unknown> {
  const output: Array<OutputMessage | OutputFunctionCall | OutputReasoning> = [];
  const thinking = ir.parts.filter((p) => p.type === 'thinking').map((p) => (p as { text: string }).text).join('');
  if (thinking) output.push({ type: 'reasoning', id: rid('rs'), summary: [{ type: 'summary_text', text: thinking }] });
  const text = ir.parts.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('');
  if (text) output.push({ type: 'message', id: rid('msg'), status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] });
  for (const p of ir.parts) {
    if (p.type === 'tool_call') output.push({ type: 'function_call', id: rid('fc'), call_id: signedToolId(p.id, p.signature), name: p.name, arguments: p.arguments, status: 'completed' });
  }
  return responseEnvelope(rid('resp'), model, req, output, ir.stop_reason === 'length' ? 'incomplete' : 'completed', ir.usage, Math.floor(Date.now() / 1000));
}
