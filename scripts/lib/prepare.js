// Steps shared by `npm start` and `npm test`: install what is missing, generate the Prisma client,
// build, and check that Postgres and Redis answer. Uses nothing but Node until the install is done.
const { spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/gateway';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

function log(msg) {
  process.stdout.write(`[gateway] ${msg}\n`);
}

function fail(msg) {
  process.stderr.write(`[gateway] ${msg}\n`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: opts.quiet ? 'pipe' : 'inherit', env: { ...process.env, ...opts.env }, encoding: 'utf8' });
  if (r.status !== 0) {
    if (opts.quiet) process.stderr.write(`${r.stdout || ''}${r.stderr || ''}`);
    fail(`${opts.what || `${cmd} ${args.join(' ')}`} failed (exit ${r.status})`);
  }
  return r;
}

const mtime = (p) => (fs.existsSync(p) ? fs.statSync(p).mtimeMs : 0);

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 18)) fail(`Node ${process.versions.node} is too old: this project needs Node 20.18 or later`);
}

/** npm ci when node_modules is missing or older than the lock file. */
function ensureInstalled() {
  const marker = path.join(root, 'node_modules', '.package-lock.json');
  if (mtime(marker) >= mtime(path.join(root, 'package-lock.json')) && fs.existsSync(path.join(root, 'node_modules', '@nestjs', 'core'))) return;
  log('installing dependencies (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund'], { what: 'npm ci' });
}

function ensurePrismaClient() {
  const out = path.join(root, 'libs/db/src/generated/prisma/client.ts');
  if (mtime(out) >= mtime(path.join(root, 'prisma/schema.prisma'))) return;
  log('generating the Prisma client…');
  run(process.execPath, [path.join(root, 'node_modules/prisma/build/index.js'), 'generate'], { quiet: true, what: 'prisma generate' });
}

function build() {
  run(process.execPath, [path.join(root, 'scripts/build.js')], { quiet: true, what: 'build' });
}

/**
 * The migration directories not yet applied to the database (all of them when it or its migrations table
 * does not exist). Read straight from `_prisma_migrations`, the table `prisma migrate deploy` keeps.
 */
async function pendingMigrations(databaseUrl) {
  const dir = path.join(root, 'prisma', 'migrations');
  const all = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  const pg = require('pg');
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const { rows } = await client.query('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL');
    const applied = new Set(rows.map((r) => r.migration_name));
    return all.filter((name) => !applied.has(name));
  } catch {
    return all;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * `prisma migrate deploy`, when a migration is pending. The CLI (its wasm schema engine) keeps a 10-second
 * timer alive after its work, so every run took over 11 s even with nothing to do; a database that has every
 * migration is left alone instead (the CLI would only have checked the same table).
 */
async function migrateIfNeeded(databaseUrl) {
  if ((await pendingMigrations(databaseUrl)).length === 0) return false;
  migrate(databaseUrl);
  return true;
}

/** Drops the database (its connections closed first); migrate deploy creates it again. */
async function dropDatabase(databaseUrl) {
  const pg = require('pg');
  const u = new URL(databaseUrl);
  const name = decodeURIComponent(u.pathname.slice(1));
  u.pathname = '/postgres';
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

function migrate(databaseUrl) {
  run(process.execPath, [path.join(root, 'node_modules/prisma/build/index.js'), 'migrate', 'deploy'], {
    quiet: true,
    env: { DATABASE_URL: databaseUrl },
    what: `migrations on ${redact(databaseUrl)}`,
  });
}

function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** One line and exit when Postgres or Redis does not answer. */
async function checkServices(databaseUrl, redisUrl) {
  const pg = require('pg');
  const Redis = require('ioredis');
  const u = new URL(databaseUrl);
  // the target database may not exist yet (migrate creates it): ask the maintenance database
  const maintenance = new URL(databaseUrl);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.toString(), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    fail(`PostgreSQL is not reachable at ${u.host} (DATABASE_URL=${redact(databaseUrl)}): ${err.message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
  const redis = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    fail(`Redis is not reachable (REDIS_URL=${redact(redisUrl)}): ${err.message}`);
  } finally {
    redis.disconnect();
  }
}

/**
 * The benchmarks' preamble: Node new enough, dependencies installed, the Prisma client generated, dist/ built,
 * and Postgres (databaseUrl's server) and Redis (REDIS_URL) answering.
 */
async function readyToRun(databaseUrl) {
  checkNode();
  ensureInstalled();
  ensurePrismaClient();
  build();
  await checkServices(databaseUrl, process.env.REDIS_URL || DEFAULT_REDIS_URL);
}

/** A positive number given as `--name N` or `--name=N` on the command line, else def; exits on anything else. */
function numberArg(name, def, argv = process.argv.slice(2)) {
  for (let i = 0; i < argv.length; i++) {
    let v;
    if (argv[i] === `--${name}`) v = argv[i + 1];
    else if (argv[i].startsWith(`--${name}=`)) v = argv[i].slice(name.length + 3);
    else continue;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) fail(`--${name} wants a positive number, got ${v}`);
    return n;
  }
  return def;
}

// n distinct free ports: every probe socket stays open until all n are taken, so the kernel cannot hand
// the same ephemeral port out twice (one port at a time could give two services the same one)
async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      servers.push(await new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve(s));
      }));
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r()))));
  }
}

/** Removes the keys a run left under its own Redis prefix (a fresh UUID, so nobody else's); leftovers are harmless, so errors are ignored. */
async function dropRedisPrefix(redisUrl, prefix) {
  const Redis = require('ioredis');
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    let cursor = '0';
    for (let i = 0; i < 10_000; i++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } catch {
    // leftovers under a unique prefix are harmless
  } finally {
    redis.disconnect();
  }
}

/**
 * CPU ms a process has used (utime + stime, /proc/<pid>/stat in ticks of 10 ms, so ±10 ms); NaN once it is gone.
 * bench:tail, bench:ids and profile:ingress read their processes' CPU with it (bench:gateway reads every process's).
 */
/** pid and its descendants (an ingress run with INGRESS_WORKERS > 1 is a primary and its workers), from /proc */
function processTree(pid) {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    try {
      for (const tid of fs.readdirSync(`/proc/${pids[i]}/task`)) {
        const kids = fs.readFileSync(`/proc/${pids[i]}/task/${tid}/children`, 'utf8').trim();
        if (kids) pids.push(...kids.split(' ').map(Number));
      }
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * CPU ms (user + system, 10 ms ticks) of a process and its descendants, those that ended and were reaped
 * included (their time is in the parent's cutime and cstime); NaN once the process itself is gone.
 */
function processCpuMs(pid) {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      if (p === pid) return NaN;
    }
  }
  return ticks * 10;
}

/** The commit checked out in dir (this checkout by default), with how many tracked files differ from it. */
function buildId(dir = root) {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${head} + uncommitted changes in ${dirty.split('\n').length} files` : head;
  } catch {
    return 'unknown (no git)';
  }
}

module.exports = {
  root,
  DEFAULT_DATABASE_URL,
  DEFAULT_REDIS_URL,
  log,
  fail,
  run,
  checkNode,
  ensureInstalled,
  ensurePrismaClient,
  build,
  migrate,
  migrateIfNeeded,
  dropDatabase,
  pendingMigrations,
  checkServices,
  redact,
  readyToRun,
  numberArg,
  freePorts,
  buildId,
  dropRedisPrefix,
  processCpuMs,
  processTree,
};
