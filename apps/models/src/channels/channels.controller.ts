import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { RpcRequest } from '@gateway/contracts';
import { ChannelsService } from './channels.service';

@Controller()
export class ChannelsController {
  constructor(private readonly channels: ChannelsService) {}

  @MessagePattern('channels.list')
  list() {
    return this.channels.list();
  }

  @MessagePattern('channels.get')
  get(@Payload() req: RpcRequest<'channels.get'>) {
    return this.channels.get(req.id);
  }

  @MessagePattern('channels.create')
  create(@Payload() req: RpcRequest<'channels.create'>) {
    return this.channels.create(req);
  }

  @MessagePattern('channels.update')
  update(@Payload() req: RpcRequest<'channels.update'>) {
    const { id, ...rest } = req;
    return this.channels.update(id, rest);
  }

  @MessagePattern('channels.delete')
  delete(@Payload() req: RpcRequest<'channels.delete'>) {
    return this.channels.delete(req.id);
  }
}
