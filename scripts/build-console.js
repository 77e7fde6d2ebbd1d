#!/usr/bin/env node
// Builds the web console (apps/console, a Vite + React app) into apps/console/dist, which the ingress
// serves at /console/. Skipped when nothing under apps/console (nor the lock file) changed since the last
// build: a hash of the sources is kept beside the output. `--force` builds anyway.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const appDir = path.join(root, 'apps', 'console');
const outDir = path.join(appDir, 'dist');
const stamp = path.join(outDir, '.source-hash');

function* files(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name === 'dist' || entry.name === 'node_modules' || entry.name === '.build-lock') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* files(full);
    else yield full;
  }
}

function sourceHash() {
  const h = crypto.createHash('sha256');
  for (const f of [...files(appDir), path.join(root, 'package-lock.json')]) {
    h.update(path.relative(root, f));
    h.update(fs.readFileSync(f));
  }
  return h.digest('hex');
}

const lockDir = path.join(appDir, '.build-lock');
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** One build at a time (two `npm test`s or a test and `npm start`): a directory is the lock; a stale one (over 5 min) is taken over. */
function withLock(fn) {
  for (let waited = 0; ; waited += 200) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const age = Date.now() - (fs.statSync(lockDir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 300_000) fs.rmSync(lockDir, { recursive: true, force: true });
      else sleep(200);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

function buildConsole(opts = {}) {
  if (!fs.existsSync(path.join(appDir, 'index.html'))) return { built: false, reason: 'no console sources' };
  return withLock(() => buildLocked(opts));
}

function buildLocked({ force = false, quiet = false }) {
  const hash = sourceHash();
  if (!force && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash && fs.existsSync(path.join(outDir, 'index.html'))) {
    return { built: false, reason: 'up to date' };
  }
  const started = Date.now();
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', path.join(appDir, 'vite.config.ts'), '--logLevel', quiet ? 'error' : 'warn'], {
    cwd: root,
    stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    const detail = quiet ? `\n${r.stdout || ''}${r.stderr || ''}` : '';
    throw new Error(`console build failed (vite exited ${r.status ?? r.signal})${detail}`);
  }
  fs.writeFileSync(stamp, hash);
  return { built: true, ms: Date.now() - started };
}

if (require.main === module) {
  try {
    const r = buildConsole({ force: process.argv.includes('--force') });
    process.stdout.write(r.built ? `built the console into apps/console/dist in ${r.ms} ms\n` : `console: ${r.reason}\n`);
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

module.exports = { buildConsole };
