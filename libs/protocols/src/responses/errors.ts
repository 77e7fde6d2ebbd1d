import { ERROR_STATUS } from '@gateway/contracts';
import { kindFromStatus, type StreamFailure, type UpstreamErrorKind } from '../codec';

/**
 * A failed Response's `error.code`: OpenAI's list (server_error, rate_limit_exceeded, invalid_prompt…), and
 * server_is_overloaded, which OpenAI sends for a model at capacity and clients such as Codex retry on.
 */
const CODE_BY_KIND: Partial<Record<UpstreamErrorKind, string>> = {
  rate_limit: 'rate_limit_exceeded',
  overloaded: 'server_is_overloaded',
  invalid_request: 'invalid_prompt',
  request_too_large: 'invalid_prompt',
  billing: 'insufficient_quota',
};

/** The error of a Responses stream that failed, by the upstream's kind when it said, else by the gateway's status. */
export function toResponsesError(f: StreamFailure): { code: string; message: string } {
  const kind = f.kind ?? kindFromStatus(ERROR_STATUS[f.code]);
  return { code: CODE_BY_KIND[kind] ?? 'server_error', message: f.message };
}
