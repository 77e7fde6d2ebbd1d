import { Injectable, type OnModuleInit } from '@nestjs/common';
import { UpstreamClient, type AttemptResult } from '../upstream/upstream.client';
import { upstreamAttempt, upstreamStatusOutcome } from './ingress-metrics';

/** Counts every upstream attempt the client reports (its onAttempt hook): per channel, by outcome, retries apart. */
@Injectable()
export class UpstreamMetrics implements OnModuleInit {
  constructor(private readonly upstream: UpstreamClient) {}

  onModuleInit(): void {
    this.upstream.onAttempt = (r: AttemptResult) => upstreamAttempt(r.channel_id, r.outcome === 'status' && r.status ? upstreamStatusOutcome(r.status) : r.outcome, r.attempt > 1);
  }
}
