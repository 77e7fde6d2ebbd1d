import { newAccount, settledAccount, startGateway, type StartedGateway } from './support/gateway';

// Structured logs of one call across the services: every line that names the call's request id is JSON,
// ingress and billing (hold placed, settle applied) carry it, ingress writes one access line with the key
// id, model, channel, status, latency, tokens and cost, and no line anywhere holds the key.

interface Line {
  service: string;
  raw: string;
}

/** start.js prints each service's lines as `<name padded>| <line>` */
function lines(g: StartedGateway): Line[] {
  return g.output
    .map((l) => {
      const i = l.indexOf('| ');
      return i > 0 ? { service: l.slice(0, i).trim(), raw: l.slice(i + 2) } : null;
    })
    .filter((l): l is Line => l !== null);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('structured logs of a call', () => {
  let g: StartedGateway;

  beforeAll(async () => {
    g = await startGateway({ LOG_LEVEL: 'info' });
  }, 120_000);

  afterAll(async () => {
    await g?.stop();
  });

  it('every line of the call is JSON with its request id; one access line; no key material', async () => {
    const acct = await newAccount(g, 10_000_000);
    const { data, response } = await acct.client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello there, logs!' }] })
      .withResponse();
    expect(data.choices[0].message.content).toBeTruthy();
    const requestId = response.headers.get('x-tt-request-id')!;
    expect(requestId).toMatch(/^req_/);
    // the key also travels in a Gemini ?key= query: the access line's url must not show it
    const gem = await fetch(`${g.base}/v1beta/models/gpt-4o-mini:generateContent?key=${acct.key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
    });
    expect(gem.status).toBe(200);
    const gemRequestId = gem.headers.get('x-tt-request-id')!;
    await settledAccount(g, acct.id);

    // the settle reaches billing through the outbox, after the response
    const until = Date.now() + 15_000;
    const settledLine = () => lines(g).find((l) => l.service === 'billing' && l.raw.includes(requestId) && l.raw.includes('settle applied'));
    while (!settledLine() && Date.now() < until) await sleep(100);

    const all = lines(g);
    const ofCall = all.filter((l) => l.raw.includes(requestId));
    // every line that names the call parses as JSON, with a level, a time, a service and a message
    const parsed = ofCall.map((l) => {
      let j: Record<string, unknown>;
      try {
        j = JSON.parse(l.raw) as Record<string, unknown>;
      } catch {
        throw new Error(`not JSON (${l.service}): ${l.raw}`);
      }
      expect(j).toEqual(expect.objectContaining({ level: expect.any(String), time: expect.any(String), service: l.service, msg: expect.any(String) }));
      expect(j.request_id).toBe(requestId);
      return { service: l.service, j };
    });

    const billing = parsed.filter((p) => p.service === 'billing').map((p) => p.j.msg);
    expect(billing).toEqual(expect.arrayContaining(['hold placed', 'settle applied']));

    const access = parsed.filter((p) => p.service === 'ingress' && p.j.msg === 'access');
    expect(access).toHaveLength(1);
    const a = access[0].j;
    expect(a).toEqual(
      expect.objectContaining({
        level: 'info',
        method: 'POST',
        url: '/v1/chat/completions',
        status: 200,
        key_id: acct.keyId,
        model: 'gpt-4o-mini',
        channel_id: expect.any(String),
        input_tokens: data.usage!.prompt_tokens,
        output_tokens: data.usage!.completion_tokens,
      }),
    );
    expect(a.latency_ms).toEqual(expect.any(Number));
    expect(a.cost_micros as number).toBeGreaterThan(0);

    const gemAccess = all.filter((l) => l.service === 'ingress' && l.raw.includes(gemRequestId)).map((l) => JSON.parse(l.raw) as Record<string, unknown>).find((j) => j.msg === 'access');
    expect(gemAccess).toEqual(expect.objectContaining({ status: 200, key_id: acct.keyId, url: '/v1beta/models/gpt-4o-mini:generateContent?key=[REDACTED]' }));

    // no line of any service holds the key, or its secret part
    const secret = acct.key.slice('sk-'.length);
    const leaks = g.output.filter((l) => l.includes(secret));
    expect(leaks).toEqual([]);
  }, 60_000);
});
