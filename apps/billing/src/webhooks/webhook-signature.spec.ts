import { createHmac } from 'node:crypto';
import { signWebhook, verifyWebhook } from './webhook-signature';

describe('webhook signature', () => {
  const secret = 'test-secret-0123456789';
  const body = '{"type":"budget.threshold","threshold_pct":50}';

  it('is t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const mac = createHmac('sha256', secret).update(`1764547200.${body}`).digest('hex');
    expect(signWebhook(secret, body, 1764547200)).toBe(`t=1764547200,v1=${mac}`);
  });

  it('verifies the body it signed, and nothing else', () => {
    const header = signWebhook(secret, body, 1000);
    expect(verifyWebhook(secret, body, header, 1000)).toBe(true);
    expect(verifyWebhook(secret, `${body} `, header, 1000)).toBe(false);
    expect(verifyWebhook('another-secret-0123456789', body, header, 1000)).toBe(false);
    expect(verifyWebhook(secret, body, header.replace('t=1000', 't=1001'), 1000)).toBe(false);
    // an old delivery replayed later
    expect(verifyWebhook(secret, body, header, 1000 + 301)).toBe(false);
    expect(verifyWebhook(secret, body, 'v1=abc', 1000)).toBe(false);
  });
});
