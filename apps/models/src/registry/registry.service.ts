import { Injectable } from '@nestjs/common';
import { DomainError, type ModelPriceView, type ModelView, type ResolvedModel, type RpcRequest } from '@gateway/contracts';
import { ChannelRepository } from '../channels/channel.repository';
import { ChangePublisher } from '../shared/change-publisher';
import { ModelRepository, toModelView } from './model.repository';

@Injectable()
export class RegistryService {
  constructor(
    private readonly models: ModelRepository,
    private readonly channels: ChannelRepository,
    private readonly changes: ChangePublisher,
  ) {}

  async list(): Promise<ModelView[]> {
    return (await this.models.list()).map(toModelView);
  }

  async get(id: string): Promise<ModelView> {
    const m = await this.models.find(id);
    if (!m) throw new DomainError('model_not_found', `model ${id} not found`);
    return toModelView(m);
  }

  async upsert(req: RpcRequest<'models.upsert'>): Promise<ModelView> {
    const existing = await this.models.find(req.id);
    if (req.fallbacks) await this.checkFallbacks(req.id, req.kind, req.fallbacks);
    let row;
    if (req.create) {
      if (existing) throw new DomainError('invalid_request', `model ${req.id} already exists`, 'id');
      row = await this.models.create(req.id, req.kind, req.aliases ?? [], req.pricing ?? {}, req.limits ?? {}, req.fallbacks ?? [], req.actor);
    } else {
      if (!existing) throw new DomainError('model_not_found', `model ${req.id} not found`);
      row = await this.models.update(req.id, req.kind, req.aliases, req.pricing, req.limits, req.fallbacks, req.actor);
    }
    await this.changes.modelsChanged(`model:${req.id}`);
    return toModelView(row);
  }

  /** Fallbacks name other existing models of the same kind, each once; a 400 naming `fallbacks` otherwise. */
  private async checkFallbacks(id: string, kind: string, fallbacks: string[]): Promise<void> {
    if (new Set(fallbacks).size !== fallbacks.length) throw new DomainError('invalid_request', 'fallbacks: a model is listed twice', 'fallbacks');
    for (const f of fallbacks) {
      if (f === id) throw new DomainError('invalid_request', `fallbacks: model ${id} cannot fall back to itself`, 'fallbacks');
      const m = await this.models.find(f);
      if (!m) throw new DomainError('invalid_request', `fallbacks: model ${f} not found`, 'fallbacks');
      if (m.kind !== kind) throw new DomainError('invalid_request', `fallbacks: model ${f} is a ${m.kind} model, not ${kind}`, 'fallbacks');
    }
  }

  /** The model's pricings, newest first: one per creation or price change (kept after a delete). */
  async prices(id: string): Promise<ModelPriceView[]> {
    const rows = await this.models.prices(id);
    if (rows.length === 0 && !(await this.models.find(id))) throw new DomainError('model_not_found', `model ${id} not found`);
    return rows;
  }

  async delete(id: string): Promise<{ id: string; deleted: true }> {
    if (!(await this.models.delete(id))) throw new DomainError('model_not_found', `model ${id} not found`);
    await this.changes.modelsChanged(`model:${id}`);
    return { id, deleted: true };
  }

  /** The model and the channels that serve it, best first (priority high to low). */
  async resolve(name: string): Promise<ResolvedModel | null> {
    // a NUL cannot be in a stored name, and Postgres refuses it in a query: no such model
    if (name.includes('\u0000')) return null;
    const row = await this.models.findByName(name);
    if (!row) return null;
    const model = toModelView(row);
    const names = [model.id, ...model.aliases];
    const targets = (await this.channels.listEnabled())
      .map((c) => {
        const map = (c.models ?? {}) as Record<string, string>;
        const key = names.find((n) => n in map);
        if (key === undefined) return null;
        return {
          channel_id: c.id,
          provider: c.provider,
          base_url: c.baseUrl,
          api_key: c.apiKey,
          upstream_model: map[key] || model.id,
          priority: c.priority,
          weight: c.weight,
        };
      })
      .filter((t): t is NonNullable<typeof t> => t !== null)
      .sort((a, b) => b.priority - a.priority);
    return { model, targets };
  }
}
