import { sseFrame, type NativeHooks, type SseEvent } from '@gateway/protocols';

/**
 * How a client's own format passes through from an upstream of the same provider: the request body with
 * the upstream's model name, and the stream's final event held back until the call is settled.
 */
export interface NativeRoute {
  body(raw: Record<string, unknown>, upstreamModel: string, stream: boolean): Record<string, unknown>;
  hooks(opts: { clientModel: string; streamUsage: boolean }): NativeHooks;
  /** the non-streamed body as the client sees it */
  response(body: Record<string, unknown>, clientModel: string): Record<string, unknown>;
}

export const NATIVE: Record<string, NativeRoute> = {
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
  anthropic: {
    body: (raw, model) => ({ ...raw, model }),
    hooks: () => ({ isFinal: (ev: SseEvent) => ev.event === 'message_stop' }),
    response: (body, clientModel) => ({ ...body, model: clientModel }),
  },
  gemini: {
    body: (raw) => raw,
    hooks: () => ({
      isFinal: (ev: SseEvent) => {
        const chunk = JSON.parse(ev.data) as { candidates?: Array<{ finishReason?: string }> };
        return Boolean(chunk.candidates?.[0]?.finishReason);
      },
      rewrite: (ev: SseEvent) => `data: ${ev.data}\r\n\r\n`,
    }),
    response: (body) => body,
  },
};
