// the shared infrastructure's injection tokens, from the module that provides them
export { CONFIG, PRISMA, REDIS } from '@gateway/db';
/** a pg pool for the hot money statements */
export const PG = Symbol('PG');
/** a pg pool whose commits do not wait for the WAL flush (HOLD_COMMIT=fast): places and extensions */
export const PG_FAST = Symbol('PG_FAST');
