// scripts/lib/profile-summary.js, which `npm run profile:ingress` prints: each sample of ingress's CPU profile goes
// to a part of the call by the innermost frame of the gateway's own code on its stack, else by the library
// running; idle, start-up and out-of-window samples are not busy time.

interface Frame {
  functionName: string;
  url: string;
}
interface Summary {
  busyUs: number;
  idleUs: number;
  startupUs: number;
  parts: Array<[string, number]>;
  writes: Array<[string, number]>;
  functions: Array<[string, number]>;
}
const { summarize, partOf, RUNTIME } = require('../scripts/lib/profile-summary') as {
  summarize: (profile: unknown, window?: { fromUs?: number; toUs?: number }, top?: number) => Summary;
  partOf: (stack: Frame[]) => string | null;
  RUNTIME: string;
};

const DIST = '/srv/gateway/dist';
const f = (functionName: string, url = ''): Frame => ({ functionName, url });
const gw = (fn: string, p: string) => f(fn, `file://${DIST}/${p}.js`);
const lib = (fn: string, pkg: string) => f(fn, `file:///srv/gateway/node_modules/${pkg}/lib/x.js`);

/** a profile from stacks (outermost first) with the time each sample took, in order */
function profileOf(samples: Array<{ stack: Frame[]; us: number }>, startTime = 1_000_000) {
  const nodes: Array<{ id: number; callFrame: Frame & { lineNumber: number }; children: number[] }> = [{ id: 1, callFrame: { ...f('(root)'), lineNumber: -1 }, children: [] }];
  const ids: number[] = [];
  for (const s of samples) {
    let parent = nodes[0];
    for (const frame of s.stack) {
      let child = parent.children.map((c) => nodes[c - 1]).find((n) => n.callFrame.functionName === frame.functionName && n.callFrame.url === frame.url);
      if (!child) {
        child = { id: nodes.length + 1, callFrame: { ...frame, lineNumber: 1 }, children: [] };
        nodes.push(child);
        parent.children.push(child.id);
      }
      parent = child;
    }
    ids.push(parent.id);
  }
  return { nodes, startTime, endTime: startTime + samples.reduce((a, s) => a + s.us, 0), samples: ids, timeDeltas: samples.map((s) => s.us) };
}

const respondWrite = [gw('respond', 'apps/ingress/src/conversation/respond'), lib('send', 'fastify'), f('writev')];
const admission = [f('processTicksAndRejections', 'node:internal/process/task_queues'), gw('sendAdmitAndPlace', 'apps/ingress/src/money/hold-placer.service'), lib('sendCommand', 'ioredis'), f('writeUtf8String')];

describe('profile summary', () => {
  it('gives a sample to the innermost gateway frame on its stack, whatever library or native code runs inside it', () => {
    expect(partOf([...respondWrite].reverse())).toBe('the answer to the client');
    expect(partOf([...admission].reverse())).toBe('money: admission, holds, settles');
    // a gateway frame inside another: the inner one decides
    expect(partOf([gw('decode', 'libs/protocols/src/openai/request'), gw('run', 'apps/ingress/src/conversation/conversation.service'), gw('completions', 'apps/ingress/src/openai-api/openai.controller')])).toBe(
      'the call: decode, route, translate, bounds',
    );
    expect(partOf([gw('newId', 'libs/contracts/src/ids'), gw('admitAndPlace', 'apps/ingress/src/money/hold-placer.service'), gw('run', 'apps/ingress/src/conversation/conversation.service')])).toBe('request and hold ids');
    expect(partOf([gw('logCall', 'apps/ingress/src/shared/call-logging')])).toBe('logs, metrics, request log');
    // a batched answer is written from answer-writes' flush
    expect(partOf([f('writev'), lib('send', 'fastify'), gw('flush', 'apps/ingress/src/conversation/answer-writes'), f('processImmediate', 'node:internal/timers')])).toBe('the answer to the client');
    expect(partOf([gw('newRequestId', 'apps/ingress/src/shared/request-context')])).toBe('request and hold ids');
    expect(partOf([gw('something', 'apps/ingress/src/cache/response-cache.service')])).toBe('other gateway code');
  });

  it('gives a sample without gateway frames to the package of its innermost frame under node_modules, else to Node', () => {
    // stacks innermost first: undici's request write, run from a setImmediate, is the upstream leg
    expect(partOf([f('writev'), f('Socket._writev', 'node:net'), lib('writeH1', 'undici'), f('processImmediate', 'node:internal/timers')])).toBe('the upstream leg');
    expect(partOf([f('emit', 'node:events'), lib('routing', 'fastify')])).toBe('the client leg: HTTP server, Fastify, Nest');
    expect(partOf([lib('handle', 'pg-protocol'), lib('x', 'pg')])).toBe('the Postgres client');
    expect(partOf([lib('parse', 'redis-parser'), lib('returnReply', 'ioredis')])).toBe('the Redis client');
    expect(partOf([lib('x', 'left-pad')])).toBe('other libraries and Node');
    // no package: node:http's own work is the client leg, Node's loops alone the runtime's
    expect(partOf([f('parserOnIncoming', 'node:_http_server')])).toBe('the client leg: HTTP server, Fastify, Nest');
    expect(partOf([f('runMicrotasks'), f('processTicksAndRejections', 'node:internal/process/task_queues')])).toBe(RUNTIME);
    expect(partOf([f('(garbage collector)'), f('(root)')])).toBe(RUNTIME);
    expect(partOf([f('readFileSync', 'node:fs'), f('processTimers', 'node:internal/timers')])).toBe('other libraries and Node');
  });

  it('leaves idle and start-up samples out of busy time', () => {
    expect(partOf([f('(idle)'), f('(root)')])).toBeNull();
    expect(partOf([gw('onModuleInit', 'apps/ingress/src/main'), f('Module._load', 'node:internal/modules/cjs/loader')])).toBeNull();
  });

  it('sums busy time by part and self time by function, within the window only', () => {
    const p = profileOf([
      { stack: [f('Module._load', 'node:internal/modules/cjs/loader'), gw('bootstrap', 'apps/ingress/src/main')], us: 500 }, // start-up, before the window
      { stack: respondWrite, us: 300 }, // ends at 1,000,800: in the window
      { stack: admission, us: 200 },
      { stack: [f('(idle)')], us: 1000 },
      { stack: respondWrite, us: 100 },
      { stack: [f('(garbage collector)')], us: 50 },
      { stack: admission, us: 700 }, // ends at 1,002,850: after the window
    ]);
    const all = summarize(p);
    expect(all.busyUs).toBe(300 + 200 + 100 + 50 + 700);
    expect(all.idleUs).toBe(1000);
    expect(all.startupUs).toBe(500);
    const s = summarize(p, { fromUs: 1_000_600, toUs: 1_002_500 });
    expect(s.busyUs).toBe(300 + 200 + 100 + 50);
    expect(s.idleUs).toBe(1000);
    expect(s.startupUs).toBe(0);
    expect(Object.fromEntries(s.parts)).toEqual({ 'the answer to the client': 400, 'money: admission, holds, settles': 200, [RUNTIME]: 50 });
    expect(s.parts[0][0]).toBe('the answer to the client'); // largest first
    expect(s.functions[0]).toEqual(['writev', 400]);
    expect(Object.fromEntries(s.functions)).toMatchObject({ writeUtf8String: 200, '(garbage collector)': 50 });
    // the socket writes' own time, by the part that wrote
    expect(Object.fromEntries(s.writes)).toEqual({ 'the answer to the client': 400, 'money: admission, holds, settles': 200 });
  });
});
