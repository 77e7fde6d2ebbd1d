import { Module } from '@nestjs/common';
import { BudgetsModule } from '../budgets/budgets.module';
import { KeysController } from './keys.controller';
import { KeysService } from './keys.service';

@Module({ imports: [BudgetsModule], controllers: [KeysController], providers: [KeysService], exports: [KeysService] })
export class KeysModule {}
