import type { LoggerService } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger as NestPinoLogger, PinoLogger } from 'nestjs-pino';
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';
export type LogLevelName = 'debug' | 'info' | 'warn' | 'error';

/**
 * What a log line learns from the call it belongs to. One object per call, mutable: ingress fills in the
 * key, model, channel, tokens and cost as the call learns them, and its access line reads them at the end.
 */
export interface CallLogContext {
  request_id: string;
  key_id?: string;
  /** the caller's account, once its key is known: the call then gets a row in the request log */
  account_id?: string;
  model?: string;
  channel_id?: string | null;
  input_tokens?: number;
  output_tokens?: number;
  cost_micros?: number;
  /** the error code the call was answered with, if any */
  error_code?: string;
}

const storage = new AsyncLocalStorage<CallLogContext>();

/** Runs fn with every log line it produces (awaits included) carrying request_id; without an id, just runs it. */
export function runWithRequestId<T>(requestId: string | undefined | null, fn: () => T): T {
  return requestId ? storage.run({ request_id: requestId }, fn) : fn();
}

export function currentCallContext(): CallLogContext | undefined {
  return storage.getStore();
}

/** Where key material can sit in a logged object; pino replaces the value, never the key. */
export const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["x-goog-api-key"]',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-goog-api-key"]',
  'req.headers.cookie',
  '*.authorization',
  '*["x-api-key"]',
  '*["x-goog-api-key"]',
  'api_key',
  '*.api_key',
  'key',
  'plaintext',
];

/** A gateway key (sk-…) or a ?key= value anywhere in a message's text. */
const KEY_TEXT = /\bsk-[A-Za-z0-9_-]{8,}|([?&]key=)[^&\s"]+/g;

export function scrubKeys(text: string): string {
  return text.replace(KEY_TEXT, (m, q: string | undefined) => (q ? `${q}[REDACTED]` : 'sk-[REDACTED]'));
}

/** A URL fit for a log line: a ?key= query value (Gemini's way to pass the key) is replaced. */
export function redactUrl(url: string): string {
  return url.includes('key=') ? scrubKeys(url) : url;
}

/**
 * The process's JSON logger: one line per entry with level (a name), time (ISO), service, msg, the
 * Nest context, and the request id of the call it belongs to (AsyncLocalStorage), so every line a
 * call produces in any service can be found by its X-TT-Request-ID.
 */
export function createLogger(service: string, level: LogLevelName, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      messageKey: 'msg',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      mixin: () => {
        const ctx = storage.getStore();
        // a new object each time: pino merges the line's own fields into it
        return ctx ? { request_id: ctx.request_id } : {};
      },
      hooks: {
        // text that interpolates a key (an error message quoting a header) is scrubbed before it is written
        logMethod(args, method) {
          for (let i = 0; i < args.length; i++) {
            const a = args[i];
            if (typeof a === 'string' && (a.includes('sk-') || a.includes('key='))) args[i] = scrubKeys(a);
          }
          return method.apply(this, args as Parameters<typeof method>);
        },
      },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/**
 * The Nest logger (nestjs-pino) over a pino logger: every `new Logger(ctx)` of the process writes JSON
 * lines through it once passed to NestFactory or Logger.overrideLogger.
 */
export function nestLogger(logger: Logger): LoggerService {
  const params = { pinoHttp: { logger }, renameContext: 'context' };
  return new NestPinoLogger(new PinoLogger(params), params);
}

/** createLogger + nestLogger in one: what each service's entry point needs. */
export function serviceLoggers(service: string, level: LogLevelName): { logger: Logger; nest: LoggerService } {
  const logger = createLogger(service, level);
  return { logger, nest: nestLogger(logger) };
}

/**
 * On SIGTERM / SIGINT, a last resort beside Nest's own shutdown hooks: if closing takes longer than the
 * grace period (a batch stuck on a dead database), the process exits anyway, before the orchestrator's
 * SIGKILL, and says so.
 */
export function exitAfterGrace(graceMs: number, logger: Logger): void {
  const arm = (signal: NodeJS.Signals) => {
    logger.info({ signal, grace_ms: graceMs }, 'shutdown: finishing work in hand');
    setTimeout(() => {
      logger.error(`shutdown: grace period of ${graceMs} ms over; exiting with work unfinished`);
      process.exit(1);
    }, graceMs).unref();
  };
  process.once('SIGTERM', arm);
  process.once('SIGINT', arm);
}
