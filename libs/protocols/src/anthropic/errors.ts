import { ERROR_STATUS, type ErrorBody } from '@gateway/contracts';
import type { StreamFailure, UpstreamErrorKind } from '../codec';

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

const TYPE_BY_KIND: Record<UpstreamErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'not_found_error',
  request_too_large: 'request_too_large',
  billing: 'billing_error',
  rate_limit: 'rate_limit_error',
  overloaded: 'overloaded_error',
  timeout: 'timeout_error',
  server: 'api_error',
};

/** The kind of an Anthropic error type (`overloaded_error`, `rate_limit_error`…); unknown types are server errors. */
export function anthropicErrorKind(type: string | undefined): UpstreamErrorKind {
  return (Object.keys(TYPE_BY_KIND) as UpstreamErrorKind[]).find((k) => TYPE_BY_KIND[k] === type) ?? 'server';
}

/** The `error` event that ends an Anthropic stream, typed as the upstream's error was when it said. */
export function toAnthropicStreamError(f: StreamFailure): ReturnType<typeof toAnthropicError>['body'] {
  const { body } = toAnthropicError(f);
  return f.kind ? { type: 'error', error: { type: TYPE_BY_KIND[f.kind], message: body.error.message } } : body;
}
