import { BUDGET_PERIODS, DomainError, MODEL_KINDS, USAGE_GROUP_KEYS, type BudgetPeriod, type UsageGroupKey } from '@gateway/contracts';
import { z } from 'zod';

const micros = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const createAccountSchema = z.object({ name: z.string().min(1), credit_micros: micros.optional() });
const reference = z.string().min(1).max(200);
const reason = z.string().trim().min(1).max(1000);
export const topupSchema = z.object({ amount_micros: micros.positive(), reference, reason: reason.optional() });
/** a credit for a call or a complaint; request_id: the call it refunds (of this account) */
export const refundSchema = z.object({ amount_micros: micros.positive(), reference, reason, request_id: z.string().min(1).max(200).optional() });
/** a correction either way: a credit (> 0) or a debit (< 0), never 0 */
export const adjustmentSchema = z.object({
  amount_micros: z
    .number()
    .int()
    .min(-Number.MAX_SAFE_INTEGER)
    .max(Number.MAX_SAFE_INTEGER)
    .refine((n) => n !== 0, 'must not be 0'),
  reference,
  reason,
});

export const accountsQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(1000).optional() });

/** JSON, or CSV with `?format=csv` (or `Accept: text/csv`) */
const format = z.enum(['json', 'csv']).optional();

export const statementQuerySchema = z.object({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  format,
});

/** `group_by` a comma-separated list of account, key, model, day (default account,model), each once */
const groupBy = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s) => s.split(',').map((g) => g.trim()).filter(Boolean))
    .pipe(
      z
        .array(z.enum(USAGE_GROUP_KEYS as [UsageGroupKey, ...UsageGroupKey[]]))
        .min(1)
        .refine((a) => new Set(a).size === a.length, 'a field is listed twice'),
    );
const budgetFields = {
  limit_micros: micros,
  period: z.enum(BUDGET_PERIODS as [BudgetPeriod, ...BudgetPeriod[]]),
  alert_webhook: z.url({ protocol: /^https?$/ }).nullish(),
};
const keyFields = {
  models: z.array(z.string().min(1)).optional(),
  rpm: z.number().int().positive().nullish(),
  tpm: z.number().int().positive().nullish(),
  expires_at: z.iso.datetime({ offset: true }).nullish(),
  cache_ttl_s: z.number().int().nonnegative().max(2_147_483_647).optional(),
};
export const createKeySchema = z.object({
  name: z.string().min(1).default('key'),
  ...keyFields,
  budget: z.object(budgetFields).strict().nullish(),
});
/** budget: merged into the key's budget; null removes it */
export const updateKeySchema = z.object({
  name: z.string().min(1).optional(),
  ...keyFields,
  budget: z.object(budgetFields).partial().strict().nullish(),
});

export const holdsQuerySchema = z.object({
  state: z.enum(['active', 'settled', 'released', 'expired']).optional(),
  account_id: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

/** the request log's filters (GET /admin/requests; /v1/account/requests without account_id) */
export const requestLogQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).optional(),
  before: z.iso.datetime({ offset: true }).optional(),
  account_id: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  status: z.string().regex(/^(ok|error|\d{3})$/, "a status code, 'ok' or 'error'").optional(),
  key_id: z.string().min(1).optional(),
  request_id: z.string().min(1).optional(),
});

export const auditQuerySchema = z.object({
  target_type: z.enum(['account', 'key', 'model', 'channel']).optional(),
  target_id: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

export const periodQuerySchema = z.object({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  account_id: z.string().min(1).optional(),
});

export const reconciliationQuerySchema = periodQuerySchema.extend({ format });

export const usageQuerySchema = periodQuerySchema.extend({ group_by: groupBy('account,model'), format });
/** GET /v1/account/usage: a key's own account, so no grouping by account */
export const clientUsageQuerySchema = statementQuerySchema.extend({
  group_by: groupBy('day,model').refine((a) => !a.includes('account'), "a key sees its own account only: group by day, model or key"),
});

export const expiredHoldsQuerySchema = periodQuerySchema.extend({
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

/** `models` as a list of public ids, or a map of public id to the upstream's name. */
const channelModels = z
  .union([z.array(z.string().min(1)), z.record(z.string(), z.string())])
  .transform((v) => (Array.isArray(v) ? Object.fromEntries(v.map((id) => [id, id])) : v));

export const PROVIDERS = ['openai', 'anthropic', 'gemini', 'midjourney', 'bfl'] as const;

const channelFields = {
  name: z.string().min(1),
  provider: z.enum(PROVIDERS),
  base_url: z.url(),
  api_key: z.string().default(''),
  models: channelModels,
  priority: z.number().int().default(0),
  weight: z.number().int().nonnegative().default(1),
  enabled: z.boolean().default(true),
};
export const createChannelSchema = z.object(channelFields);
export const updateChannelSchema = z.object({
  name: channelFields.name.optional(),
  provider: channelFields.provider.optional(),
  base_url: channelFields.base_url.optional(),
  api_key: z.string().optional(),
  models: channelModels.optional(),
  priority: z.number().int().optional(),
  weight: z.number().int().nonnegative().optional(),
  enabled: z.boolean().optional(),
});

const pricing = z
  .object({
    input_per_mtok_micros: micros.optional(),
    cached_input_per_mtok_micros: micros.optional(),
    cache_write_per_mtok_micros: micros.optional(),
    cache_write_1h_per_mtok_micros: micros.optional(),
    output_per_mtok_micros: micros.optional(),
    per_web_search_micros: micros.optional(),
    per_image_micros: micros.optional(),
    per_second_micros: micros.optional(),
    per_task_micros: micros.optional(),
  })
  .strict();
const limits = z.object({ context_tokens: z.number().int().positive().optional(), max_output_tokens: z.number().int().positive().optional() }).strict();

export const createModelSchema = z.object({
  id: z.string().min(1),
  kind: z.enum(MODEL_KINDS as [string, ...string[]]),
  aliases: z.array(z.string().min(1)).optional(),
  fallbacks: z.array(z.string().min(1)).max(5).optional(),
  pricing: pricing.default({}),
  limits: limits.optional(),
});
export const updateModelSchema = createModelSchema.omit({ id: true }).partial();

/** Parses an admin body; the 400 names the first bad field. */
export function parseBody<S extends z.ZodTypeAny>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const param = issue.path.join('.') || 'body';
  throw new DomainError('invalid_request', `${param}: ${issue.message}`, param);
}
