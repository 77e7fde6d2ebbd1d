import { Inject, Injectable } from '@nestjs/common';
import type { BudgetPeriod, BudgetSettings, BudgetView } from '@gateway/contracts';
import type { PrismaClient } from '@gateway/db';
import { PRISMA } from '../shared/tokens';

interface BudgetRow {
  key_id: string;
  limit_micros: bigint;
  period: BudgetPeriod;
  alert_webhook: string | null;
  spent_micros: bigint;
  held_micros: bigint;
  period_start: Date;
  resets_at: Date;
}

function toView(r: BudgetRow): BudgetView {
  const remaining = r.limit_micros - r.spent_micros - r.held_micros;
  return {
    limit_micros: Number(r.limit_micros),
    period: r.period,
    alert_webhook: r.alert_webhook,
    spent_micros: Number(r.spent_micros),
    held_micros: Number(r.held_micros),
    remaining_micros: Number(remaining > 0n ? remaining : 0n),
    period_start: r.period_start.toISOString(),
    resets_at: r.resets_at.toISOString(),
  };
}

/**
 * Keys' budgets and where their current periods stand. The counters are written only by the money
 * functions (gw_place_hold, gw_settle_hold, gw_release_hold); periods come from the database's clock
 * (gw_now()), the same one those functions use.
 */
@Injectable()
export class BudgetRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async find(keyId: string): Promise<BudgetView | null> {
    return (await this.findMany([keyId])).get(keyId) ?? null;
  }

  async findMany(keyIds: string[]): Promise<Map<string, BudgetView>> {
    if (keyIds.length === 0) return new Map();
    const rows = await this.prisma.$queryRaw<BudgetRow[]>`
      SELECT b.key_id, b.limit_micros, b.period::text AS period, b.alert_webhook,
             COALESCE(u.spent_micros, 0)::bigint AS spent_micros, COALESCE(u.held_micros, 0)::bigint AS held_micros,
             p.start AS period_start, gw_budget_period_end(b.period, p.start) AS resets_at
        FROM key_budgets b
       CROSS JOIN LATERAL (SELECT gw_budget_period_start(b.period, gw_now()) AS start) p
        LEFT JOIN key_budget_usage u ON u.key_id = b.key_id AND u.period_start = p.start
       WHERE b.key_id = ANY(${keyIds}::text[])`;
    return new Map(rows.map((r) => [r.key_id, toView(r)]));
  }

  /** Sets a key's budget; the counters of the current period stay as they are. */
  async set(keyId: string, budget: BudgetSettings): Promise<void> {
    const data = { limitMicros: BigInt(budget.limit_micros), period: budget.period, alertWebhook: budget.alert_webhook ?? null };
    await this.prisma.keyBudget.upsert({ where: { keyId }, create: { keyId, ...data }, update: { ...data, updatedAt: new Date() } });
  }

  /** Removes a key's budget; holds already counted still settle into their period's counters. */
  async clear(keyId: string): Promise<void> {
    await this.prisma.keyBudget.deleteMany({ where: { keyId } });
  }
}
