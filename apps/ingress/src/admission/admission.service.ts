import { Injectable } from '@nestjs/common';
import type { KeyPrincipal } from '@gateway/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthService } from '../auth/auth.service';
import { IdempotencyService } from '../idempotency/idempotency.service';
import { RateLimitService } from '../rate-limit/rate-limit.service';
import { isDryRun } from '../shared/request-context';

export interface Admitted {
  principal: KeyPrincipal;
  dryRun: boolean;
}

/**
 * The first steps of every public call, in one order: the key, then (for a billed call) the
 * Idempotency-Key, then the rate limit, which also puts the x-ratelimit-* headers on the response.
 */
@Injectable()
export class AdmissionService {
  constructor(
    private readonly auth: AuthService,
    private readonly idempotency: IdempotencyService,
    private readonly limits: RateLimitService,
  ) {}

  /**
   * A billed call. null: an idempotent replay already answered it. A dry run is checked, not counted.
   * deferLimit: the rate limit is left to the hold's placing, which checks it in the same round trip
   * (CallBillingService.hold with `admit`).
   */
  async billed(key: string | undefined, req: FastifyRequest, reply: FastifyReply, opts: { deferLimit?: boolean } = {}): Promise<Admitted | null> {
    const principal = await this.auth.authenticate(key, req.ttRequestId);
    const dryRun = isDryRun(req);
    if (!dryRun && (await this.idempotency.begin(req, reply, principal.account_id))) return null;
    if (!opts.deferLimit) await this.limits.admit(principal, reply, !dryRun);
    return { principal, dryRun };
  }

  /** A read or a free call: authenticated and rate-checked, not counted. */
  async read(key: string | undefined, reply: FastifyReply): Promise<KeyPrincipal> {
    const principal = await this.auth.authenticate(key, reply.request.ttRequestId);
    await this.limits.admit(principal, reply, false);
    return principal;
  }
}
