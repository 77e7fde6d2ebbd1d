import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { createLogger } from '@gateway/logging';
import { onRequestAssignId } from './request-context';
import { annotateCall, callsTracked, installCallLogging } from './call-logging';
import type { RequestLogService } from '../request-log/request-log';

// a real Fastify instance (requests injected, no socket): what a call's code records by its request id reaches
// its access line and its request-log row, for each of many calls at once, and nothing is kept after them
describe('call logging without an async context', () => {
  it('annotations by request id land on their own call, concurrently; none tracked afterwards', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const dest = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const rows: Array<Record<string, unknown>> = [];
    const requestLog = { push: (r: Record<string, unknown>) => rows.push(r) } as unknown as RequestLogService;
    const fastify = Fastify();
    for (const field of ['ttRequestId', 'ttLog']) fastify.decorateRequest(field, undefined);
    fastify.addHook('onRequest', onRequestAssignId);
    installCallLogging(fastify, createLogger('ingress', 'info', dest), () => undefined, () => requestLog);
    fastify.get('/v1/thing/:n', async (req) => {
      const n = Number((req.params as { n: string }).n);
      const id = req.ttRequestId;
      // the work of each call interleaves with the others' across awaits
      annotateCall(id, { account_id: `acct_${n}`, key_id: `key_${n}` });
      await new Promise((r) => setTimeout(r, 20 - n));
      annotateCall(id, { model: `m${n}`, cost_micros: n * 10 });
      return { n, id };
    });
    const answers = await Promise.all(Array.from({ length: 10 }, (_, n) => fastify.inject({ method: 'GET', url: `/v1/thing/${n}` })));
    // a 'close' is emitted after the injected response: wait for the lines
    for (let i = 0; i < 50 && rows.length < 10; i++) await new Promise((r) => setTimeout(r, 10));
    expect(rows).toHaveLength(10);
    for (const a of answers) {
      const { n, id } = a.json() as { n: number; id: string };
      const access = lines.find((l) => l.request_id === id && l.msg === 'access');
      expect(access).toEqual(expect.objectContaining({ key_id: `key_${n}`, model: `m${n}`, cost_micros: n * 10, status: 200 }));
      expect(rows.find((r) => r.request_id === id)).toEqual(expect.objectContaining({ account_id: `acct_${n}`, key_id: `key_${n}`, model: `m${n}`, cost_micros: n * 10 }));
    }
    expect(callsTracked()).toBe(0);
    // an annotation after its call ended, or for an unknown id, changes nothing and throws nothing
    annotateCall(answers[0].json().id, { model: 'late' });
    annotateCall(undefined, { model: 'none' });
    expect(callsTracked()).toBe(0);
    await fastify.close();
  });
});
