import { register, type Readiness } from '@gateway/ops';

/*
 * The messages between ingress's cluster primary and its workers (INGRESS_WORKERS > 1), over node:cluster's
 * IPC channel. The primary owns the ops port; it asks each worker for its metrics (prom-client's JSON form,
 * which the primary sums) and its readiness, and a worker says when it is listening.
 */
export const IPC = {
  /** worker → primary, once: the app listens on PORT */
  listening: 'gw:ingress:listening',
  /** primary → worker: { id, what } */
  ask: 'gw:ingress:ask',
  /** worker → primary: { id, value } or { id, error } */
  answer: 'gw:ingress:answer',
} as const;

export type OpsQuestion = 'metrics' | 'ready';

export interface AskMessage {
  type: typeof IPC.ask;
  id: number;
  what: OpsQuestion;
}

export interface AnswerMessage {
  type: typeof IPC.answer;
  id: number;
  value?: unknown;
  error?: string;
}

const isAsk = (m: unknown): m is AskMessage => typeof m === 'object' && m !== null && (m as AskMessage).type === IPC.ask;

function send(message: object): void {
  // the channel closes when the primary dies (the worker then exits) or while this worker exits
  if (process.connected) process.send!(message, undefined, undefined, () => undefined);
}

/**
 * A worker's side: answers the primary's questions about this process. Installed by main.ts in a cluster
 * worker instead of an ops server of its own.
 */
export function answerPrimary(ready: () => Promise<Readiness>): void {
  process.on('message', (m: unknown) => {
    if (!isAsk(m)) return;
    const work: Promise<unknown> = m.what === 'metrics' ? register.getMetricsAsJSON() : ready();
    work.then(
      (value) => send({ type: IPC.answer, id: m.id, value }),
      (err: unknown) => send({ type: IPC.answer, id: m.id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

/** A worker tells the primary it is listening (the primary's start waits for every worker's). */
export function tellListening(): void {
  send({ type: IPC.listening });
}
