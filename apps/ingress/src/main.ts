import 'reflect-metadata';
import { ingressConfigSchema, loadConfigOrExit } from '@gateway/config';
import { initTracing } from '@gateway/tracing';
import { startIngress } from './bootstrap';

async function main(): Promise<void> {
  const config = loadConfigOrExit(ingressConfigSchema, 'ingress');
  initTracing('ingress');
  await startIngress(config);
  process.stdout.write(`[ingress] listening on http://${config.HOST}:${config.PORT}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`[ingress] failed to start: ${err.message}\n`);
  process.exit(1);
});
