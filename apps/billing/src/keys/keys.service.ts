import { Inject, Injectable } from '@nestjs/common';
import {
  CHANGE_CHANNELS,
  DomainError,
  newId,
  type CreatedKey,
  type KeyPrincipal,
  type KeyView,
  type RpcRequest,
} from '@gateway/contracts';
import type { BillingConfig } from '@gateway/config';
import type { PrismaClient } from '@gateway/db';
import type Redis from 'ioredis';
import { createHash, randomBytes } from 'node:crypto';
import { CONFIG, PRISMA, REDIS } from '../shared/tokens';

export function hashKey(plaintext: string): string {
  return createHash('sha256').update(plaintext).digest('hex');
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
}

function toView(k: KeyRow): KeyView {
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
  };
}

@Injectable()
export class KeysService {
  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CONFIG) private readonly config: BillingConfig,
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
      },
    });
    return { ...toView(row), key: plaintext };
  }

  async revoke(id: string): Promise<KeyView> {
    const existing = await this.prisma.apiKey.findUnique({ where: { id } });
    if (!existing) throw new DomainError('not_found', `key ${id} not found`);
    const row = existing.revokedAt
      ? existing
      : await this.prisma.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
    // every ingress drops the key from its cache on this message; its cache TTL bounds a missed one
    await this.redis.publish(`${this.config.REDIS_PREFIX}${CHANGE_CHANNELS.keys}`, row.keyHash);
    return toView(row);
  }

  async resolve(keyHash: string): Promise<KeyPrincipal | null> {
    const row = await this.prisma.apiKey.findUnique({ where: { keyHash } });
    if (!row || row.revokedAt) return null;
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) return null;
    return {
      key_id: row.id,
      account_id: row.accountId,
      models: row.models,
      rpm: row.rpm,
      tpm: row.tpm,
      expires_at: row.expiresAt?.toISOString() ?? null,
    };
  }
}
