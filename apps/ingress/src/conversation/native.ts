import { DomainError } from '@gateway/contracts';
import { responsesUpstreamWire, sseFrame, type ClientStyle, type NativeHooks, type SseEvent, type UpstreamCodec } from '@gateway/protocols';

/**
 * How a client's own format passes through from an upstream of the same provider (the client codec's
 * nativeProvider), by client style: the request body with the upstream's model name, and the stream's
 * final event held back until the call is settled.
 */
export interface NativeRoute {
  /** the upstream's route and decoders for this style, when not its provider's default (OpenAI's /responses beside /chat/completions) */
  wire?: Pick<UpstreamCodec, 'path' | 'decodeResponse' | 'streamDecoder'>;
  body(raw: Record<string, unknown>, upstreamModel: string, stream: boolean): Record<string, unknown>;
  /** sse: the client reads server-sent events (false: Gemini's JSON-array stream, without `?alt=sse`) */
  hooks(opts: { clientModel: string; streamUsage: boolean; sse: boolean }): NativeHooks;
  /** the non-streamed body as the client sees it */
  response(body: Record<string, unknown>, clientModel: string): Record<string, unknown>;
}

export const NATIVE: Record<ClientStyle, NativeRoute> = {
  openai: {
    body: (raw, model, stream) => ({
      ...raw,
      model,
      ...(stream ? { stream_options: { ...((raw.stream_options as object | undefined) ?? {}), include_usage: true } } : {}),
    }),
    hooks: ({ clientModel, streamUsage }) => ({
      isFinal: (ev: SseEvent) => ev.data === '[DONE]',
      rewrite: (ev: SseEvent) => {
        if (ev.data === '[DONE]') return sseFrame('[DONE]');
        const chunk = JSON.parse(ev.data) as { model?: string; usage?: unknown; choices?: unknown[] };
        // the gateway always asks for usage; the client sees it only if it asked too
        if (!streamUsage) {
          if ((chunk.choices?.length ?? 0) === 0 && chunk.usage) return null;
          delete chunk.usage;
        }
        if (chunk.model !== undefined) chunk.model = clientModel;
        return sseFrame(JSON.stringify(chunk));
      },
    }),
    response: (body, clientModel) => ({ ...body, model: clientModel }),
  },
  responses: {
    wire: responsesUpstreamWire,
    body: (raw, model) => {
      // a background response finishes after this call, where no settle follows it: it could not be billed
      if (raw.background === true) throw new DomainError('invalid_request', "'background' responses cannot be billed by the gateway; omit it", 'background');
      return { ...raw, model };
    },
    hooks: ({ clientModel }) => ({
      isFinal: (ev: SseEvent) => FINAL_RESPONSE_EVENTS.has(responsesEventType(ev)),
      rewrite: (ev: SseEvent) => {
        // only the events that carry the whole response name the model; deltas pass as they came
        if (!RESPONSE_EVENTS.has(responsesEventType(ev))) return sseFrame(ev.data, ev.event);
        const data = JSON.parse(ev.data) as { response?: { model?: string } };
        if (data.response?.model !== undefined) data.response.model = clientModel;
        return sseFrame(JSON.stringify(data), ev.event);
      },
    }),
    response: (body, clientModel) => ({ ...body, model: clientModel }),
  },
  anthropic: {
    body: (raw, model) => ({ ...raw, model }),
    hooks: () => ({ isFinal: (ev: SseEvent) => ev.event === 'message_stop' }),
    response: (body, clientModel) => ({ ...body, model: clientModel }),
  },
  gemini: {
    body: (raw) => raw,
    // the upstream is always asked for SSE; a client without `?alt=sse` gets Gemini's other framing, one
    // JSON array written element by element, as the real API streams it
    hooks: ({ sse }) => {
      let first = true;
      return {
        isFinal: (ev: SseEvent) => {
          const chunk = JSON.parse(ev.data) as { candidates?: Array<{ finishReason?: string }> };
          return Boolean(chunk.candidates?.[0]?.finishReason);
        },
        rewrite: (ev: SseEvent) => {
          if (sse) return `data: ${ev.data}\r\n\r\n`;
          const element = first ? ev.data : `,\r\n${ev.data}`;
          first = false;
          return element;
        },
        ...(sse ? {} : { begin: () => ['['], end: () => [']'] }),
      };
    },
    response: (body) => body,
  },
};

const FINAL_RESPONSE_EVENTS = new Set(['response.completed', 'response.incomplete']);
const RESPONSE_EVENTS = new Set(['response.created', 'response.in_progress', 'response.queued', 'response.completed', 'response.incomplete', 'response.failed']);

/** OpenAI names every Responses event in its `event:` line; a compatible server that does not still has `type` in the data. */
function responsesEventType(ev: SseEvent): string {
  return ev.event ?? (JSON.parse(ev.data) as { type?: string }).type ?? '';
}
