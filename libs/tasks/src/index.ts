export * from './task.types';
export * from './task.repository';
export * from './task.producer';
export * from './pricing';
