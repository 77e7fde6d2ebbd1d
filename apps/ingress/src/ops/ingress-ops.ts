import type { INestApplication } from '@nestjs/common';
import type { IngressConfig } from '@gateway/config';
import { initMetrics, startOpsServer, type OpsServer } from '@gateway/ops';
import { IngressHealth } from './ingress-health.service';

/** The ops port of an ingress process (main.ts only: in-process tests leave it off). */
export async function startIngressOps(app: INestApplication, config: IngressConfig): Promise<OpsServer | undefined> {
  initMetrics('ingress', config.METRICS_LOOP_RESOLUTION_MS);
  const health = app.get(IngressHealth);
  return startOpsServer({ port: config.OPS_PORT, checks: health.checks, draining: health.draining });
}
