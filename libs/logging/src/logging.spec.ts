import { Writable } from 'node:stream';
import { createLogger, currentCallContext, redactUrl, runWithRequestId } from './index';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger('test', 'info', dest) };
}

describe('logging', () => {
  it('adds the request id of the running call, across awaits, and none outside one', async () => {
    const { lines, logger } = capture();
    await runWithRequestId('req_abc', async () => {
      await new Promise((r) => setTimeout(r, 1));
      logger.info('inside');
    });
    logger.info('outside');
    expect(lines[0]).toEqual(expect.objectContaining({ service: 'test', level: 'info', msg: 'inside', request_id: 'req_abc' }));
    expect(lines[1].request_id).toBeUndefined();
  });

  it('redacts key headers and scrubs keys from message text', () => {
    const { lines, logger } = capture();
    logger.info({ headers: { authorization: 'Bearer sk-secretsecret', 'x-api-key': 'sk-secretsecret', 'x-goog-api-key': 'AIzaSecret' } }, 'hdr');
    logger.warn('Incorrect key sk-AbCdEfGhIjKlMn_0 via /v1beta/models/m:generateContent?key=sk-zzzzzzzzzz&alt=sse');
    const text = JSON.stringify(lines);
    expect(text).not.toContain('secret');
    expect(text).not.toContain('AbCdEfGh');
    expect(text).not.toContain('zzzzzzzz');
    expect(lines[1].msg).toBe('Incorrect key sk-[REDACTED] via /v1beta/models/m:generateContent?key=[REDACTED]&alt=sse');
  });

  it('knows the running request id only inside runWithRequestId', () => {
    runWithRequestId('req_1', () => {
      expect(currentCallContext()).toEqual({ request_id: 'req_1' });
    });
    expect(currentCallContext()).toBeUndefined();
    expect(redactUrl('/v1beta/models?key=abc')).toBe('/v1beta/models?key=[REDACTED]');
    expect(redactUrl('/v1/chat/completions')).toBe('/v1/chat/completions');
  });
});
