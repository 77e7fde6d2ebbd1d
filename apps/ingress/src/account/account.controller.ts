import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { DomainError, type KeyPrincipal } from '@gateway/contracts';
import type { RedisRpcClient } from '@gateway/transport';
import { TaskRepository, toTaskView } from '@gateway/tasks';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AuthService } from '../auth/auth.service';
import { clientUsageQuerySchema, createKeySchema, parseBody, requestLogQuerySchema, statementQuerySchema } from '../admin/admin.schemas';
import { periodOf, sendCsv, statementCsv, usageGroupedCsv, wantsCsv } from '../admin/reports';
import { RequestLogService } from '../request-log/request-log';
import { BILLING } from '../shared/tokens';

const DAY_MS = 86_400_000;

const requestsQuery = requestLogQuerySchema.omit({ account_id: true });

const tasksQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).optional(),
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']).optional(),
  before: z.iso.datetime({ offset: true }).optional(),
});

/** A period defaulting to the last 30 days until now. */
function lastDays(q: { from?: string; to?: string }, days = 30): { from: string; to: string } {
  const to = q.to ?? new Date().toISOString();
  return { from: q.from ?? new Date(Date.parse(to) - days * DAY_MS).toISOString(), to };
}

/**
 * The account a key belongs to, as that key's holder sees it: balance, usage, keys, the request log,
 * tasks and the statement. Every route is scoped to the calling key's account on the server: another
 * account's key, request or task is answered 404, exactly as if it did not exist. The console's client
 * pages use these routes; so can any script with a key.
 */
@Controller('v1/account')
export class AccountController {
  constructor(
    private readonly auth: AuthService,
    @Inject(BILLING) private readonly billing: RedisRpcClient,
    private readonly tasks: TaskRepository,
    private readonly requests: RequestLogService,
  ) {}

  private caller(req: FastifyRequest): Promise<KeyPrincipal> {
    return this.auth.authenticate(this.auth.bearerKey(req), req.ttRequestId);
  }

  @Get()
  async account(@Req() req: FastifyRequest) {
    const p = await this.caller(req);
    const [account, key] = await Promise.all([this.billing.call('accounts.get', { id: p.account_id }), this.billing.call('keys.get', { id: p.key_id })]);
    return { ...account, key: { id: key.id, name: key.name, prefix: key.prefix, models: key.models } };
  }

  /** Billed usage (sums of the usage records), grouped by any of day, model and key. JSON, or CSV. */
  @Get('usage')
  async usage(@Query() query: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const p = await this.caller(req);
    const q = parseBody(clientUsageQuerySchema, query);
    const report = await this.billing.call('reports.usageGrouped', { ...lastDays(q), account_id: p.account_id, group_by: q.group_by });
    return wantsCsv(req, q.format) ? sendCsv(reply, 'usage.csv', usageGroupedCsv(report)) : report;
  }

  @Get('keys')
  async keys(@Req() req: FastifyRequest) {
    const p = await this.caller(req);
    return { data: await this.billing.call('keys.list', { account_id: p.account_id }) };
  }

  /**
   * A new key of the caller's account; its plaintext is in the answer once. A key limited to some models
   * can only make keys limited to some of those (by default the same), so no key widens its own reach.
   */
  @Post('keys')
  @HttpCode(201)
  async createKey(@Body() body: unknown, @Req() req: FastifyRequest) {
    const p = await this.caller(req);
    const input = parseBody(createKeySchema, body);
    let models = input.models ?? [];
    if (p.models.length > 0) {
      if (models.length === 0) models = p.models;
      const beyond = models.filter((m) => !p.models.includes(m));
      if (beyond.length) throw new DomainError('forbidden', `this key may only create keys for its own models (${p.models.join(', ')}); not: ${beyond.join(', ')}`, 'models');
    }
    return this.billing.call('keys.create', { ...input, models, account_id: p.account_id });
  }

  @Delete('keys/:id')
  async revokeKey(@Param('id') id: string, @Req() req: FastifyRequest) {
    const p = await this.caller(req);
    await this.ownKey(id, p);
    return this.billing.call('keys.revoke', { id });
  }

  @Get('keys/:id')
  async key(@Param('id') id: string, @Req() req: FastifyRequest) {
    return this.ownKey(id, await this.caller(req));
  }

  private async ownKey(id: string, p: KeyPrincipal) {
    const notFound = () => new DomainError('not_found', `no key ${id} in this account`, 'id');
    const key = await this.billing.call('keys.get', { id }).catch((err: unknown) => {
      throw DomainError.from(err).code === 'not_found' ? notFound() : err;
    });
    if (key.account_id !== p.account_id) throw notFound();
    return key;
  }

  /** The request log, newest first; `before` pages (the last row's created_at). */
  @Get('requests')
  async requestLog(@Query() query: unknown, @Req() req: FastifyRequest) {
    const p = await this.caller(req);
    return this.requests.list({ ...parseBody(requestsQuery, query), account_id: p.account_id });
  }

  /** One call by its X-TT-Request-ID, with its usage record (unit prices included) when it was billed. */
  @Get('requests/:id')
  async request(@Param('id') id: string, @Req() req: FastifyRequest) {
    const p = await this.caller(req);
    const entry = await this.requests.get(id, p.account_id);
    if (!entry) throw new DomainError('not_found', `no request ${id} in this account's log`, 'id');
    return entry;
  }

  @Get('tasks')
  async taskList(@Query() query: unknown, @Req() req: FastifyRequest) {
    const p = await this.caller(req);
    const q = parseBody(tasksQuery, query);
    const rows = await this.tasks.listForAccount(p.account_id, { limit: q.limit, status: q.status, before: q.before ? new Date(q.before) : undefined });
    return { data: rows.map(toTaskView) };
  }

  /** Every ledger entry of the caller's account in the period with its running balance. JSON, or CSV. */
  @Get('statement')
  async statement(@Query() query: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const p = await this.caller(req);
    const q = parseBody(statementQuerySchema, query);
    const statement = await this.billing.call('accounts.statement', { ...periodOf(q), account_id: p.account_id });
    return wantsCsv(req, q.format) ? sendCsv(reply, 'statement.csv', statementCsv(statement)) : statement;
  }
}
