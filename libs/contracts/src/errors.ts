// Domain error codes shared by every service. Each API style's filter maps a code to its own
// provider's error shape; the HTTP status is fixed here so that all styles agree.
export const ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  insufficient_balance: 402,
  model_not_allowed: 403,
  /** a token that may not do this (the finance token on a route that changes something) */
  forbidden: 403,
  not_found: 404,
  model_not_found: 404,
  idempotency_in_flight: 409,
  /** a debit the account's state does not allow (an admin adjustment beyond the available balance): not a payment the caller could make */
  balance_conflict: 409,
  payload_too_large: 413,
  idempotency_mismatch: 422,
  rate_limited: 429,
  internal: 500,
  upstream_error: 502,
  service_unavailable: 503,
  upstream_timeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  param?: string;
  retryAfterSeconds?: number;
}

/** A failure with a code every layer understands; crosses the RPC transport as an ErrorBody. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly param?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'DomainError';
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message, param: this.param, retryAfterSeconds: this.retryAfterSeconds };
  }

  static isBody(value: unknown): value is ErrorBody {
    return (
      typeof value === 'object' &&
      value !== null &&
      typeof (value as ErrorBody).code === 'string' &&
      (value as ErrorBody).code in ERROR_STATUS &&
      typeof (value as ErrorBody).message === 'string'
    );
  }

  static from(value: unknown): DomainError {
    if (value instanceof DomainError) return value;
    if (DomainError.isBody(value)) return new DomainError(value.code, value.message, value.param, value.retryAfterSeconds);
    const message = value instanceof Error ? value.message : 'internal error';
    return new DomainError('internal', message);
  }
}
