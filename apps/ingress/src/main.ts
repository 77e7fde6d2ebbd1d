import 'reflect-metadata';
import cluster from 'node:cluster';
import { ingressConfigSchema, loadConfigOrExit } from '@gateway/config';
import { initMetrics } from '@gateway/ops';
import { initTracing } from '@gateway/tracing';
import { startIngress } from './bootstrap';
import { runPrimary } from './cluster/primary';
import { answerPrimary, tellListening } from './cluster/worker-ops';
import { IngressHealth } from './ops/ingress-health.service';
import { startIngressOps } from './ops/ingress-ops';

async function main(): Promise<void> {
  const config = loadConfigOrExit(ingressConfigSchema, 'ingress');
  // INGRESS_WORKERS > 1: this process is the cluster's primary and serves no calls (cluster/primary.ts)
  if (cluster.isPrimary && config.INGRESS_WORKERS > 1) return runPrimary(config);
  initTracing('ingress');
  const app = await startIngress(config);
  if (cluster.isWorker) {
    // the primary owns the ops port and asks each worker for its metrics and readiness
    initMetrics('ingress', config.METRICS_LOOP_RESOLUTION_MS);
    const health = app.get(IngressHealth);
    answerPrimary(() => health.ready());
    tellListening();
    return;
  }
  const ops = await startIngressOps(app, config);
  process.stdout.write(`[ingress] listening on http://${config.HOST}:${config.PORT}${ops ? `, ops on :${ops.port}` : ''}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`[ingress] failed to start: ${err.message}\n`);
  process.exit(1);
});
