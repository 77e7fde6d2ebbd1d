import { ERROR_STATUS, type ErrorBody } from '@gateway/contracts';

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
