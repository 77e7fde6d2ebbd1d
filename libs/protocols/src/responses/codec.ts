import type { ClientCodec } from '../codec';
import { toOpenAIError } from '../openai/errors';
import { responsesToIR } from './request';
import { irToResponses } from './response';
import { ResponsesStreamEncoder } from './stream';

/** The Responses API is served by translation to every upstream, OpenAI's chat included. */
export const responsesClient: ClientCodec = {
  style: 'responses',
  decodeRequest: (body) => responsesToIR(body),
  encodeResponse: (ir, model, req) => irToResponses(ir, model, req),
  streamEncoder: (model, req) => new ResponsesStreamEncoder(model, req),
  error: toOpenAIError,
};
