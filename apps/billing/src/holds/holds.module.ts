import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { BillingConfig } from '@gateway/config';
import { createPgPool, type PgPool } from '@gateway/db';
import { CONFIG, PG } from '../shared/tokens';
import { HoldSweeperService } from './hold-sweeper.service';
import { HoldRepository } from './hold.repository';
import { HoldsController } from './holds.controller';
import { HoldsService } from './holds.service';
import { OutboxConsumerService } from './outbox-consumer.service';

@Module({
  controllers: [HoldsController],
  providers: [
    { provide: PG, useFactory: (config: BillingConfig) => createPgPool(config.DATABASE_URL, 8), inject: [CONFIG] },
    HoldsService,
    HoldRepository,
    HoldSweeperService,
    OutboxConsumerService,
  ],
  exports: [HoldsService, HoldSweeperService, OutboxConsumerService],
})
export class HoldsModule implements OnApplicationShutdown {
  constructor(@Inject(PG) private readonly pg: PgPool) {}

  async onApplicationShutdown(): Promise<void> {
    await this.pg.end().catch(() => undefined);
  }
}
