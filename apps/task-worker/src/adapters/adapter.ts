import type { RouteTarget } from '@gateway/contracts';
import type { TaskInput, UpstreamState } from '@gateway/tasks';

/** A 5xx, 429 or network failure: try again later. */
export class TransientError extends Error {}
/** The upstream refused the job for good (4xx, or a failure it reported at submit). */
export class PermanentError extends Error {}

export type PollResult =
  | { status: 'running'; progress: number }
  | { status: 'succeeded'; result: Record<string, unknown>; images?: number }
  | { status: 'failed'; error: string };

/** One upstream job API: submit, poll, and cancel where the upstream can. */
export interface JobAdapter {
  readonly provider: string;
  submit(input: TaskInput, target: RouteTarget, parent: UpstreamState | null): Promise<UpstreamState>;
  poll(state: UpstreamState, target: RouteTarget): Promise<PollResult>;
  cancel?(state: UpstreamState, target: RouteTarget): Promise<void>;
}

export async function call(url: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new TransientError(`${url}: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (res.status === 429 || res.status >= 500) throw new TransientError(`${url} answered ${res.status}: ${text.slice(0, 200)}`);
  if (res.status >= 400) throw new PermanentError(`${url} answered ${res.status}: ${text.slice(0, 300)}`);
  try {
    return text ? (JSON.parse(text) as unknown) : null;
  } catch {
    throw new TransientError(`${url} answered unparseable JSON`);
  }
}

export const base = (t: RouteTarget) => t.base_url.replace(/\/+$/, '');
