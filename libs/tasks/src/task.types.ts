import { z } from 'zod';

export type TaskType = 'video' | 'mj' | 'image';
export type TaskStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const FINAL: readonly TaskStatus[] = ['succeeded', 'failed', 'cancelled'];

/** The task as the API shows it. */
export interface TaskView {
  id: string;
  object: 'task';
  type: TaskType;
  model: string;
  status: TaskStatus;
  progress: number;
  result: unknown;
  error: unknown;
  cost_micros: number;
  hold_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface TaskEventView {
  seq: number;
  type: string;
  at: string;
  data: unknown;
}

/** BullMQ job data: just the task id (the row is the truth) and the trace context. */
export interface TaskJobData {
  task_id: string;
  trace?: Record<string, string>;
  /** the X-TT-Request-ID of the call that created the task: the worker's log lines for the job carry it */
  request_id?: string;
}

export const videoInput = z.object({
  model: z.string().min(1),
  prompt: z.string().min(1),
  seconds: z.union([z.literal(4), z.literal(8), z.literal(12), z.enum(['4', '8', '12']).transform(Number)]).default(4),
  size: z.string().regex(/^\d+x\d+$/, 'size must look like 1280x720').default('720x1280'),
});

export const mjInput = z
  .object({
    model: z.string().min(1),
    action: z.enum(['imagine', 'upscale', 'variation', 'reroll']).default('imagine'),
    prompt: z.string().min(1).optional(),
    task_id: z.string().min(1).optional(),
    index: z.number().int().min(1).max(4).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.action === 'imagine' && !v.prompt) ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'imagine needs a prompt' });
    if (v.action !== 'imagine' && !v.task_id) ctx.addIssue({ code: 'custom', path: ['task_id'], message: `${v.action} needs the task_id of an earlier imagine` });
    if ((v.action === 'upscale' || v.action === 'variation') && !v.index) ctx.addIssue({ code: 'custom', path: ['index'], message: `${v.action} needs an index from 1 to 4` });
  });

export const imageInput = z.object({
  model: z.string().min(1),
  prompt: z.string().min(1),
  size: z.string().regex(/^\d+x\d+$/, 'size must look like 1024x1024').default('1024x1024'),
  n: z.number().int().min(1).max(4).default(1),
});

export type VideoInput = z.infer<typeof videoInput>;
export type MjInput = z.infer<typeof mjInput>;
export type ImageInput = z.infer<typeof imageInput>;
export type TaskInput = VideoInput | MjInput | ImageInput;

export const INPUT_SCHEMAS = { video: videoInput, mj: mjInput, image: imageInput } as const;

/** model kind -> task type */
export function taskTypeOf(kind: string): TaskType | null {
  return kind === 'video' ? 'video' : kind === 'mj' ? 'mj' : kind === 'image' ? 'image' : null;
}

/** what the upstream needs to resume a job after a crash */
export interface UpstreamState {
  provider: string;
  channel_id: string;
  ids: string[];
  /** per id: whether it finished, and what it produced */
  done?: Record<string, { ok: boolean; url?: string; error?: string }>;
}
