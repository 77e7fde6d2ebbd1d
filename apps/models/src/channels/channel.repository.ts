import { Inject, Injectable } from '@nestjs/common';
import type { ChannelInput } from '@gateway/contracts';
import type { Db, PrismaClient } from '@gateway/db';
import { PRISMA } from '../shared/tokens';

@Injectable()
export class ChannelRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  list(): Promise<Db.Channel[]> {
    return this.prisma.channel.findMany({ orderBy: [{ priority: 'desc' }, { createdAt: 'asc' }] });
  }

  listEnabled(): Promise<Db.Channel[]> {
    return this.prisma.channel.findMany({ where: { enabled: true } });
  }

  find(id: string): Promise<Db.Channel | null> {
    return this.prisma.channel.findUnique({ where: { id } });
  }

  create(id: string, c: ChannelInput): Promise<Db.Channel> {
    return this.prisma.channel.create({
      data: { id, name: c.name, provider: c.provider, baseUrl: c.base_url, apiKey: c.api_key, models: c.models, priority: c.priority, weight: c.weight, enabled: c.enabled },
    });
  }

  update(id: string, c: Partial<ChannelInput>): Promise<Db.Channel> {
    return this.prisma.channel.update({
      where: { id },
      data: {
        name: c.name,
        provider: c.provider,
        baseUrl: c.base_url,
        apiKey: c.api_key,
        models: c.models,
        priority: c.priority,
        weight: c.weight,
        enabled: c.enabled,
      },
    });
  }

  async delete(id: string): Promise<boolean> {
    return (await this.prisma.channel.deleteMany({ where: { id } })).count > 0;
  }
}
