import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { RpcRequest } from '@gateway/contracts';
import { AccountsService } from './accounts.service';

@Controller()
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @MessagePattern('accounts.create')
  create(@Payload() req: RpcRequest<'accounts.create'>) {
    return this.accounts.create(req);
  }

  @MessagePattern('accounts.get')
  get(@Payload() req: RpcRequest<'accounts.get'>) {
    return this.accounts.get(req.id);
  }

  @MessagePattern('accounts.topup')
  topup(@Payload() req: RpcRequest<'accounts.topup'>) {
    return this.accounts.topup(req);
  }

  @MessagePattern('accounts.list')
  list(@Payload() req: RpcRequest<'accounts.list'>) {
    return this.accounts.list(req ?? {});
  }

  @MessagePattern('accounts.adjust')
  adjust(@Payload() req: RpcRequest<'accounts.adjust'>) {
    return this.accounts.adjust(req);
  }

  @MessagePattern('accounts.statement')
  statement(@Payload() req: RpcRequest<'accounts.statement'>) {
    return this.accounts.statement(req);
  }
}
