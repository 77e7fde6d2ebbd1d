import { SKIP_VALIDATOR, callSignature, signatureError, signsCalls, thoughtSignature, type SignedContent } from './thought-signatures';

const call = { name: 'get_weather', args: { city: 'Paris', units: 'C' } };
const ask: SignedContent = { role: 'user', parts: [{ text: 'Weather?' }] };
const result: SignedContent = { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 21 } } }] };
const step = (sig?: string, more: SignedContent['parts'] = []): SignedContent => ({ role: 'model', parts: [{ functionCall: call, ...(sig ? { thoughtSignature: sig } : {}) }, ...more] });

describe("the mock's Gemini 3 thought signatures", () => {
  it('only gemini-3 models sign', () => {
    expect(['gemini-3-pro-preview', 'gemini-3-flash-preview', 'gemini-2.5-flash'].map(signsCalls)).toEqual([true, true, false]);
  });

  it('signs deterministically, in padded standard base64 with + and /, whatever the order of the arguments', () => {
    const sig = callSignature(call);
    expect(sig).toBe(callSignature({ name: 'get_weather', args: { units: 'C', city: 'Paris' } }));
    expect(sig).not.toBe(callSignature({ name: 'get_weather', args: { city: 'Rome', units: 'C' } }));
    expect(sig).toMatch(/^\+\+\+\/[A-Za-z0-9+/]+=$/);
    expect(Buffer.from(sig, 'base64').toString('base64')).toBe(sig);
    expect(thoughtSignature('text', '', 'hello')).not.toBe(thoughtSignature('call', '', 'hello'));
  });

  it('passes a current turn whose first call of each step carries its signature (parallel calls: the first only)', () => {
    const second = { functionCall: { name: 'get_time', args: {} } };
    expect(signatureError([ask, step(callSignature(call), [second]), result])).toBeNull();
    expect(signatureError([ask, step(callSignature(call)), result, step(callSignature(call)), result])).toBeNull();
    expect(signatureError([ask, step(SKIP_VALIDATOR), result])).toBeNull();
  });

  it('refuses a call of the current turn without its signature, naming the call and its position, as Gemini does', () => {
    expect(signatureError([ask, step(), result])).toBe(
      'Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:get_weather` , position 2. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.',
    );
    // a later step of the same turn is checked too
    expect(signatureError([ask, step(callSignature(call)), result, step(), result])).toContain('position 4');
    expect(signatureError([ask, step(callSignature(call).replace(/=$/, '')), result])).toContain('Corrupted thought signature');
  });

  it('checks only the current turn: calls before the last user message are not', () => {
    expect(signatureError([ask, step(), result, { role: 'model', parts: [{ text: 'Sunny.' }] }, { role: 'user', parts: [{ text: 'Thanks' }] }])).toBeNull();
  });
});
