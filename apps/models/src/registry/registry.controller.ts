import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { RpcRequest } from '@gateway/contracts';
import { RegistryService } from './registry.service';

@Controller()
export class RegistryController {
  constructor(private readonly registry: RegistryService) {}

  @MessagePattern('models.resolve')
  resolve(@Payload() req: RpcRequest<'models.resolve'>) {
    return this.registry.resolve(req.model);
  }

  @MessagePattern('models.list')
  list() {
    return this.registry.list();
  }

  @MessagePattern('models.get')
  get(@Payload() req: RpcRequest<'models.get'>) {
    return this.registry.get(req.id);
  }

  @MessagePattern('models.upsert')
  upsert(@Payload() req: RpcRequest<'models.upsert'>) {
    return this.registry.upsert(req);
  }

  @MessagePattern('models.prices')
  prices(@Payload() req: RpcRequest<'models.prices'>) {
    return this.registry.prices(req.id);
  }

  @MessagePattern('models.delete')
  delete(@Payload() req: RpcRequest<'models.delete'>) {
    return this.registry.delete(req.id);
  }
}
