import { ERROR_STATUS, type ErrorBody } from '@gateway/contracts';

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
