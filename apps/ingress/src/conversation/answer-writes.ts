import type { FastifyReply } from 'fastify';

/**
 * How a finished call's JSON answer reaches its socket (`ANSWER_WRITES`).
 *
 * batched (the default): the answers that calls finish during one turn of the event loop are written together
 * at the end of that turn (one setImmediate), one after another, instead of each as its call finishes between
 * the turn's other work. On loopback the write system call does the receiver's side too, and waking a client
 * that sleeps is most of its cost: a client woken by the first answer of a batch is still awake for the rest.
 * undici writes its requests the same way. Measured at open throttle (docs/throughput-history.md, eleventh round):
 * the answer's write system call was 15 % of ingress's busy time a call, twice the upstream request's for as
 * many bytes; batched, 8 %, and the gateway's CPU a call about a tenth lower. What it costs: an answer waits
 * for the rest of its turn, the bookkeeping of the calls that finished in it included, so this is done only
 * while turns finish several calls: the first answer of a turn is written at once when the turn before
 * finished fewer than two (calls in sequence, a low rate).
 *
 * immediate: each answer is written as its call finishes.
 */
export type AnswerWrites = 'batched' | 'immediate';

let mode: AnswerWrites = 'batched';
let queue: Array<() => void> = [];
/** answers finished in the current turn and in the last turn that had any */
let thisTurn = 0;
let lastTurn = 0;

function endTurn(): void {
  lastTurn = thisTurn;
  thisTurn = 0;
}

/** Set from ingress's config at start-up (one mode per process); starts the count of answers a turn afresh. */
export function setAnswerWrites(m: AnswerWrites): void {
  mode = m;
  lastTurn = 0;
}

/** the answer written now: Fastify's reply is a thenable that settles when the answer is written out */
function sendNow(reply: FastifyReply, body: unknown): Promise<void> {
  return Promise.resolve(reply.send(body)).then(() => undefined);
}

function flush(): void {
  const q = queue;
  queue = [];
  for (const write of q) write();
}

/**
 * Sends body as the reply's JSON answer, now or at the end of this turn (see above). Resolves, as Fastify's
 * reply does once awaited, when the answer has been written out; rejects if it could not be (the send threw,
 * or the socket failed). A reply that was answered in the meantime (a client gone, a drain) is left as it is.
 */
export function sendAnswer(reply: FastifyReply, body: unknown): Promise<void> {
  if (mode === 'immediate') return sendNow(reply, body);
  if (thisTurn++ === 0) setImmediate(endTurn);
  // a turn that finishes one call (calls in sequence, a low rate) has nothing to batch with: written at once
  if (lastTurn < 2 && queue.length === 0 && thisTurn === 1) return sendNow(reply, body);
  return new Promise<void>((resolve, reject) => {
    const write = () => {
      if (reply.sent) return resolve();
      try {
        sendNow(reply, body).then(resolve, reject);
      } catch (err) {
        reject(err);
      }
    };
    if (queue.push(write) === 1) setImmediate(flush);
  });
}
