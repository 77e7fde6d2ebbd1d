import 'reflect-metadata';
import { ingressConfigSchema, loadConfigOrExit } from '@gateway/config';
import { initTracing } from '@gateway/tracing';
import { startIngress } from './bootstrap';
import { startIngressOps } from './ops/ingress-ops';

async function main(): Promise<void> {
  const config = loadConfigOrExit(ingressConfigSchema, 'ingress');
  initTracing('ingress');
  const app = await startIngress(config);
  const ops = await startIngressOps(app, config);
  process.stdout.write(`[ingress] listening on http://${config.HOST}:${config.PORT}${ops ? `, ops on :${ops.port}` : ''}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`[ingress] failed to start: ${err.message}\n`);
  process.exit(1);
});
