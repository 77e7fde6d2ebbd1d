import { Inject, Injectable } from '@nestjs/common';
import type { ModelKind, ModelLimits, ModelPriceView, ModelView, Pricing } from '@gateway/contracts';
import type { Db, PrismaClient } from '@gateway/db';
import { PRISMA } from '../shared/tokens';

type ModelRow = Db.Model;

const num = (v: bigint | null): number | undefined => (v === null ? undefined : Number(v));
const big = (v: number | undefined): bigint | null => (v === undefined || v === null ? null : BigInt(v));

export function toModelView(m: ModelRow): ModelView {
  const pricing: Pricing = {};
  const set = (k: keyof Pricing, v: bigint | null) => {
    const n = num(v);
    if (n !== undefined) pricing[k] = n;
  };
  set('input_per_mtok_micros', m.inputPerMtokMicros);
  set('cached_input_per_mtok_micros', m.cachedInputPerMtokMicros);
  set('cache_write_per_mtok_micros', m.cacheWritePerMtokMicros);
  set('cache_write_1h_per_mtok_micros', m.cacheWrite1hPerMtokMicros);
  set('output_per_mtok_micros', m.outputPerMtokMicros);
  set('per_web_search_micros', m.perWebSearchMicros);
  set('per_image_micros', m.perImageMicros);
  set('per_second_micros', m.perSecondMicros);
  set('per_task_micros', m.perTaskMicros);
  return {
    id: m.id,
    object: 'model',
    kind: m.kind as ModelKind,
    aliases: m.aliases,
    fallbacks: m.fallbacks,
    pricing,
    limits: (m.limits ?? {}) as ModelLimits,
    price_id: m.priceId === null ? null : Number(m.priceId),
    created_at: m.createdAt.toISOString(),
    updated_at: m.updatedAt.toISOString(),
  };
}

function pricingColumns(p: Pricing) {
  return {
    inputPerMtokMicros: big(p.input_per_mtok_micros),
    cachedInputPerMtokMicros: big(p.cached_input_per_mtok_micros),
    cacheWritePerMtokMicros: big(p.cache_write_per_mtok_micros),
    cacheWrite1hPerMtokMicros: big(p.cache_write_1h_per_mtok_micros),
    outputPerMtokMicros: big(p.output_per_mtok_micros),
    perWebSearchMicros: big(p.per_web_search_micros),
    perImageMicros: big(p.per_image_micros),
    perSecondMicros: big(p.per_second_micros),
    perTaskMicros: big(p.per_task_micros),
  };
}

@Injectable()
export class ModelRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  list(): Promise<ModelRow[]> {
    return this.prisma.model.findMany({ orderBy: { id: 'asc' } });
  }

  find(id: string): Promise<ModelRow | null> {
    return this.prisma.model.findUnique({ where: { id } });
  }

  /** by id, else by alias */
  async findByName(name: string): Promise<ModelRow | null> {
    return (await this.find(name)) ?? this.prisma.model.findFirst({ where: { aliases: { has: name } } });
  }

  /**
   * A write of the models table with `gateway.actor` set for its transaction only: the trigger that keeps
   * model_prices records it with a pricing the write creates.
   */
  private asActor<T>(actor: string | null | undefined, write: (tx: Db.Prisma.TransactionClient) => Promise<T>): Promise<T> {
    if (!actor) return write(this.prisma);
    return this.prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT set_config('gateway.actor', ${actor}, true)`;
      return write(tx);
    });
  }

  create(id: string, kind: ModelKind, aliases: string[], pricing: Pricing, limits: ModelLimits, fallbacks: string[] = [], actor?: string | null): Promise<ModelRow> {
    return this.asActor(actor, (db) => db.model.create({ data: { id, kind, aliases, fallbacks, limits: limits as object, ...pricingColumns(pricing) } }));
  }

  update(id: string, kind: ModelKind, aliases: string[] | undefined, pricing: Pricing | undefined, limits: ModelLimits | undefined, fallbacks?: string[], actor?: string | null) {
    return this.asActor(actor, (db) =>
      db.model.update({
        where: { id },
        data: {
          kind,
          ...(aliases ? { aliases } : {}),
          ...(fallbacks ? { fallbacks } : {}),
          ...(pricing ? pricingColumns(pricing) : {}),
          ...(limits ? { limits: limits as object } : {}),
        },
      }),
    );
  }

  /** every pricing the model had, newest first */
  async prices(modelId: string): Promise<ModelPriceView[]> {
    const rows = await this.prisma.modelPrice.findMany({ where: { modelId }, orderBy: { id: 'desc' } });
    return rows.map((p) => ({ id: Number(p.id), model_id: p.modelId, pricing: p.pricing as Pricing, changed_at: p.changedAt.toISOString(), actor: p.actor }));
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.prisma.model.deleteMany({ where: { id } });
    return r.count > 0;
  }
}
