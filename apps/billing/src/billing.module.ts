import { Module, type DynamicModule } from '@nestjs/common';
import type { BillingConfig } from '@gateway/config';
import { AccountsModule } from './accounts/accounts.module';
import { AuditModule } from './audit/audit.module';
import { HoldsModule } from './holds/holds.module';
import { KeysModule } from './keys/keys.module';
import { ReportsModule } from './reports/reports.module';
import { WebhooksModule } from './webhooks/webhooks.module';
import { InfraModule } from '@gateway/db';

@Module({})
export class BillingModule {
  static forRoot(config: BillingConfig): DynamicModule {
    return {
      module: BillingModule,
      imports: [InfraModule.forRoot(config, 20), AccountsModule, KeysModule, HoldsModule, ReportsModule, WebhooksModule, AuditModule],
    };
  }
}
