import { Inject, Injectable } from '@nestjs/common';
import type { AccountView } from '@gateway/contracts';
import type { PrismaClient } from '@gateway/db';
import { PRISMA } from '../shared/tokens';

interface AccountRow {
  id: string;
  name: string;
  balanceMicros: bigint;
  heldMicros: bigint;
  debtMicros: bigint;
  createdAt: Date;
}

export function toAccountView(a: AccountRow): AccountView {
  return {
    id: a.id,
    name: a.name,
    balance_micros: Number(a.balanceMicros),
    held_micros: Number(a.heldMicros),
    available_micros: Number(a.balanceMicros - a.heldMicros),
    debt_micros: Number(a.debtMicros),
    created_at: a.createdAt.toISOString(),
  };
}

export interface TopupResult {
  status: 'ok' | 'duplicate' | 'account_not_found';
  topup_id: string | null;
  balance_micros: bigint;
}

@Injectable()
export class AccountRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  create(id: string, name: string): Promise<AccountRow> {
    return this.prisma.account.create({ data: { id, name } });
  }

  find(id: string): Promise<AccountRow | null> {
    return this.prisma.account.findUnique({ where: { id } });
  }

  async topup(id: string, accountId: string, amountMicros: number, reference: string): Promise<TopupResult> {
    const rows = await this.prisma.$queryRaw<TopupResult[]>`
      SELECT status, topup_id, balance_micros FROM gw_topup(${id}, ${accountId}, ${BigInt(amountMicros)}, ${reference})`;
    return rows[0];
  }

  findTopup(id: string) {
    return this.prisma.topup.findUnique({ where: { id } });
  }
}
