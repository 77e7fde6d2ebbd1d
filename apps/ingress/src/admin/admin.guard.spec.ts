import { DomainError, redactSecrets } from '@gateway/contracts';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IngressConfig } from '@gateway/config';
import { AdminGuard, adminRole, configureAdminTokens, FinanceReadable, roleForTokens } from './admin.guard';

const ADMIN = 'adm-0123456789abcdef0123';
const FINANCE = 'fin-0123456789abcdef0123';

describe('admin tokens and roles', () => {
  it('roleForTokens / adminRole: admin, finance (when configured) or null', () => {
    expect(roleForTokens(`Bearer ${ADMIN}`, { ADMIN_TOKEN: ADMIN, FINANCE_TOKEN: FINANCE })).toBe('admin');
    expect(roleForTokens(`bearer  ${FINANCE} `, { ADMIN_TOKEN: ADMIN, FINANCE_TOKEN: FINANCE })).toBe('finance');
    expect(roleForTokens(`Bearer ${FINANCE}`, { ADMIN_TOKEN: ADMIN })).toBeNull();
    expect(roleForTokens('Bearer ', { ADMIN_TOKEN: ADMIN, FINANCE_TOKEN: undefined })).toBeNull();
    expect(roleForTokens(undefined, { ADMIN_TOKEN: ADMIN, FINANCE_TOKEN: FINANCE })).toBeNull();
    expect(roleForTokens(`Bearer ${ADMIN}x`, { ADMIN_TOKEN: ADMIN })).toBeNull();
    configureAdminTokens({ ADMIN_TOKEN: ADMIN, FINANCE_TOKEN: FINANCE });
    expect(adminRole(`Bearer ${ADMIN}`)).toBe('admin');
    expect(adminRole(`Bearer ${FINANCE}`)).toBe('finance');
    expect(adminRole('Bearer nope')).toBeNull();
  });

  class Routes {
    @FinanceReadable()
    report() {}
    change() {}
  }

  function check(token: string, method: string, handler: 'report' | 'change', headers: Record<string, string> = {}) {
    const guard = new AdminGuard({ ADMIN_TOKEN: ADMIN, FINANCE_TOKEN: FINANCE } as IngressConfig, new Reflector());
    const req: Record<string, unknown> = { method, url: '/admin/x?y=1', headers: { authorization: `Bearer ${token}`, ...headers } };
    const ctx = { switchToHttp: () => ({ getRequest: () => req }), getHandler: () => Routes.prototype[handler], getClass: () => Routes } as unknown as ExecutionContext;
    try {
      guard.canActivate(ctx);
      return { ok: true, role: req.ttAdminRole };
    } catch (e) {
      return { ok: false, code: (e as DomainError).code, message: (e as DomainError).message };
    }
  }

  it('AdminGuard: admin everywhere; finance only on @FinanceReadable GETs, 403 naming its role elsewhere; others 401', () => {
    expect(check(ADMIN, 'POST', 'change')).toEqual({ ok: true, role: 'admin' });
    expect(check(FINANCE, 'GET', 'report')).toEqual({ ok: true, role: 'finance' });
    expect(check(FINANCE, 'POST', 'change')).toMatchObject({ ok: false, code: 'forbidden', message: expect.stringContaining('role is finance') });
    expect(check(FINANCE, 'POST', 'report')).toMatchObject({ ok: false, code: 'forbidden' });
    expect(check(FINANCE, 'GET', 'change')).toMatchObject({ ok: false, code: 'forbidden' });
    expect(check('wrong-token-wrong-token', 'GET', 'report')).toMatchObject({ ok: false, code: 'unauthorized' });
    expect(check(ADMIN, 'POST', 'change', { 'x-tt-actor': 'a'.repeat(201) })).toMatchObject({ ok: false, code: 'invalid_request' });
    expect(check(ADMIN, 'POST', 'change', { 'x-tt-actor': 'a'.repeat(200) })).toEqual({ ok: true, role: 'admin' });
  });

  it('redactSecrets masks key material and keeps the rest', () => {
    expect(
      redactSecrets({ name: 'c', api_key: 'upstream-secret', key: 'sk-abcdefghijklmnop', key_id: 'key_1', models: { a: 'b' }, budget: { limit_micros: 5 }, note: 'uses sk-abcdefghijklmnop', rpm: 1 }),
    ).toEqual({ name: 'c', api_key: '[redacted]', key: '[redacted]', key_id: 'key_1', models: { a: 'b' }, budget: { limit_micros: 5 }, note: 'uses [redacted]', rpm: 1 });
  });
});
