import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { countPromptTokens, forcedStatus, hexId, openStream, planChat, streamPieces, waitLatency, type ChatPlan, type ChatTurn } from '../chat-logic';
import type { MockState } from '../state';
import { geminiError, geminiErrorHandler } from './gemini.errors';
import { callSignature, signatureError, signsCalls, thoughtSignature, type SignedPart } from './thought-signatures';

// The Gemini API (generativelanguage, v1beta): models/{model}:generateContent, :streamGenerateContent
// (SSE with alt=sse, else a streamed JSON array) and :countTokens, plus the model list.

type GeminiPart = SignedPart;

interface GeminiContent {
  role?: string;
  parts?: GeminiPart[];
}

interface GeminiTool {
  functionDeclarations?: Array<{ name?: string }>;
}

interface GenerateBody {
  contents?: GeminiContent[];
  systemInstruction?: GeminiContent | string;
  tools?: GeminiTool[];
  /** thinkingConfig is taken and, but for includeThoughts, has no effect: the mock thinks as its directives say */
  generationConfig?: { maxOutputTokens?: number; thinkingConfig?: { thinkingBudget?: number; thinkingLevel?: string; includeThoughts?: boolean } };
}

interface CountTokensBody extends GenerateBody {
  generateContentRequest?: GenerateBody;
}

interface ModelRoute {
  Params: { modelAction: string };
  Querystring: { alt?: string; key?: string };
}

export const GEMINI_MODELS = ['gemini-2.0-flash', 'gemini-2.5-flash', 'gemini-2.5-pro'];
const METHODS = ['generateContent', 'streamGenerateContent', 'countTokens'];

const modelInfo = (id: string) => ({
  name: `models/${id}`,
  version: '001',
  displayName: `Mock ${id}`,
  description: 'A deterministic mock of a Gemini model',
  inputTokenLimit: 1048576,
  outputTokenLimit: 65536,
  supportedGenerationMethods: METHODS,
});

const responseText = (response: unknown): string => JSON.stringify(response ?? {});

function toTurn(c: GeminiContent): ChatTurn {
  const parts = c.parts ?? [];
  const role = c.role === 'model' ? 'assistant' : 'user';
  const text = parts.map((p) => (p.functionResponse ? responseText(p.functionResponse.response) : (p.text ?? ''))).join('');
  const results = parts.filter((p) => p.functionResponse).map((p) => responseText(p.functionResponse?.response));
  return results.length > 0 ? { role, text, toolResult: results[results.length - 1] } : { role, text };
}

function toTurns(body: GenerateBody): ChatTurn[] {
  const si = body.systemInstruction;
  const system = typeof si === 'string' ? si : (si?.parts ?? []).map((p) => p.text ?? '').join('');
  const turns = (body.contents ?? []).map(toTurn);
  return si !== undefined && system.length > 0 ? [{ role: 'system', text: system }, ...turns] : turns;
}

/** split "gemini-2.0-flash:generateContent" on its last colon */
function splitModelAction(param: string): { model: string; action: string } {
  const i = param.lastIndexOf(':');
  return i < 0 ? { model: param, action: '' } : { model: param.slice(0, i), action: param.slice(i + 1) };
}

export function registerGemini(app: FastifyInstance, state: MockState): void {
  app.register(async (scope) => {
    scope.setErrorHandler(geminiErrorHandler);
    scope.addHook('onRequest', async (req, reply) => {
      const header = req.headers['x-goog-api-key'];
      const query = (req.query as { key?: unknown } | undefined)?.key;
      const ok = (typeof header === 'string' && header.length > 0) || (typeof query === 'string' && query.length > 0);
      if (!ok) return geminiError(reply, 401, 'Method doesn\'t allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.');
    });

    scope.get('/v1beta/models', async () => ({ models: GEMINI_MODELS.map(modelInfo) }));
    scope.get('/v1beta/models/:modelAction', async (req: FastifyRequest<ModelRoute>) => modelInfo(req.params.modelAction));

    scope.post('/v1beta/models/:modelAction', async (req: FastifyRequest<ModelRoute & { Body: CountTokensBody }>, reply) => {
      const { model, action } = splitModelAction(req.params.modelAction);
      state.record('gemini', req);
      const body = req.body ?? {};
      if (action === 'countTokens') {
        const request = body.generateContentRequest ?? body;
        if (!Array.isArray(request.contents) || request.contents.length === 0) return geminiError(reply, 400, '* CountTokensRequest.contents: contents is not specified');
        return { totalTokens: countPromptTokens(toTurns(request)) };
      }
      if (action !== 'generateContent' && action !== 'streamGenerateContent') return geminiError(reply, 404, `Method ${action || '(none)'} not found for models/${model}.`);
      return generate(req, reply, state, model, action === 'streamGenerateContent');
    });
  });
}

async function generate(req: FastifyRequest<ModelRoute & { Body: GenerateBody }>, reply: FastifyReply, state: MockState, model: string, stream: boolean) {
  const body = req.body ?? {};
  if (!Array.isArray(body.contents) || body.contents.length === 0) return geminiError(reply, 400, '* GenerateContentRequest.contents: contents is not specified');
  const signs = signsCalls(model);
  const unsigned = signs ? signatureError(body.contents) : null;
  if (unsigned) return geminiError(reply, 400, unsigned);
  const toolNames = (body.tools ?? []).flatMap((t) => t.functionDeclarations ?? []).map((f) => f.name ?? '').filter((n) => n.length > 0);
  const plan = planChat({ turns: toTurns(body), toolNames, maxOutputTokens: body.generationConfig?.maxOutputTokens }, state);
  await waitLatency(plan);
  const status = forcedStatus(plan, reply);
  if (status) return geminiError(reply, status, `mock forced status ${status}`);

  const { output } = plan;
  const finishReason = output.kind === 'text' && output.truncated ? 'MAX_TOKENS' : 'STOP';
  const responseId = hexId();
  const usageMetadata = fullUsage(plan);
  const response = (parts: GeminiPart[], last: boolean) => ({
    candidates: [{ content: { parts, role: 'model' }, ...(last ? { finishReason } : {}), index: 0 }],
    // as Gemini does: every chunk counts the prompt, the last one the whole call
    usageMetadata: last ? usageMetadata : { promptTokenCount: plan.promptTokens, totalTokenCount: plan.promptTokens },
    modelVersion: model,
    responseId,
  });

  // Gemini 3 signs the function call, or else the last part of the answer
  const signed = (part: GeminiPart, signature: () => string): GeminiPart => (signs ? { ...part, thoughtSignature: signature() } : part);
  const textSignature = () => thoughtSignature('text', '', output.kind === 'text' ? output.pieces.join('') : '');
  // thoughts are shown only when asked for, as Gemini does
  const thought: GeminiPart[] = body.generationConfig?.thinkingConfig?.includeThoughts && plan.reasoningTokens > 0 ? [{ text: `Considered the request in ${plan.reasoningTokens} tokens.`, thought: true }] : [];

  if (!stream) {
    const part: GeminiPart =
      output.kind === 'tool_call'
        ? signed({ functionCall: { name: output.name, args: output.args } }, () => callSignature({ name: output.name, args: output.args }))
        : signed({ text: output.pieces.join('') }, textSignature);
    return response([...thought, part], true);
  }

  // a function call goes out whole in one chunk; text one chunk per piece, the last with the finish reason
  const answer: GeminiPart[][] =
    output.kind === 'tool_call'
      ? [[signed({ functionCall: { name: output.name, args: output.args } }, () => callSignature({ name: output.name, args: output.args }))]]
      : output.pieces.length > 0
        ? output.pieces.map((text, i) => [i === output.pieces.length - 1 ? signed({ text }, textSignature) : { text }])
        : [[signed({ text: '' }, textSignature)]];
  const partsPerChunk: GeminiPart[][] = thought.length ? [thought, ...answer] : answer;
  const chunks = partsPerChunk.map((parts, i) => JSON.stringify(response(parts, i === partsPerChunk.length - 1)));
  const sse = req.query.alt === 'sse';

  reply.hijack();
  const res = reply.raw;
  openStream(res, sse ? 'text/event-stream' : 'application/json; charset=UTF-8');
  const alive = sse
    ? await streamPieces(res, chunks, plan, (json) => res.write(`data: ${json}\r\n\r\n`), ': flush\r\n\r\n', `data: ${OVERLOADED}\r\n\r\n`)
    : await streamPieces(res, chunks, plan, (json, i) => res.write(`${i === 0 ? '[' : ',\r\n'}${json}`), '\r\n', `,\r\n${OVERLOADED}]`);
  if (!alive) return;
  res.end(sse ? undefined : ']');
}

/** Gemini's error object, as a stream element, when the model is overloaded mid-stream. */
const OVERLOADED = JSON.stringify({ error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } });

function fullUsage(plan: ChatPlan) {
  return {
    promptTokenCount: plan.promptTokens,
    candidatesTokenCount: plan.outputTokens,
    totalTokenCount: plan.promptTokens + plan.outputTokens + plan.reasoningTokens,
    ...(plan.reasoningTokens > 0 ? { thoughtsTokenCount: plan.reasoningTokens } : {}),
    ...(plan.cachedTokens > 0 ? { cachedContentTokenCount: plan.cachedTokens } : {}),
  };
}
