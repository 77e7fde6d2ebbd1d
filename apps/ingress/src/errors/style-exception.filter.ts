import { ArgumentsHost, Catch, HttpException, Logger, type ExceptionFilter } from '@nestjs/common';
import { DomainError, isTransientDbError, isUnstorableTextError, UNSTORABLE_TEXT_MESSAGE, type ErrorBody, type ErrorCode } from '@gateway/contracts';
import { toAnthropicError, toGeminiError, toOpenAIError } from '@gateway/protocols';
import type { FastifyReply, FastifyRequest } from 'fastify';

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'invalid_request',
  401: 'unauthorized',
  402: 'insufficient_balance',
  403: 'model_not_allowed',
  404: 'not_found',
  409: 'idempotency_in_flight',
  413: 'payload_too_large',
  415: 'invalid_request',
  422: 'idempotency_mismatch',
  429: 'rate_limited',
  502: 'upstream_error',
  503: 'service_unavailable',
  504: 'upstream_timeout',
};

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
}

export function toErrorBody(exception: unknown): ErrorBody {
  if (exception instanceof DomainError) return exception.toBody();
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const res = exception.getResponse();
    const message = typeof res === 'object' && res !== null && 'message' in res ? String((res as { message: unknown }).message) : exception.message;
    return { code: CODE_BY_STATUS[status] ?? (status >= 500 ? 'internal' : 'invalid_request'), message };
  }
  // errors Fastify raises itself: body too large, malformed JSON, unsupported media type
  const fe = exception as FastifyLikeError;
  if (typeof fe?.statusCode === 'number' && fe.statusCode < 500) {
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { code: 'payload_too_large', message: 'Request body too large.' };
    return { code: CODE_BY_STATUS[fe.statusCode] ?? 'invalid_request', message: fe.message ?? 'invalid request', param: 'body' };
  }
  // Postgres or Redis went away under the call: a 503 the client may retry, never the driver's text
  if (isTransientDbError(exception)) return { code: 'service_unavailable', message: 'The gateway lost a connection it needs; try again shortly.', retryAfterSeconds: 1 };
  // a NUL in something the client sent, refused by Postgres: a 400 that says so
  if (isUnstorableTextError(exception)) return { code: 'invalid_request', message: UNSTORABLE_TEXT_MESSAGE };
  return DomainError.from(exception).toBody();
}

/** What a client learns of an internal failure: that it happened and the request id to report, nothing else. */
export function internalMessage(requestId: string | undefined): string {
  return `The gateway hit an internal error${requestId ? ` (request id ${requestId})` : ''}; it has been logged. Try again, or report the request id.`;
}

/**
 * The body a client gets: toErrorBody's, except that an internal failure (an unexpected exception, a 5xx
 * HttpException, an internal error from another service) says only that it happened and the request id.
 * Its own message, stack, file paths and driver (Prisma, pg) text are for the log.
 */
export function publicErrorBody(exception: unknown, requestId: string | undefined): ErrorBody {
  const body = toErrorBody(exception);
  return body.code === 'internal' ? { code: 'internal', message: internalMessage(requestId) } : body;
}

/** Which provider's error shape a request gets: the style of the route it called. */
export function errorShaper(req: FastifyRequest | undefined): (e: ErrorBody) => { status: number; body: unknown } {
  const url = req?.url ?? '';
  if (url.startsWith('/v1beta/')) return toGeminiError;
  if (url.startsWith('/v1/messages') || url.startsWith('/anthropic/')) return toAnthropicError;
  if (url.startsWith('/v1/models') && req?.headers['anthropic-version']) return toAnthropicError;
  return toOpenAIError;
}

function detail(exception: unknown): string {
  if (exception instanceof Error) return exception.stack ?? exception.message;
  try {
    return JSON.stringify(exception);
  } catch {
    return String(exception);
  }
}

/** Every error in the shape of the API style that was called (OpenAI's for the admin API), so each SDK raises its typed error. */
@Catch()
export class StyleExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const req = host.switchToHttp().getRequest<FastifyRequest>();
    const body = publicErrorBody(exception, req?.ttRequestId);
    if (req?.ttLog) req.ttLog.error_code = body.code;
    if (body.code === 'internal') {
      const msg = `request ${req?.ttRequestId ?? '-'} ${req?.method ?? ''} ${req?.url?.split('?')[0] ?? ''} failed: ${detail(exception)}`;
      this.logger.error(req?.ttRequestId ? { msg, request_id: req.ttRequestId } : msg);
    }
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.end();
      return;
    }
    const { status, body: shaped } = errorShaper(req)(body);
    if (body.retryAfterSeconds !== undefined) void reply.header('retry-after', String(body.retryAfterSeconds));
    void reply.code(status).send(shaped);
  }
}
