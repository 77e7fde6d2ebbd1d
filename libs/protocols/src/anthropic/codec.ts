import type { ClientCodec, UpstreamCodec } from '../codec';
import { toAnthropicError } from './errors';
import { irToMessages, messagesToIR } from './request';
import { irToMessage, messageToIR } from './response';
import { AnthropicStreamDecoder, AnthropicStreamEncoder } from './stream';

export const ANTHROPIC_VERSION = '2023-06-01';

export const anthropicUpstream: UpstreamCodec = {
  provider: 'anthropic',
  path: () => '/v1/messages',
  headers: (apiKey) => ({ 'x-api-key': apiKey, 'anthropic-version': ANTHROPIC_VERSION, 'content-type': 'application/json' }),
  encodeRequest: (ir, model) => irToMessages(ir, model),
  decodeResponse: messageToIR,
  streamDecoder: () => new AnthropicStreamDecoder(),
};

export const anthropicClient: ClientCodec = {
  style: 'anthropic',
  nativeProvider: 'anthropic',
  decodeRequest: (body) => messagesToIR(body),
  encodeResponse: (ir, model) => irToMessage(ir, model),
  streamEncoder: (model) => new AnthropicStreamEncoder(model),
  error: toAnthropicError,
};
