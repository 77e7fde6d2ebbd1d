import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { settledAccount, startGateway } from './support/gateway';

// The README's promise: on a fresh clone with nothing installed, `npm start` alone brings the system up
// and `npm test` alone passes (installing what is missing first). The clone is of the committed HEAD.
// To keep the suite from running itself inside the clone, the clone's `npm test` runs the unit project.
const ROOT = path.resolve(__dirname, '..');
// the clones' `npm ci` takes packages from npm's cache without asking the registry about each first (about
// 45 s a clone instead of 60 here); what it installs is the lock file's either way
const INSTALL_ENV = { npm_config_prefer_offline: 'true' };

function freshClone(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-clone-'));
  execFileSync('git', ['clone', '--quiet', ROOT, dir]);
  expect(existsSync(path.join(dir, 'node_modules'))).toBe(false);
  expect(existsSync(path.join(dir, 'libs/db/src/generated'))).toBe(false);
  return dir;
}

describe('a fresh clone', () => {
  const clones: string[] = [];
  afterAll(() => {
    for (const dir of clones) rmSync(dir, { recursive: true, force: true });
  });

  it('`npm start` alone installs, migrates, starts and serves a paid call', async () => {
    const dir = freshClone();
    clones.push(dir);
    const g = await startGateway({ GATEWAY_QUIET: '1', ...INSTALL_ENV }, { root: dir, command: ['npm', 'start'], readyMs: 240_000 });
    try {
      expect(g.output.join('\n')).toContain('installing dependencies');
      const r = await fetch(`${g.base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${g.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'from a fresh clone' }] }),
      });
      expect(r.status).toBe(200);
      // the web console was built and is served by the same `npm start`
      const consolePage = await fetch(`${g.base}/console/`);
      expect(consolePage.status).toBe(200);
      expect(await consolePage.text()).toContain('<div id="root">');
      const acct = await settledAccount(g, g.accountId);
      expect(acct.balance_micros).toBeLessThan(10_000_000);
      expect(acct.held_micros).toBe(0);
    } finally {
      await g.stop();
    }
  }, 300_000);

  it('`npm test` alone installs what is missing and passes', () => {
    const dir = freshClone();
    clones.push(dir);
    const r = spawnSync('npm', ['test', '--', '--selectProjects', 'unit'], { cwd: dir, encoding: 'utf8', timeout: 280_000, env: { ...process.env, ...INSTALL_ENV } });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(out).toContain('installing dependencies');
    expect(out).toMatch(/Tests:\s+\d+ passed, \d+ total/);
    expect(r.status).toBe(0);
  }, 300_000);
});
