import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { ModelKind, RpcRequest } from '@gateway/contracts';
import type { RedisRpcClient } from '@gateway/transport';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { periodOf, reconciliationCsv, sendCsv, statementCsv, usageGroupedCsv, wantsCsv } from './reports';
import type { TaskProducer } from '@gateway/tasks';
import { BILLING, MODELS, TASK_PRODUCER } from '../shared/tokens';
import { AdminGuard, FinanceReadable } from './admin.guard';
import { AdminAudit, adminActor } from './admin-audit';
import {
  accountsQuerySchema,
  adjustmentSchema,
  auditQuerySchema,
  createAccountSchema,
  createChannelSchema,
  createKeySchema,
  expiredHoldsQuerySchema,
  holdsQuerySchema,
  createModelSchema,
  parseBody,
  reconciliationQuerySchema,
  refundSchema,
  statementQuerySchema,
  topupSchema,
  usageQuerySchema,
  updateChannelSchema,
  updateKeySchema,
  updateModelSchema,
} from './admin.schemas';

/**
 * Accounts, top-ups and keys: forwarded to billing, which owns them. Every change is written to the audit
 * log once it succeeded; the finance token may call the @FinanceReadable routes only.
 */
@Controller('admin')
@UseGuards(AdminGuard)
export class AdminAccountsController {
  constructor(
    @Inject(BILLING) private readonly billing: RedisRpcClient,
    private readonly audit: AdminAudit,
  ) {}

  @Post('accounts')
  @HttpCode(201)
  async createAccount(@Body() body: unknown, @Req() req: FastifyRequest) {
    const input = parseBody(createAccountSchema, body);
    const account = await this.billing.call('accounts.create', input);
    await this.audit.record(req, { action: 'account.create', target_type: 'account', target_id: account.id, details: { ...input } });
    return account;
  }

  /** The admin changes, newest first: `?target_type=account|key|model|channel&target_id=&limit=` */
  @Get('audit')
  @FinanceReadable()
  async auditLog(@Query() query: unknown) {
    return { data: await this.billing.call('audit.list', parseBody(auditQuerySchema, query)) };
  }

  /** The accounts, newest first: `?limit=` (default 100, at most 1000). */
  @Get('accounts')
  @FinanceReadable()
  async listAccounts(@Query() query: unknown) {
    return { data: await this.billing.call('accounts.list', parseBody(accountsQuerySchema, query)) };
  }

  @Get('accounts/:id')
  @FinanceReadable()
  getAccount(@Param('id') id: string) {
    return this.billing.call('accounts.get', { id });
  }

  /** Every key of the account, revoked ones included (with revoked_at); never a key's secret. */
  @Get('accounts/:id/keys')
  @FinanceReadable()
  async listKeys(@Param('id') id: string) {
    return { data: await this.billing.call('keys.list', { account_id: id }) };
  }

  /**
   * The account's ledger entries of the period with running balances; a charge carries its call's usage and
   * the unit prices it was charged at. JSON, or CSV. Without from/to: from the beginning until now.
   */
  @Get('accounts/:id/statement')
  @FinanceReadable()
  async statement(@Param('id') id: string, @Query() query: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const q = parseBody(statementQuerySchema, query);
    const statement = await this.billing.call('accounts.statement', { ...periodOf(q), account_id: id });
    return wantsCsv(req, q.format) ? sendCsv(reply, 'statement.csv', statementCsv(statement)) : statement;
  }

  @Post('accounts/:id/topups')
  async topup(@Param('id') id: string, @Body() body: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const t = await this.billing.call('accounts.topup', { account_id: id, ...parseBody(topupSchema, body), actor: adminActor(req) });
    await this.audit.record(req, {
      action: 'account.topup',
      target_type: 'account',
      target_id: id,
      details: { topup_id: t.id, amount_micros: t.amount_micros, reference: t.reference, ...(t.reason !== null ? { reason: t.reason } : {}), duplicate: t.duplicate, balance_micros: t.balance_micros },
    });
    void reply.code(t.duplicate ? 200 : 201);
    return t;
  }

  /** A credit for a call or a complaint: 201 with the ledger entry; a repeated reference 200 with the first one. */
  @Post('accounts/:id/refunds')
  async refund(@Param('id') id: string, @Body() body: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const input = parseBody(refundSchema, body);
    return this.adjust({ account_id: id, kind: 'refund', ...input, actor: adminActor(req) }, req, reply);
  }

  /** A signed correction: 201 with the ledger entry (200 on a repeated reference); a debit beyond the available balance is a 409. */
  @Post('accounts/:id/adjustments')
  async adjustment(@Param('id') id: string, @Body() body: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const input = parseBody(adjustmentSchema, body);
    return this.adjust({ account_id: id, kind: 'adjustment', ...input, actor: adminActor(req) }, req, reply);
  }

  private async adjust(input: RpcRequest<'accounts.adjust'>, req: FastifyRequest, reply: FastifyReply) {
    // a debit beyond the available balance is billing's balance_conflict: a 409 in the admin API's shape
    const { duplicate, ...entry } = await this.billing.call('accounts.adjust', input);
    await this.audit.record(req, {
      action: `account.${input.kind}`,
      target_type: 'account',
      target_id: input.account_id,
      details: { entry_id: entry.id, amount_micros: entry.amount_micros, reference: entry.reference, reason: entry.reason, request_id: input.request_id ?? null, duplicate },
    });
    void reply.code(duplicate ? 200 : 201);
    // as a top-up's answer: whether the reference was used before (nothing moved then)
    return { ...entry, duplicate };
  }

  @Post('accounts/:id/keys')
  @HttpCode(201)
  async createKey(@Param('id') id: string, @Body() body: unknown, @Req() req: FastifyRequest) {
    const input = { account_id: id, ...parseBody(createKeySchema, body) };
    const created = await this.billing.call('keys.create', input);
    // the settings asked for and the key's public prefix: never the plaintext key the answer carries
    await this.audit.record(req, { action: 'key.create', target_type: 'key', target_id: created.id, details: { ...input, prefix: created.prefix } });
    return created;
  }

  @Get('holds')
  @FinanceReadable()
  async holds(@Query() query: unknown) {
    const q = parseBody(holdsQuerySchema, query);
    return { data: await this.billing.call('holds.list', q) };
  }

  /** JSON, or CSV with `Accept: text/csv`. Without from/to: from the beginning until now. */
  @Get('reconciliation')
  @FinanceReadable()
  async reconciliation(@Query() query: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const q = parseBody(reconciliationQuerySchema, query);
    const report = await this.billing.call('reports.reconciliation', periodOf(q));
    return wantsCsv(req, q.format) ? sendCsv(reply, 'reconciliation.csv', reconciliationCsv(report)) : report;
  }

  /** Holds that expired in the period and were never settled. Without from/to: from the beginning until now. */
  @Get('expired-holds')
  @FinanceReadable()
  async expiredHolds(@Query() query: unknown) {
    const q = parseBody(expiredHoldsQuerySchema, query);
    return { data: await this.billing.call('reports.expiredHolds', { ...periodOf(q), limit: q.limit }) };
  }

  /**
   * Billed usage (sums of the usage records) grouped by any of account, key, model and day
   * (`?group_by=`, default account,model), with the total. JSON, or CSV. Without from/to: from the
   * beginning until now.
   */
  @Get('usage')
  @FinanceReadable()
  async usage(@Query() query: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const q = parseBody(usageQuerySchema, query);
    const report = await this.billing.call('reports.usageGrouped', { ...periodOf(q), group_by: q.group_by });
    return wantsCsv(req, q.format) ? sendCsv(reply, 'usage.csv', usageGroupedCsv(report)) : report;
  }

  /** a key's settings and budget; never its secret (only a hash is stored) */
  @Get('keys/:id')
  @FinanceReadable()
  getKey(@Param('id') id: string) {
    return this.billing.call('keys.get', { id });
  }

  @Patch('keys/:id')
  async updateKey(@Param('id') id: string, @Body() body: unknown, @Req() req: FastifyRequest) {
    const patch = parseBody(updateKeySchema, body);
    const key = await this.billing.call('keys.update', { id, ...patch });
    await this.audit.record(req, { action: 'key.update', target_type: 'key', target_id: id, details: { ...patch } });
    return key;
  }

  @Delete('keys/:id')
  async revokeKey(@Param('id') id: string, @Req() req: FastifyRequest) {
    const key = await this.billing.call('keys.revoke', { id });
    await this.audit.record(req, { action: 'key.revoke', target_type: 'key', target_id: id, details: { account_id: key.account_id } });
    return key;
  }
}

/** Ops: the task queues' depth and outcomes. */
@Controller('admin')
@UseGuards(AdminGuard)
export class AdminQueuesController {
  constructor(@Inject(TASK_PRODUCER) private readonly producer: TaskProducer) {}

  @Get('queues')
  async queues() {
    return { data: await this.producer.counts() };
  }
}

/** Channels and the model registry: forwarded to the models service. */
@Controller('admin')
@UseGuards(AdminGuard)
export class AdminRegistryController {
  constructor(
    @Inject(MODELS) private readonly models: RedisRpcClient,
    private readonly audit: AdminAudit,
  ) {}

  @Get('channels')
  async listChannels() {
    return { data: await this.models.call('channels.list', {}) };
  }

  @Post('channels')
  @HttpCode(201)
  async createChannel(@Body() body: unknown, @Req() req: FastifyRequest) {
    const input = parseBody(createChannelSchema, body);
    const channel = await this.models.call('channels.create', input);
    // the channel's api_key is redacted on the way (and again in billing)
    await this.audit.record(req, { action: 'channel.create', target_type: 'channel', target_id: channel.id, details: { ...input } });
    return channel;
  }

  @Get('channels/:id')
  getChannel(@Param('id') id: string) {
    return this.models.call('channels.get', { id });
  }

  @Patch('channels/:id')
  async updateChannel(@Param('id') id: string, @Body() body: unknown, @Req() req: FastifyRequest) {
    const patch = parseBody(updateChannelSchema, body);
    const channel = await this.models.call('channels.update', { id, ...patch });
    await this.audit.record(req, { action: 'channel.update', target_type: 'channel', target_id: id, details: { ...patch } });
    return channel;
  }

  @Delete('channels/:id')
  async deleteChannel(@Param('id') id: string, @Req() req: FastifyRequest) {
    const deleted = await this.models.call('channels.delete', { id });
    await this.audit.record(req, { action: 'channel.delete', target_type: 'channel', target_id: id, details: {} });
    return deleted;
  }

  @Get('models')
  @FinanceReadable()
  async listModels() {
    return { data: await this.models.call('models.list', {}) };
  }

  @Post('models')
  @HttpCode(201)
  async createModel(@Body() body: unknown, @Req() req: FastifyRequest) {
    const m = parseBody(createModelSchema, body);
    const model = await this.models.call('models.upsert', { ...m, kind: m.kind as ModelKind, create: true, actor: adminActor(req) });
    await this.audit.record(req, { action: 'model.create', target_type: 'model', target_id: model.id, details: { ...m } });
    return model;
  }

  @Get('models/:id')
  @FinanceReadable()
  getModel(@Param('id') id: string) {
    return this.models.call('models.get', { id });
  }

  /** Every pricing the model had, newest first: its creation and each price change, with who made it. */
  @Get('models/:id/prices')
  @FinanceReadable()
  async modelPrices(@Param('id') id: string) {
    return { data: await this.models.call('models.prices', { id }) };
  }

  @Patch('models/:id')
  async updateModel(@Param('id') id: string, @Body() body: unknown, @Req() req: FastifyRequest) {
    const patch = parseBody(updateModelSchema, body);
    const current = await this.models.call('models.get', { id });
    const updated = await this.models.call('models.upsert', {
      id,
      kind: (patch.kind ?? current.kind) as ModelKind,
      aliases: patch.aliases,
      fallbacks: patch.fallbacks,
      pricing: patch.pricing ? { ...current.pricing, ...patch.pricing } : undefined,
      limits: patch.limits,
      create: false,
      actor: adminActor(req),
    });
    // the patch as sent, and the pricing it replaced when it changed prices
    const details: Record<string, unknown> = { ...patch };
    if (patch.pricing) details.previous_pricing = current.pricing;
    await this.audit.record(req, { action: 'model.update', target_type: 'model', target_id: id, details });
    return updated;
  }

  @Delete('models/:id')
  async deleteModel(@Param('id') id: string, @Req() req: FastifyRequest) {
    const deleted = await this.models.call('models.delete', { id });
    await this.audit.record(req, { action: 'model.delete', target_type: 'model', target_id: id, details: {} });
    return deleted;
  }
}
