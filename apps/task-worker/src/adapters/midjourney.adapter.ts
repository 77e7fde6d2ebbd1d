import type { MjInput, UpstreamState } from '@gateway/tasks';
import { base, call, PermanentError, type JobAdapter, type PollResult } from './adapter';

interface Submit {
  code: number;
  description?: string;
  result?: string;
}

interface MjTask {
  id: string;
  status: 'NOT_START' | 'SUBMITTED' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILURE' | 'MODAL';
  progress?: string;
  imageUrl?: string;
  failReason?: string;
  buttons?: unknown[];
  action?: string;
}

const ACTION = { upscale: 'UPSCALE', variation: 'VARIATION', reroll: 'REROLL' } as const;

/** The midjourney-proxy API: submit imagine / change, fetch the task. It has no cancel. */
export const midjourneyAdapter: JobAdapter = {
  provider: 'midjourney',

  async submit(input, target, parent) {
    const m = input as MjInput;
    const headers = { 'mj-api-secret': target.api_key, 'content-type': 'application/json' };
    const r = (
      m.action === 'imagine'
        ? await call(`${base(target)}/mj/submit/imagine`, { method: 'POST', headers, body: JSON.stringify({ prompt: m.prompt }) })
        : await call(`${base(target)}/mj/submit/change`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ taskId: parent?.ids[0], action: ACTION[m.action as keyof typeof ACTION], ...(m.index ? { index: m.index } : {}) }),
          })
    ) as Submit;
    // 1: submitted; 22: queued by the proxy; anything else is a refusal
    if ((r.code !== 1 && r.code !== 22) || !r.result) throw new PermanentError(`midjourney-proxy refused the job: ${r.description ?? r.code}`);
    return { provider: 'midjourney', channel_id: target.channel_id, ids: [r.result] };
  },

  async poll(state: UpstreamState, target): Promise<PollResult> {
    const t = (await call(`${base(target)}/mj/task/${state.ids[0]}/fetch`, { headers: { 'mj-api-secret': target.api_key } })) as MjTask;
    if (t.status === 'SUCCESS') return { status: 'succeeded', result: { image_url: t.imageUrl, mj_task_id: t.id, action: t.action, buttons: t.buttons ?? [] } };
    if (t.status === 'FAILURE') return { status: 'failed', error: t.failReason ?? 'midjourney failed the task' };
    const pct = Number.parseInt(t.progress ?? '0', 10);
    return { status: 'running', progress: Number.isFinite(pct) ? Math.min(99, pct) : 0 };
  },
};
