import type { ClientCodec, UpstreamCodec } from '../codec';
import type { IRRequest } from '../ir';
import { toOpenAIError } from './errors';
import { chatToIR, irToChat } from './request';
import { chatResponseToIR, irToChatResponse } from './response';
import { OpenAIChatStreamDecoder, OpenAIChatStreamEncoder } from './stream';

export const openaiUpstream: UpstreamCodec = {
  provider: 'openai',
  path: () => '/chat/completions',
  headers: (apiKey) => ({ authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }),
  encodeRequest: irToChat,
  decodeResponse: chatResponseToIR,
  streamDecoder: () => new OpenAIChatStreamDecoder(),
};

export const openaiClient: ClientCodec = {
  style: 'openai',
  nativeProvider: 'openai',
  decodeRequest: (body) => chatToIR(body),
  encodeResponse: (ir, model) => irToChatResponse(ir, model),
  streamEncoder: (model: string, req: IRRequest) => new OpenAIChatStreamEncoder(model, req),
  error: toOpenAIError,
};
