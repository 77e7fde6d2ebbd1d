import { loadConfigOrExit, mockUpstreamConfigSchema } from '@gateway/config';
import { startMockUpstream } from './server';

async function main(): Promise<void> {
  const config = loadConfigOrExit(mockUpstreamConfigSchema, 'mock-upstream');
  const { url } = await startMockUpstream(config);
  process.stdout.write(`[mock-upstream] listening on ${url}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`[mock-upstream] failed to start: ${err.message}\n`);
  process.exit(1);
});
