export * from './sse/sse-parser';
export * from './tokens';
export * from './openai/types';
export * from './openai/request';
export * from './openai/response';
export * from './openai/errors';
