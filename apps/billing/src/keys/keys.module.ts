import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { BillingConfig } from '@gateway/config';
import { createPgPool, type PgPool } from '@gateway/db';
import { BudgetsModule } from '../budgets/budgets.module';
import { CONFIG, PG_KEYS } from '../shared/tokens';
import { KeysController } from './keys.controller';
import { KeysService } from './keys.service';

@Module({
  imports: [BudgetsModule],
  controllers: [KeysController],
  providers: [{ provide: PG_KEYS, useFactory: (config: BillingConfig) => createPgPool(config.DATABASE_URL, 2), inject: [CONFIG] }, KeysService],
  exports: [KeysService],
})
export class KeysModule implements OnApplicationShutdown {
  constructor(@Inject(PG_KEYS) private readonly pg: PgPool) {}

  async onApplicationShutdown(): Promise<void> {
    await this.pg.end().catch(() => undefined);
  }
}
