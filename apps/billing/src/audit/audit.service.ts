import { Inject, Injectable } from '@nestjs/common';
import { DomainError, redactSecrets, type AdminRole, type AuditEntry, type AuditRecordInput } from '@gateway/contracts';
import type { PrismaClient } from '@gateway/db';
import { PRISMA } from '../shared/tokens';

const ROLES: readonly AdminRole[] = ['admin', 'finance'];
const TARGET_TYPES: readonly AuditRecordInput['target_type'][] = ['account', 'key', 'model', 'channel'];
export const ACTOR_MAX = 200;

interface Row {
  id: bigint;
  role: string;
  actor: string | null;
  action: string;
  targetType: string;
  targetId: string;
  details: unknown;
  requestId: string | null;
  at: Date;
}

function toEntry(r: Row): AuditEntry {
  return {
    id: String(r.id),
    role: r.role as AdminRole,
    actor: r.actor,
    action: r.action,
    target_type: r.targetType as AuditEntry['target_type'],
    target_id: r.targetId,
    details: (r.details ?? {}) as Record<string, unknown>,
    request_id: r.requestId,
    at: r.at.toISOString(),
  };
}

/** The audit log of admin changes: append-only, details redacted once more before they are stored. */
@Injectable()
export class AuditService {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async record(input: AuditRecordInput): Promise<AuditEntry> {
    if (!ROLES.includes(input.role)) throw new DomainError('invalid_request', 'role must be admin or finance', 'role');
    if (!TARGET_TYPES.includes(input.target_type)) throw new DomainError('invalid_request', `target_type must be one of ${TARGET_TYPES.join(', ')}`, 'target_type');
    if (typeof input.action !== 'string' || !input.action || typeof input.target_id !== 'string' || !input.target_id) {
      throw new DomainError('invalid_request', 'action and target_id are required', 'action');
    }
    const actor = typeof input.actor === 'string' && input.actor !== '' ? input.actor.slice(0, ACTOR_MAX) : null;
    const row = await this.prisma.adminAudit.create({
      data: {
        role: input.role,
        actor,
        action: input.action,
        targetType: input.target_type,
        targetId: input.target_id,
        details: redactSecrets(input.details ?? {}) as object,
        requestId: input.request_id ?? null,
      },
    });
    return toEntry(row);
  }

  /** Newest first. */
  async list(q: { target_type?: string; target_id?: string; limit?: number }): Promise<AuditEntry[]> {
    const rows = await this.prisma.adminAudit.findMany({
      where: { ...(q.target_type ? { targetType: q.target_type } : {}), ...(q.target_id ? { targetId: q.target_id } : {}) },
      orderBy: [{ at: 'desc' }, { id: 'desc' }],
      take: Math.min(Math.max(q.limit ?? 100, 1), 1000),
    });
    return rows.map(toEntry);
  }
}
