import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { OUTBOX, type OutboxOp } from '@gateway/contracts';
import { runWithRequestId } from '@gateway/logging';
import { extractContext, SpanKind, tracer, tracingActive } from '@gateway/tracing';
import type { BillingConfig } from '@gateway/config';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { CONFIG } from '../shared/tokens';
import { HoldsService } from './holds.service';

type StreamEntry = [id: string, fields: string[]];

/** Parses one stream entry: field `m` holds a JSON array of ops (ingress appends a tick's worth at once). */
export function entryOps(fields: string[]): OutboxOp[] | null {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] !== 'm') continue;
    try {
      const v = JSON.parse(fields[i + 1]) as unknown;
      return Array.isArray(v) ? (v as OutboxOp[]) : [v as OutboxOp];
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * Drains the settle outbox into the ledger. Every billing instance is one consumer of one group, so
 * each entry goes to one instance; it is acknowledged (and deleted) only after the batch that applied it
 * committed. An instance that dies holding entries leaves them pending; another (or its own restart)
 * claims them once they have been idle for OUTBOX_CLAIM_IDLE_MS. A batch that fails because Postgres is
 * away is retried, with backoff, for as long as it takes: a settle is never dropped and never expires.
 */
@Injectable()
export class OutboxConsumerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxConsumerService.name);
  private readonly consumer = `billing-${randomUUID()}`;
  private readonly stream: string;
  private readonly dead: string;
  private reader?: Redis;
  private commands?: Redis;
  private running = false;
  private loop?: Promise<void>;
  private lastClaim = 0;
  /** ops applied since start (a figure for tests and logs) */
  applied = 0;

  constructor(
    private readonly holds: HoldsService,
    @Inject(CONFIG) private readonly config: BillingConfig,
  ) {
    this.stream = OUTBOX.stream(config.REDIS_PREFIX);
    this.dead = OUTBOX.dead(config.REDIS_PREFIX);
  }

  onApplicationBootstrap(): void {
    if (!this.config.OUTBOX_CONSUMER) return;
    // the blocking read has its own connection; ioredis reconnects both after a Redis restart
    this.reader = new Redis(this.config.REDIS_URL, { maxRetriesPerRequest: null });
    this.commands = new Redis(this.config.REDIS_URL, { maxRetriesPerRequest: null });
    this.reader.on('error', () => undefined);
    this.commands.on('error', () => undefined);
    this.running = true;
    this.loop = this.run();
  }

  /** before the pools close: the batch in hand is applied and acknowledged first */
  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    // a blocked read returns within its BLOCK time; what it took is applied and acknowledged first
    await this.loop?.catch(() => undefined);
    this.reader?.disconnect();
    this.commands?.disconnect();
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.commands!.xgroup('CREATE', this.stream, OUTBOX.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  }

  private async run(): Promise<void> {
    let backoff = 50;
    let ready = false;
    while (this.running) {
      try {
        if (!ready) {
          await this.ensureGroup();
          ready = true;
        }
        // first entries a dead consumer left pending (checked about once a second), then new ones
        let entries = await this.claimStale();
        if (entries.length === 0) entries = await this.readNew();
        if (entries.length > 0) await this.process(entries);
        backoff = 50;
        // under load, let the next batch gather (a full batch means a backlog: read on at once)
        if (entries.length > 0 && entries.length < this.config.OUTBOX_BATCH && this.config.OUTBOX_LINGER_MS > 0 && this.running) {
          await new Promise((r) => setTimeout(r, this.config.OUTBOX_LINGER_MS));
        }
      } catch (err) {
        const msg = (err as Error).message;
        if (/NOGROUP/.test(msg)) ready = false; // Redis lost the group (restarted without persistence): make it again
        if (!this.running) break;
        this.logger.warn(`outbox: ${msg}; retrying in ${backoff} ms`);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  private async readNew(): Promise<StreamEntry[]> {
    const res = (await this.reader!.xreadgroup(
      'GROUP', OUTBOX.group, this.consumer,
      'COUNT', String(this.config.OUTBOX_BATCH),
      'BLOCK', '500',
      'STREAMS', this.stream, '>',
    )) as Array<[string, StreamEntry[]]> | null;
    return res?.[0]?.[1] ?? [];
  }

  /** Entries another consumer took and never acknowledged (it died, or lost its connection). */
  private async claimStale(): Promise<StreamEntry[]> {
    const now = Date.now();
    if (now - this.lastClaim < Math.min(1000, this.config.OUTBOX_CLAIM_IDLE_MS)) return [];
    this.lastClaim = now;
    const res = (await this.commands!.xautoclaim(this.stream, OUTBOX.group, this.consumer, this.config.OUTBOX_CLAIM_IDLE_MS, '0', 'COUNT', this.config.OUTBOX_BATCH)) as [string, Array<StreamEntry | null>, string[]?];
    const claimed = (res[1] ?? []).filter((e): e is StreamEntry => Array.isArray(e) && Array.isArray(e[1]));
    if (claimed.length > 0) this.logger.log(`outbox: claimed ${claimed.length} entr${claimed.length === 1 ? 'y' : 'ies'} left pending by another consumer`);
    // entries deleted while pending come back as null: acknowledge them away
    const gone = (res[1] ?? []).length - claimed.length;
    if (gone > 0 && res[2]?.length) await this.commands!.xack(this.stream, OUTBOX.group, ...res[2]);
    return claimed;
  }

  private async process(entries: StreamEntry[]): Promise<void> {
    const ops: OutboxOp[] = [];
    const unreadable: StreamEntry[] = [];
    for (const e of entries) {
      const parsed = entryOps(e[1]);
      if (parsed) ops.push(...parsed);
      else unreadable.push(e);
    }
    // one span per traced op, in its call's trace, covering the wait for the batch's commit
    const spans = tracingActive() ? ops.filter((o) => o.trace).map((o) => tracer('billing').startSpan(`outbox ${o.op}`, { kind: SpanKind.CONSUMER, attributes: { 'gateway.hold_id': o.op === 'close' ? o.lease_id : o.hold_id } }, extractContext(o.trace))) : [];
    // retried until it commits; only a clean shutdown stops it (the entries stay pending for the next owner)
    let backoff = 50;
    let result: Awaited<ReturnType<HoldsService['applyOutbox']>>;
    for (;;) {
      try {
        result = await this.holds.applyOutbox(ops);
        break;
      } catch (err) {
        if (!this.running) {
          for (const s of spans) s.end();
          throw err;
        }
        this.logger.warn(`outbox: applying ${ops.length} op(s) failed (${(err as Error).message}); retrying in ${backoff} ms`);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 2000);
      }
    }
    const parked = [
      ...result.poison.map((p) => JSON.stringify({ op: p.op, error: p.error })),
      ...unreadable.map((e) => JSON.stringify({ raw: e[1], error: 'unreadable entry' })),
    ];
    const ids = entries.map((e) => e[0]);
    const tx = this.commands!.multi();
    for (const p of parked) tx.xadd(this.dead, '*', 'm', p);
    tx.xack(this.stream, OUTBOX.group, ...ids).xdel(this.stream, ...ids);
    await tx.exec();
    if (parked.length) this.logger.error(`outbox: ${parked.length} op(s) could not be applied and were parked in ${this.dead}`);
    const opId = (o: OutboxOp) => (o.op === 'close' ? o.lease_id : o.hold_id);
    const poisoned = new Set(result.poison.map((p) => opId(p.op)));
    for (const o of ops) {
      if (poisoned.has(opId(o))) continue;
      if (o.op === 'close') this.logger.log({ msg: 'lease closed', lease_id: o.lease_id, unused_micros: o.unused_micros });
      else if (o.op === 'settle') runWithRequestId(o.usage?.request_id, () => this.logger.log({ msg: 'settle applied', hold_id: o.hold_id, cost_micros: o.cost_micros }));
      else this.logger.log({ msg: 'release applied', hold_id: o.hold_id, reason: o.reason });
    }
    this.applied += result.applied;
    for (const s of spans) s.end();
  }
}
