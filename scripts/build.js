#!/usr/bin/env node
// Compiles apps/ and libs/ (and the generated Prisma client) into dist/ with swc: about a second for the
// whole tree. Type checking is `npm run typecheck` (tsc), run by `npm test`.
const fs = require('node:fs');
const path = require('node:path');
const swc = require('@swc/core');
const { swcOptions, root } = require('./swc-options');

const outRoot = path.join(root, 'dist');

function* sources(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules') continue;
      yield* sources(full);
    } else if (/\.ts$/.test(entry.name) && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
      yield full;
    }
  }
}

async function build() {
  const started = Date.now();
  fs.rmSync(outRoot, { recursive: true, force: true });
  const files = [...sources(path.join(root, 'apps')), ...sources(path.join(root, 'libs'))];
  await Promise.all(
    files.map(async (file) => {
      const rel = path.relative(root, file);
      const out = path.join(outRoot, rel.replace(/\.ts$/, '.js'));
      const result = await swc.transformFile(file, { ...swcOptions(), filename: file, outputPath: out });
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, `${result.code}\n//# sourceMappingURL=${path.basename(out)}.map\n`);
      if (result.map) fs.writeFileSync(`${out}.map`, result.map);
    }),
  );
  // the generated Prisma client loads its wasm query compiler from beside itself
  copyAssets(path.join(root, 'libs/db/src/generated'), path.join(outRoot, 'libs/db/src/generated'));
  process.stdout.write(`built ${files.length} files into dist/ in ${Date.now() - started} ms\n`);
}

function copyAssets(from, to) {
  if (!fs.existsSync(from)) return;
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyAssets(src, dst);
    else if (!entry.name.endsWith('.ts')) {
      fs.mkdirSync(to, { recursive: true });
      fs.copyFileSync(src, dst);
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
