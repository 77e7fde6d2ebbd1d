import 'reflect-metadata';
import { loadConfigOrExit, modelsConfigSchema } from '@gateway/config';
import { initTracing } from '@gateway/tracing';
import { startModels } from './bootstrap';
import { startModelsOps } from './ops/models-ops';

async function main(): Promise<void> {
  const config = loadConfigOrExit(modelsConfigSchema, 'models');
  initTracing('models');
  const app = await startModels(config);
  const ops = await startModelsOps(app, config);
  process.stdout.write(`[models] listening on its Redis queue${ops ? `, ops on :${ops.port}` : ''}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`[models] failed to start: ${err.message}\n`);
  process.exit(1);
});
