import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { DomainError } from '@gateway/contracts';
import { throwError, type Observable } from 'rxjs';

/** Sends DomainErrors over RPC as their code and message instead of Nest's generic "Internal server error". */
@Catch()
export class DomainErrorRpcFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => DomainError.from(exception).toBody());
  }
}
