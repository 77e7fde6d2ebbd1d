import type { ClientCodec } from '../codec';
import { toOpenAIError } from '../openai/errors';
import { responsesToIR } from './request';
import { irToResponses } from './response';
import { ResponsesStreamEncoder } from './stream';

/**
 * The Responses API: OpenAI channels take the body as it is on their own `/responses` route (reasoning
 * items, `include`, `previous_response_id`… kept); every other upstream is served by translation.
 */
export const responsesClient: ClientCodec = {
  style: 'responses',
  nativeProvider: 'openai',
  decodeRequest: (body) => responsesToIR(body),
  encodeResponse: (ir, model, req) => irToResponses(ir, model, req),
  streamEncoder: (model, req) => new ResponsesStreamEncoder(model, req),
  error: toOpenAIError,
};
