// Starts the gateway's processes from dist/, waits until they answer, and seeds a demo setup through the
// admin API. Used by `npm start` and by the end-to-end tests (which start the system exactly this way).
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const os = require('node:os');
const fs = require('node:fs');
const path = require('node:path');
const { root } = require('./prepare');

/** the ingress's own V8 flags (see SERVICES) */
const INGRESS_NODE_ARGS = ['--max-semi-space-size=32'];

const SERVICES = [
  { name: 'mock-upstream', entry: 'dist/apps/mock-upstream/src/main.js', optional: true },
  { name: 'billing', entry: 'dist/apps/billing/src/main.js', ops: ['BILLING_OPS_PORT', '9101'] },
  { name: 'models', entry: 'dist/apps/models/src/main.js', ops: ['MODELS_OPS_PORT', '9102'] },
  { name: 'task-worker', entry: 'dist/apps/task-worker/src/main.js', ops: ['WORKER_OPS_PORT', '9103'] },
  // a young generation of 32 MB semi-spaces (V8's default on 64-bit is 16): a call's garbage (parsed bodies,
  // headers, promises) dies young, so half as many scavenges of about the same survivors; ingress spent 14 %
  // less CPU a call at open throttle in alternating runs (docs/throughput-history.md). docker-compose.yml, the
  // Dockerfile and deploy/k8s pass the same (test/deploy-files.spec.ts).
  { name: 'ingress', entry: 'dist/apps/ingress/src/main.js', ops: ['INGRESS_OPS_PORT', '9100'], node: INGRESS_NODE_ARGS },
];

/**
 * Every service reads its ops port (/metrics, /health/*) from OPS_PORT, so one environment cannot give
 * them one each: the launcher takes INGRESS_OPS_PORT, BILLING_OPS_PORT, MODELS_OPS_PORT and WORKER_OPS_PORT
 * (else the services' defaults, 9100-9103) and hands each its own; OPS_PORT=0 turns them all off.
 */
function opsPort(svc, env) {
  if (!svc.ops) return undefined;
  const [name, def] = svc.ops;
  if (env[name] !== undefined && env[name] !== '') return String(env[name]);
  return env.OPS_PORT === '0' ? '0' : def;
}

const DEMO_MODEL = {
  id: 'gpt-4o-mini',
  kind: 'chat',
  aliases: ['mock-chat'],
  // $0.15 / $0.60 per million tokens, as micros per million tokens
  pricing: { input_per_mtok_micros: 150_000, cached_input_per_mtok_micros: 75_000, output_per_mtok_micros: 600_000 },
  limits: { context_tokens: 128_000, max_output_tokens: 16_384 },
};
const DEMO_CREDIT_MICROS = 10_000_000; // $10

/** Task models on the mock's job APIs: a video, a Midjourney and an async image model. */
const DEMO_TASK_MODELS = [
  { model: { id: 'sora-2', kind: 'video', pricing: { per_second_micros: 100_000 } }, channel: { name: 'mock-openai-video', provider: 'openai', path: '/v1', upstream: 'sora-2' } },
  { model: { id: 'midjourney', kind: 'mj', pricing: { per_task_micros: 50_000 } }, channel: { name: 'mock-midjourney', provider: 'midjourney', path: '', upstream: 'midjourney' } },
  { model: { id: 'flux-pro-1.1', kind: 'image', pricing: { per_image_micros: 40_000 } }, channel: { name: 'mock-bfl', provider: 'bfl', path: '', upstream: 'flux-pro-1.1' } },
];

/** A token from the environment, else the one saved in stateDir/file, else a new one saved there (mode 600). */
function savedToken(stateDir, envName, file, prefix) {
  if (process.env[envName]) return process.env[envName];
  const where = path.join(stateDir, file);
  if (fs.existsSync(where)) return fs.readFileSync(where, 'utf8').trim();
  const token = `${prefix}-${crypto.randomBytes(24).toString('base64url')}`;
  fs.mkdirSync(stateDir, { recursive: true });
  fs.writeFileSync(where, `${token}\n`, { mode: 0o600 });
  return token;
}

function adminToken(stateDir) {
  return savedToken(stateDir, 'ADMIN_TOKEN', 'admin-token', 'adm');
}

/** The read-only finance token: FINANCE_TOKEN, else one saved beside the admin token; FINANCE_TOKEN=off turns it off. */
function financeToken(stateDir) {
  if (process.env.FINANCE_TOKEN === 'off') return '';
  return savedToken(stateDir, 'FINANCE_TOKEN', 'finance-token', 'fin');
}

async function waitFor(url, ms, isDead) {
  const until = Date.now() + ms;
  let lastErr;
  while (Date.now() < until) {
    if (isDead()) throw new Error(`a process exited while waiting for ${url}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
      lastErr = new Error(`status ${r.status}`);
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${ms} ms: ${lastErr && lastErr.message}`);
}

/**
 * Spawns every service with one environment. Returns handles; `stop()` ends them all.
 * opts.env: extra environment; opts.withMock: start the mock upstream; opts.onOutput(name, line).
 */
async function startSystem(opts) {
  const env = { ...process.env, ...opts.env };
  const children = [];
  /** each service's ops port (0: off), by name */
  const opsPorts = {};
  let dead = null;
  let stopping = false;
  for (const svc of SERVICES) {
    if (svc.optional && !opts.withMock) continue;
    // GW_NODE_ARGS: extra node flags for every service, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile a run;
    // opts.nodeArgs: { [service]: [flags] } for one service alone (scripts/profile-ingress.js profiles ingress)
    const extra = [...(env.GW_NODE_ARGS || '').split(' ').filter(Boolean), ...(opts.nodeArgs?.[svc.name] || [])];
    const ops = opsPort(svc, env);
    if (ops !== undefined) opsPorts[svc.name] = Number(ops);
    const childEnv = ops === undefined ? env : { ...env, OPS_PORT: ops };
    const child = spawn(process.execPath, ['--enable-source-maps', ...(svc.node || []), ...extra, path.join(root, svc.entry)], { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const forward = (stream) => {
      let buf = '';
      stream.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          opts.onOutput?.(svc.name, buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
    };
    forward(child.stdout);
    forward(child.stderr);
    child.on('exit', (code, signal) => {
      if (!stopping) {
        dead = `${svc.name} exited (${signal || code})`;
        opts.onExit?.(svc.name, code, signal);
      }
    });
    children.push({ name: svc.name, child });
  }
  const stop = async () => {
    stopping = true;
    await Promise.all(
      children.map(
        ({ child }) =>
          new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const t = setTimeout(() => child.kill('SIGKILL'), 5000);
            child.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  };
  try {
    const isDead = () => dead !== null;
    if (opts.withMock) await waitFor(`http://127.0.0.1:${env.MOCK_PORT}/health`, 20_000, isDead);
    await waitFor(`http://127.0.0.1:${env.PORT}/health`, 30_000, isDead);
  } catch (err) {
    await stop();
    throw new Error(dead ? `${dead}; ${err.message}` : err.message);
  }
  return { children, stop, isDead: () => dead, opsPorts };
}

async function admin(base, token, method, route, body) {
  const r = await fetch(`${base}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  const json = text ? JSON.parse(text) : null;
  return { status: r.status, json };
}

/** Idempotent: a model and a mock channel if absent; a demo account and key, reused across restarts. */
async function seedDemo({ base, token, mockBaseUrl, stateDir }) {
  const model = await admin(base, token, 'GET', `/admin/models/${DEMO_MODEL.id}`);
  if (model.status === 404) {
    const r = await admin(base, token, 'POST', '/admin/models', DEMO_MODEL);
    if (r.status !== 201) throw new Error(`seeding the model failed: ${JSON.stringify(r.json)}`);
  }
  for (const t of DEMO_TASK_MODELS) {
    if ((await admin(base, token, 'GET', `/admin/models/${t.model.id}`)).status === 404) {
      const r = await admin(base, token, 'POST', '/admin/models', t.model);
      if (r.status !== 201) throw new Error(`seeding ${t.model.id} failed: ${JSON.stringify(r.json)}`);
    }
  }
  if (mockBaseUrl) {
    const mockRoot = mockBaseUrl.replace(/\/v1$/, '');
    const existingChannels = (await admin(base, token, 'GET', '/admin/channels')).json.data;
    for (const t of DEMO_TASK_MODELS) {
      const c = existingChannels.find((x) => x.name === t.channel.name);
      const body = { name: t.channel.name, provider: t.channel.provider, base_url: `${mockRoot}${t.channel.path}`, api_key: 'mock-upstream-key', models: { [t.model.id]: t.channel.upstream } };
      if (!c) await admin(base, token, 'POST', '/admin/channels', body);
      else if (c.base_url !== body.base_url) await admin(base, token, 'PATCH', `/admin/channels/${c.id}`, { base_url: body.base_url });
    }
    const channels = await admin(base, token, 'GET', '/admin/channels');
    const existing = channels.json.data.find((c) => c.name === 'mock-openai');
    if (!existing) {
      const r = await admin(base, token, 'POST', '/admin/channels', {
        name: 'mock-openai',
        provider: 'openai',
        base_url: mockBaseUrl,
        api_key: 'sk-mock-upstream',
        models: [DEMO_MODEL.id],
        priority: 0,
        weight: 1,
      });
      if (r.status !== 201) throw new Error(`seeding the channel failed: ${JSON.stringify(r.json)}`);
    } else if (existing.base_url !== mockBaseUrl) {
      await admin(base, token, 'PATCH', `/admin/channels/${existing.id}`, { base_url: mockBaseUrl });
    }
  }
  const file = path.join(stateDir, 'demo.json');
  if (fs.existsSync(file)) {
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    const acct = await admin(base, token, 'GET', `/admin/accounts/${saved.account_id}`);
    const keyOk = (await fetch(`${base}/v1/models`, { headers: { authorization: `Bearer ${saved.key}` } })).status === 200;
    if (acct.status === 200 && keyOk) return { ...saved, account: acct.json };
  }
  const acct = await admin(base, token, 'POST', '/admin/accounts', { name: 'demo', credit_micros: DEMO_CREDIT_MICROS });
  if (acct.status !== 201) throw new Error(`seeding the account failed: ${JSON.stringify(acct.json)}`);
  const key = await admin(base, token, 'POST', `/admin/accounts/${acct.json.id}/keys`, { name: 'demo' });
  if (key.status !== 201) throw new Error(`seeding the key failed: ${JSON.stringify(key.json)}`);
  const saved = { account_id: acct.json.id, key: key.json.key };
  fs.mkdirSync(stateDir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(saved, null, 2), { mode: 0o600 });
  return { ...saved, account: acct.json };
}

/**
 * For a benchmark's own system: the demo setup (a fresh state dir each time), its account topped up by a
 * million dollars, and a key of its own with limits no benchmark reaches. Returns { account_id, key }.
 */
async function seedBenchKey({ base, token, mockBaseUrl, name }) {
  const demo = await seedDemo({ base, token, mockBaseUrl, stateDir: fs.mkdtempSync(path.join(os.tmpdir(), `gw-${name}-state-`)) });
  const topup = await admin(base, token, 'POST', `/admin/accounts/${demo.account_id}/topups`, { amount_micros: 1_000_000_000_000, reference: `${name}-${crypto.randomUUID()}` });
  if (topup.status !== 201 && topup.status !== 200) throw new Error(`top-up failed: ${topup.status} ${JSON.stringify(topup.json)}`);
  const key = await admin(base, token, 'POST', `/admin/accounts/${demo.account_id}/keys`, { name, rpm: 100_000_000, tpm: 2_000_000_000 });
  if (!key.json?.key) throw new Error(`creating the ${name} key failed: ${key.status} ${JSON.stringify(key.json)}`);
  return { account_id: demo.account_id, key: key.json.key };
}

module.exports = { INGRESS_NODE_ARGS, startSystem, seedDemo, seedBenchKey, adminToken, financeToken, admin, DEMO_MODEL, DEMO_CREDIT_MICROS };
