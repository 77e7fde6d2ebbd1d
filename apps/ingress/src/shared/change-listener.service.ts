import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { CHANGE_CHANNELS } from '@gateway/contracts';
import type { IngressConfig } from '@gateway/config';
import type Redis from 'ioredis';
import { CONFIG, REDIS } from './tokens';

type Listener = (message: string) => void;

/** what a listener hears after the subscription was down: drop everything */
export const RESET = '*';

/**
 * One Redis subscription for every cache in this process that the owners' change messages invalidate.
 * Pub/sub delivers at most once: messages published while the subscription was down are lost, so after a
 * reconnect every listener hears a reset (channel message '*') and drops all it holds.
 */
@Injectable()
export class ChangeListener implements OnModuleInit {
  private readonly logger = new Logger(ChangeListener.name);
  private readonly listeners = new Map<string, Listener[]>();

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CONFIG) private readonly config: IngressConfig,
  ) {}

  on(channel: keyof typeof CHANGE_CHANNELS, listener: Listener): void {
    const name = `${this.config.REDIS_PREFIX}${CHANGE_CHANNELS[channel]}`;
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), listener]);
  }

  async onModuleInit(): Promise<void> {
    this.redis.on('message', (channel: string, message: string) => {
      for (const l of this.listeners.get(channel) ?? []) l(message);
    });
    let subscribed = false;
    // ioredis subscribes again by itself on each reconnect ('ready' follows it)
    this.redis.on('ready', () => {
      if (!subscribed) return;
      this.logger.warn('change subscription reconnected: dropping every cached key and model');
      for (const ls of this.listeners.values()) for (const l of ls) l(RESET);
    });
    const channels = Object.values(CHANGE_CHANNELS).map((c) => `${this.config.REDIS_PREFIX}${c}`);
    await this.redis.subscribe(...channels);
    subscribed = true;
    this.logger.log(`subscribed to ${channels.join(', ')}`);
  }
}
