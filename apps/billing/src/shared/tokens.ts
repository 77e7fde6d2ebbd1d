// the shared infrastructure's injection tokens, from the module that provides them
export { CONFIG, PRISMA, REDIS } from '@gateway/db';
/** a pg pool for the hot money statements */
export const PG = Symbol('PG');
