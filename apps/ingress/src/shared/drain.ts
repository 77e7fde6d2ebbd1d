import type { INestApplication } from '@nestjs/common';
import type { Logger } from '@gateway/logging';
import type { Lifecycle } from './lifecycle';

/** what app.close() itself may take (the settle outbox's flush, connections) out of the grace period */
const CLOSE_RESERVE_MS = 3000;

/**
 * SIGTERM / SIGINT: stop taking calls (Lifecycle.draining: new ones get a 503, readiness goes false), wait
 * for the calls in flight, streams included, to finish (their settles are pushed before their responses
 * end), then close the app, which flushes the settle outbox to Redis, and exit. Whatever is still running
 * when graceMs is over is cut off and the process exits 1; those calls' holds expire and are reconciled.
 * Used instead of Nest's enableShutdownHooks, which would close the server under running streams.
 */
export function drainOnSignals(app: INestApplication, lifecycle: Lifecycle, graceMs: number, logger: Logger): void {
  let draining = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (draining) return;
    draining = true;
    const deadline = Date.now() + graceMs;
    const hard = setTimeout(() => {
      logger.error({ in_flight: lifecycle.inFlight }, `shutdown: grace period of ${graceMs} ms over; exiting with work unfinished`);
      process.exit(1);
    }, graceMs);
    hard.unref();
    lifecycle.draining = true;
    logger.info({ signal, in_flight: lifecycle.inFlight, grace_ms: graceMs }, 'shutdown: draining, new calls refused');
    void (async () => {
      const idle = await lifecycle.whenIdle(deadline - Date.now() - CLOSE_RESERVE_MS);
      if (!idle) logger.warn({ in_flight: lifecycle.inFlight }, 'shutdown: calls still running; closing anyway');
      await app.close();
      logger.info('shutdown: complete');
      process.exit(0);
    })().catch((err: Error) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
