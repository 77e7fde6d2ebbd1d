import { Injectable } from '@nestjs/common';
import { DomainError, newId, type ChannelInput, type ChannelView } from '@gateway/contracts';
import type { Db } from '@gateway/db';
import { ChangePublisher } from '../shared/change-publisher';
import { ChannelRepository } from './channel.repository';

function mask(key: string): string {
  return key.length <= 8 ? '****' : `${key.slice(0, 4)}…${key.slice(-4)}`;
}

function toView(c: Db.Channel, revealKey = false): ChannelView {
  return {
    id: c.id,
    name: c.name,
    provider: c.provider,
    base_url: c.baseUrl,
    api_key: revealKey ? c.apiKey : mask(c.apiKey),
    models: (c.models ?? {}) as Record<string, string>,
    priority: c.priority,
    weight: c.weight,
    enabled: c.enabled,
    created_at: c.createdAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
  };
}

@Injectable()
export class ChannelsService {
  constructor(
    private readonly channels: ChannelRepository,
    private readonly changes: ChangePublisher,
  ) {}

  async list(): Promise<ChannelView[]> {
    return (await this.channels.list()).map((c) => toView(c));
  }

  async get(id: string): Promise<ChannelView> {
    const c = await this.channels.find(id);
    if (!c) throw new DomainError('not_found', `channel ${id} not found`);
    return toView(c);
  }

  async create(input: ChannelInput): Promise<ChannelView> {
    const c = await this.channels.create(newId('chan'), input);
    await this.changes.modelsChanged(`channel:${c.id}`);
    return toView(c);
  }

  async update(id: string, input: Partial<ChannelInput>): Promise<ChannelView> {
    if (!(await this.channels.find(id))) throw new DomainError('not_found', `channel ${id} not found`);
    const c = await this.channels.update(id, input);
    await this.changes.modelsChanged(`channel:${id}`);
    return toView(c);
  }

  async delete(id: string): Promise<{ id: string; deleted: true }> {
    if (!(await this.channels.delete(id))) throw new DomainError('not_found', `channel ${id} not found`);
    await this.changes.modelsChanged(`channel:${id}`);
    return { id, deleted: true };
  }
}
