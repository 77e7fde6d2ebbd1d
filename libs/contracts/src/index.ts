export * from './errors';
export * from './money';
export * from './messages';
export * from './ids';
export * from './transient';
export * from './redact';
