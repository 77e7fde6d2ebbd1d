import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { IngressConfig } from '@gateway/config';
import { StyleExceptionFilter } from './errors/style-exception.filter';
import { IngressModule } from './ingress.module';
import { onRequestAssignId } from './shared/request-context';
import { serviceLoggers } from '@gateway/logging';
import { installCallLogging } from './shared/call-logging';
import { drainOnSignals } from './shared/drain';
import { Lifecycle } from './shared/lifecycle';
import { onRequestMetrics } from './ops/ingress-metrics';
import { mountQueuesUi } from './admin/queues-ui';
import { RequestLogService } from './request-log/request-log';
import { mountConsole } from './console/console-static';
import { setAnswerWrites } from './conversation/answer-writes';

export async function createIngress(config: IngressConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: config.BODY_LIMIT_BYTES, logger: false });
  const fastify = adapter.getInstance();
  setAnswerWrites(config.ANSWER_WRITES);
  // the fields the hooks and the call set on a request, declared up front: every request object then has
  // one shape from its constructor on, and Fastify's and our property reads on it stay monomorphic
  for (const field of ['ttRequestId', 'ttHoldId', 'ttLog', 'ttAdminRole', 'ttCall', 'ttStartedAt', 'ttFirstByteAt', 'ttUpstreamAt', 'ttUpstreamMs']) fastify.decorateRequest(field, undefined);
  fastify.addHook('onRequest', onRequestAssignId);
  fastify.addHook('onRequest', onRequestMetrics);
  const logs = serviceLoggers('ingress', config.LOG_LEVEL);
  let lifecycle: Lifecycle | undefined;
  let requestLog: RequestLogService | undefined;
  installCallLogging(fastify, logs.logger, () => lifecycle, () => requestLog);
  mountQueuesUi(fastify, config); // BullMQ dashboard at /admin/queues (admin/queues-ui.ts)
  mountConsole(fastify); // the web console's static files at /console/ (console/console-static.ts)
  // multipart bodies (image edits, transcriptions) arrive whole and are parsed by the route that takes them
  fastify.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: config.BODY_LIMIT_BYTES }, (_req, body, done) => done(null, body));
  const app = await NestFactory.create<NestFastifyApplication>(IngressModule.forRoot(config), adapter, {
    logger: logs.nest,
  });
  const life = app.get(Lifecycle);
  lifecycle = life;
  if (config.REQUEST_LOG) requestLog = app.get(RequestLogService);
  app.useGlobalFilters(new StyleExceptionFilter());
  drainOnSignals(app, life, config.SHUTDOWN_GRACE_MS, logs.logger);
  return app;
}

export async function startIngress(config: IngressConfig): Promise<NestFastifyApplication> {
  const app = await createIngress(config);
  await app.listen(config.PORT, config.HOST);
  return app;
}
