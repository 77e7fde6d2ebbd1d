import { Inject, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError, type AdminRole } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import type { FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { CONFIG } from '../shared/tokens';

export interface AdminTokens {
  ADMIN_TOKEN: string;
  FINANCE_TOKEN?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** set by AdminGuard: which admin token the request carried */
    ttAdminRole?: AdminRole;
  }
}

/** The header that names the person behind an admin change, kept in the audit log as given. */
export const ACTOR_HEADER = 'x-tt-actor';
export const ACTOR_MAX_CHARS = 200;

const sameSecret = (given: Buffer, expected: string | undefined): boolean => {
  if (!expected) return false;
  const e = Buffer.from(expected);
  return given.length === e.length && timingSafeEqual(given, e);
};

/** The role an Authorization header's bearer token has under these tokens: admin, finance, or none. */
export function roleForTokens(authorizationHeader: string | undefined | null, tokens: AdminTokens): AdminRole | null {
  const m = /^Bearer\s+(.+)$/i.exec(authorizationHeader ?? '');
  const given = Buffer.from(m?.[1]?.trim() ?? '');
  if (given.length === 0) return null;
  if (sameSecret(given, tokens.ADMIN_TOKEN)) return 'admin';
  if (sameSecret(given, tokens.FINANCE_TOKEN)) return 'finance';
  return null;
}

let configured: AdminTokens | undefined;

/** Tells adminRole() the tokens of this ingress (createIngress and AdminGuard do it). */
export function configureAdminTokens(tokens: AdminTokens): void {
  configured = { ADMIN_TOKEN: tokens.ADMIN_TOKEN, FINANCE_TOKEN: tokens.FINANCE_TOKEN };
}

/**
 * The role of an Authorization header's token: 'admin' (ADMIN_TOKEN, everything), 'finance' (FINANCE_TOKEN,
 * read-only reports), or null. For code outside Nest's guards (e.g. a dashboard mounted on Fastify).
 */
export function adminRole(authorizationHeader: string | undefined | null): AdminRole | null {
  return configured ? roleForTokens(authorizationHeader, configured) : null;
}

const FINANCE_READABLE = 'gateway:finance-readable';
/** Marks a GET route of the admin API that the read-only finance token may call too. */
export const FinanceReadable = () => SetMetadata(FINANCE_READABLE, true);

const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * The admin API's door: the admin token may do everything; the finance token (FINANCE_TOKEN, when set) only
 * the GET routes marked @FinanceReadable, and gets a 403 naming its role on everything else.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  private readonly tokens: AdminTokens;

  constructor(
    @Inject(CONFIG) config: IngressConfig,
    private readonly reflector: Reflector,
  ) {
    this.tokens = { ADMIN_TOKEN: config.ADMIN_TOKEN, FINANCE_TOKEN: config.FINANCE_TOKEN };
    configureAdminTokens(this.tokens);
  }

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const role = roleForTokens(req.headers.authorization, this.tokens);
    if (!role) throw new DomainError('unauthorized', 'admin routes need Authorization: Bearer $ADMIN_TOKEN (or $FINANCE_TOKEN to read reports)');
    const actor = req.headers[ACTOR_HEADER];
    if (typeof actor === 'string' && actor.length > ACTOR_MAX_CHARS) {
      throw new DomainError('invalid_request', `X-TT-Actor must be at most ${ACTOR_MAX_CHARS} characters`, 'X-TT-Actor');
    }
    if (role === 'finance') {
      const readable = READ_METHODS.has(req.method) && this.reflector.getAllAndOverride<boolean>(FINANCE_READABLE, [ctx.getHandler(), ctx.getClass()]);
      if (!readable) {
        const route = `${req.method} ${req.url.split('?')[0]}`;
        throw new DomainError(
          'forbidden',
          READ_METHODS.has(req.method)
            ? `this token's role is finance, which may read reports only, not ${route}; use the admin token`
            : `this token's role is finance, which is read-only: ${route} changes something; use the admin token`,
        );
      }
    }
    req.ttAdminRole = role;
    return true;
  }
}
