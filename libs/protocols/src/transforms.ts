import type { TokenUsage } from '@gateway/contracts';
import { UpstreamStreamError, type StreamDecoder, type StreamEncoder, type StreamFailure } from './codec';
import type { IREvent } from './ir';
import { sseFrame, type SseEvent } from './sse/sse-parser';

/**
 * What the generic stream relay drives: upstream SSE events in, client frames out. It knows no provider;
 * every provider-specific step lives in the decoder, encoder or native hooks given to it.
 */
export interface RelayTransform {
  readonly contentType: string;
  begin(): string[];
  /** frames for one upstream event; throws UpstreamStreamError on an upstream error event */
  push(ev: SseEvent): string[];
  /** the upstream finished its stream properly */
  completed(): boolean;
  usage(): TokenUsage | null;
  /** text produced so far, for a local count when the upstream reports no usage */
  produced(): string;
  /** closing frames once the call is settled */
  end(): string[];
  /**
   * closing frames of a broken stream. When the upstream's own error event broke it, the client gets that
   * error's kind (an overloaded upstream stays overloaded) without the caller having to carry it.
   */
  fail(error: StreamFailure): string[];
}

abstract class Observing {
  protected lastUsage: TokenUsage | null = null;
  protected text = '';
  private upstreamError: UpstreamStreamError | null = null;

  protected constructor(protected readonly decoder: StreamDecoder) {}

  protected decode(ev: SseEvent): IREvent[] {
    try {
      return this.decoder.push(ev);
    } catch (err) {
      if (err instanceof UpstreamStreamError) this.upstreamError = err;
      throw err;
    }
  }

  protected failure(error: StreamFailure): StreamFailure {
    return { ...error, kind: error.kind ?? this.upstreamError?.kind };
  }

  protected observe(ev: IREvent): void {
    if (ev.type === 'usage') this.lastUsage = ev.usage;
    else if (ev.type === 'text' || ev.type === 'thinking') this.text += ev.text;
    else if (ev.type === 'tool_call_args') this.text += ev.delta;
  }

  usage(): TokenUsage | null {
    return this.lastUsage;
  }

  produced(): string {
    return this.text;
  }
}

/** Upstream format -> IR -> client format, event by event. */
export class TranslatingTransform extends Observing implements RelayTransform {
  readonly contentType: string;

  constructor(
    decoder: StreamDecoder,
    private readonly encoder: StreamEncoder,
  ) {
    super(decoder);
    this.contentType = encoder.contentType;
  }

  begin(): string[] {
    return this.encoder.begin();
  }

  push(ev: SseEvent): string[] {
    const out: string[] = [];
    for (const ir of this.decode(ev)) {
      this.observe(ir);
      out.push(...this.encoder.push(ir));
    }
    return out;
  }

  completed(): boolean {
    return this.decoder.completed();
  }

  end(): string[] {
    return this.encoder.end();
  }

  fail(error: StreamFailure): string[] {
    return this.encoder.fail(this.failure(error));
  }
}

export interface NativeHooks {
  /** rewrite (or drop, with null) one upstream event on its way to the client */
  rewrite?(ev: SseEvent): string | null;
  /** events withheld until the call is settled: the stream's final event(s) */
  isFinal?(ev: SseEvent): boolean;
  /** framing the client's format wants before the first event and after the last (Gemini's JSON array) */
  begin?(): string[];
  end?(): string[];
}

/**
 * Same format on both sides: frames pass through as the upstream sent them (observed by the decoder for
 * usage), except that the final event waits until the money is settled.
 */
export class PassthroughTransform extends Observing implements RelayTransform {
  private readonly withheld: string[] = [];

  constructor(
    decoder: StreamDecoder,
    private readonly encoder: StreamEncoder,
    private readonly hooks: NativeHooks = {},
  ) {
    super(decoder);
  }

  get contentType(): string {
    return this.encoder.contentType;
  }

  begin(): string[] {
    return this.hooks.begin?.() ?? [];
  }

  push(ev: SseEvent): string[] {
    for (const ir of this.decode(ev)) this.observe(ir);
    const frame = this.hooks.rewrite ? this.hooks.rewrite(ev) : sseFrame(ev.data, ev.event);
    if (frame === null) return [];
    if (this.hooks.isFinal?.(ev)) {
      this.withheld.push(frame);
      return [];
    }
    return [frame];
  }

  completed(): boolean {
    return this.decoder.completed();
  }

  end(): string[] {
    return this.hooks.end ? [...this.withheld, ...this.hooks.end()] : this.withheld;
  }

  fail(error: StreamFailure): string[] {
    return this.encoder.fail(this.failure(error));
  }
}
