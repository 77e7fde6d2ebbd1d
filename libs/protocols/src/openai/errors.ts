import { ERROR_STATUS, type ErrorBody } from '@gateway/contracts';
import { kindFromStatus, type StreamFailure, type UpstreamErrorKind } from '../codec';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'insufficient_quota',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
};

const CODE_OVERRIDES: Partial<Record<ErrorBody['code'], string>> = {
  unauthorized: 'invalid_api_key',
  model_not_found: 'model_not_found',
  balance_conflict: 'insufficient_balance',
};

/** OpenAI's error shape: `{"error":{"message","type","param","code"}}`, so the SDK raises its typed errors. */
export function toOpenAIError(e: ErrorBody): { status: number; body: OpenAIErrorBody } {
  const status = ERROR_STATUS[e.code];
  return {
    status,
    body: {
      error: {
        message: e.message,
        type: TYPE_BY_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error'),
        param: e.param ?? null,
        code: CODE_OVERRIDES[e.code] ?? e.code,
      },
    },
  };
}

/** Each kind as OpenAI names it: `type`, and the `code` its SDK users branch on (`server_is_overloaded`…). */
const OPENAI_BY_KIND: Record<UpstreamErrorKind, { type: string; code: string }> = {
  invalid_request: { type: 'invalid_request_error', code: 'invalid_request' },
  authentication: { type: 'authentication_error', code: 'invalid_api_key' },
  permission: { type: 'permission_error', code: 'permission_denied' },
  not_found: { type: 'not_found_error', code: 'not_found' },
  request_too_large: { type: 'invalid_request_error', code: 'request_too_large' },
  billing: { type: 'insufficient_quota', code: 'insufficient_quota' },
  rate_limit: { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  overloaded: { type: 'service_unavailable_error', code: 'server_is_overloaded' },
  timeout: { type: 'timeout_error', code: 'upstream_timeout' },
  server: { type: 'server_error', code: 'server_error' },
};

/** Words in an OpenAI(-compatible) error's type or code, by kind; the first match wins. */
const KIND_WORDS: Array<[UpstreamErrorKind, string[]]> = [
  ['overloaded', ['server_is_overloaded', 'overloaded', 'overloaded_error', 'service_unavailable_error', 'slow_down']],
  ['rate_limit', ['rate_limit_exceeded', 'rate_limit_error', 'requests', 'tokens']],
  ['billing', ['insufficient_quota', 'billing_error']],
  ['authentication', ['invalid_api_key', 'authentication_error']],
  ['permission', ['permission_error', 'permission_denied']],
  ['not_found', ['model_not_found', 'not_found_error']],
  ['request_too_large', ['request_too_large']],
  ['timeout', ['timeout', 'timeout_error']],
  ['invalid_request', ['invalid_request_error', 'context_length_exceeded', 'invalid_prompt']],
];

/**
 * The kind of an OpenAI stream's error object. OpenAI names it by type and code; compatible servers
 * (OpenRouter and the like) put an HTTP status in `code`, which is read as a status.
 */
export function openaiErrorKind(e: { type?: unknown; code?: unknown }): UpstreamErrorKind {
  if (typeof e.code === 'number') return kindFromStatus(e.code);
  const words = [e.code, e.type].filter((w): w is string => typeof w === 'string');
  return KIND_WORDS.find(([, names]) => words.some((w) => names.includes(w)))?.[0] ?? 'server';
}

/** The error chunk that ends an OpenAI chat stream, typed as the upstream's error was when it said. */
export function toOpenAIStreamError(f: StreamFailure): OpenAIErrorBody {
  const { body } = toOpenAIError(f);
  return f.kind ? { error: { ...body.error, ...OPENAI_BY_KIND[f.kind] } } : body;
}
