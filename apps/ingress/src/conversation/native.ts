import { DomainError } from '@gateway/contracts';
import { responsesUpstreamWire, splitToolId, sseFrame, type ClientStyle, type NativeHooks, type SseEvent, type UpstreamCodec } from '@gateway/protocols';

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
      ...plainIds(raw),
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
      return { ...plainIds(raw), model };
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
    body: (raw, model) => ({ ...plainIds(raw), model }),
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

// A conversation that moves from a Gemini 3 model to another provider's model still has call ids that carry
// a thought signature (`<id>__tsb_…`, see libs/protocols/src/signatures.ts); the other provider gets the plain
// ids (OpenAI refuses ids over 40 characters). Both the call and its result lose the same suffix, so they
// still match. Bodies without such ids are returned as they are, unwalked beyond their turns.
const ID_FIELDS = ['id', 'tool_call_id', 'call_id', 'tool_use_id'] as const;
const SIGNED = '__ts';

function plainId(v: unknown): unknown {
  return typeof v === 'string' && v.includes(SIGNED) ? splitToolId(v).id : v;
}

function plainItem(item: unknown): unknown {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
  const o = item as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const k of ID_FIELDS) {
    const v = o[k];
    if (typeof v === 'string' && v.includes(SIGNED)) (out ??= { ...o })[k] = plainId(v);
  }
  for (const k of ['tool_calls', 'content'] as const) {
    const list = o[k];
    if (!Array.isArray(list)) continue;
    const mapped = list.map(plainItem);
    if (mapped.some((x, i) => x !== list[i])) (out ??= { ...o })[k] = mapped;
  }
  return out ?? o;
}

/** messages (chat, Messages) or input items (Responses) with signed call ids made plain. */
function plainIds(raw: Record<string, unknown>): Record<string, unknown> {
  for (const k of ['messages', 'input'] as const) {
    const list = raw[k];
    if (!Array.isArray(list)) continue;
    const mapped = list.map(plainItem);
    if (mapped.some((x, i) => x !== list[i])) return { ...raw, [k]: mapped };
  }
  return raw;
}
