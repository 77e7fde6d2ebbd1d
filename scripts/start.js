#!/usr/bin/env node
// `npm start`: everything up with working defaults. Installs what is missing, builds, migrates, starts
// the five processes, seeds a demo account, key, model and mock channel, and prints how to call it.
const path = require('node:path');
const prep = require('./lib/prepare');

async function main() {
  prep.checkNode();
  prep.ensureInstalled();
  const databaseUrl = process.env.DATABASE_URL || prep.DEFAULT_DATABASE_URL;
  const redisUrl = process.env.REDIS_URL || prep.DEFAULT_REDIS_URL;
  await prep.checkServices(databaseUrl, redisUrl);
  prep.ensurePrismaClient();
  prep.build();
  await prep.migrateIfNeeded(databaseUrl);

  const { startSystem, seedDemo, adminToken, financeToken } = require('./lib/system');
  const stateDir = process.env.GATEWAY_STATE_DIR || path.join(prep.root, '.gateway');
  const port = process.env.PORT || '8080';
  const mockPort = process.env.MOCK_PORT || '8090';
  const withMock = process.env.MOCK_UPSTREAM !== 'off';
  const token = adminToken(stateDir);
  const finance = financeToken(stateDir);
  const env = { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, PORT: port, MOCK_PORT: mockPort, ADMIN_TOKEN: token, FINANCE_TOKEN: finance };
  const quiet = process.env.GATEWAY_QUIET === '1';

  let system;
  try {
    system = await startSystem({
      env,
      withMock,
      onOutput: (name, line) => {
        if (!quiet) process.stdout.write(`${name.padEnd(13)}| ${line}\n`);
      },
      onExit: (name, code, signal) => {
        process.stderr.write(`[gateway] ${name} exited unexpectedly (${signal || code}); stopping everything\n`);
        void system?.stop().then(() => process.exit(1));
      },
    });
  } catch (err) {
    prep.fail(`start failed: ${err.message}`);
  }

  const base = `http://127.0.0.1:${port}`;
  const demo = await seedDemo({ base, token, mockBaseUrl: withMock ? `http://127.0.0.1:${mockPort}/v1` : null, stateDir });
  const curl =
    `curl ${base}/v1/chat/completions -H "Authorization: Bearer ${demo.key}" -H "Content-Type: application/json" ` +
    `-d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]}'`;
  process.stdout.write(
    [
      '',
      '================================================================',
      ` Gateway:      ${base}`,
      ` Console:      ${base}/console/ (sign in with the demo key, the admin token or the finance token)`,
      ` Admin token:  ${token}`,
      ` Finance token: ${finance || 'off'} (read-only: reports, holds, accounts, audit log)`,
      ` Demo account: ${demo.account_id} (balance ${demo.account.balance_micros} micros)`,
      ` Demo key:     ${demo.key}`,
      ` Ops ports:    ${Object.entries(system.opsPorts).map(([n, p]) => `${n} ${p || 'off'}`).join(', ')} (GET /metrics, /health/live, /health/ready)`,
      ' Try:',
      ` ${curl}`,
      '================================================================',
      '',
    ].join('\n'),
  );
  process.stdout.write(`GATEWAY_READY ${JSON.stringify({ base, admin_token: token, finance_token: finance, key: demo.key, account_id: demo.account_id, curl, ops_ports: system.opsPorts })}\n`);

  const shutdown = () => void system.stop().then(() => process.exit(0));
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err) => prep.fail(err.stack || String(err)));
