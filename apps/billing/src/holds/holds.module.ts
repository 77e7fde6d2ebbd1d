import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { BillingConfig } from '@gateway/config';
import { createPgPool, type PgPool } from '@gateway/db';
import { BudgetsModule } from '../budgets/budgets.module';
import { CONFIG, PG, PG_FAST } from '../shared/tokens';
import { HoldSweeperService } from './hold-sweeper.service';
import { HoldRepository } from './hold.repository';
import { HoldsController } from './holds.controller';
import { HoldsService } from './holds.service';
import { OutboxConsumerService } from './outbox-consumer.service';

@Module({
  imports: [BudgetsModule],
  controllers: [HoldsController],
  providers: [
    { provide: PG, useFactory: (config: BillingConfig) => createPgPool(config.DATABASE_URL, 6), inject: [CONFIG] },
    {
      provide: PG_FAST,
      useFactory: (config: BillingConfig) =>
        config.HOLD_COMMIT === 'fast' ? createPgPool(config.DATABASE_URL, 6, { options: '-c synchronous_commit=off' }) : createPgPool(config.DATABASE_URL, 6),
      inject: [CONFIG],
    },
    HoldsService,
    HoldRepository,
    HoldSweeperService,
    OutboxConsumerService,
  ],
  exports: [HoldsService, HoldSweeperService, OutboxConsumerService],
})
export class HoldsModule implements OnApplicationShutdown {
  constructor(
    @Inject(PG) private readonly pg: PgPool,
    @Inject(PG_FAST) private readonly fast: PgPool,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.pg.end().catch(() => undefined), this.fast.end().catch(() => undefined)]);
  }
}
