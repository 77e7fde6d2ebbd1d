import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { RpcRequest } from '@gateway/contracts';
import { AuditService } from './audit.service';

@Controller()
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @MessagePattern('audit.record')
  record(@Payload() req: RpcRequest<'audit.record'>) {
    return this.audit.record(req);
  }

  @MessagePattern('audit.list')
  list(@Payload() req: RpcRequest<'audit.list'>) {
    return this.audit.list(req);
  }
}
