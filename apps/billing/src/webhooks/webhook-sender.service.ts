import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DEV_WEBHOOK_SECRET, type BillingConfig } from '@gateway/config';
import { CONFIG } from '../shared/tokens';
import { WebhookOutboxRepository, type DueWebhook } from './webhook-outbox.repository';
import { signWebhook } from './webhook-signature';

const BATCH = 50;
const TIMEOUT_MS = 10_000;
/** longer than a delivery can take, so a claimed webhook is not taken again while it is being sent */
const LEASE_MS = 60_000;
const MAX_RETRY_MS = 60 * 60_000;

/**
 * Delivers the webhook outbox (budget alerts): POSTs each row's JSON, signed, to its URL, and marks it
 * delivered on a 2xx; anything else is tried again later, backing off from WEBHOOK_RETRY_MIN_MS to an
 * hour, for as long as it takes. Safe on any number of billing instances (rows are claimed with SKIP
 * LOCKED under a lease). A receiver may see a webhook twice (an instance that died after sending and
 * before marking it): X-TT-Webhook-ID is the same both times.
 */
@Injectable()
export class WebhookSenderService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookSenderService.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly outbox: WebhookOutboxRepository,
    @Inject(CONFIG) private readonly config: BillingConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.WEBHOOK_INTERVAL_MS === 0) return;
    if (this.config.WEBHOOK_SECRET === DEV_WEBHOOK_SECRET) this.logger.warn('webhooks are signed with the development WEBHOOK_SECRET: set one of your own');
    this.timer = setInterval(() => {
      this.running ??= this.deliverDue()
        .then(() => undefined)
        .catch((err: Error) => this.logger.error(`webhook delivery failed: ${err.message}`))
        .finally(() => (this.running = undefined));
    }, this.config.WEBHOOK_INTERVAL_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One pass over what is due; returns how many were delivered and how many failed. */
  async deliverDue(): Promise<{ delivered: number; failed: number }> {
    let delivered = 0;
    let failed = 0;
    for (;;) {
      const due = await this.outbox.claim(BATCH, LEASE_MS);
      const results = await Promise.all(due.map((w) => this.deliver(w)));
      delivered += results.filter(Boolean).length;
      failed += results.filter((ok) => !ok).length;
      if (due.length < BATCH) return { delivered, failed };
    }
  }

  private async deliver(w: DueWebhook): Promise<boolean> {
    const body = JSON.stringify({ type: w.type, ...w.payload });
    const signature = signWebhook(this.config.WEBHOOK_SECRET, body, Math.floor(Date.now() / 1000));
    let error: string;
    try {
      const res = await fetch(w.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tt-signature': signature, 'x-tt-webhook-id': String(w.id), 'user-agent': 'gateway-webhooks' },
        body,
        // a redirect is not a delivery: the receiver's URL is the one an admin set
        redirect: 'manual',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await res.body?.cancel();
      if (res.status >= 200 && res.status < 300) {
        await this.outbox.delivered(w.id);
        return true;
      }
      error = `HTTP ${res.status}`;
    } catch (err) {
      const e = err as Error & { cause?: Error };
      error = e.cause?.message ? `${e.message}: ${e.cause.message}` : e.message;
    }
    const retryInMs = Math.min(MAX_RETRY_MS, this.config.WEBHOOK_RETRY_MIN_MS * 2 ** Math.min(w.attempts - 1, 20));
    this.logger.warn(`webhook ${w.id} to ${w.url} failed (attempt ${w.attempts}): ${error}; next in ${retryInMs} ms`);
    await this.outbox.failed(w.id, error, retryInMs);
    return false;
  }
}
