import type { FastifyReply } from 'fastify';
import { sendAnswer, setAnswerWrites } from './answer-writes';

/** a reply that records when send is called, thenable as Fastify's is once sent */
function fakeReply(log: string[], name: string, opts: { sent?: boolean; throws?: boolean; fails?: boolean } = {}) {
  const reply = {
    sent: opts.sent ?? false,
    send(body: unknown) {
      if (opts.throws) throw new Error(`${name} cannot be serialised`);
      log.push(`${name}:${JSON.stringify(body)}`);
      reply.sent = true;
      return {
        then(ok: () => void, fail: (e: Error) => void) {
          if (opts.fails) fail(new Error(`${name}: socket closed`));
          else ok();
        },
      };
    },
  };
  return reply as unknown as FastifyReply & { sent: boolean };
}

const turnEnds = () => new Promise<void>((r) => setImmediate(r));

/** a turn that finishes two calls: the turns after it batch */
async function busyTurn(log: string[]) {
  await Promise.all([sendAnswer(fakeReply(log, 'w1'), 0), sendAnswer(fakeReply(log, 'w2'), 0)]);
  await turnEnds();
  log.length = 0;
}

describe('answer writes', () => {
  beforeEach(() => setAnswerWrites('batched'));

  it('batched: after a turn that finished several calls, a turn\'s answers are written together after it, in order', async () => {
    const log: string[] = [];
    await busyTurn(log);
    const a = sendAnswer(fakeReply(log, 'a'), { n: 1 });
    // the rest of the turn's work, then another call finishing in the same turn
    log.push('other work');
    const b = sendAnswer(fakeReply(log, 'b'), { n: 2 });
    await Promise.resolve();
    expect(log).toEqual(['other work']); // nothing written during the turn
    await Promise.all([a, b]);
    expect(log).toEqual(['other work', 'a:{"n":1}', 'b:{"n":2}']);
  });

  it('batched: after quiet turns the first answer of a turn is written at once, the next ones of the turn after it', async () => {
    const log: string[] = [];
    const a = sendAnswer(fakeReply(log, 'a'), 1);
    expect(log).toEqual(['a:1']); // calls in sequence are not delayed
    const b = sendAnswer(fakeReply(log, 'b'), 2);
    log.push('other work');
    await Promise.all([a, b]);
    expect(log).toEqual(['a:1', 'other work', 'b:2']);
    // that turn finished two: the next turn batches
    await turnEnds();
    const c = sendAnswer(fakeReply(log, 'c'), 3);
    expect(log).toEqual(['a:1', 'other work', 'b:2']);
    await c;
    expect(log).toEqual(['a:1', 'other work', 'b:2', 'c:3']);
    // a turn with one answer: the turn after it writes at once again
    await turnEnds();
    const d = sendAnswer(fakeReply(log, 'd'), 4);
    expect(log.at(-1)).toBe('d:4');
    await d;
  });

  it('batched: a reply answered in the meantime is left alone; one that fails fails alone', async () => {
    const log: string[] = [];
    await busyTurn(log);
    const gone = fakeReply(log, 'gone');
    const first = sendAnswer(gone, 'late');
    gone.sent = true; // answered by something else (a drain, a client gone) before the turn ended
    const broken = sendAnswer(fakeReply(log, 'broken', { throws: true }), 'x');
    const closed = sendAnswer(fakeReply(log, 'closed', { fails: true }), 'y');
    const fine = sendAnswer(fakeReply(log, 'fine'), 'z');
    await expect(first).resolves.toBeUndefined();
    await expect(broken).rejects.toThrow('broken cannot be serialised');
    await expect(closed).rejects.toThrow('closed: socket closed');
    await expect(fine).resolves.toBeUndefined();
    expect(log).toEqual(['closed:"y"', 'fine:"z"']);
  });

  it('immediate: each answer is written at once', async () => {
    const log: string[] = [];
    await busyTurn(log);
    setAnswerWrites('immediate');
    const a = sendAnswer(fakeReply(log, 'a'), 1);
    const b = sendAnswer(fakeReply(log, 'b'), 2);
    expect(log).toEqual(['a:1', 'b:2']);
    await Promise.all([a, b]);
  });
});
