import { hashKey, newId } from '@gateway/contracts';
import type { BillingConfig } from '@gateway/config';
import type { PgPool, PrismaClient } from '@gateway/db';
import type Redis from 'ioredis';
import { makeAccount, testPg, testPrisma } from '../../../../test/support/db';
import type { BudgetRepository } from '../budgets/budget.repository';
import { KeysService } from './keys.service';

// keys.resolve against the real Postgres, through its own pg statement: what ingress caches for a key, and
// nothing for a key that is unknown, revoked or expired
describe('KeysService.resolve (real Postgres)', () => {
  let prisma: PrismaClient;
  let pg: PgPool;
  let keys: KeysService;

  beforeAll(() => {
    prisma = testPrisma(2);
    pg = testPg(2);
    // resolve reads through pg only: the other collaborators are not reached
    keys = new KeysService(prisma, undefined as unknown as Redis, {} as BillingConfig, undefined as unknown as BudgetRepository, pg);
  });
  afterAll(() => Promise.all([prisma.$disconnect(), pg.end()]));

  const key = async (accountId: string, data: Record<string, unknown> = {}) => {
    const plaintext = `sk-${newId('t')}`;
    const id = newId('key');
    await prisma.apiKey.create({ data: { id, accountId, name: 'k', keyHash: hashKey(plaintext), prefix: 'sk-t', ...data } });
    return { id, hash: hashKey(plaintext) };
  };

  it('answers a live key with its limits, scope, expiry and cache TTL; null for unknown, revoked and expired ones', async () => {
    const acct = await makeAccount(prisma, 0);
    const expiresAt = new Date(Date.now() + 3_600_000);
    const live = await key(acct, { models: ['gpt-4o-mini', 'claude'], rpm: 7, tpm: 9000, expiresAt, cacheTtlS: 30 });
    expect(await keys.resolve(live.hash)).toEqual({
      key_id: live.id,
      account_id: acct,
      models: ['gpt-4o-mini', 'claude'],
      rpm: 7,
      tpm: 9000,
      expires_at: expiresAt.toISOString(),
      cache_ttl_s: 30,
    });
    const plain = await key(acct);
    expect(await keys.resolve(plain.hash)).toEqual({ key_id: plain.id, account_id: acct, models: [], rpm: null, tpm: null, expires_at: null, cache_ttl_s: 0 });

    expect(await keys.resolve(hashKey('sk-never-issued'))).toBeNull();
    const revoked = await key(acct, { revokedAt: new Date() });
    expect(await keys.resolve(revoked.hash)).toBeNull();
    const expired = await key(acct, { expiresAt: new Date(Date.now() - 1000) });
    expect(await keys.resolve(expired.hash)).toBeNull();
  });
});
