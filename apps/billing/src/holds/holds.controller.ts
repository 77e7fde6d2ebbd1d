import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { RpcRequest } from '@gateway/contracts';
import { HoldsService } from './holds.service';

@Controller()
export class HoldsController {
  constructor(private readonly holds: HoldsService) {}

  @MessagePattern('holds.place')
  place(@Payload() req: RpcRequest<'holds.place'>) {
    return this.holds.place(req);
  }

  @MessagePattern('holds.placeMany')
  placeMany(@Payload() req: RpcRequest<'holds.placeMany'>) {
    return this.holds.placeMany(req.items);
  }

  @MessagePattern('holds.extend')
  extend(@Payload() req: RpcRequest<'holds.extend'>) {
    return this.holds.extend(req.ids, req.ttl_ms, req.splits);
  }

  @MessagePattern('holds.lease')
  lease(@Payload() req: RpcRequest<'holds.lease'>) {
    return this.holds.lease(req);
  }

  @MessagePattern('holds.closeLease')
  closeLease(@Payload() req: RpcRequest<'holds.closeLease'>) {
    return this.holds.closeLease(req);
  }

  @MessagePattern('holds.settle')
  settle(@Payload() req: RpcRequest<'holds.settle'>) {
    return this.holds.settle(req);
  }

  @MessagePattern('holds.list')
  list(@Payload() req: RpcRequest<'holds.list'>) {
    return this.holds.list(req);
  }

  @MessagePattern('holds.release')
  release(@Payload() req: RpcRequest<'holds.release'>) {
    return this.holds.release(req);
  }
}
