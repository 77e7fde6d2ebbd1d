import type { ErrorBody } from '@gateway/contracts';
import type { SseEvent } from './sse/sse-parser';
import type { IREvent, IRRequest, IRResponse } from './ir';

/** Turns an upstream's stream events into IR events. Throws UpstreamStreamError on an error event. */
export interface StreamDecoder {
  push(ev: SseEvent): IREvent[];
  /** the upstream ended its stream the way its protocol says a stream ends */
  completed(): boolean;
}

/** Turns IR events into a client style's stream frames. */
export interface StreamEncoder {
  readonly contentType: string;
  /** frames to send before any event (e.g. the `[` of a JSON-array stream) */
  begin(): string[];
  push(ev: IREvent): string[];
  /** closing frames of a stream that completed */
  end(): string[];
  /** closing frames of a stream the upstream broke: the style's error event and its stream's ending */
  fail(error: StreamFailure): string[];
}

/**
 * What went wrong upstream, in words every style has a name for: each style's errors.ts reads its own
 * error types into a kind and writes a kind back as its own type, so an overloaded Claude upstream reaches
 * an OpenAI client as `server_is_overloaded` and a Gemini one as 503 UNAVAILABLE.
 */
export type UpstreamErrorKind =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'request_too_large'
  | 'billing'
  | 'rate_limit'
  | 'overloaded'
  | 'timeout'
  | 'server';

/** The HTTP status each kind stands for, for styles whose errors carry one (Gemini's `code`). */
export const KIND_STATUS: Record<UpstreamErrorKind, number> = {
  invalid_request: 400,
  authentication: 401,
  billing: 402,
  permission: 403,
  not_found: 404,
  request_too_large: 413,
  rate_limit: 429,
  server: 500,
  overloaded: 503,
  timeout: 504,
};

/** The kind an HTTP status stands for (an error event that carries a status, as Gemini's and some OpenAI-compatible ones do). */
export function kindFromStatus(status: number): UpstreamErrorKind {
  const exact = (Object.keys(KIND_STATUS) as UpstreamErrorKind[]).find((k) => KIND_STATUS[k] === status);
  if (exact) return exact;
  if (status === 529) return 'overloaded'; // Anthropic's overloaded status
  if (status === 408) return 'timeout';
  return status >= 400 && status < 500 ? 'invalid_request' : 'server';
}

/** An error event in the upstream's stream. */
export class UpstreamStreamError extends Error {
  constructor(
    message: string,
    readonly kind: UpstreamErrorKind = 'server',
  ) {
    super(message);
  }
}

/** How a stream failed: the gateway's error, and what the upstream said went wrong when it said so. */
export interface StreamFailure extends ErrorBody {
  kind?: UpstreamErrorKind;
}

/** One upstream provider's wire format. */
export interface UpstreamCodec {
  readonly provider: string;
  path(upstreamModel: string, stream: boolean): string;
  headers(apiKey: string): Record<string, string>;
  encodeRequest(ir: IRRequest, upstreamModel: string): Record<string, unknown>;
  decodeResponse(body: unknown): IRResponse;
  streamDecoder(): StreamDecoder;
}

/** One client API style. */
export interface ClientCodec {
  readonly style: ClientStyle;
  /** the upstream provider that speaks this style natively (raw bodies pass through, to the route of the style: OpenAI's chat completions or responses), if any */
  readonly nativeProvider?: string;
  decodeRequest(body: unknown, ctx: { model?: string; stream?: boolean }): IRRequest;
  encodeResponse(ir: IRResponse, model: string, req: IRRequest): unknown;
  streamEncoder(model: string, req: IRRequest): StreamEncoder;
  error(e: ErrorBody): { status: number; body: unknown };
}

export type ClientStyle = 'openai' | 'responses' | 'anthropic' | 'gemini';
