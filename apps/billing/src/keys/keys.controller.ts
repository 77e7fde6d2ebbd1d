import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { RpcRequest } from '@gateway/contracts';
import { KeysService } from './keys.service';

@Controller()
export class KeysController {
  constructor(private readonly keys: KeysService) {}

  @MessagePattern('keys.resolve')
  resolve(@Payload() req: RpcRequest<'keys.resolve'>) {
    return this.keys.resolve(req.key_hash);
  }

  @MessagePattern('keys.create')
  create(@Payload() req: RpcRequest<'keys.create'>) {
    return this.keys.create(req);
  }

  @MessagePattern('keys.list')
  list(@Payload() req: RpcRequest<'keys.list'>) {
    return this.keys.list(req.account_id);
  }

  @MessagePattern('keys.get')
  get(@Payload() req: RpcRequest<'keys.get'>) {
    return this.keys.get(req.id);
  }

  @MessagePattern('keys.update')
  update(@Payload() req: RpcRequest<'keys.update'>) {
    return this.keys.update(req);
  }

  @MessagePattern('keys.revoke')
  revoke(@Payload() req: RpcRequest<'keys.revoke'>) {
    return this.keys.revoke(req.id);
  }
}
