import { CacheSlot, requestFingerprint, samplesRandomly, stableJson } from './response-cache.service';

const base = {
  route: '/v1/chat/completions',
  model: 'gpt-4o-mini',
  stream: false,
  body: {
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Hello' }],
    temperature: 0,
    tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } } } } }],
  },
};

describe('response cache: the normalised request', () => {
  it('stableJson sorts keys at every depth and keeps array order', () => {
    expect(stableJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}');
    expect(stableJson({ a: undefined, b: [undefined] })).toBe('{"b":[null]}');
  });

  it('key order does not change the fingerprint, at the top or nested', () => {
    const reordered = {
      ...base,
      body: {
        tools: [{ function: { parameters: { properties: { a: { type: 'string' } }, type: 'object' }, name: 'f' }, type: 'function' }],
        temperature: 0,
        messages: [{ content: 'Hello', role: 'user' }],
        model: 'gpt-4o-mini',
      },
    };
    expect(requestFingerprint(reordered)).toBe(requestFingerprint(base));
  });

  it('user and metadata are ignored', () => {
    const withCaller = { ...base, body: { ...base.body, user: 'alice', metadata: { user_id: 'u-1', trace: 'x' } } };
    expect(requestFingerprint(withCaller)).toBe(requestFingerprint(base));
    expect(requestFingerprint({ ...base, body: { ...base.body, user: 'bob' } })).toBe(requestFingerprint(withCaller));
  });

  it('what changes the answer changes the fingerprint: messages, sampling, tools, message order, model, route, framing, anthropic-beta', () => {
    const fp = requestFingerprint(base);
    const variants = [
      { ...base, body: { ...base.body, messages: [{ role: 'user', content: 'Hello!' }] } },
      { ...base, body: { ...base.body, temperature: 0.2 } },
      { ...base, body: { ...base.body, seed: 7 } },
      { ...base, body: { ...base.body, tools: [] } },
      { ...base, body: { ...base.body, messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] } },
      { ...base, body: { ...base.body, messages: [{ role: 'user', content: 'b' }, { role: 'user', content: 'a' }] } },
      { ...base, model: 'gpt-4o' },
      { ...base, route: '/v1/responses' },
      { ...base, stream: true },
      { ...base, vary: { 'anthropic-beta': 'tools-2024' } },
    ].map(requestFingerprint);
    expect(variants).not.toContain(fp);
    expect(new Set(variants).size).toBe(variants.length);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('response cache: which requests sample randomly', () => {
  it.each([
    [{}, false],
    [{ temperature: 0 }, false],
    [{ temperature: 0.7 }, true],
    [{ temperature: 0.7, seed: 42 }, false],
    [{ temperature: 0.7, seed: 0 }, false],
    [{ generationConfig: { temperature: 0.9 } }, true],
    [{ generationConfig: { temperature: 0.9, seed: 3 } }, false],
    [{ generationConfig: { temperature: 0 } }, false],
  ])('%j -> %s', (body, expected) => {
    expect(samplesRandomly(body)).toBe(expected);
  });
});

describe('response cache: the stream capture', () => {
  it('keeps the frames in order, and nothing once past its bound', () => {
    const slot = new CacheSlot('k', 60, 10);
    slot.capture(['ab', 'cd']);
    slot.capture([]);
    slot.capture(['é']);
    expect(slot.captured()).toBe('abcdé');
    slot.capture(['12345']); // 11 bytes: é is two
    expect(slot.captured()).toBeNull();
    slot.capture(['x']);
    expect(slot.captured()).toBeNull();
  });
});
