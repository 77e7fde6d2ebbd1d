import { ERROR_STATUS, type ErrorBody } from '@gateway/contracts';

const TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'invalid_request_error',
  413: 'request_too_large',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
  503: 'overloaded_error',
  504: 'timeout_error',
};

/** Anthropic's error shape: `{"type":"error","error":{"type","message"}}`. */
export function toAnthropicError(e: ErrorBody): { status: number; body: { type: 'error'; error: { type: string; message: string } } } {
  const status = ERROR_STATUS[e.code];
  return { status, body: { type: 'error', error: { type: TYPE_BY_STATUS[status] ?? 'api_error', message: e.message } } };
}
