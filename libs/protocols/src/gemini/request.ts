import { z } from 'zod';
import { InvalidRequestError, UnsupportedFeatureError, type IREffort, type IRMedia, type IRMessage, type IRPart, type IRReasoning, type IRRequest, type IRToolChoice } from '../ir';
import { parseRequest } from '../zod-path';
import { parseArgs } from '../anthropic/request';
import { EFFORT_BUDGET, reasoningEffort } from '../reasoning';
import { documentData, mediaPart } from '../media';

const part = z.looseObject({});
const schema = z
  .object({
    contents: z.array(z.object({ role: z.enum(['user', 'model']).optional(), parts: z.array(part).min(1) }).loose()).min(1),
    systemInstruction: z.object({ parts: z.array(part) }).loose().optional(),
    safetySettings: z.array(z.looseObject({})).optional(),
    cachedContent: z.string().min(1).optional(),
    tools: z.array(z.looseObject({})).optional(),
    toolConfig: z.looseObject({ functionCallingConfig: z.looseObject({ mode: z.string().optional(), allowedFunctionNames: z.array(z.string()).optional() }).optional() }).optional(),
    generationConfig: z
      .object({
        maxOutputTokens: z.number().int().positive().optional(),
        temperature: z.number().min(0).max(2).optional(),
        topP: z.number().min(0).max(1).optional(),
        stopSequences: z.array(z.string()).optional(),
        topK: z.number().int().nonnegative().optional(),
        seed: z.number().int().optional(),
        responseLogprobs: z.boolean().optional(),
        logprobs: z.number().int().nonnegative().optional(),
        candidateCount: z.number().int().min(1).optional(),
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

const UNTRANSLATABLE_CONFIG = ['presencePenalty', 'frequencyPenalty', 'speechConfig', 'mediaResolution'];

/** Values whose keys are the client's own (arguments, a function's response, schemas, labels): never renamed. */
const VERBATIM = new Set(['args', 'response', 'parameters', 'parametersJsonSchema', 'responseSchema', 'responseJsonSchema', 'labels']);

/**
 * Gemini's REST API takes every field in snake_case as well (`system_instruction`, `generation_config`,
 * `inline_data`, `function_call`, `max_output_tokens`…): the body is read in camelCase, the camelCase
 * spelling winning where a client sent both. Arguments, responses and schemas keep their own keys.
 */
export function camelGemini(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camelGemini);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  const obj = v as Record<string, unknown>;
  for (const [k, x] of Object.entries(obj)) {
    const camel = k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    if (camel !== k && camel in obj) continue;
    out[camel] = VERBATIM.has(camel) ? x : camelGemini(x);
  }
  return out;
}

const LEVELS: Record<string, IREffort> = { minimal: 'minimal', low: 'low', medium: 'medium', high: 'high' };

interface GBlob {
  mimeType?: string;
  data?: string;
}

interface GFile {
  mimeType?: string;
  fileUri?: string;
}

interface GPart {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  inlineData?: GBlob;
  fileData?: GFile;
  functionCall?: { id?: string; name: string; args?: Record<string, unknown> };
  /** parts: the images and documents the function returned (Gemini 3's multimodal function responses) */
  functionResponse?: { id?: string; name: string; response?: unknown; parts?: Array<{ inlineData?: GBlob; fileData?: GFile }> };
}

/** An inline blob or a file by URI, as an image or a document by its MIME type (a PDF is never sent on as an image). */
function blobPart(p: { inlineData?: GBlob; fileData?: GFile }, at: string): IRMedia | null {
  if (p.inlineData) return mediaPart({ data: p.inlineData.data ?? '' }, p.inlineData.mimeType, `${at}.inlineData.mimeType`);
  if (p.fileData) return mediaPart({ url: p.fileData.fileUri ?? '' }, p.fileData.mimeType, `${at}.fileData.mimeType`);
  return null;
}

/**
 * Gemini generateContent request -> IR. A function response answers the pending call its id names; when its
 * id names none (Gemini CLI 0.1.x sent calls without ids and made one up for the response), the oldest
 * pending call of its name. Calls without ids get ids.
 */
export function generateContentToIR(raw: unknown, ctx: { model?: string; stream?: boolean }): IRRequest {
  const req = parseRequest(schema, camelGemini(raw));
  const gc = (req.generationConfig ?? {}) as Record<string, unknown>;
  for (const f of UNTRANSLATABLE_CONFIG) {
    if (gc[f] !== undefined) throw new UnsupportedFeatureError(`generationConfig.${f}`, `'generationConfig.${f}' cannot be translated for this model's upstream`);
  }
  const modalities = gc.responseModalities;
  if (Array.isArray(modalities) && modalities.some((m) => String(m).toUpperCase() !== 'TEXT')) {
    throw new UnsupportedFeatureError('generationConfig.responseModalities', "only the TEXT modality can be translated for this model's upstream");
  }
  // several candidates: only a Gemini upstream makes them (and bills them)
  if (gc.candidateCount !== undefined && (gc.candidateCount as number) > 1) {
    throw new UnsupportedFeatureError('generationConfig.candidateCount', "'candidateCount' above 1 cannot be translated for this model's upstream");
  }
  const pending: Array<{ id: string; name: string }> = []; // calls not yet answered, oldest first
  let seq = 0;
  const messages: IRMessage[] = [];
  req.contents.forEach((c, i) => {
    const role = c.role === 'model' ? 'assistant' : 'user';
    const parts: IRPart[] = (c.parts as GPart[]).map((p, j): IRPart => {
      const at = `contents[${i}].parts[${j}]`;
      if (p.functionCall) {
        const id = p.functionCall.id ?? `call_${seq++}_${p.functionCall.name}`;
        pending.push({ id, name: p.functionCall.name });
        const call: IRPart = { type: 'tool_call', id, name: p.functionCall.name, arguments: JSON.stringify(p.functionCall.args ?? {}) };
        return p.thoughtSignature ? { ...call, signature: p.thoughtSignature } : call;
      }
      if (p.functionResponse) {
        const fr = p.functionResponse;
        let k = fr.id !== undefined ? pending.findIndex((c) => c.id === fr.id) : -1;
        if (k < 0) k = pending.findIndex((c) => c.name === fr.name);
        const id = k >= 0 ? pending.splice(k, 1)[0].id : (fr.id ?? `call_${seq++}_${fr.name}`);
        const media = (fr.parts ?? []).map((fp, n) => {
          const m = blobPart(fp, `${at}.functionResponse.parts[${n}]`);
          if (!m) throw new UnsupportedFeatureError(`${at}.functionResponse.parts[${n}]`, "this kind of function response part cannot be translated for this model's upstream");
          return m;
        });
        return { type: 'tool_result', tool_call_id: id, name: fr.name, content: resultText(fr.response), ...(media.length ? { media } : {}) };
      }
      const media = blobPart(p, at);
      if (media) return media;
      // a thought's signature is Gemini's own: no other upstream could verify it, and Gemini needs only the calls'
      if (typeof p.text === 'string') return p.thought ? { type: 'thinking', text: p.text } : { type: 'text', text: p.text };
      throw new UnsupportedFeatureError(at, 'this kind of part cannot be translated for this model\'s upstream');
    });
    const last = messages[messages.length - 1];
    if (last && last.role === role) last.parts.push(...parts);
    else messages.push({ role, parts });
  });

  let web_search: IRRequest['web_search'];
  const tools = (req.tools ?? []).flatMap((t, i) => {
    const tool = t as { functionDeclarations?: Array<{ name: string; description?: string; parameters?: Record<string, unknown>; parametersJsonSchema?: Record<string, unknown> }>; googleSearch?: unknown };
    if (tool.googleSearch !== undefined && !tool.functionDeclarations) {
      // grounding with Google Search: the upstream's own web search, whichever provider it is
      web_search = {};
      return [];
    }
    if (!tool.functionDeclarations) throw new UnsupportedFeatureError(`tools[${i}]`, "only functionDeclarations and googleSearch tools can be translated for this model's upstream");
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
  const ir: IRRequest = {
    model: ctx.model ?? '',
    system: system || undefined,
    messages,
    tools: tools.length ? tools : undefined,
    ...(web_search ? { web_search } : {}),
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
  if (g?.topK !== undefined) ir.top_k = g.topK;
  if (g?.seed !== undefined) ir.seed = g.seed;
  if (g?.responseLogprobs) {
    ir.logprobs = true;
    if (g.logprobs !== undefined) ir.top_logprobs = g.logprobs;
  }
  if (req.safetySettings?.length) ir.safety_settings = req.safetySettings as Array<Record<string, unknown>>;
  if (req.cachedContent !== undefined) ir.cached_content = req.cachedContent;
  return ir;
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
  // Gemini 3 takes a function's images inside its response; earlier models read them as parts after it (as
  // Gemini CLI sends them). A file by URI is never inside one (the Gemini API has no such field there).
  const nested = /^(models\/)?gemini-3/.test(upstreamModel);
  const contents: Array<{ role: string; parts: Array<Record<string, unknown>> }> = [];
  for (const m of ir.messages) {
    const parts = m.parts.flatMap((p): Array<Record<string, unknown>> => {
      switch (p.type) {
        case 'text':
          return [{ text: p.text }];
        case 'image':
        case 'document':
          return [blobOf(p)];
        case 'tool_call':
          return [{ functionCall: { name: p.name, args: parseArgs(p.arguments) }, ...(p.signature ? { thoughtSignature: p.signature } : {}) }];
        case 'tool_result': {
          const name = p.name ?? names.get(p.tool_call_id);
          if (!name) throw new InvalidRequestError('tool_call_id', `no earlier tool call has id ${p.tool_call_id}`);
          const blobs = (p.media ?? []).map(blobOf);
          const inside = nested ? blobs.filter((b) => b.inlineData) : [];
          const after = blobs.filter((b) => !inside.includes(b));
          return [{ functionResponse: { name, response: resultObject(p.content), ...(inside.length ? { parts: inside } : {}) } }, ...after];
        }
        case 'thinking':
          return [];
      }
    });
    if (parts.length === 0) continue;
    const role = m.role === 'assistant' ? 'model' : 'user';
    const last = contents[contents.length - 1];
    if (last && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  }
  const body: Record<string, unknown> = { contents };
  if (ir.system) body.systemInstruction = { parts: [{ text: ir.system }] };
  if (ir.safety_settings) body.safetySettings = ir.safety_settings;
  if (ir.cached_content !== undefined) body.cachedContent = ir.cached_content;
  if (ir.tools) body.tools = [{ functionDeclarations: ir.tools.map((t) => ({ name: t.name, description: t.description, parametersJsonSchema: t.parameters })) }];
  if (ir.web_search) body.tools = [...((body.tools as unknown[] | undefined) ?? []), { googleSearch: {} }];
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
  if (ir.top_k !== undefined) gc.topK = ir.top_k;
  if (ir.seed !== undefined) gc.seed = ir.seed;
  if (ir.logprobs) {
    gc.responseLogprobs = true;
    if (ir.top_logprobs !== undefined) gc.logprobs = ir.top_logprobs;
  }
  // parallel_tool_calls: false has no switch in Gemini: the model may still call several functions at once
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

/** An image or a document as Gemini's inline data (a plain text as its bytes) or a file by URI. */
function blobOf(p: IRMedia): Record<string, unknown> {
  if (p.type === 'image') return p.data ? { inlineData: { mimeType: p.mime_type ?? 'image/png', data: p.data } } : { fileData: { mimeType: p.mime_type ?? 'image/jpeg', fileUri: p.url } };
  const data = documentData(p);
  return data !== undefined ? { inlineData: { mimeType: p.mime_type, data } } : { fileData: { mimeType: p.mime_type, fileUri: p.url } };
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
