import { createHash } from 'node:crypto';
import { hashKey, newId } from './ids';

describe('hashKey', () => {
  it('is the hex SHA-256 of the plaintext (the FIPS 180-2 vector, and what createHash gives for a key)', () => {
    expect(hashKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const key = `sk-${'x'.repeat(20)}é`;
    expect(hashKey(key)).toBe(createHash('sha256').update(key).digest('hex'));
  });
});

describe('newId', () => {
  it('gives the prefix and 20 base64url characters, never the same twice across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(newId('hold'));
    expect(seen.size).toBe(1000);
    for (const id of seen) expect(id).toMatch(/^hold_[A-Za-z0-9_-]{20}$/);
  });
});
