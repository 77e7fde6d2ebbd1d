import { Inject, Injectable } from '@nestjs/common';
import type { UsageReport } from '@gateway/contracts';
import type { PrismaClient } from '@gateway/db';
import { PRISMA } from '../shared/tokens';

export interface PlaceRow {
  status: 'ok' | 'insufficient_balance' | 'account_debt' | 'account_not_found';
  expires_at: Date | null;
  available_micros: bigint;
}

export interface SettleRow {
  status: 'ok' | 'already_settled' | 'already_released' | 'already_expired' | 'hold_not_found';
  charged_micros: bigint;
  released_micros: bigint;
  debt_micros: bigint;
}

export interface ReleaseRow {
  status: 'ok' | 'already_settled' | 'already_released' | 'already_expired' | 'hold_not_found';
  released_micros: bigint;
}

/** Every money movement is one call of a SQL function from the first migration: atomic, one round trip. */
@Injectable()
export class HoldRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async place(p: {
    id: string;
    accountId: string;
    keyId: string | null;
    requestId: string;
    kind: 'call' | 'task';
    model: string;
    amountMicros: number;
    ttlMs: number;
  }): Promise<PlaceRow> {
    const rows = await this.prisma.$queryRaw<PlaceRow[]>`
      SELECT status, expires_at, available_micros
        FROM gw_place_hold(${p.id}, ${p.accountId}, ${p.keyId}, ${p.requestId}, ${p.kind}::hold_kind,
                           ${p.model}, ${BigInt(p.amountMicros)}, ${BigInt(p.ttlMs)})`;
    return rows[0];
  }

  async settle(holdId: string, costMicros: number): Promise<SettleRow> {
    const rows = await this.prisma.$queryRaw<SettleRow[]>`
      SELECT status, charged_micros, released_micros, debt_micros FROM gw_settle_hold(${holdId}, ${BigInt(costMicros)})`;
    return rows[0];
  }

  async release(holdId: string, state: 'released' | 'expired', reason: string): Promise<ReleaseRow> {
    const rows = await this.prisma.$queryRaw<ReleaseRow[]>`
      SELECT status, released_micros FROM gw_release_hold(${holdId}, ${state}::hold_state, ${reason})`;
    return rows[0];
  }

  async expireDue(limit: number): Promise<number> {
    const rows = await this.prisma.$queryRaw<Array<{ n: number }>>`SELECT gw_expire_holds(${limit}::int) AS n`;
    return Number(rows[0].n);
  }

  list(filter: { state?: 'active' | 'settled' | 'released' | 'expired'; accountId?: string; limit: number }) {
    return this.prisma.hold.findMany({
      where: { ...(filter.state ? { state: filter.state } : {}), ...(filter.accountId ? { accountId: filter.accountId } : {}) },
      orderBy: { createdAt: 'desc' },
      take: filter.limit,
      include: { events: { orderBy: { id: 'asc' } } },
    });
  }

  async recordUsage(holdId: string, costMicros: number, usage: UsageReport): Promise<void> {
    const t = usage.tokens;
    await this.prisma.usageRecord.createMany({
      data: [
        {
          requestId: usage.request_id,
          accountId: usage.account_id,
          keyId: usage.key_id,
          holdId,
          model: usage.model,
          channelId: usage.channel_id,
          inputTokens: t?.input_tokens ?? 0,
          cachedInputTokens: t?.cached_input_tokens ?? 0,
          outputTokens: t?.output_tokens ?? 0,
          reasoningTokens: t?.reasoning_tokens ?? 0,
          costMicros: BigInt(costMicros),
        },
      ],
      skipDuplicates: true,
    });
  }
}
