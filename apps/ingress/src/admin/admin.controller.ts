import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { ModelKind } from '@gateway/contracts';
import type { RedisRpcClient } from '@gateway/transport';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { periodOf, reconciliationCsv } from './reports';
import type { TaskProducer } from '@gateway/tasks';
import { BILLING, MODELS, TASK_PRODUCER } from '../shared/tokens';
import { AdminGuard } from './admin.guard';
import {
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

/** Accounts, top-ups and keys: forwarded to billing, which owns them. */
@Controller('admin')
@UseGuards(AdminGuard)
export class AdminAccountsController {
  constructor(@Inject(BILLING) private readonly billing: RedisRpcClient) {}

  @Post('accounts')
  @HttpCode(201)
  createAccount(@Body() body: unknown) {
    return this.billing.call('accounts.create', parseBody(createAccountSchema, body));
  }

  @Get('accounts/:id')
  getAccount(@Param('id') id: string) {
    return this.billing.call('accounts.get', { id });
  }

  @Post('accounts/:id/topups')
  async topup(@Param('id') id: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const t = await this.billing.call('accounts.topup', { account_id: id, ...parseBody(topupSchema, body) });
    void reply.code(t.duplicate ? 200 : 201);
    return t;
  }

  @Post('accounts/:id/keys')
  @HttpCode(201)
  createKey(@Param('id') id: string, @Body() body: unknown) {
    return this.billing.call('keys.create', { account_id: id, ...parseBody(createKeySchema, body) });
  }

  @Get('holds')
  async holds(@Query() query: unknown) {
    const q = parseBody(holdsQuerySchema, query);
    return { data: await this.billing.call('holds.list', q) };
  }

  /** JSON, or CSV with `Accept: text/csv`. Without from/to: from the beginning until now. */
  @Get('reconciliation')
  async reconciliation(@Query() query: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const q = parseBody(periodQuerySchema, query);
    const report = await this.billing.call('reports.reconciliation', periodOf(q));
    if (!String(req.headers.accept ?? '').includes('text/csv')) return report;
    void reply.header('content-type', 'text/csv; charset=utf-8');
    return reconciliationCsv(report);
  }

  /** Holds that expired in the period and were never settled. Without from/to: from the beginning until now. */
  @Get('expired-holds')
  async expiredHolds(@Query() query: unknown) {
    const q = parseBody(expiredHoldsQuerySchema, query);
    return { data: await this.billing.call('reports.expiredHolds', { ...periodOf(q), limit: q.limit }) };
  }

  @Get('usage')
  async usage(@Query() query: unknown) {
    const q = parseBody(periodQuerySchema, query);
    return { data: await this.billing.call('reports.usage', periodOf(q)) };
  }

  @Get('keys/:id')
  getKey(@Param('id') id: string) {
    return this.billing.call('keys.get', { id });
  }

  @Patch('keys/:id')
  updateKey(@Param('id') id: string, @Body() body: unknown) {
    return this.billing.call('keys.update', { id, ...parseBody(updateKeySchema, body) });
  }

  @Delete('keys/:id')
  revokeKey(@Param('id') id: string) {
    return this.billing.call('keys.revoke', { id });
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
  constructor(@Inject(MODELS) private readonly models: RedisRpcClient) {}

  @Get('channels')
  async listChannels() {
    return { data: await this.models.call('channels.list', {}) };
  }

  @Post('channels')
  @HttpCode(201)
  createChannel(@Body() body: unknown) {
    return this.models.call('channels.create', parseBody(createChannelSchema, body));
  }

  @Get('channels/:id')
  getChannel(@Param('id') id: string) {
    return this.models.call('channels.get', { id });
  }

  @Patch('channels/:id')
  updateChannel(@Param('id') id: string, @Body() body: unknown) {
    return this.models.call('channels.update', { id, ...parseBody(updateChannelSchema, body) });
  }

  @Delete('channels/:id')
  deleteChannel(@Param('id') id: string) {
    return this.models.call('channels.delete', { id });
  }

  @Get('models')
  async listModels() {
    return { data: await this.models.call('models.list', {}) };
  }

  @Post('models')
  @HttpCode(201)
  createModel(@Body() body: unknown) {
    const m = parseBody(createModelSchema, body);
    return this.models.call('models.upsert', { ...m, kind: m.kind as ModelKind, create: true });
  }

  @Get('models/:id')
  getModel(@Param('id') id: string) {
    return this.models.call('models.get', { id });
  }

  @Patch('models/:id')
  async updateModel(@Param('id') id: string, @Body() body: unknown) {
    const patch = parseBody(updateModelSchema, body);
    const current = await this.models.call('models.get', { id });
    return this.models.call('models.upsert', {
      id,
      kind: (patch.kind ?? current.kind) as ModelKind,
      aliases: patch.aliases,
      pricing: patch.pricing ? { ...current.pricing, ...patch.pricing } : undefined,
      limits: patch.limits,
      create: false,
    });
  }

  @Delete('models/:id')
  deleteModel(@Param('id') id: string) {
    return this.models.call('models.delete', { id });
  }
}
