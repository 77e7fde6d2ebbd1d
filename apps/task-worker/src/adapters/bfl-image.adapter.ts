import type { ImageInput, UpstreamState } from '@gateway/tasks';
import { base, call, type JobAdapter, type PollResult } from './adapter';

interface Result {
  id: string;
  status: 'Pending' | 'Ready' | 'Error' | 'Task not found' | 'Request Moderated' | 'Content Moderated';
  result?: { sample?: string } | null;
  progress?: number | null;
  details?: { error?: string } | null;
}

/** An async image API in Black Forest Labs' shape: one submission per image, each polled to its result. */
export const bflImageAdapter: JobAdapter = {
  provider: 'bfl',

  async submit(input, target) {
    const img = input as ImageInput;
    const [width, height] = img.size.split('x').map(Number);
    const ids: string[] = [];
    for (let i = 0; i < img.n; i++) {
      const r = (await call(`${base(target)}/v1/${encodeURIComponent(target.upstream_model)}`, {
        method: 'POST',
        headers: { 'x-key': target.api_key, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: img.prompt, width, height }),
      })) as { id: string };
      ids.push(r.id);
    }
    return { provider: 'bfl', channel_id: target.channel_id, ids, done: {} };
  },

  async poll(state: UpstreamState, target): Promise<PollResult> {
    const done = state.done ?? {};
    let progress = 0;
    for (const id of state.ids) {
      if (done[id]) {
        progress += 1;
        continue;
      }
      const r = (await call(`${base(target)}/v1/get_result?id=${encodeURIComponent(id)}`, { headers: { 'x-key': target.api_key } })) as Result;
      if (r.status === 'Ready') done[id] = { ok: true, url: r.result?.sample };
      else if (r.status === 'Pending') progress += r.progress ?? 0;
      else done[id] = { ok: false, error: r.details?.error ?? r.status };
      if (done[id]) progress += 1;
    }
    state.done = done;
    if (Object.keys(done).length < state.ids.length) return { status: 'running', progress: Math.min(99, Math.floor((progress / state.ids.length) * 100)) };
    const urls = state.ids.filter((id) => done[id].ok).map((id) => done[id].url);
    if (urls.length === 0) return { status: 'failed', error: state.ids.map((id) => done[id].error).join('; ') };
    // only the images that came back are charged
    return { status: 'succeeded', result: { images: urls.map((url) => ({ url })), failed: state.ids.length - urls.length }, images: urls.length };
  },
};
