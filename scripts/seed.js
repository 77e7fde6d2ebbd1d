#!/usr/bin/env node
// Seeds the demo model, a mock-upstream channel, and a demo account and key through the admin API of a
// running ingress, then prints the key. `npm start` does this itself; docker compose runs it once.
const path = require('node:path');
const { seedDemo } = require('./lib/system');

async function main() {
  const base = process.env.GATEWAY_URL || 'http://127.0.0.1:8080';
  const token = process.env.ADMIN_TOKEN;
  if (!token) throw new Error('ADMIN_TOKEN is required');
  for (let i = 0; i < 60; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const demo = await seedDemo({
    base,
    token,
    mockBaseUrl: process.env.MOCK_BASE_URL || null,
    stateDir: process.env.GATEWAY_STATE_DIR || path.resolve(__dirname, '..', '.gateway'),
  });
  process.stdout.write(`demo account ${demo.account_id}\ndemo key ${demo.key}\n`);
}

main().catch((err) => {
  process.stderr.write(`seed failed: ${err.message}\n`);
  process.exit(1);
});
