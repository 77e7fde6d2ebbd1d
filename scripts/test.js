#!/usr/bin/env node
// `npm test`: install what is missing, generate, build, type-check, migrate the test database, then run
// the unit, integration and end-to-end suites against the real Postgres and Redis.
const path = require('node:path');
const prep = require('./lib/prepare');

async function main() {
  prep.checkNode();
  prep.ensureInstalled();
  const testDb = process.env.TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/gateway_test';
  const redisUrl = process.env.TEST_REDIS_URL || process.env.REDIS_URL || prep.DEFAULT_REDIS_URL;
  await prep.checkServices(testDb, redisUrl);
  prep.ensurePrismaClient();
  prep.log('building…');
  prep.build();
  prep.log('type-checking…');
  prep.run(process.execPath, [path.join(prep.root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit'], { what: 'type check' });
  prep.run(process.execPath, [path.join(prep.root, 'node_modules/typescript/bin/tsc'), '-p', 'apps/console/tsconfig.json', '--noEmit'], { what: 'console type check' });
  prep.log('migrating the test database…');
  await prep.migrateIfNeeded(testDb);
  const args = [path.join(prep.root, 'node_modules/jest/bin/jest.js'), '--runInBand', ...process.argv.slice(2)];
  prep.run(process.execPath, args, { env: { TEST_DATABASE_URL: testDb, TEST_REDIS_URL: redisUrl }, what: 'tests' });
}

main().catch((err) => prep.fail(err.stack || String(err)));
