import { Module } from '@nestjs/common';
import { HoldSweeperService } from './hold-sweeper.service';
import { HoldRepository } from './hold.repository';
import { HoldsController } from './holds.controller';
import { HoldsService } from './holds.service';

@Module({
  controllers: [HoldsController],
  providers: [HoldsService, HoldRepository, HoldSweeperService],
  exports: [HoldsService, HoldSweeperService],
})
export class HoldsModule {}
