import { Inject, Injectable } from '@nestjs/common';
import type { PrismaClient } from '@gateway/db';
import { PRISMA } from '../shared/tokens';

export interface DueWebhook {
  id: bigint;
  type: string;
  url: string;
  payload: Record<string, unknown>;
  /** counting this one */
  attempts: number;
}

/** The webhook outbox: rows are written by the money functions (budget alerts) and delivered from here. */
@Injectable()
export class WebhookOutboxRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  /**
   * Takes up to `limit` webhooks that are due, for `leaseMs`: their next attempt moves past the lease, so
   * no other instance takes them meanwhile (SKIP LOCKED lets instances claim side by side), and one whose
   * deliverer died is due again once the lease is over. Counts the attempt.
   */
  claim(limit: number, leaseMs: number): Promise<DueWebhook[]> {
    return this.prisma.$queryRaw<DueWebhook[]>`
      UPDATE webhook_outbox w
         SET attempts = w.attempts + 1, next_attempt_at = now() + make_interval(secs => ${leaseMs}::float8 / 1000)
       WHERE w.id IN (SELECT d.id FROM webhook_outbox d
                       WHERE d.delivered_at IS NULL AND d.next_attempt_at <= now()
                       ORDER BY d.next_attempt_at
                       LIMIT ${limit}
                       FOR UPDATE SKIP LOCKED)
      RETURNING w.id, w.type, w.url, w.payload, w.attempts`;
  }

  async delivered(id: bigint): Promise<void> {
    await this.prisma.$executeRaw`UPDATE webhook_outbox SET delivered_at = now(), last_error = NULL WHERE id = ${id}`;
  }

  async failed(id: bigint, error: string, retryInMs: number): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE webhook_outbox SET last_error = ${error.slice(0, 1000)}, next_attempt_at = now() + make_interval(secs => ${retryInMs}::float8 / 1000)
       WHERE id = ${id} AND delivered_at IS NULL`;
  }
}
