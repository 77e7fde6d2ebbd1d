import { z } from 'zod';
import type { OpenAIChatRequest } from './types';

const message = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
    content: z.union([z.string(), z.array(z.looseObject({ type: z.string() })), z.null()]).optional(),
  })
  .loose();

/** Validates what the gateway relies on; unknown fields pass through to an OpenAI-type upstream. */
export const chatRequestSchema = z
  .object({
    model: z.string().min(1),
    messages: z.array(message).min(1),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).loose().nullish(),
    max_tokens: z.number().int().positive().nullish(),
    max_completion_tokens: z.number().int().positive().nullish(),
    n: z.number().int().min(1).max(1, 'n > 1 is not supported by the gateway').nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
  })
  .loose();

export function parseChatRequest(body: unknown): { ok: true; value: OpenAIChatRequest } | { ok: false; param: string; message: string } {
  const r = chatRequestSchema.safeParse(body);
  if (r.success) return { ok: true, value: r.data as OpenAIChatRequest };
  const issue = r.error.issues[0];
  const param = issue.path.map(String).reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
  return { ok: false, param: param || 'body', message: `Invalid value for '${param || 'body'}': ${issue.message}` };
}

/** Text the model reads, for a local token estimate. */
export function chatRequestText(req: OpenAIChatRequest): string[] {
  return req.messages.map((m) => {
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) {
      return m.content.map((p: { type?: string; text?: string }) => (typeof p?.text === 'string' ? p.text : '')).join('');
    }
    return '';
  });
}
