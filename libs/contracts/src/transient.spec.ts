import { isTransientDbError, isUnstorableTextError } from './transient';

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

describe('isUnstorableTextError', () => {
  it("recognises Postgres's refusals of a NUL, bare or wrapped as Prisma's driver adapter wraps them", () => {
    expect(isUnstorableTextError(Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' }))).toBe(true);
    expect(isUnstorableTextError(Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' }))).toBe(true);
    // DriverAdapterError: the code on the cause, the text in the message
    expect(isUnstorableTextError(Object.assign(new Error('DriverAdapterError'), { cause: { originalCode: '22021', message: 'x' } }))).toBe(true);
    expect(isUnstorableTextError(new Error('DriverAdapterError: invalid byte sequence for encoding "UTF8": 0x00'))).toBe(true);
  });

  it('leaves other failures alone, and is not taken for a transient one', () => {
    expect(isUnstorableTextError(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isUnstorableTextError(Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0xc3 0x28'), { code: 'XX' }))).toBe(false);
    expect(isUnstorableTextError(undefined)).toBe(false);
    expect(isTransientDbError(Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' }))).toBe(false);
  });
});
