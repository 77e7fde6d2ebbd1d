// Summarises a V8 CPU profile (.cpuprofile, as `node --cpu-prof` writes it) of ingress by part of a call: each
// sample goes to the innermost frame of the gateway's own code on its stack (dist/apps/…, dist/libs/…), and that
// file to a part (the money path, the upstream leg, translation, …); a sample with no gateway frame goes by the
// library it runs in, its innermost package frame (undici's work is the upstream leg, Fastify's and node:http's
// the client's leg), and with only Node's own loops on the stack, the runtime's (GC, microtasks, timers). Idle
// samples are counted apart; samples outside [fromUs, toUs] (the profile's own clock, CLOCK_MONOTONIC in
// microseconds, as process.hrtime.bigint() / 1000n reads it) are left out, so start-up and warm-up are not mixed in.
// Used by scripts/profile-ingress.js; test/profile-summary.spec.ts pins the rules.

const CLIENT_LEG = 'the client leg: HTTP server, Fastify, Nest';
const RUNTIME = 'runtime: GC, microtasks, timers, V8';
/** Node's own loops: a sample with nothing but these (and native frames) on its stack is the runtime's */
const RUNTIME_MODULES = /^node:internal\/(process\/task_queues|timers)$|^node:timers$/;

/** The gateway's own code, by path under dist/ (first match wins). */
const GATEWAY_PARTS = [
  [/^apps\/ingress\/src\/conversation\/(respond|answer-writes)\b/, 'the answer to the client'],
  [/^apps\/ingress\/src\/(money|rate-limit|admission)\/|^apps\/ingress\/src\/conversation\/call-billing|^libs\/contracts\/src\/money|^libs\/transport\//, 'money: admission, holds, settles'],
  [/^apps\/ingress\/src\/upstream\//, 'the upstream leg'],
  [/^apps\/ingress\/src\/(conversation|registry|[a-z]+-api)\/|^libs\/protocols\//, 'the call: decode, route, translate, bounds'],
  [/^apps\/ingress\/src\/auth\//, 'auth and key lookup'],
  [/^apps\/ingress\/src\/(shared\/call-logging|ops|request-log)\b|^libs\/(ops|tracing|logging)\//, 'logs, metrics, request log'],
  [/^apps\/ingress\/src\/shared\/request-context|^libs\/contracts\/src\/ids/, 'request and hold ids'],
];

/** A sample with no gateway frame, by the package of its innermost frame under node_modules. */
const LIBRARY_PARTS = [
  [/^undici$/, 'the upstream leg'],
  [/^(fastify|avvio|find-my-way|light-my-request|secure-json-parse|fast-json-stringify|@fastify\/.*|@nestjs\/.*|rxjs)$/, CLIENT_LEG],
  [/^(ioredis|redis-parser|bullmq)$/, 'the Redis client'],
  [/^(pg|pg-pool|pg-protocol|@prisma\/.*)$/, 'the Postgres client'],
  [/^prom-client$|^(pino|pino-std-serializers|sonic-boom)$|^@opentelemetry\//, 'logs, metrics, request log'],
];

/**
 * The native functions that write to a socket (a write system call, tried at once): their self time is mostly
 * the kernel's, which on loopback delivers the bytes to the receiver and wakes it when it sleeps.
 */
const SOCKET_WRITES = /^(writev|writeBuffer|writeUtf8String|writeLatin1String|writeAsciiString|writeUcs2String)$/;
const OTHER_GATEWAY = 'other gateway code';
const OTHER_LIBRARY = 'other libraries and Node';
const STARTUP = /^(executeUserEntryPoint|Module\._load)$/;

function packageOf(url) {
  const m = url.match(/node_modules\/((@[^/]+\/)?[^/]+)/);
  if (m) return m[1];
  if (url.startsWith('node:')) return url;
  return null;
}

/** the gateway path under dist/ of a frame's script, or null */
function gatewayPath(url) {
  const m = url && url.match(/\/dist\/((apps|libs)\/.*)\.js$/);
  return m ? m[1] : null;
}

/**
 * The part of a call a sample belongs to; stack is innermost first, as {functionName, url} frames.
 * Returns null for idle and start-up samples.
 */
function partOf(stack) {
  if (stack.some((f) => f.functionName === '(idle)')) return null;
  if (stack.some((f) => STARTUP.test(f.functionName))) return null;
  for (const f of stack) {
    const p = gatewayPath(f.url);
    if (!p) continue;
    for (const [re, part] of GATEWAY_PARTS) if (re.test(p)) return part;
    return OTHER_GATEWAY;
  }
  const inPackage = stack.find((f) => f.url && f.url.includes('node_modules/'));
  if (inPackage) {
    const pkg = packageOf(inPackage.url);
    for (const [re, part] of LIBRARY_PARTS) if (re.test(pkg)) return part;
    return OTHER_LIBRARY;
  }
  if (stack.some((f) => /^node:(_http_|net$)/.test(f.url))) return CLIENT_LEG;
  if (stack.every((f) => !f.url || RUNTIME_MODULES.test(f.url))) return RUNTIME;
  return OTHER_LIBRARY;
}

/**
 * profile: the parsed .cpuprofile; window: { fromUs, toUs } on the profile's clock (optional).
 * Returns microseconds: busy and idle in the window, by part, the socket writes' self time by part, and self
 * time by function (top `top`).
 */
function summarize(profile, window = {}, top = 20) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
  const stackCache = new Map();
  const stackOf = (id) => {
    let s = stackCache.get(id);
    if (s) return s;
    s = [];
    for (let x = id; x !== undefined; x = parent.get(x)) s.push(byId.get(x).callFrame);
    stackCache.set(id, s);
    return s;
  };
  const from = window.fromUs ?? -Infinity;
  const to = window.toUs ?? Infinity;
  const parts = new Map();
  const self = new Map();
  const writes = new Map();
  let busy = 0;
  let idle = 0;
  let skipped = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] || 0;
    t += dt;
    if (t < from || t > to) continue;
    const stack = stackOf(profile.samples[i]);
    const part = partOf(stack);
    if (part === null) {
      if (stack[0].functionName === '(idle)') idle += dt;
      else skipped += dt;
      continue;
    }
    busy += dt;
    parts.set(part, (parts.get(part) || 0) + dt);
    const f = stack[0];
    if (!f.url && SOCKET_WRITES.test(f.functionName)) writes.set(part, (writes.get(part) || 0) + dt);
    const where = gatewayPath(f.url) ?? packageOf(f.url || '') ?? '';
    const name = `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    self.set(name, (self.get(name) || 0) + dt);
  }
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]);
  return { busyUs: busy, idleUs: idle, startupUs: skipped, parts: sorted(parts), writes: sorted(writes), functions: sorted(self).slice(0, top) };
}

module.exports = { summarize, partOf, RUNTIME, OTHER_GATEWAY, OTHER_LIBRARY };
