import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  CHANGE_CHANNELS,
  DomainError,
  hashKey,
  LEASE,
  newId,
  type BudgetSettings,
  type BudgetView,
  type CreatedKey,
  type KeyPrincipal,
  type KeyView,
  type RpcRequest,
} from '@gateway/contracts';
import type { BillingConfig } from '@gateway/config';
import { retryTransient, type Db, type PgPool, type PrismaClient } from '@gateway/db';
import type Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { BudgetRepository } from '../budgets/budget.repository';
import { CONFIG, PG_KEYS, PRISMA, REDIS } from '../shared/tokens';

/** keys.resolve's statement, prepared once per connection */
const RESOLVE = {
  name: 'gw_key_resolve',
  text: 'SELECT id, account_id, models, rpm, tpm, expires_at, revoked_at, cache_ttl_s FROM api_keys WHERE key_hash = $1',
};
interface ResolveRow {
  id: string;
  account_id: string;
  models: string[];
  rpm: number | null;
  tpm: number | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  cache_ttl_s: number;
}

interface KeyRow {
  id: string;
  accountId: string;
  name: string;
  prefix: string;
  models: string[];
  rpm: number | null;
  tpm: number | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
  cacheTtlS: number;
}

function toView(k: KeyRow, budget: BudgetView | null): KeyView {
  return {
    id: k.id,
    account_id: k.accountId,
    name: k.name,
    prefix: k.prefix,
    models: k.models,
    rpm: k.rpm,
    tpm: k.tpm,
    expires_at: k.expiresAt?.toISOString() ?? null,
    revoked_at: k.revokedAt?.toISOString() ?? null,
    created_at: k.createdAt.toISOString(),
    cache_ttl_s: k.cacheTtlS,
    budget,
  };
}

/** A PATCH's budget over the key's current one: a key without a budget needs a limit and a period. */
function mergeBudget(old: Db.KeyBudget | null, patch: Partial<BudgetSettings>): BudgetSettings {
  const limit = patch.limit_micros ?? (old ? Number(old.limitMicros) : undefined);
  const period = patch.period ?? old?.period;
  if (limit === undefined) throw new DomainError('invalid_request', 'budget.limit_micros: required for a key without a budget', 'budget.limit_micros');
  if (period === undefined) throw new DomainError('invalid_request', 'budget.period: required for a key without a budget', 'budget.period');
  return { limit_micros: limit, period, alert_webhook: patch.alert_webhook !== undefined ? patch.alert_webhook : (old?.alertWebhook ?? null) };
}

const budgetData = (b: BudgetSettings) => ({ limitMicros: BigInt(b.limit_micros), period: b.period, alertWebhook: b.alert_webhook ?? null });

@Injectable()
export class KeysService {
  private readonly logger = new Logger(KeysService.name);

  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CONFIG) private readonly config: BillingConfig,
    private readonly budgets: BudgetRepository,
    @Inject(PG_KEYS) private readonly pg: PgPool,
  ) {}

  async create(req: RpcRequest<'keys.create'>): Promise<CreatedKey> {
    const account = await this.prisma.account.findUnique({ where: { id: req.account_id }, select: { id: true } });
    if (!account) throw new DomainError('not_found', `account ${req.account_id} not found`);
    const plaintext = `sk-${randomBytes(32).toString('base64url')}`;
    const row = await this.prisma.apiKey.create({
      data: {
        id: newId('key'),
        accountId: req.account_id,
        name: req.name,
        keyHash: hashKey(plaintext),
        prefix: `${plaintext.slice(0, 10)}…`,
        models: req.models ?? [],
        rpm: req.rpm ?? null,
        tpm: req.tpm ?? null,
        expiresAt: req.expires_at ? new Date(req.expires_at) : null,
        cacheTtlS: req.cache_ttl_s ?? 0,
        ...(req.budget ? { budget: { create: budgetData(req.budget) } } : {}),
      },
    });
    if (req.budget) await this.markBudgeted(row.accountId, row.id, true);
    return { ...toView(row, await this.budgets.find(row.id)), key: plaintext };
  }

  async get(id: string): Promise<KeyView> {
    const row = await this.prisma.apiKey.findUnique({ where: { id } });
    if (!row) throw new DomainError('not_found', `key ${id} not found`);
    return toView(row, await this.budgets.find(id));
  }

  /** Every key of the account, revoked ones included, newest first; an unknown account is a 404. */
  async list(accountId: string): Promise<KeyView[]> {
    const account = await this.prisma.account.findUnique({ where: { id: accountId }, select: { id: true } });
    if (!account) throw new DomainError('not_found', `account ${accountId} not found`);
    const rows = await this.prisma.apiKey.findMany({ where: { accountId }, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }] });
    const budgets = await this.budgets.findMany(rows.map((r) => r.id));
    return rows.map((row) => toView(row, budgets.get(row.id) ?? null));
  }

  /** Changes a key's settings; every ingress drops the key from its cache, so the change applies at once. */
  async update(req: RpcRequest<'keys.update'>): Promise<KeyView> {
    const existing = await this.prisma.apiKey.findUnique({ where: { id: req.id }, include: { budget: true } });
    if (!existing) throw new DomainError('not_found', `key ${req.id} not found`);
    let budget: Db.Prisma.KeyBudgetUpdateOneWithoutKeyNestedInput | undefined;
    if (req.budget === null) {
      if (existing.budget) budget = { delete: true };
    } else if (req.budget) {
      const data = budgetData(mergeBudget(existing.budget, req.budget));
      budget = { upsert: { create: data, update: { ...data, updatedAt: new Date() } } };
    }
    const row = await this.prisma.apiKey.update({
      where: { id: req.id },
      data: {
        name: req.name,
        models: req.models,
        rpm: req.rpm,
        tpm: req.tpm,
        expiresAt: req.expires_at === undefined ? undefined : req.expires_at === null ? null : new Date(req.expires_at),
        cacheTtlS: req.cache_ttl_s,
        budget,
      },
    });
    if (req.budget !== undefined) await this.markBudgeted(row.accountId, row.id, req.budget !== null);
    await this.redis.publish(`${this.config.REDIS_PREFIX}${CHANGE_CHANNELS.keys}`, row.keyHash);
    return toView(row, await this.budgets.find(row.id));
  }

  /**
   * A key with a budget never draws from its account's credit lease (its holds are placed one by one, where
   * the budget is checked): the lease's hash in Redis says which keys have one. Grants rebuild that list.
   */
  private async markBudgeted(accountId: string, keyId: string, budgeted: boolean): Promise<void> {
    const key = LEASE.key(this.config.REDIS_PREFIX, accountId);
    try {
      if (budgeted) await this.redis.hset(key, LEASE.noDrawField(keyId), '1');
      else await this.redis.hdel(key, LEASE.noDrawField(keyId));
    } catch (err) {
      // the key's settings are saved; the account's next lease (within its draw window) lists the key again
      this.logger.warn(`could not mark key ${keyId} as ${budgeted ? '' : 'not '}budgeted for leases: ${(err as Error).message}`);
    }
  }

  async revoke(id: string): Promise<KeyView> {
    const existing = await this.prisma.apiKey.findUnique({ where: { id } });
    if (!existing) throw new DomainError('not_found', `key ${id} not found`);
    const row = existing.revokedAt
      ? existing
      : await this.prisma.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
    // every ingress drops the key from its cache on this message; its cache TTL bounds a missed one
    await this.redis.publish(`${this.config.REDIS_PREFIX}${CHANGE_CHANNELS.keys}`, row.keyHash);
    return toView(row, await this.budgets.find(id));
  }

  /**
   * The key behind a hash, as ingress caches it. Through pg directly: every call whose key ingress has not
   * cached waits for this, and through Prisma it took 4-7 ms at a few calls a second (its runtime cold).
   * A dropped connection is retried on a fresh one for up to 2 s (then a 503 to ingress, which serves a key
   * it saw within STALE_ON_ERROR_MS).
   */
  async resolve(keyHash: string): Promise<KeyPrincipal | null> {
    const { rows } = await retryTransient(() => this.pg.query<ResolveRow>({ ...RESOLVE, values: [keyHash] }), { until: Date.now() + 2000 });
    const row = rows[0];
    if (!row || row.revoked_at) return null;
    if (row.expires_at && row.expires_at.getTime() <= Date.now()) return null;
    return {
      key_id: row.id,
      account_id: row.account_id,
      models: row.models,
      rpm: row.rpm,
      tpm: row.tpm,
      expires_at: row.expires_at?.toISOString() ?? null,
      cache_ttl_s: row.cache_ttl_s,
    };
  }
}
