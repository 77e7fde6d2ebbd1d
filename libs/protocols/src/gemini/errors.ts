import { ERROR_STATUS, type ErrorBody } from '@gateway/contracts';
import { KIND_STATUS, kindFromStatus, type StreamFailure, type UpstreamErrorKind } from '../codec';

const STATUS_TEXT: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  402: 'RESOURCE_EXHAUSTED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  413: 'INVALID_ARGUMENT',
  422: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** Google's error shape: `{"error":{"code","message","status"}}`. */
export function toGeminiError(e: ErrorBody): { status: number; body: { error: { code: number; message: string; status: string } } } {
  const status = ERROR_STATUS[e.code];
  return { status, body: { error: { code: status, message: e.message, status: STATUS_TEXT[status] ?? 'INTERNAL' } } };
}

const KIND_BY_STATUS_TEXT: Record<string, UpstreamErrorKind> = {
  INVALID_ARGUMENT: 'invalid_request',
  FAILED_PRECONDITION: 'invalid_request',
  OUT_OF_RANGE: 'invalid_request',
  UNAUTHENTICATED: 'authentication',
  PERMISSION_DENIED: 'permission',
  NOT_FOUND: 'not_found',
  RESOURCE_EXHAUSTED: 'rate_limit',
  // Gemini says "The model is overloaded" with 503 UNAVAILABLE
  UNAVAILABLE: 'overloaded',
  DEADLINE_EXCEEDED: 'timeout',
  INTERNAL: 'server',
  UNKNOWN: 'server',
};

/** The kind of a Gemini error object, by its status text, else its HTTP code. */
export function geminiErrorKind(e: { code?: unknown; status?: unknown }): UpstreamErrorKind {
  if (typeof e.status === 'string' && KIND_BY_STATUS_TEXT[e.status]) return KIND_BY_STATUS_TEXT[e.status];
  return typeof e.code === 'number' ? kindFromStatus(e.code) : 'server';
}

/** The error object that ends a Gemini stream: the code and status of the upstream's error kind when it said. */
export function toGeminiStreamError(f: StreamFailure): ReturnType<typeof toGeminiError>['body'] {
  const { body } = toGeminiError(f);
  if (!f.kind) return body;
  const code = KIND_STATUS[f.kind];
  return { error: { code, message: body.error.message, status: STATUS_TEXT[code] ?? 'INTERNAL' } };
}
