import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { nestLogLevels, type IngressConfig } from '@gateway/config';
import { StyleExceptionFilter } from './errors/style-exception.filter';
import { IngressModule } from './ingress.module';
import { onRequestAssignId } from './shared/request-context';

export async function createIngress(config: IngressConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: config.BODY_LIMIT_BYTES, logger: false });
  const fastify = adapter.getInstance();
  fastify.addHook('onRequest', onRequestAssignId);
  // multipart bodies (image edits, transcriptions) arrive whole and are parsed by the route that takes them
  fastify.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: config.BODY_LIMIT_BYTES }, (_req, body, done) => done(null, body));
  const app = await NestFactory.create<NestFastifyApplication>(IngressModule.forRoot(config), adapter, {
    logger: nestLogLevels(config.LOG_LEVEL),
  });
  app.useGlobalFilters(new StyleExceptionFilter());
  app.enableShutdownHooks();
  return app;
}

export async function startIngress(config: IngressConfig): Promise<NestFastifyApplication> {
  const app = await createIngress(config);
  await app.listen(config.PORT, config.HOST);
  return app;
}
