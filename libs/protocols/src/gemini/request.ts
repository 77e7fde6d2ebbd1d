import { z } from 'zod';
import { InvalidRequestError, UnsupportedFeatureError, type IREffort, type IRMessage, type IRPart, type IRReasoning, type IRRequest, type IRToolChoice } from '../ir';
import { parseRequest } from '../zod-path';
import { parseArgs } from '../anthropic/request';
import { EFFORT_BUDGET, reasoningEffort } from '../reasoning';

const part = z.looseObject({});
const schema = z
  .object({
    contents: z.array(z.object({ role: z.enum(['user', 'model']).optional(), parts: z.array(part).min(1) }).loose()).min(1),
    systemInstruction: z.object({ parts: z.array(part) }).loose().optional(),
    tools: z.array(z.looseObject({})).optional(),
    toolConfig: z.looseObject({ functionCallingConfig: z.looseObject({ mode: z.string().optional(), allowedFunctionNames: z.array(z.string()).optional() }).optional() }).optional(),
    generationConfig: z
      .object({
        maxOutputTokens: z.number().int().positive().optional(),
        temperature: z.number().min(0).max(2).optional(),
        topP: z.number().min(0).max(1).optional(),
        stopSequences: z.array(z.string()).optional(),
        candidateCount: z.number().int().min(1).max(1, 'candidateCount > 1 is not supported by the gateway').optional(),
        responseMimeType: z.string().optional(),
        responseSchema: z.record(z.string(), z.unknown()).optional(),
        responseJsonSchema: z.record(z.string(), z.unknown()).optional(),
        thinkingConfig: z
          .object({
            thinkingBudget: z.number().int().min(-1).optional(),
            includeThoughts: z.boolean().optional(),
            thinkingLevel: z.string().optional(),
          })
          .loose()
          .optional(),
      })
      .loose()
      .optional(),
  })
  .loose();

const UNTRANSLATABLE_CONFIG = ['topK', 'presencePenalty', 'frequencyPenalty', 'seed', 'responseLogprobs', 'logprobs', 'responseModalities', 'speechConfig', 'mediaResolution'];

const LEVELS: Record<string, IREffort> = { minimal: 'minimal', low: 'low', medium: 'medium', high: 'high' };

interface GPart {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType?: string; fileUri: string };
  functionCall?: { id?: string; name: string; args?: Record<string, unknown> };
  functionResponse?: { id?: string; name: string; response?: unknown };
}

/** Gemini generateContent request -> IR. Function calls without ids get ids, matched to their responses by name. */
export function generateContentToIR(raw: unknown, ctx: { model?: string; stream?: boolean }): IRRequest {
  const req = parseRequest(schema, raw);
  const gc = (req.generationConfig ?? {}) as Record<string, unknown>;
  for (const f of UNTRANSLATABLE_CONFIG) {
    if (gc[f] !== undefined) throw new UnsupportedFeatureError(`generationConfig.${f}`, `'generationConfig.${f}' cannot be translated for this model's upstream`);
  }
  const pending = new Map<string, string[]>(); // function name -> ids of calls not yet answered
  let seq = 0;
  const messages: IRMessage[] = [];
  req.contents.forEach((c, i) => {
    const role = c.role === 'model' ? 'assistant' : 'user';
    const parts: IRPart[] = (c.parts as GPart[]).map((p, j): IRPart => {
      const at = `contents[${i}].parts[${j}]`;
      if (p.functionCall) {
        const id = p.functionCall.id ?? `call_${seq++}_${p.functionCall.name}`;
        pending.set(p.functionCall.name, [...(pending.get(p.functionCall.name) ?? []), id]);
        const call: IRPart = { type: 'tool_call', id, name: p.functionCall.name, arguments: JSON.stringify(p.functionCall.args ?? {}) };
        return p.thoughtSignature ? { ...call, signature: p.thoughtSignature } : call;
      }
      if (p.functionResponse) {
        const queue = pending.get(p.functionResponse.name) ?? [];
        const id = p.functionResponse.id ?? queue.shift() ?? `call_${seq++}_${p.functionResponse.name}`;
        return { type: 'tool_result', tool_call_id: id, name: p.functionResponse.name, content: resultText(p.functionResponse.response) };
      }
      if (p.inlineData) {
        if (!p.inlineData.mimeType?.startsWith('image/')) throw new UnsupportedFeatureError(`${at}.inlineData.mimeType`, `inline data of type '${p.inlineData.mimeType}' cannot be translated`);
        return { type: 'image', mime_type: p.inlineData.mimeType, data: p.inlineData.data };
      }
      if (p.fileData) return { type: 'image', url: p.fileData.fileUri, mime_type: p.fileData.mimeType };
      // a thought's signature is Gemini's own: no other upstream could verify it, and Gemini needs only the calls'
      if (typeof p.text === 'string') return p.thought ? { type: 'thinking', text: p.text } : { type: 'text', text: p.text };
      throw new UnsupportedFeatureError(at, 'this kind of part cannot be translated for this model\'s upstream');
    });
    const last = messages[messages.length - 1];
    if (last && last.role === role) last.parts.push(...parts);
    else messages.push({ role, parts });
  });

  const tools = (req.tools ?? []).flatMap((t, i) => {
    const tool = t as { functionDeclarations?: Array<{ name: string; description?: string; parameters?: Record<string, unknown>; parametersJsonSchema?: Record<string, unknown> }> };
    if (!tool.functionDeclarations) throw new UnsupportedFeatureError(`tools[${i}]`, "only functionDeclarations tools can be translated for this model's upstream");
    return tool.functionDeclarations.map((f) => ({ name: f.name, description: f.description, parameters: lowerSchema(f.parametersJsonSchema ?? f.parameters ?? { type: 'object', properties: {} }) }));
  });
  let tool_choice: IRToolChoice | undefined;
  const fcc = req.toolConfig?.functionCallingConfig;
  if (fcc?.mode === 'ANY') tool_choice = fcc.allowedFunctionNames?.length === 1 ? { name: fcc.allowedFunctionNames[0] } : 'required';
  else if (fcc?.mode === 'NONE') tool_choice = 'none';
  else if (fcc?.mode === 'AUTO') tool_choice = 'auto';

  const g = req.generationConfig;
  let response_format: IRRequest['response_format'];
  const schemaOut = g?.responseJsonSchema ?? g?.responseSchema;
  if (schemaOut) response_format = { type: 'json_schema', name: 'response', schema: lowerSchema(schemaOut) };
  else if (g?.responseMimeType === 'application/json') response_format = { type: 'json_object' };

  const system = ((req.systemInstruction?.parts ?? []) as GPart[]).map((p) => p.text ?? '').join('\n');
  return {
    model: ctx.model ?? '',
    system: system || undefined,
    messages,
    tools: tools.length ? tools : undefined,
    tool_choice,
    max_tokens: g?.maxOutputTokens,
    temperature: g?.temperature,
    top_p: g?.topP,
    stop: g?.stopSequences,
    response_format,
    stream: ctx.stream === true,
    stream_usage: true,
    reasoning: thinkingToIR(g?.thinkingConfig),
  };
}

function thinkingToIR(tc: { thinkingBudget?: number; includeThoughts?: boolean; thinkingLevel?: string } | undefined): IRReasoning | undefined {
  if (!tc) return undefined;
  const r: IRReasoning = {};
  if (tc.thinkingBudget !== undefined) r.budget_tokens = tc.thinkingBudget;
  const level = tc.thinkingLevel?.toLowerCase();
  if (level && level !== 'thinking_level_unspecified') {
    if (!LEVELS[level]) throw new UnsupportedFeatureError('generationConfig.thinkingConfig.thinkingLevel', `thinkingLevel '${tc.thinkingLevel}' cannot be translated for this model's upstream`);
    r.effort = LEVELS[level];
  }
  if (tc.includeThoughts !== undefined) r.include_thoughts = tc.includeThoughts;
  return Object.keys(r).length ? r : undefined;
}

/**
 * Gemini 3 takes a thinking level (Pro only low and high, Flash also minimal and medium; thinking cannot be
 * turned off, so none gets the least there is); Gemini 2.5 a budget (0 off, -1 dynamic), the client's own or its effort's.
 */
function thinkingFromIR(r: IRReasoning, upstreamModel: string): Record<string, unknown> | undefined {
  const tc: Record<string, unknown> = {};
  if (/^(models\/)?gemini-3/.test(upstreamModel)) {
    const effort = reasoningEffort(r);
    const flash = upstreamModel.includes('flash');
    if (effort === 'none' || effort === 'minimal') tc.thinkingLevel = flash ? 'minimal' : 'low';
    else if (effort === 'medium') tc.thinkingLevel = flash ? 'medium' : 'high';
    else if (effort) tc.thinkingLevel = effort === 'low' ? 'low' : 'high';
  } else {
    // Gemini 2.5 takes budgets up to 24576 (Pro 32768); a larger one is a 400 there
    const most = upstreamModel.includes('pro') ? 32768 : 24576;
    if (r.budget_tokens !== undefined) tc.thinkingBudget = Math.min(r.budget_tokens, most);
    else if (r.effort) tc.thinkingBudget = r.effort === 'none' ? 0 : Math.min(EFFORT_BUDGET[r.effort], 24576);
  }
  if (r.include_thoughts) tc.includeThoughts = true;
  return Object.keys(tc).length ? tc : undefined;
}

/** Gemini's OpenAPI-style schemas use upper-case type names (STRING, OBJECT); JSON Schema wants lower case. */
export function lowerSchema(s: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'type' && typeof v === 'string') out[k] = v.toLowerCase();
    else if (Array.isArray(v)) out[k] = v.map((x) => (x && typeof x === 'object' ? lowerSchema(x as Record<string, unknown>) : x));
    else if (v && typeof v === 'object') out[k] = lowerSchema(v as Record<string, unknown>);
    else out[k] = v;
  }
  return out;
}

/** IR -> Gemini generateContent body. A function call goes back with the thoughtSignature it was made with. */
export function irToGenerateContent(ir: IRRequest, upstreamModel = ''): Record<string, unknown> {
  const names = new Map<string, string>();
  for (const m of ir.messages) for (const p of m.parts) if (p.type === 'tool_call') names.set(p.id, p.name);
  const contents: Array<{ role: string; parts: Array<Record<string, unknown>> }> = [];
  for (const m of ir.messages) {
    const parts = m.parts
      .map((p): Record<string, unknown> | null => {
        switch (p.type) {
          case 'text':
            return { text: p.text };
          case 'image':
            return p.data ? { inlineData: { mimeType: p.mime_type ?? 'image/png', data: p.data } } : { fileData: { mimeType: p.mime_type ?? 'image/jpeg', fileUri: p.url } };
          case 'tool_call':
            return { functionCall: { name: p.name, args: parseArgs(p.arguments) }, ...(p.signature ? { thoughtSignature: p.signature } : {}) };
          case 'tool_result': {
            const name = p.name ?? names.get(p.tool_call_id);
            if (!name) throw new InvalidRequestError('tool_call_id', `no earlier tool call has id ${p.tool_call_id}`);
            return { functionResponse: { name, response: resultObject(p.content) } };
          }
          case 'thinking':
            return null;
        }
      })
      .filter((p): p is Record<string, unknown> => p !== null);
    if (parts.length === 0) continue;
    const role = m.role === 'assistant' ? 'model' : 'user';
    const last = contents[contents.length - 1];
    if (last && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  }
  const body: Record<string, unknown> = { contents };
  if (ir.system) body.systemInstruction = { parts: [{ text: ir.system }] };
  if (ir.tools) body.tools = [{ functionDeclarations: ir.tools.map((t) => ({ name: t.name, description: t.description, parametersJsonSchema: t.parameters })) }];
  if (ir.tool_choice) {
    body.toolConfig = {
      functionCallingConfig:
        ir.tool_choice === 'required'
          ? { mode: 'ANY' }
          : ir.tool_choice === 'none'
            ? { mode: 'NONE' }
            : ir.tool_choice === 'auto'
              ? { mode: 'AUTO' }
              : { mode: 'ANY', allowedFunctionNames: [ir.tool_choice.name] },
    };
  }
  const gc: Record<string, unknown> = {};
  if (ir.max_tokens !== undefined) gc.maxOutputTokens = ir.max_tokens;
  if (ir.temperature !== undefined) gc.temperature = ir.temperature;
  if (ir.top_p !== undefined) gc.topP = ir.top_p;
  if (ir.stop) gc.stopSequences = ir.stop;
  if (ir.response_format) {
    gc.responseMimeType = 'application/json';
    if (ir.response_format.type === 'json_schema') gc.responseJsonSchema = ir.response_format.schema;
  }
  const thinking = ir.reasoning && thinkingFromIR(ir.reasoning, upstreamModel);
  if (thinking) gc.thinkingConfig = thinking;
  if (Object.keys(gc).length) body.generationConfig = gc;
  return body;
}

/** The inverse of resultObject: a `{result: "text"}` wrapper is the plain text it wrapped. */
function resultText(response: unknown): string {
  const r = response as Record<string, unknown> | undefined;
  if (r && Object.keys(r).length === 1 && typeof r.result === 'string') return r.result;
  return JSON.stringify(r ?? {});
}

function resultObject(content: string): Record<string, unknown> {
  try {
    const v = JSON.parse(content) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // not JSON: wrapped below
  }
  return { result: content };
}
