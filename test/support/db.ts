import { createPgPool, createPrisma, type PgPool, type PrismaClient } from '@gateway/db';
import { newId } from '@gateway/contracts';

export function testPrisma(poolSize = 30): PrismaClient {
  return createPrisma(process.env.DATABASE_URL as string, poolSize);
}

/** A call's usage record, waited for up to `ms` (its settle reaches billing through the outbox); null if none came. */
export async function usageRecordOf(prisma: PrismaClient, requestId: string, ms = 10_000) {
  const until = Date.now() + ms;
  for (;;) {
    const usage = await prisma.usageRecord.findUnique({ where: { requestId } });
    if (usage || Date.now() >= until) return usage;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A pg pool on the test database, as billing's hot statements use. */
export function testPg(max = 10): PgPool {
  return createPgPool(process.env.DATABASE_URL as string, max);
}

/** A fresh account credited through the real top-up function, so the ledger holds its credit. */
export async function makeAccount(prisma: PrismaClient, creditMicros: number): Promise<string> {
  const id = newId('acct');
  await prisma.account.create({ data: { id, name: `test ${id}` } });
  if (creditMicros > 0) {
    await prisma.$queryRaw`SELECT status FROM gw_topup(${newId('topup')}, ${id}, ${BigInt(creditMicros)}, 'initial-credit')`;
  }
  return id;
}

export interface Books {
  balance: number;
  held: number;
  debt: number;
  ledgerSum: number;
  activeHolds: number;
  activeHeld: number;
}

/** The account's row beside what its ledger and holds say it should be. */
export async function books(prisma: PrismaClient, accountId: string): Promise<Books> {
  const a = await prisma.account.findUniqueOrThrow({ where: { id: accountId } });
  const ledger = await prisma.ledgerEntry.aggregate({ where: { accountId }, _sum: { amountMicros: true } });
  const active = await prisma.hold.aggregate({ where: { accountId, state: 'active' }, _sum: { amountMicros: true }, _count: true });
  return {
    balance: Number(a.balanceMicros),
    held: Number(a.heldMicros),
    debt: Number(a.debtMicros),
    ledgerSum: Number(ledger._sum.amountMicros ?? 0n),
    activeHolds: active._count,
    activeHeld: Number(active._sum.amountMicros ?? 0n),
  };
}

/** The invariants of DESIGN.md that one account's rows must satisfy at any moment. */
export function expectInvariants(b: Books): void {
  expect(b.balance).toBe(b.ledgerSum);
  expect(b.held).toBe(b.activeHeld);
  expect(b.balance - b.held).toBeGreaterThanOrEqual(0);
  expect(b.debt).toBeGreaterThanOrEqual(0);
}
