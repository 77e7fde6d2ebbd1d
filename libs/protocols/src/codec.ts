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
  /** closing frames of a stream the upstream broke: the style's error event */
  fail(error: ErrorBody): string[];
}

export class UpstreamStreamError extends Error {}

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
  /** the upstream provider that speaks this style natively (raw bodies pass through), if any */
  readonly nativeProvider?: string;
  decodeRequest(body: unknown, ctx: { model?: string; stream?: boolean }): IRRequest;
  encodeResponse(ir: IRResponse, model: string, req: IRRequest): unknown;
  streamEncoder(model: string, req: IRRequest): StreamEncoder;
  error(e: ErrorBody): { status: number; body: unknown };
}

export type ClientStyle = 'openai' | 'responses' | 'anthropic' | 'gemini';
