// the shared infrastructure's injection tokens, from the module that provides them
export { CONFIG, PRISMA, REDIS } from '@gateway/db';
/** a pg pool for the hot money statements */
export const PG = Symbol('PG');
/** a pg pool whose commits do not wait for the WAL flush (HOLD_COMMIT=fast): places and extensions */
export const PG_FAST = Symbol('PG_FAST');
/** a small pg pool for key lookups (keys.resolve), the one read every uncached call waits for */
export const PG_KEYS = Symbol('PG_KEYS');
