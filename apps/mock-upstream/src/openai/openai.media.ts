import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hexId } from '../chat-logic';
import { mockTokens, parseDirectives, sleep } from '../directives';
import { formFiles, formText, readForm, summariseForm } from '../multipart';
import type { MockState } from '../state';
import { embeddingVector, float32Base64, MOCK_PNG, mp3Silence, pcmSilence, wavDurationSeconds, wavFile } from './media-bytes';
import { openaiError, openaiForcedError } from './openai.errors';

// Embeddings, images and audio, in OpenAI's shapes. Text inputs honour the latency and status directives.

interface EmbeddingsBody {
  model?: string;
  input?: unknown;
  dimensions?: number;
  encoding_format?: string;
}

interface ImageGenerationBody {
  model?: string;
  prompt?: string;
  n?: number;
  size?: string;
  response_format?: string;
}

interface SpeechBody {
  model?: string;
  input?: string;
  voice?: unknown;
  response_format?: string;
  speed?: number;
}

const SPEECH_TYPES = new Map([
  ['mp3', 'audio/mpeg'],
  ['wav', 'audio/wav'],
  ['pcm', 'audio/pcm'],
]);

/** Sleeps for [[mock:latency]]; answers [[mock:status]] and returns true when it did. */
async function directivesAnswered(text: string, state: MockState, reply: FastifyReply): Promise<boolean> {
  const d = parseDirectives(text);
  const latency = d.latencyMs ?? state.latencyMs;
  if (latency > 0) await sleep(latency);
  if (d.status !== undefined && d.status >= 400 && d.status <= 599) {
    await openaiForcedError(reply, d.status);
    return true;
  }
  return false;
}

/** Each input as text; a token array counts as the text of its numbers. */
function embeddingInputs(input: unknown): string[] | undefined {
  const isTokens = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');
  if (typeof input === 'string') return [input];
  if (isTokens(input)) return [input.join(' ')];
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (input.every((x) => typeof x === 'string')) return input as string[];
  if (input.every(isTokens)) return (input as number[][]).map((t) => t.join(' '));
  return undefined;
}

function imageItems(req: FastifyRequest, prompt: string, n: number, format: string | undefined): object[] {
  return Array.from({ length: n }, () =>
    format === 'b64_json'
      ? { b64_json: MOCK_PNG.toString('base64'), revised_prompt: prompt }
      : { url: `http://127.0.0.1:${req.socket.localPort}/_mock/files/img_${hexId(8)}.png`, revised_prompt: prompt },
  );
}

/** n and response_format as OpenAI validates them; an error message when invalid. */
function imageParamsProblem(n: number, format: string | undefined): string | undefined {
  if (!Number.isInteger(n) || n < 1 || n > 10) return `${n} is not a valid value for 'n': it must be an integer between 1 and 10`;
  if (format !== undefined && format !== 'url' && format !== 'b64_json') return `Invalid value: '${format}'. Supported values are: 'url' and 'b64_json'.`;
  return undefined;
}

export function registerOpenAIMedia(scope: FastifyInstance, state: MockState): void {
  scope.post('/v1/embeddings', async (req: FastifyRequest<{ Body: EmbeddingsBody }>, reply) => {
    const body = req.body ?? {};
    state.record('openai', req);
    if (!body.model) return openaiError(reply, 400, 'you must provide a model parameter', 'invalid_request_error', 'model');
    const inputs = embeddingInputs(body.input);
    if (!inputs || inputs.some((s) => s.length === 0)) return openaiError(reply, 400, "'$.input' is invalid. Please check the API reference.", 'invalid_request_error', 'input');
    const dimensions = body.dimensions ?? 8;
    if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > 4096) return openaiError(reply, 400, 'dimensions must be an integer between 1 and 4096', 'invalid_request_error', 'dimensions');
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') return openaiError(reply, 400, "encoding_format must be 'float' or 'base64'", 'invalid_request_error', 'encoding_format');
    if (await directivesAnswered(inputs.join('\n'), state, reply)) return reply;

    const data = inputs.map((text, index) => {
      const vector = embeddingVector(text, dimensions);
      return { object: 'embedding', index, embedding: format === 'base64' ? float32Base64(vector) : vector };
    });
    const promptTokens = inputs.reduce((n, s) => n + mockTokens(s), 0);
    return { object: 'list', data, model: body.model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
  });

  scope.post('/v1/images/generations', async (req: FastifyRequest<{ Body: ImageGenerationBody }>, reply) => {
    const body = req.body ?? {};
    state.record('openai', req);
    if (typeof body.prompt !== 'string' || body.prompt.length === 0) return openaiError(reply, 400, "Missing required parameter: 'prompt'.", 'invalid_request_error', 'prompt');
    const n = body.n ?? 1;
    const problem = imageParamsProblem(n, body.response_format);
    if (problem) return openaiError(reply, 400, problem, 'invalid_request_error');
    if (await directivesAnswered(body.prompt, state, reply)) return reply;
    return { created: Math.floor(Date.now() / 1000), data: imageItems(req, body.prompt, n, body.response_format) };
  });

  scope.post('/v1/images/edits', async (req, reply) => {
    const form = await readForm(req);
    state.record('openai', req, form ? summariseForm(form) : undefined);
    if (!form) return openaiError(reply, 400, 'Expected a multipart/form-data body.', 'invalid_request_error');
    const images = formFiles(form, 'image', 'image[]');
    const prompt = formText(form, 'prompt');
    if (images.length === 0) return openaiError(reply, 400, "Missing required parameter: 'image'.", 'invalid_request_error', 'image');
    if (!prompt) return openaiError(reply, 400, "Missing required parameter: 'prompt'.", 'invalid_request_error', 'prompt');
    const n = Number(formText(form, 'n') ?? 1);
    const format = formText(form, 'response_format');
    const problem = imageParamsProblem(n, format);
    if (problem) return openaiError(reply, 400, problem, 'invalid_request_error');
    if (await directivesAnswered(prompt, state, reply)) return reply;
    return { created: Math.floor(Date.now() / 1000), data: imageItems(req, prompt, n, format) };
  });

  scope.post('/v1/audio/transcriptions', async (req, reply) => {
    const form = await readForm(req);
    state.record('openai', req, form ? summariseForm(form) : undefined);
    if (!form) return openaiError(reply, 400, 'Expected a multipart/form-data body.', 'invalid_request_error');
    const [file] = formFiles(form, 'file');
    if (!file) return openaiError(reply, 400, "Missing required parameter: 'file'.", 'invalid_request_error', 'file');
    if (!formText(form, 'model')) return openaiError(reply, 400, "Missing required parameter: 'model'.", 'invalid_request_error', 'model');
    const format = formText(form, 'response_format') ?? 'json';
    if (format !== 'json' && format !== 'text' && format !== 'verbose_json') {
      return openaiError(reply, 400, `Unsupported response_format '${format}': use json, text or verbose_json.`, 'invalid_request_error', 'response_format');
    }
    if (state.latencyMs > 0) await sleep(state.latencyMs);

    const bytes = Buffer.from(await file.arrayBuffer());
    const duration = wavDurationSeconds(bytes) ?? bytes.length / 16000;
    const seconds = Math.ceil(duration);
    const text = `Mock transcription of ${file.name} (${seconds} s)`;
    const usage = { type: 'duration', seconds };
    if (format === 'text') return reply.type('text/plain; charset=utf-8').send(text);
    if (format === 'verbose_json') return { task: 'transcribe', language: 'english', duration, text, segments: [], usage };
    return { text, usage };
  });

  scope.post('/v1/audio/speech', async (req: FastifyRequest<{ Body: SpeechBody }>, reply) => {
    const body = req.body ?? {};
    state.record('openai', req);
    if (!body.model) return openaiError(reply, 400, "Missing required parameter: 'model'.", 'invalid_request_error', 'model');
    if (typeof body.input !== 'string' || body.input.length === 0) return openaiError(reply, 400, "Missing required parameter: 'input'.", 'invalid_request_error', 'input');
    const format = body.response_format ?? 'mp3';
    const contentType = SPEECH_TYPES.get(format);
    if (!contentType) return openaiError(reply, 400, `Unsupported response_format '${format}': the mock produces mp3, wav and pcm.`, 'invalid_request_error', 'response_format');
    if (await directivesAnswered(body.input, state, reply)) return reply;

    const seconds = Math.max(1, Math.ceil(body.input.length / 15));
    const audio = format === 'mp3' ? mp3Silence(seconds) : format === 'wav' ? wavFile(pcmSilence(seconds)) : pcmSilence(seconds);
    return reply.type(contentType).send(audio);
  });
}
