import 'reflect-metadata';
import { billingConfigSchema, loadConfigOrExit } from '@gateway/config';
import { initTracing } from '@gateway/tracing';
import { startBilling } from './bootstrap';

async function main(): Promise<void> {
  const config = loadConfigOrExit(billingConfigSchema, 'billing');
  initTracing('billing');
  await startBilling(config);
  process.stdout.write('[billing] listening on its Redis queue\n');
}

main().catch((err: Error) => {
  process.stderr.write(`[billing] failed to start: ${err.message}\n`);
  process.exit(1);
});
