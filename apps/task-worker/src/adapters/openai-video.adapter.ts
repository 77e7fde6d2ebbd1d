import type { RouteTarget } from '@gateway/contracts';
import type { UpstreamState, VideoInput } from '@gateway/tasks';
import { base, call, type JobAdapter, type PollResult } from './adapter';

interface Video {
  id: string;
  status: 'queued' | 'in_progress' | 'completed' | 'failed';
  progress?: number;
  seconds?: string;
  size?: string;
  error?: { code?: string; message?: string } | null;
}

const auth = (t: RouteTarget) => ({ authorization: `Bearer ${t.api_key}`, 'content-type': 'application/json' });

/** OpenAI's video API: POST /videos, GET /videos/{id}, content at /videos/{id}/content, DELETE to cancel. */
export const openaiVideoAdapter: JobAdapter = {
  provider: 'openai',

  async submit(input, target) {
    const v = input as VideoInput;
    const video = (await call(`${base(target)}/videos`, {
      method: 'POST',
      headers: auth(target),
      body: JSON.stringify({ model: target.upstream_model, prompt: v.prompt, seconds: String(v.seconds), size: v.size }),
    })) as Video;
    return { provider: 'openai', channel_id: target.channel_id, ids: [video.id] };
  },

  async poll(state: UpstreamState, target): Promise<PollResult> {
    const v = (await call(`${base(target)}/videos/${state.ids[0]}`, { headers: auth(target) })) as Video;
    if (v.status === 'completed') {
      return { status: 'succeeded', result: { video_id: v.id, seconds: Number(v.seconds), size: v.size, content: 'GET /v1/tasks/{id}/content' } };
    }
    if (v.status === 'failed') return { status: 'failed', error: v.error?.message ?? 'the upstream failed the video' };
    return { status: 'running', progress: Math.max(0, Math.min(99, Math.floor(v.progress ?? 0))) };
  },

  async cancel(state, target) {
    // no content-type: a DELETE has no body
    await call(`${base(target)}/videos/${state.ids[0]}`, { method: 'DELETE', headers: { authorization: `Bearer ${target.api_key}` } });
  },
};
