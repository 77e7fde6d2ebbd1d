export const PRISMA = Symbol('PRISMA');
export const CONFIG = Symbol('CONFIG');
export const REDIS = Symbol('REDIS');
