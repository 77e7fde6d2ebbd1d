// The deploy files cannot be run on the machines this is built on (no Docker engine, no cluster), so they are
// checked by construction: parsed, and held to the operational rules the README promises.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

const root = join(__dirname, '..');
const read = (rel: string) => readFileSync(join(root, rel), 'utf8');

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** the ops-server conventions every service follows (libs/config) */
const OPS_PORT: Record<string, number> = { ingress: 9100, billing: 9101, models: 9102, 'task-worker': 9103 };
const APP_SERVICES = ['ingress', 'billing', 'models', 'task-worker', 'mock-upstream'];

function seconds(duration: unknown): number {
  const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(String(duration ?? ''));
  if (!m || (!m[1] && !m[2])) return 0;
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

describe('docker-compose.yml', () => {
  const compose = obj(parse(read('docker-compose.yml'), { merge: true }));
  const services = obj(compose.services);
  const svc = (name: string) => obj(services[name]);
  const env = (name: string) => obj(svc(name).environment);

  it('gives every app service a healthcheck and a stop grace period of at least 30 s', () => {
    for (const name of APP_SERVICES) {
      expect({ name, test: arr(obj(svc(name).healthcheck).test).length > 0 }).toEqual({ name, test: true });
      expect({ name, grace: seconds(svc(name).stop_grace_period) >= 30 }).toEqual({ name, grace: true });
    }
    for (const name of ['postgres', 'redis', 'lb']) expect(arr(obj(svc(name).healthcheck).test).length).toBeGreaterThan(0);
  });

  it("checks each service's readiness on its own ops port", () => {
    for (const [name, port] of Object.entries(OPS_PORT)) {
      expect(String(env(name).OPS_PORT)).toBe(String(port));
      expect(arr(obj(svc(name).healthcheck).test).join(' ')).toContain('/health/ready');
    }
  });

  it('publishes no host port on ingress, so it scales; the load balancer publishes 8080', () => {
    expect(svc('ingress').ports).toBeUndefined();
    const lbPorts = arr(svc('lb').ports).map(String);
    expect(lbPorts.some((p) => /:8080$/.test(p))).toBe(true);
    expect(String(svc('lb').image)).toMatch(/^(nginx|traefik)/);
    for (const [name, s] of Object.entries(services)) if (name !== 'lb') expect({ name, ports: obj(s).ports }).toEqual({ name, ports: undefined });
  });

  it('runs Redis append-only with noeviction, and Postgres on a volume', () => {
    const cmd = arr(svc('redis').command).map(String);
    expect(cmd[cmd.indexOf('--appendonly') + 1]).toBe('yes');
    expect(cmd[cmd.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
    expect(arr(svc('redis').volumes).some((v) => String(v).endsWith(':/data'))).toBe(true);
    expect(arr(svc('postgres').volumes).some((v) => String(v).endsWith(':/var/lib/postgresql/data'))).toBe(true);
  });

  it('starts the app services only after the one-shot migration succeeded', () => {
    for (const name of ['ingress', 'billing', 'models', 'task-worker']) {
      expect(obj(obj(svc(name).depends_on).migrate).condition).toBe('service_completed_successfully');
    }
    expect(svc('migrate').restart).toBe('no');
  });

  it('keeps the mock upstream and the seed in the demo profile, and only them', () => {
    expect(svc('mock-upstream').profiles).toEqual(['demo']);
    expect(svc('seed').profiles).toEqual(['demo']);
    for (const [name, s] of Object.entries(services)) {
      if (name === 'mock-upstream' || name === 'seed') continue;
      expect({ name, profiles: obj(s).profiles }).toEqual({ name, profiles: undefined });
      // a service outside the profile must not need one inside it
      expect({ name, deps: Object.keys(obj(obj(s).depends_on)).filter((d) => d === 'mock-upstream' || d === 'seed') }).toEqual({ name, deps: [] });
    }
  });

  it('takes secrets from the environment (.env), documented in .env.example', () => {
    expect(String(env('ingress').ADMIN_TOKEN)).toMatch(/^\$\{ADMIN_TOKEN/);
    expect(String(env('billing').WEBHOOK_SECRET)).toMatch(/^\$\{WEBHOOK_SECRET/);
    const example = read('.env.example');
    expect(example).toMatch(/^ADMIN_TOKEN=.{16,}$/m);
    expect(example).toMatch(/^WEBHOOK_SECRET=.{16,}$/m);
  });
});

describe('deploy/nginx/gateway.conf', () => {
  const conf = read('deploy/nginx/gateway.conf').replace(/#.*$/gm, '');
  const location = /location \/ \{([^}]*)\}/.exec(conf)?.[1] ?? '';

  it('proxies to the ingress replicas without buffering, over HTTP/1.1 keep-alive, with long read timeouts', () => {
    expect(location).toMatch(/proxy_pass http:\/\/gateway_ingress;/);
    expect(location).toMatch(/proxy_buffering off;/);
    expect(location).toMatch(/proxy_http_version 1\.1;/);
    expect(location).toMatch(/proxy_set_header Connection "";/);
    expect(seconds(/proxy_read_timeout (\S+);/.exec(location)?.[1])).toBeGreaterThanOrEqual(600);
  });

  it('round-robins over every ingress address with passive health checks', () => {
    const upstream = /upstream gateway_ingress \{([^}]*)\}/.exec(conf)?.[1] ?? '';
    expect(upstream).toMatch(/server ingress:8080 [^;]*\bresolve\b/);
    expect(upstream).toMatch(/max_fails=\d+/);
    expect(upstream).toMatch(/keepalive \d+;/);
    expect(upstream).not.toMatch(/\b(ip_hash|hash|least_conn|random)\b/);
  });
});

describe('Dockerfile', () => {
  const lines = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: { name: string; from: string; lines: string[] }[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ from: from[1], name: from[2] ?? String(stages.length), lines: [] });
    else stages[stages.length - 1]?.lines.push(line);
  }
  const final = stages[stages.length - 1];
  const stage = (name: string) => stages.find((s) => s.name === name);
  /** a stage's whole chain of bases, since FROM build inherits build's node_modules */
  const chain = (name: string): string[] => {
    const s = stage(name);
    return s ? [...chain(s.from), ...s.lines] : [];
  };

  it('runs the final stage as a non-root user on a slim Node 20 base', () => {
    expect(final.from).toMatch(/^node:20(\.\d+)*-(slim|alpine)/);
    const users = final.lines.filter((l) => /^USER\s/i.test(l));
    expect(users.length).toBeGreaterThan(0);
    expect(users[users.length - 1]).not.toMatch(/^USER\s+(root|0)(:|$)/i);
  });

  it('puts no dev dependency in the final stage', () => {
    const installs = (ls: string[]) => ls.filter((l) => /\bnpm (ci|install|i)\b/.test(l));
    for (const l of installs(final.lines)) expect(l).toMatch(/--omit=dev|--production/);
    const copiesModules = final.lines.filter((l) => /^COPY\b/i.test(l) && /node_modules/.test(l));
    expect(copiesModules.length).toBeGreaterThan(0);
    for (const l of copiesModules) {
      const from = /--from=(\S+)/.exec(l)?.[1];
      expect(from).toBeDefined();
      const source = chain(String(from));
      const built = installs(source);
      expect(built.length).toBeGreaterThan(0);
      for (const b of built) expect(b).toMatch(/--omit=dev|--production/);
    }
    // no wholesale copy of a build stage (its node_modules has the dev dependencies)
    for (const l of final.lines.filter((x) => /^COPY\s+--from=/i.test(x))) expect(l).not.toMatch(/\s(\/app|\.)\s+(\/app|\.)\/?$/);
  });

  it('generates the Prisma client and builds in the build stage, and ships dist/ and the migrations', () => {
    const build = chain('build').join('\n');
    expect(build).toMatch(/prisma generate/);
    expect(build).toMatch(/node scripts\/build\.js/);
    expect(final.lines.some((l) => /^COPY --from=build \S*dist\b/.test(l))).toBe(true);
    expect(final.lines.some((l) => /^COPY\b.*\bprisma\b/.test(l))).toBe(true);
  });

  it('is used by compose: the apps run the final stage, the migration the migrate stage', () => {
    const services = obj(obj(parse(read('docker-compose.yml'), { merge: true })).services);
    for (const name of APP_SERVICES) expect(obj(obj(services[name]).build).target).toBe(final.name);
    const migrateTarget = String(obj(obj(services.migrate).build).target);
    expect(stage(migrateTarget)).toBeDefined();
    expect(chain(migrateTarget).filter((l) => /^USER\s/i.test(l)).pop()).toMatch(/^USER\s+node$/);
  });
});

describe('deploy/k8s', () => {
  const dir = join(root, 'deploy/k8s');
  const kustomization = obj(parse(read('deploy/k8s/kustomization.yaml')));
  const applied = arr(kustomization.resources).map(String);
  const docs = applied.flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => {
      expect(d.errors).toEqual([]);
      return obj(d.toJS());
    }),
  );
  const ofKind = (kind: string) => docs.filter((d) => d.kind === kind);
  const name = (d: Obj) => String(obj(d.metadata).name);
  const podSpec = (d: Obj) => obj(obj(obj(d.spec).template).spec);

  it('lists every manifest in the directory, and every listed one exists and parses', () => {
    const optional = ['kustomization.yaml', 'secret.example.yaml', 'keda-scaledobject.yaml'];
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && !optional.includes(f));
    expect([...applied].sort()).toEqual(files.sort());
    for (const f of optional.slice(1)) for (const d of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) expect(d.errors).toEqual([]);
  });

  it('has a Deployment per service, each with readiness and liveness probes on its ops port and resources', () => {
    const deployments = ofKind('Deployment');
    expect(deployments.map(name).sort()).toEqual(Object.keys(OPS_PORT).map((s) => `gateway-${s}`).sort());
    for (const d of deployments) {
      const service = name(d).replace(/^gateway-/, '');
      const spec = podSpec(d);
      expect(Number(spec.terminationGracePeriodSeconds)).toBeGreaterThanOrEqual(30);
      const c = obj(arr(spec.containers)[0]);
      const envOps = arr(c.env).map(obj).find((e) => e.name === 'OPS_PORT');
      expect({ service, ops: envOps?.value }).toEqual({ service, ops: String(OPS_PORT[service]) });
      expect(obj(obj(c.readinessProbe).httpGet)).toEqual({ path: '/health/ready', port: OPS_PORT[service] });
      expect(obj(obj(c.livenessProbe).httpGet)).toEqual({ path: '/health/live', port: OPS_PORT[service] });
      const res = obj(c.resources);
      for (const k of ['requests', 'limits']) for (const r of ['cpu', 'memory']) expect({ service, k, r, v: obj(res[k])[r] !== undefined }).toEqual({ service, k, r, v: true });
      expect(String(c.image)).toBe('gateway');
      expect(obj(spec.securityContext).runAsNonRoot).toBe(true);
    }
  });

  it('runs ingress with 2+ replicas, a preStop pause within its grace period, a Service and a PodDisruptionBudget', () => {
    const ingress = ofKind('Deployment').find((d) => name(d) === 'gateway-ingress') as Obj;
    expect(Number(obj(ingress.spec).replicas)).toBeGreaterThanOrEqual(2);
    const spec = podSpec(ingress);
    const preStop = arr(obj(obj(obj(obj(arr(spec.containers)[0]).lifecycle).preStop).exec).command).map(String);
    expect(preStop[0]).toBe('sleep');
    const pause = Number(preStop[1]);
    expect(pause).toBeGreaterThan(0);
    // preStop, then SHUTDOWN_GRACE_MS of drain, must fit in the grace period
    const grace = Number(obj(ofKind('ConfigMap')[0].data).SHUTDOWN_GRACE_MS) / 1000;
    expect(pause + grace).toBeLessThan(Number(spec.terminationGracePeriodSeconds));
    const labels = obj(obj(obj(ingress.spec).template).metadata).labels;
    const svc = ofKind('Service').find((s) => name(s) === 'gateway-ingress') as Obj;
    expect(obj(svc.spec).selector).toEqual(labels);
    expect(arr(obj(svc.spec).ports).map((p) => obj(p).targetPort)).toContain('http');
    const pdb = ofKind('PodDisruptionBudget').find((p) => name(p) === 'gateway-ingress') as Obj;
    expect(obj(obj(pdb.spec).selector).matchLabels).toEqual(labels);
  });

  it('scales the task worker with an HPA and runs the migration as a Job', () => {
    const hpa = ofKind('HorizontalPodAutoscaler').find((h) => obj(obj(h.spec).scaleTargetRef).name === 'gateway-task-worker');
    expect(hpa).toBeDefined();
    expect(Number(obj(hpa?.spec).maxReplicas)).toBeGreaterThan(Number(obj(hpa?.spec).minReplicas));
    const job = ofKind('Job').find((j) => name(j) === 'gateway-migrate') as Obj;
    const c = obj(arr(podSpec(job).containers)[0]);
    expect(arr(c.command).join(' ')).toMatch(/prisma migrate deploy/);
    expect(String(c.image)).toBe('gateway-migrate');
  });

  it('takes secrets from the gateway-secrets Secret and settings from the gateway-config ConfigMap', () => {
    const refs = JSON.stringify(ofKind('Deployment').map((d) => podSpec(d).containers));
    for (const key of ['DATABASE_URL', 'REDIS_URL', 'ADMIN_TOKEN', 'WEBHOOK_SECRET']) expect(refs).toContain(`{"name":"gateway-secrets","key":"${key}"}`);
    expect(ofKind('ConfigMap').map(name)).toContain('gateway-config');
    expect(ofKind('Secret')).toEqual([]);
  });
});

describe("the ingress's V8 flags", () => {
  // scripts/lib/system.js (npm start, the tests and the benchmark) is where they are measured; every other way
  // of running ingress must pass the same, or the benchmark's figures say nothing about a deployment
  const { INGRESS_NODE_ARGS } = require('../scripts/lib/system') as { INGRESS_NODE_ARGS: string[] };
  const ingressCommands = (): Array<[string, string[]]> => {
    const compose = obj(parse(read('docker-compose.yml'), { merge: true }));
    const dockerCmd = read('Dockerfile')
      .split('\n')
      .filter((l) => l.startsWith('CMD ') && l.includes('ingress'))
      .map((l) => JSON.parse(l.slice(4)) as string[]);
    const k8s = parseAllDocuments(read('deploy/k8s/ingress.yaml')).map((d) => obj(d.toJS()));
    const k8sCmd = k8s.filter((d) => d.kind === 'Deployment').flatMap((d) => arr(obj(obj(obj(d.spec).template).spec).containers).map((c) => arr(obj(c).command).map(String)));
    return [['docker-compose.yml', arr(obj(obj(compose.services).ingress).command).map(String)], ...dockerCmd.map((c): [string, string[]] => ['Dockerfile', c]), ...k8sCmd.map((c): [string, string[]] => ['deploy/k8s/ingress.yaml', c])];
  };

  it('are the same in docker-compose.yml, the Dockerfile and the k8s Deployment as in the launcher', () => {
    expect(INGRESS_NODE_ARGS.length).toBeGreaterThan(0);
    const cmds = ingressCommands();
    expect(cmds.map(([where]) => where).sort()).toEqual(['Dockerfile', 'deploy/k8s/ingress.yaml', 'docker-compose.yml']);
    for (const [where, cmd] of cmds) {
      const flags = cmd.slice(1, cmd.findIndex((a) => a.endsWith('ingress/src/main.js'))).filter((a) => a !== '--enable-source-maps');
      expect({ where, flags }).toEqual({ where, flags: INGRESS_NODE_ARGS });
    }
  });
});
