#!/usr/bin/env node
// Compiles apps/ and libs/ (and the generated Prisma client) into dist/ with swc: about a second for the
// whole tree. Type checking is `npm run typecheck` (tsc), run by `npm test`.
const fs = require('node:fs');
const path = require('node:path');
const swc = require('@swc/core');
const { swcOptions, root } = require('./swc-options');
const { buildConsole } = require('./build-console');

const outRoot = path.join(root, 'dist');
// the web console is a Vite app with its own build (scripts/build-console.js), not compiled here
const consoleDir = path.join(root, 'apps', 'console');

function* sources(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || full === consoleDir) continue;
      yield* sources(full);
    } else if (/\.ts$/.test(entry.name) && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
      yield full;
    }
  }
}

// dist/ is never emptied: each file is written beside its place and renamed over it (atomic), and files whose
// source is gone are removed afterwards. So a process starting while another build runs (a test, `npm start`)
// never finds dist/ half missing.
function writeAtomic(file, data) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

function* builtFiles(dir) {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* builtFiles(full);
    else yield full;
  }
}

async function build() {
  const started = Date.now();
  const files = [...sources(path.join(root, 'apps')), ...sources(path.join(root, 'libs'))];
  const keep = new Set();
  await Promise.all(
    files.map(async (file) => {
      const rel = path.relative(root, file);
      const out = path.join(outRoot, rel.replace(/\.ts$/, '.js'));
      const result = await swc.transformFile(file, { ...swcOptions(), filename: file, outputPath: out });
      fs.mkdirSync(path.dirname(out), { recursive: true });
      writeAtomic(out, `${result.code}\n//# sourceMappingURL=${path.basename(out)}.map\n`);
      keep.add(out);
      if (result.map) {
        writeAtomic(`${out}.map`, result.map);
        keep.add(`${out}.map`);
      }
    }),
  );
  // the generated Prisma client loads its wasm query compiler from beside itself
  copyAssets(path.join(root, 'libs/db/src/generated'), path.join(outRoot, 'libs/db/src/generated'), keep);
  for (const file of builtFiles(outRoot)) {
    // stale output of deleted sources; another build's temporary files are left to it
    if (!keep.has(file) && !file.endsWith('.tmp')) fs.rmSync(file, { force: true });
  }
  process.stdout.write(`built ${files.length} files into dist/ in ${Date.now() - started} ms\n`);
  // the web console, when its sources changed (scripts/build-console.js)
  const c = buildConsole({ quiet: true });
  if (c.built) process.stdout.write(`built the console into apps/console/dist in ${c.ms} ms\n`);
}

function copyAssets(from, to, keep) {
  if (!fs.existsSync(from)) return;
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyAssets(src, dst, keep);
    else if (!entry.name.endsWith('.ts')) {
      fs.mkdirSync(to, { recursive: true });
      writeAtomic(dst, fs.readFileSync(src));
      keep.add(dst);
    }
  }
}

if (require.main === module) {
  build().catch((err) => {
    process.stderr.write(`build failed: ${err.stack || err}\n`);
    process.exit(1);
  });
}

module.exports = { build };
