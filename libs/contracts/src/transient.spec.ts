import { isTransientDbError, isUnstorableTextError } from './transient';

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
