import 'reflect-metadata';
import { loadConfigOrExit, modelsConfigSchema } from '@gateway/config';
import { initTracing } from '@gateway/tracing';
import { startModels } from './bootstrap';

async function main(): Promise<void> {
  const config = loadConfigOrExit(modelsConfigSchema, 'models');
  initTracing('models');
  await startModels(config);
  process.stdout.write('[models] listening on its Redis queue\n');
}

main().catch((err: Error) => {
  process.stderr.write(`[models] failed to start: ${err.message}\n`);
  process.exit(1);
});
