import type { ClientCodec, UpstreamCodec } from '../codec';
import { toGeminiError } from './errors';
import { generateContentToIR, irToGenerateContent } from './request';
import { geminiToIR, irToGemini } from './response';
import { GeminiStreamDecoder, GeminiStreamEncoder } from './stream';

export const geminiUpstream: UpstreamCodec = {
  provider: 'gemini',
  path: (model, stream) => `/v1beta/models/${encodeURIComponent(model)}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`,
  headers: (apiKey) => ({ 'x-goog-api-key': apiKey, 'content-type': 'application/json' }),
  encodeRequest: (ir, model) => irToGenerateContent(ir, model),
  decodeResponse: geminiToIR,
  streamDecoder: () => new GeminiStreamDecoder(),
};

/** `sse`: the client asked for `?alt=sse`; otherwise the stream is one JSON array. */
export function geminiClient(sse: boolean): ClientCodec {
  return {
    style: 'gemini',
    nativeProvider: 'gemini',
    decodeRequest: (body, ctx) => generateContentToIR(body, ctx),
    encodeResponse: (ir, model) => irToGemini(ir, model),
    streamEncoder: (model) => new GeminiStreamEncoder(model, sse),
    error: toGeminiError,
  };
}
