import { Module } from '@nestjs/common';
import { WebhookOutboxRepository } from './webhook-outbox.repository';
import { WebhookSenderService } from './webhook-sender.service';

@Module({ providers: [WebhookOutboxRepository, WebhookSenderService], exports: [WebhookSenderService] })
export class WebhooksModule {}
