import 'reflect-metadata';
import { billingConfigSchema, loadConfigOrExit } from '@gateway/config';
import { initTracing } from '@gateway/tracing';
import { startBilling } from './bootstrap';
import { startBillingOps } from './ops/billing-ops';

async function main(): Promise<void> {
  const config = loadConfigOrExit(billingConfigSchema, 'billing');
  initTracing('billing');
  const app = await startBilling(config);
  const ops = await startBillingOps(app, config);
  process.stdout.write(`[billing] listening on its Redis queue${ops ? `, ops on :${ops.port}` : ''}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`[billing] failed to start: ${err.message}\n`);
  process.exit(1);
});
