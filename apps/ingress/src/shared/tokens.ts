export const CONFIG = Symbol('CONFIG');
export const BILLING = Symbol('BILLING');
export const MODELS = Symbol('MODELS');
export const REDIS = Symbol('REDIS');
export const REDIS_CMD = Symbol('REDIS_CMD');
export const PRISMA = Symbol('PRISMA');
export const TASK_PRODUCER = Symbol('TASK_PRODUCER');
