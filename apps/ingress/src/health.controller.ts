import { Controller, Get, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { IngressHealth } from './ops/ingress-health.service';

/** Probes on the public port too, where load balancers look; the ops port answers the same. */
@Controller()
export class HealthController {
  constructor(private readonly health: IngressHealth) {}

  @Get('health')
  legacy() {
    return { ok: true };
  }

  @Get('health/live')
  live() {
    return { status: 'ok' };
  }

  @Get('health/ready')
  async ready(@Res() reply: FastifyReply): Promise<void> {
    const r = await this.health.ready();
    await reply.code(r.ready ? 200 : 503).header('cache-control', 'no-store').send({ status: r.ready ? 'ok' : 'unavailable', checks: r.checks });
  }
}
