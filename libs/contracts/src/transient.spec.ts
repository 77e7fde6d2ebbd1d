import { isTransientDbError } from './transient';

describe('isTransientDbError', () => {
  it("counts the infrastructure's failures, wrapped or not", () => {
    expect(isTransientDbError(Object.assign(new Error('x'), { code: '57P01' }))).toBe(true);
    expect(isTransientDbError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    // Prisma's pool and transaction-start timeouts: the statement never ran
    expect(isTransientDbError(Object.assign(new Error('Transaction API error: Unable to start a transaction in the given time.'), { code: 'P2028' }))).toBe(true);
    expect(isTransientDbError(Object.assign(new Error('Timed out fetching a new connection from the connection pool.'), { code: 'P2024' }))).toBe(true);
    expect(isTransientDbError(new Error('outer', { cause: Object.assign(new Error('inner'), { code: '40P01' }) }))).toBe(true);
  });

  it("does not count the request's own failures", () => {
    expect(isTransientDbError(Object.assign(new Error('duplicate key'), { code: 'P2002' }))).toBe(false);
    expect(isTransientDbError(Object.assign(new Error('check violation'), { code: '23514' }))).toBe(false);
    expect(isTransientDbError(new Error('something else'))).toBe(false);
  });
});
