import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { RpcRequest } from '@gateway/contracts';
import { ReportsService } from './reports.service';

@Controller()
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  @MessagePattern('reports.reconciliation')
  reconciliation(@Payload() req: RpcRequest<'reports.reconciliation'>) {
    return this.reports.reconciliation(req);
  }

  @MessagePattern('reports.expiredHolds')
  expiredHolds(@Payload() req: RpcRequest<'reports.expiredHolds'>) {
    return this.reports.expiredHolds(req);
  }

  @MessagePattern('reports.usageGrouped')
  usageGrouped(@Payload() req: RpcRequest<'reports.usageGrouped'>) {
    return this.reports.usageGrouped(req);
  }

}
