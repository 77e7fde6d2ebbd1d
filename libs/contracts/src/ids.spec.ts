import { createHash } from 'node:crypto';
import { hashKey, newId, randomHex, randomToken, timePrefix } from './ids';

describe('hashKey', () => {
  it('is the hex SHA-256 of the plaintext (the FIPS 180-2 vector, and what createHash gives for a key)', () => {
    expect(hashKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const key = `sk-${'x'.repeat(20)}é`;
    expect(hashKey(key)).toBe(createHash('sha256').update(key).digest('hex'));
  });
});

describe('timePrefix', () => {
  it("is the time in Crockford's base32, ten characters, as a ULID's time part", () => {
    expect(timePrefix(0)).toBe('0000000000');
    expect(timePrefix(31)).toBe('000000000Z');
    expect(timePrefix(32)).toBe('0000000010');
    // the ULID specification's example: 1469918176385 ms is 01ARYZ6S41
    expect(timePrefix(1469918176385)).toBe('01ARYZ6S41');
    expect(timePrefix(2 ** 50 - 1)).toBe('ZZZZZZZZZZ');
  });

  it('sorts as the time does, in byte order, across digit and letter boundaries', () => {
    const times = [0, 9, 10, 31, 32, 1023, 1024, 1_700_000_000_000, 1_700_000_000_001, 1_796_313_600_000, 4_102_444_800_000];
    const prefixes = times.map((t) => timePrefix(t));
    const sorted = [...prefixes].sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(sorted).toEqual(prefixes);
    expect(new Set(prefixes).size).toBe(times.length);
  });
});

describe('newId', () => {
  it('gives the prefix, the time and 20 base64url characters, never the same twice across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(newId('hold'));
    expect(seen.size).toBe(1000);
    for (const id of seen) expect(id).toMatch(/^hold_[0-9A-HJKMNP-TV-Z]{10}[A-Za-z0-9_-]{20}$/);
  });

  it('orders ids by when they were made: one made a millisecond later sorts after', async () => {
    const decode = (t: string) => [...t].reduce((n, c) => n * 32 + '0123456789ABCDEFGHJKMNPQRSTVWXYZ'.indexOf(c), 0);
    const before = Date.now();
    const a = newId('hold');
    const aMs = decode(a.slice(5, 15));
    // the clock itself past a's millisecond (a timer of n ms can end less than n ms later by Date.now())
    while (Date.now() <= aMs) await new Promise((r) => setTimeout(r, 1));
    const b = newId('hold');
    const after = Date.now();
    expect(a < b).toBe(true);
    // the time part is the clock's when each was made
    expect(aMs).toBeGreaterThanOrEqual(before);
    expect(decode(b.slice(5, 15))).toBeGreaterThan(aMs);
    expect(decode(b.slice(5, 15))).toBeLessThanOrEqual(after);
  });
});

describe('randomHex', () => {
  it('gives 2n hex digits from the shared pool, never the same twice across its refills, interleaved with base64url draws', () => {
    const seen = new Set<string>();
    // 12 + 15 bytes a round: the 4 KiB pool is refilled about 200 times over these rounds
    for (let i = 0; i < 30_000; i++) {
      seen.add(randomHex(12));
      randomToken(15);
    }
    expect(seen.size).toBe(30_000);
    for (const id of seen) expect(id).toMatch(/^[0-9a-f]{24}$/);
    expect(randomHex(8)).toMatch(/^[0-9a-f]{16}$/);
    // not a constant: a hex digit's 16 values all come up in the first position over the rounds
    expect(new Set([...seen].map((id) => id[0])).size).toBe(16);
  });
});
