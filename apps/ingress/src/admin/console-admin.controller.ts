import { Controller, Get, Inject, Param, Query, Req, UseGuards } from '@nestjs/common';
import { DomainError } from '@gateway/contracts';
import type { RedisRpcClient } from '@gateway/transport';
import type { FastifyRequest } from 'fastify';
import { RequestLogService } from '../request-log/request-log';
import { MODELS } from '../shared/tokens';
import { CircuitBreaker } from '../upstream/circuit-breaker';
import { AdminGuard, FinanceReadable } from './admin.guard';
import { parseBody, requestLogQuerySchema } from './admin.schemas';


/** the window the channel error rates cover */
const HEALTH_WINDOW_MIN = 15;

/** What the console needs of the admin API beyond the accounts, keys and registry routes. */
@Controller('admin')
@UseGuards(AdminGuard)
export class ConsoleAdminController {
  constructor(
    @Inject(MODELS) private readonly models: RedisRpcClient,
    private readonly requests: RequestLogService,
    private readonly breaker: CircuitBreaker,
  ) {}

  /** Which role the token has: the console signs in with it. */
  @Get('whoami')
  @FinanceReadable()
  whoami(@Req() req: FastifyRequest) {
    return { role: req.ttAdminRole };
  }

  /** The request log across accounts, newest first (support looks up an X-TT-Request-ID here). */
  @Get('requests')
  @FinanceReadable()
  list(@Query() query: unknown) {
    return this.requests.list(parseBody(requestLogQuerySchema, query));
  }

  @Get('requests/:id')
  @FinanceReadable()
  async get(@Param('id') id: string) {
    const entry = await this.requests.get(id);
    if (!entry) throw new DomainError('not_found', `no request ${id} in the request log`, 'id');
    return entry;
  }

  /**
   * Each channel's circuit state (shared by every ingress through Redis) and, from the request log, the
   * calls it answered in the last 15 minutes and how many failed (status >= 500).
   */
  @Get('channels/health')
  async channelHealth() {
    const channels = await this.models.call('channels.list', {});
    const [states, outcomes] = await Promise.all([this.breaker.inspect(channels.map((c) => c.id)), this.requests.channelOutcomes(HEALTH_WINDOW_MIN)]);
    return {
      window_minutes: HEALTH_WINDOW_MIN,
      data: channels.map((c, i) => {
        const o = outcomes.get(c.id) ?? { requests: 0, errors: 0 };
        return {
          channel_id: c.id,
          name: c.name,
          provider: c.provider,
          enabled: c.enabled,
          ...states[i],
          requests_15m: o.requests,
          errors_15m: o.errors,
          error_rate_15m: o.requests ? Math.round((o.errors / o.requests) * 10_000) / 10_000 : 0,
        };
      }),
    };
  }
}
