import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { ModelKind } from '@gateway/contracts';
import type { RedisRpcClient } from '@gateway/transport';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { periodOf, reconciliationCsv } from './reports';
import type { TaskProducer } from '@gateway/tasks';
import { BILLING, MODELS, TASK_PRODUCER } from '../shared/tokens';
import { AdminGuard, FinanceReadable } from './admin.guard';
import { AdminAudit } from './admin-audit';
import {
  auditQuerySchema,
  createAccountSchema,
  createChannelSchema,
  createKeySchema,
  expiredHoldsQuerySchema,
  holdsQuerySchema,
  periodQuerySchema,
  createModelSchema,
  parseBody,
  topupSchema,
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

  @Get('accounts/:id')
  @FinanceReadable()
  getAccount(@Param('id') id: string) {
    return this.billing.call('accounts.get', { id });
  }

  @Post('accounts/:id/topups')
  async topup(@Param('id') id: string, @Body() body: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const t = await this.billing.call('accounts.topup', { account_id: id, ...parseBody(topupSchema, body) });
    await this.audit.record(req, {
      action: 'account.topup',
      target_type: 'account',
      target_id: id,
      details: { topup_id: t.id, amount_micros: t.amount_micros, reference: t.reference, duplicate: t.duplicate, balance_micros: t.balance_micros },
    });
    void reply.code(t.duplicate ? 200 : 201);
    return t;
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
    const q = parseBody(periodQuerySchema, query);
    const report = await this.billing.call('reports.reconciliation', periodOf(q));
    if (!String(req.headers.accept ?? '').includes('text/csv')) return report;
    void reply.header('content-type', 'text/csv; charset=utf-8');
    return reconciliationCsv(report);
  }

  /** Holds that expired in the period and were never settled. Without from/to: from the beginning until now. */
  @Get('expired-holds')
  @FinanceReadable()
  async expiredHolds(@Query() query: unknown) {
    const q = parseBody(expiredHoldsQuerySchema, query);
    return { data: await this.billing.call('reports.expiredHolds', { ...periodOf(q), limit: q.limit }) };
  }

  @Get('usage')
  @FinanceReadable()
  async usage(@Query() query: unknown) {
    const q = parseBody(periodQuerySchema, query);
    return { data: await this.billing.call('reports.usage', periodOf(q)) };
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
    const model = await this.models.call('models.upsert', { ...m, kind: m.kind as ModelKind, create: true });
    await this.audit.record(req, { action: 'model.create', target_type: 'model', target_id: model.id, details: { ...m } });
    return model;
  }

  @Get('models/:id')
  @FinanceReadable()
  getModel(@Param('id') id: string) {
    return this.models.call('models.get', { id });
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
