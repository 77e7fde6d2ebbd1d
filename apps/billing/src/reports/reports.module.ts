import { Module } from '@nestjs/common';
import { ReportRepository } from './report.repository';
import { ReportsController } from './reports.controller';
import { ReportsService } from './reports.service';

@Module({ controllers: [ReportsController], providers: [ReportsService, ReportRepository], exports: [ReportsService] })
export class ReportsModule {}
