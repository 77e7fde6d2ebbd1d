import { InternalServerErrorException, Logger, type ArgumentsHost } from '@nestjs/common';
import { DomainError } from '@gateway/contracts';
import { toErrorBody as rpcErrorBody } from '@gateway/transport';
import { StyleExceptionFilter } from './style-exception.filter';

// No internal error text in any response: an unexpected exception becomes a 500 whose body says only that
// it happened and the request id; its message, stack, file paths and driver text go to the log.
describe('StyleExceptionFilter: internal errors say nothing of themselves', () => {
  const leaky = () => {
    const e = new Error('Invalid `prisma.apiKey.findUnique()` invocation in /work/main/apps/billing/src/keys/keys.service.ts:42:7: column "key_hash" does not exist (postgres)');
    return e;
  };
  const forbidden = /prisma|\/work\/|keys\.service|\.ts:\d+|does not exist|postgres|at Object|invocation|stack/i;

  function run(exception: unknown, url: string, headers: Record<string, string> = {}) {
    const sent: { status?: number; body?: unknown; headers: Record<string, string> } = { headers: {} };
    const reply = {
      sent: false,
      raw: { headersSent: false, end: jest.fn() },
      header: (k: string, v: string) => ((sent.headers[k] = v), reply),
      code: (s: number) => ((sent.status = s), reply),
      send: (b: unknown) => ((sent.body = b), reply),
    };
    const req = { url, method: 'POST', headers, ttRequestId: 'req_test123' };
    const host = { switchToHttp: () => ({ getResponse: () => reply, getRequest: () => req }) } as unknown as ArgumentsHost;
    new StyleExceptionFilter().catch(exception, host);
    return sent;
  }

  let logged: string[];
  beforeEach(() => {
    logged = [];
    // a line about a call is an object with msg and request_id (pino merges its fields into the line)
    jest.spyOn(Logger.prototype, 'error').mockImplementation((m: unknown) => void logged.push(typeof m === 'string' ? m : JSON.stringify(m)));
  });
  afterEach(() => jest.restoreAllMocks());

  it('an unexpected Error with a path and Prisma text: a 500 with a generic message and the request id in every style; the detail is logged', () => {
    for (const [url, headers] of [
      ['/admin/accounts/acct_1/topups', {}],
      ['/v1/chat/completions', {}],
      ['/v1/messages', {}],
      ['/v1beta/models/gemini-2.5-flash:generateContent', {}],
    ] as const) {
      const r = run(leaky(), url, headers);
      expect(r.status).toBe(500);
      const text = JSON.stringify(r.body);
      expect(text).toContain('req_test123');
      expect(text).toMatch(/internal error/);
      expect(text).not.toMatch(forbidden);
    }
    expect(run(leaky(), '/admin/x').body).toEqual({
      error: { message: expect.stringMatching(/^The gateway hit an internal error \(request id req_test123\)/), type: 'api_error', param: null, code: 'internal' },
    });
    // the detail is in the log, with the request id, for whoever runs the gateway
    expect(logged.some((l) => l.includes('req_test123') && l.includes('prisma.apiKey') && l.includes('keys.service.ts'))).toBe(true);
    expect(logged.map((l) => (l.startsWith('{') ? (JSON.parse(l) as { request_id?: string }).request_id : undefined))).toContain('req_test123');
  });

  it("an internal DomainError (another service's internal error over RPC), a non-Error throw and a 5xx HttpException are generic too", () => {
    for (const e of [new DomainError('internal', 'billing failed: relation "holds" does not exist at /app/dist/x.js'), { stack: 'at /app/x.ts:1' }, 'prisma said no', new InternalServerErrorException('pg pool exhausted in /srv/app.ts')]) {
      const r = run(e, '/admin/accounts');
      expect(r.status).toBe(500);
      expect(JSON.stringify(r.body)).not.toMatch(/billing failed|relation|\/app\/|prisma|pg pool|\/srv\//);
      expect(JSON.stringify(r.body)).toContain('req_test123');
    }
  });

  it('domain errors keep their own message and status', () => {
    const r = run(new DomainError('forbidden', "this token's role is finance, which is read-only"), '/admin/accounts/a/topups');
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: { message: "this token's role is finance, which is read-only", type: 'permission_error', param: null, code: 'forbidden' } });
    expect(run(new DomainError('not_found', 'no such key'), '/admin/keys/k').status).toBe(404);
  });

  it("the RPC server replies to an unexpected exception, or an internal DomainError, with a bare 'internal error'", () => {
    expect(rpcErrorBody(leaky())).toEqual({ code: 'internal', message: 'internal error' });
    expect(rpcErrorBody(new DomainError('internal', 'billing failed: Invalid `prisma.hold.create()`'))).toEqual({ code: 'internal', message: 'internal error' });
    expect(rpcErrorBody({ code: 'internal', message: '/app/dist/apps/billing/main.js:1' })).toEqual({ code: 'internal', message: 'internal error' });
    expect(rpcErrorBody(new DomainError('not_found', 'no such account'))).toEqual({ code: 'not_found', message: 'no such account', param: undefined, retryAfterSeconds: undefined });
  });
});
