import { parseChatRequest } from './request';

describe('parseChatRequest', () => {
  it('accepts a minimal request and keeps unknown fields for the upstream', () => {
    const r = parseChatRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }], seed: 7 });
    expect(r.ok && r.value.seed).toBe(7);
  });

  it.each([
    [{ messages: [{ role: 'user', content: 'x' }] }, 'model'],
    [{ model: 'm', messages: [] }, 'messages'],
    [{ model: 'm', messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 9 }, 'temperature'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: -1 }, 'max_tokens'],
  ])('names the bad field in %j', (body, param) => {
    const r = parseChatRequest(body);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.param).toBe(param);
      expect(r.message).toContain(param);
    }
  });
});
