import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { DomainError } from '@gateway/contracts';
import { throwError, type Observable } from 'rxjs';

/**
 * Sends DomainErrors over RPC as their code and message instead of Nest's generic "Internal server error".
 * Anything else goes on as it was thrown, so the RPC server can tell a lost database (a 503) from an
 * internal failure, log the latter's stack, and reply with a generic message only.
 */
@Catch()
export class DomainErrorRpcFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => (exception instanceof DomainError ? exception.toBody() : exception));
  }
}
