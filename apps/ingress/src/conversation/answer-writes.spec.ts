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

describe('answer writes', () => {
  afterEach(() => setAnswerWrites('batched'));

  it('batched: answers finished in one turn are written together after the turn, in order', async () => {
    setAnswerWrites('batched');
    const log: string[] = [];
    const a = sendAnswer(fakeReply(log, 'a'), { n: 1 });
    // the rest of the turn's work, then another call finishing in the same turn
    log.push('other work');
    const b = sendAnswer(fakeReply(log, 'b'), { n: 2 });
    await Promise.resolve();
    expect(log).toEqual(['other work']); // nothing written during the turn
    await Promise.all([a, b]);
    expect(log).toEqual(['other work', 'a:{"n":1}', 'b:{"n":2}']);
  });

  it('batched: an answer of a later turn goes in the next batch', async () => {
    setAnswerWrites('batched');
    const log: string[] = [];
    const a = sendAnswer(fakeReply(log, 'a'), 1);
    await turnEnds();
    expect(log).toEqual(['a:1']);
    const b = sendAnswer(fakeReply(log, 'b'), 2);
    expect(log).toEqual(['a:1']);
    await Promise.all([a, b]);
    expect(log).toEqual(['a:1', 'b:2']);
  });

  it('batched: a reply answered in the meantime is left alone; one that fails fails alone', async () => {
    setAnswerWrites('batched');
    const log: string[] = [];
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
    setAnswerWrites('immediate');
    const log: string[] = [];
    const a = sendAnswer(fakeReply(log, 'a'), 1);
    expect(log).toEqual(['a:1']);
    await a;
  });
});
