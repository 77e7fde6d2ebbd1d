import { Inject, Injectable, Logger } from '@nestjs/common';
import { redactSecrets, type AuditRecordInput } from '@gateway/contracts';
import type { RedisRpcClient } from '@gateway/transport';
import type { FastifyRequest } from 'fastify';
import { BILLING } from '../shared/tokens';
import { ACTOR_HEADER, ACTOR_MAX_CHARS } from './admin.guard';

type Change = Pick<AuditRecordInput, 'action' | 'target_type' | 'target_id' | 'details'>;

/** Who made an admin change, as kept with the money it moved or the price it set: X-TT-Actor, else the token's role. */
export function adminActor(req: FastifyRequest): string {
  const actor = req.headers[ACTOR_HEADER];
  return typeof actor === 'string' && actor.trim() !== '' ? actor.slice(0, ACTOR_MAX_CHARS) : (req.ttAdminRole ?? 'admin');
}

/**
 * Records an admin change in the audit log, which billing keeps (RPC `audit.record`), once the change
 * succeeded: the token's role, the X-TT-Actor header as given, and the change with key material redacted.
 * A change that went through is never reported as failed because its audit entry could not be written:
 * that failure is logged as an error instead.
 */
@Injectable()
export class AdminAudit {
  private readonly logger = new Logger('AdminAudit');

  constructor(@Inject(BILLING) private readonly billing: RedisRpcClient) {}

  async record(req: FastifyRequest, change: Change): Promise<void> {
    const actor = req.headers[ACTOR_HEADER];
    const entry: AuditRecordInput = {
      role: req.ttAdminRole ?? 'admin',
      actor: typeof actor === 'string' && actor !== '' ? actor.slice(0, ACTOR_MAX_CHARS) : null,
      ...change,
      details: redactSecrets(change.details),
      request_id: req.ttRequestId ?? null,
    };
    try {
      await this.billing.call('audit.record', entry);
    } catch (err) {
      this.logger.error(`audit entry not written for ${entry.action} ${entry.target_type} ${entry.target_id}: ${(err as Error)?.message ?? String(err)}`);
    }
  }
}
