// Message patterns between services and the shapes that cross them. Amounts are integer micros
// carried as JSON numbers (safe up to 2^53 micros, about 9 billion USD).
import type { ErrorBody } from './errors';
import type { Pricing, TokenUsage } from './money';

export const SERVICES = { billing: 'billing', models: 'models' } as const;
export type ServiceName = (typeof SERVICES)[keyof typeof SERVICES];

export type ModelKind = 'chat' | 'embedding' | 'image' | 'speech' | 'transcription' | 'video' | 'mj';
export const MODEL_KINDS: readonly ModelKind[] = ['chat', 'embedding', 'image', 'speech', 'transcription', 'video', 'mj'];

export interface AccountView {
  id: string;
  name: string;
  balance_micros: number;
  held_micros: number;
  available_micros: number;
  debt_micros: number;
  created_at: string;
}

export type BudgetPeriod = 'day' | 'week' | 'month';
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['day', 'week', 'month'];

/** A key's spend budget as an admin sets it. Periods are UTC; a week starts on Monday. */
export interface BudgetSettings {
  limit_micros: number;
  period: BudgetPeriod;
  alert_webhook?: string | null;
}

/** A key's budget with where the current period stands. */
export interface BudgetView {
  limit_micros: number;
  period: BudgetPeriod;
  alert_webhook: string | null;
  /** what settled calls cost in this period */
  spent_micros: number;
  /** what the key's active holds of this period hold */
  held_micros: number;
  /** limit − spent − held, never below 0 */
  remaining_micros: number;
  period_start: string;
  resets_at: string;
}

export interface KeyView {
  id: string;
  account_id: string;
  name: string;
  prefix: string;
  models: string[];
  rpm: number | null;
  tpm: number | null;
  expires_at: string | null;
  revoked_at: string | null;
  created_at: string;
  /** the gateway's response cache for this key's calls, in seconds (0: off) */
  cache_ttl_s: number;
  budget: BudgetView | null;
}

/** The settings of a key an admin may give at creation and change later. */
export interface KeySettings {
  name?: string;
  models?: string[];
  rpm?: number | null;
  tpm?: number | null;
  expires_at?: string | null;
  cache_ttl_s?: number;
}

export interface CreatedKey extends KeyView {
  /** the plaintext key, returned once at creation */
  key: string;
}

/** What ingress needs to authorize a call; looked up by the key's hash. */
export interface KeyPrincipal {
  key_id: string;
  account_id: string;
  models: string[];
  rpm: number | null;
  tpm: number | null;
  expires_at: string | null;
  cache_ttl_s: number;
}

export interface HoldPlaced {
  hold_id: string;
  amount_micros: number;
  expires_at: string;
  /** the hold was drawn from a credit lease in Redis: it becomes a hold row of its own by this split */
  split?: LeaseSplit;
}

/**
 * A call's draw from a credit lease, as billing needs it to make the draw a hold of its own (see the
 * credit_leases migration): sent with the call's settle or release, or with its first extension.
 */
export interface LeaseSplit {
  lease_id: string;
  hold_id: string;
  draw_micros: number;
  account_id: string;
  key_id: string | null;
  request_id: string;
  model: string;
}

export interface LeaseGranted {
  status: 'ok' | 'too_small' | 'account_debt' | 'account_not_found';
  lease_id: string;
  amount_micros: number;
  expires_at: string | null;
  /** the account's keys with a budget: they never draw from a lease */
  budgeted_keys: string[];
}

export interface HoldSettled {
  hold_id: string;
  status: 'ok' | 'already_settled' | 'already_released' | 'already_expired';
  charged_micros: number;
  released_micros: number;
  debt_micros: number;
}

export interface HoldReleased {
  hold_id: string;
  status: 'ok' | 'already_settled' | 'already_released' | 'already_expired';
  released_micros: number;
}

export interface HoldView {
  id: string;
  account_id: string;
  key_id: string | null;
  request_id: string | null;
  kind: 'call' | 'task' | 'lease';
  model: string | null;
  state: 'active' | 'settled' | 'released' | 'expired';
  amount_micros: number;
  /** charged from the hold (at most amount_micros) */
  settled_micros: number;
  /** charged beyond the hold because the balance covered it */
  overage_micros: number;
  /** beyond the hold and not covered: owed by the account */
  debt_micros: number;
  expires_at: string;
  created_at: string;
  resolved_at: string | null;
  /** a call's hold drawn from a credit lease: that lease */
  lease_id: string | null;
  history: Array<{ state: string; amount_micros: number; reason: string | null; at: string }>;
}

export interface ReconciliationRow {
  account_id: string;
  opening_balance_micros: number;
  topups_micros: number;
  /** refunds and adjustments of the period, signed: opening + topups + adjustments − charges = closing */
  adjustments_micros: number;
  charges_micros: number;
  /** the unused part of settled holds plus released and expired holds, resolved in the period */
  released_holds_micros: number;
  /** holds still active at the end of the period */
  open_holds_micros: number;
  closing_balance_micros: number;
  /** what the settled holds of the period say was charged; must equal the ledger's charges less debt payments */
  hold_charges_micros: number;
  debt_micros: number;
  /** holds that expired in the period and were never settled: what a caller that died could not bill */
  expired_unsettled_holds: number;
  /** the amounts of those holds */
  expired_unsettled_micros: number;
  ties_out: boolean;
}

export interface Reconciliation {
  from: string;
  to: string;
  ties_out: boolean;
  /** over all accounts of the report */
  expired_unsettled_holds: number;
  expired_unsettled_micros: number;
  accounts: ReconciliationRow[];
}

/** A hold that expired and was never settled. */
export type ExpiredHoldView = Pick<HoldView, 'id' | 'account_id' | 'key_id' | 'request_id' | 'kind' | 'model' | 'amount_micros' | 'created_at'> & {
  expired_at: string;
};

export interface UsageRow {
  account_id: string;
  model: string;
  requests: number;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  cost_micros: number;
}

export type LedgerKind = 'topup' | 'charge' | 'debt_payment' | 'refund' | 'adjustment';

/** One ledger entry: every balance change is one. */
export interface LedgerEntryView {
  id: number;
  account_id: string;
  kind: LedgerKind;
  amount_micros: number;
  balance_after_micros: number;
  reference: string | null;
  reason: string | null;
  actor: string | null;
  created_at: string;
}

/** What a charged call consumed and the prices it was charged at (model_prices via usage_records.price_id). */
export interface StatementUsage {
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cache_write_tokens: number;
  cache_write_1h_tokens: number;
  web_searches: number;
  unit_prices: Pricing;
  price_id: number | null;
}

/** One call as the request log shows it (GET /v1/account/requests, /admin/requests); tokens and cost 0 when none. */
export interface RequestLogEntry {
  request_id: string;
  account_id: string;
  key_id: string | null;
  method: string;
  path: string;
  model: string | null;
  status: number;
  error_code: string | null;
  latency_ms: number;
  stream: boolean;
  cache: 'hit' | 'miss' | 'bypass' | null;
  channel_id: string | null;
  input_tokens: number;
  output_tokens: number;
  cost_micros: number;
  created_at: string;
}

/** A looked-up call (GET …/requests/{id}): its log entry and, when it was billed, its usage record. */
export interface RequestLookup extends RequestLogEntry {
  usage: (StatementUsage & { cost_micros: number }) | null;
}

/** A channel's health for operators (GET /admin/channels/health). */
export interface ChannelHealth {
  channel_id: string;
  name: string;
  provider: string;
  enabled: boolean;
  /** the circuit breaker's state, shared by every ingress through Redis */
  state: 'closed' | 'open' | 'half_open';
  consecutive_failures: number;
  open_until: string | null;
  /** from the request log: calls this channel answered in the last 15 minutes, and those with status >= 500 */
  requests_15m: number;
  errors_15m: number;
  error_rate_15m: number;
}

export interface StatementEntry {
  id: number;
  created_at: string;
  kind: LedgerKind;
  amount_micros: number;
  /** opening + the amounts up to and including this entry */
  running_balance_micros: number;
  reference: string | null;
  reason: string | null;
  actor: string | null;
  hold_id: string | null;
  request_id: string | null;
  model: string | null;
  usage: StatementUsage | null;
}

export interface Statement {
  account_id: string;
  from: string;
  to: string;
  /** the sum of the ledger before `from` */
  opening_balance_micros: number;
  /** opening + the entries of the period: the last entry's running balance */
  closing_balance_micros: number;
  /** the account's balance now */
  balance_micros: number;
  entries: StatementEntry[];
}

export type UsageGroupKey = 'account' | 'key' | 'model' | 'day';
export const USAGE_GROUP_KEYS: readonly UsageGroupKey[] = ['account', 'key', 'model', 'day'];

export interface UsageTotals {
  requests: number;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_micros: number;
}

/** The group fields asked for (in the order of group_by: day `YYYY-MM-DD` UTC, model, key_id, account_id), then the sums. */
export type UsageGroupRow = { day?: string; model?: string; key_id?: string | null; account_id?: string } & UsageTotals;

/** Usage summed from the usage records (the billed calls) per group; the HTTP answer of the usage routes as it is. */
export interface UsageGrouped {
  from: string;
  to: string;
  group_by: UsageGroupKey[];
  data: UsageGroupRow[];
  total: UsageTotals;
}

export interface ModelView {
  id: string;
  object: 'model';
  kind: ModelKind;
  aliases: string[];
  /** other model ids, in order: they serve a call when every channel of this one fails or is open-circuit */
  fallbacks: string[];
  pricing: Pricing;
  limits: ModelLimits;
  /** the model_prices row of this pricing (a call settles with it, so its usage record says what it was priced at) */
  price_id: number | null;
  created_at: string;
  updated_at: string;
}

/** One pricing a model had, from its creation or a price change; newest first in lists. */
export interface ModelPriceView {
  id: number;
  model_id: string;
  pricing: Pricing;
  changed_at: string;
  /** X-TT-Actor or the admin role of the change, when the admin API made it */
  actor: string | null;
}

export interface ModelLimits {
  context_tokens?: number;
  max_output_tokens?: number;
}

export interface ChannelView extends ChannelInput {
  id: string;
  // views show api_key masked
  created_at: string;
  updated_at: string;
}

/** A channel as ingress uses it to call the upstream: the real key, the upstream's name for the model. */
export interface RouteTarget {
  channel_id: string;
  provider: string;
  base_url: string;
  api_key: string;
  upstream_model: string;
  priority: number;
  weight: number;
}

export interface ResolvedModel {
  model: ModelView;
  targets: RouteTarget[];
}

/** The roles of the admin API's tokens: the admin token may do everything, the finance token only read. */
export type AdminRole = 'admin' | 'finance';

export interface AuditRecordInput {
  role: AdminRole;
  /** the X-TT-Actor header as given, at most 200 characters */
  actor?: string | null;
  /** e.g. account.topup, key.create, key.update, key.revoke, model.update, channel.delete */
  action: string;
  target_type: 'account' | 'key' | 'model' | 'channel';
  target_id: string;
  details: Record<string, unknown>;
  request_id?: string | null;
}

/** One admin change as the audit log keeps it. */
export interface AuditEntry extends Required<Omit<AuditRecordInput, 'actor' | 'request_id'>> {
  id: string;
  actor: string | null;
  request_id: string | null;
  at: string;
}

export interface RpcContract {
  'keys.resolve': { req: { key_hash: string }; res: KeyPrincipal | null };
  'accounts.create': { req: { name: string; credit_micros?: number }; res: AccountView };
  'accounts.get': { req: { id: string }; res: AccountView };
  'accounts.topup': {
    req: { account_id: string; amount_micros: number; reference: string; reason?: string | null; actor?: string | null };
    /** reason, actor: of the top-up's ledger entry (the first one's on a duplicate) */
    res: { id: string; account_id: string; amount_micros: number; reference: string; duplicate: boolean; balance_micros: number; reason: string | null; actor: string | null };
  };
  /** newest first; limit default 100, at most 1000 */
  'accounts.list': { req: { limit?: number }; res: AccountView[] };
  /**
   * A refund (amount > 0) or an adjustment (signed, not 0), idempotent on (account, kind, reference): a repeat
   * answers the first entry with duplicate: true. A debit beyond the available balance: insufficient_balance.
   */
  'accounts.adjust': {
    req: { account_id: string; kind: 'refund' | 'adjustment'; amount_micros: number; reference: string; reason: string; actor: string | null; request_id?: string | null };
    res: LedgerEntryView & { duplicate: boolean };
  };
  /** the ledger entries of [from, to) with running balances; charges carry their call's usage and unit prices */
  'accounts.statement': { req: { account_id: string; from: string; to: string }; res: Statement };
  /** every key of the account, revoked ones included, newest first */
  'keys.list': { req: { account_id: string }; res: KeyView[] };
  'keys.create': { req: KeySettings & { account_id: string; name: string; budget?: BudgetSettings | null }; res: CreatedKey };
  'keys.get': { req: { id: string }; res: KeyView };
  /** budget: merged into the key's budget (a new budget needs limit_micros and period); null removes it */
  'keys.update': { req: KeySettings & { id: string; budget?: Partial<BudgetSettings> | null }; res: KeyView };
  'keys.revoke': { req: { id: string }; res: KeyView };
  'holds.place': { req: PlaceHoldRequest; res: HoldPlaced };
  /** many places in one message; each answers on its own (one refused place does not refuse the others) */
  'holds.placeMany': { req: { items: PlaceHoldRequest[] }; res: Array<{ ok?: HoldPlaced; err?: ErrorBody }> };
  /** running calls keep their holds: pushes the deadlines of active holds forward */
  /** splits: draws of long calls, made holds of their own before the extension (their ids are in ids) */
  'holds.extend': { req: { ids: string[]; ttl_ms?: number; splits?: LeaseSplit[] }; res: { extended: number } };
  /** a credit lease of up to max_micros for the account, at most a LEASE_SHARE-th of its available balance */
  'holds.lease': { req: { lease_id: string; account_id: string; max_micros: number; min_micros: number }; res: LeaseGranted };
  /** closes a lease: what no call drew (unused_micros, read from Redis as the lease was retired) goes back */
  'holds.closeLease': { req: { lease_id: string; unused_micros: number }; res: { status: 'ok' | 'not_open'; released_micros: number } };
  'holds.settle': { req: { hold_id: string; cost_micros: number; usage?: UsageReport }; res: HoldSettled };
  'holds.release': { req: { hold_id: string; reason: string }; res: HoldReleased };
  'holds.list': { req: { state?: HoldView['state']; account_id?: string; limit?: number }; res: HoldView[] };
  'reports.reconciliation': { req: { from: string; to: string; account_id?: string }; res: Reconciliation };
  /** holds that expired in the period and are still unsettled, oldest expiry first */
  'reports.expiredHolds': { req: { from: string; to: string; account_id?: string; limit?: number }; res: ExpiredHoldView[] };
  'reports.usageGrouped': { req: { from: string; to: string; account_id?: string; group_by: UsageGroupKey[] }; res: UsageGrouped };
  /** appends one admin change to the audit log; details must already be redacted (billing redacts again) */
  'audit.record': { req: AuditRecordInput; res: AuditEntry };
  'audit.list': { req: { target_type?: string; target_id?: string; limit?: number }; res: AuditEntry[] };
  'models.resolve': { req: { model: string }; res: ResolvedModel | null };
  'models.list': { req: Record<string, never>; res: ModelView[] };
  'models.get': { req: { id: string }; res: ModelView };
  /** actor: kept with the model_prices row a price change writes */
  'models.upsert': { req: { id: string; kind: ModelKind; aliases?: string[]; fallbacks?: string[]; pricing?: Pricing; limits?: ModelLimits; create: boolean; actor?: string | null }; res: ModelView };
  /** the model's pricings, newest first */
  'models.prices': { req: { id: string }; res: ModelPriceView[] };
  'models.delete': { req: { id: string }; res: { id: string; deleted: true } };
  'channels.list': { req: Record<string, never>; res: ChannelView[] };
  'channels.get': { req: { id: string }; res: ChannelView };
  'channels.create': { req: ChannelInput; res: ChannelView };
  'channels.update': { req: { id: string } & Partial<ChannelInput>; res: ChannelView };
  'channels.delete': { req: { id: string }; res: { id: string; deleted: true } };
}

export interface PlaceHoldRequest {
  /**
   * The hold's id, named by the caller before asking: placing is idempotent on it, so a
   * retried or duplicated place gives one hold, and a caller that gave up can still release it.
   */
  hold_id?: string;
  account_id: string;
  key_id: string | null;
  request_id: string;
  model: string;
  amount_micros: number;
  kind?: 'call' | 'task';
  ttl_ms?: number;
}

/**
 * One entry of the settle outbox: a Redis stream between the calls and the ledger. Ingress appends, every
 * billing instance reads it through one consumer group, applies entries in batches and acknowledges
 * them only after the batch committed; entries taken by a consumer that died are claimed by another.
 * Settles and releases are idempotent (a hold resolves once), so a redelivered entry changes nothing.
 */
export type OutboxOp = (
  | { op: 'settle'; hold_id: string; cost_micros: number; usage?: UsageReport; split?: LeaseSplit }
  | { op: 'release'; hold_id: string; reason: string; split?: LeaseSplit }
  | { op: 'close'; lease_id: string; unused_micros: number }
) & {
  /** the call's trace context (W3C headers), when it is traced: billing's span of the op joins the call's trace */
  trace?: Record<string, string>;
};

/**
 * An account's credit lease in Redis, a hash: id (the lease hold's id), left (micros not yet drawn), until
 * (epoch ms after which no call draws from it), and nb:<key id> for each key with a budget (never draws).
 */
export const LEASE = {
  key: (prefix: string, accountId: string) => `${prefix}lease:${accountId}`,
  noDrawField: (keyId: string) => `nb:${keyId}`,
  /** the accounts whose lease is open, scored by the end of its draw window (the closers' to-do list) */
  due: (prefix: string) => `${prefix}lease:due`,
} as const;

/**
 * A Lua function for scripts that retire a lease: appends its close (the undrawn part to give back) to the
 * settle outbox stream, as one entry. Ids and amounts are plain tokens, so the JSON is built by concatenation.
 */
export const LEASE_CLOSE_FN = `
local function closeLease(stream, id, unused)
  redis.call('XADD', stream, '*', 'm', '[{"op":"close","lease_id":"' .. id .. '","unused_micros":' .. unused .. '}]')
end
`;

/**
 * Retires an account's lease: no call draws from it any more. KEYS: the lease hash, the outbox stream,
 * LEASE.due. ARGV[1]: 'due' (only if its window has passed; ARGV[2] is now in epoch ms, ARGV[3] the
 * account) or 'now'; ARGV[4]: '1' to append its close to the outbox, '0' to return it for the caller to
 * close. Returns {lease id, unused micros} or nil.
 */
export const LEASE_RETIRE_LUA = `${LEASE_CLOSE_FN}
local l = redis.call('HMGET', KEYS[1], 'id', 'left', 'until')
if not l[1] then
  if ARGV[1] == 'due' then redis.call('ZREM', KEYS[3], ARGV[3]) end
  return false
end
if ARGV[1] == 'due' and tonumber(l[3]) > tonumber(ARGV[2]) then return false end
redis.call('HDEL', KEYS[1], 'id', 'left', 'until')
if ARGV[1] == 'due' then redis.call('ZREM', KEYS[3], ARGV[3]) end
if ARGV[4] == '1' then closeLease(KEYS[2], l[1], l[2]) end
return {l[1], l[2]}
`;

export const OUTBOX = {
  stream: (prefix: string) => `${prefix}billing:outbox`,
  /** entries whose op failed for a reason a retry cannot fix (logged, kept for finance, never dropped) */
  dead: (prefix: string) => `${prefix}billing:outbox:dead`,
  group: 'billing',
} as const;

export interface ChannelInput {
  name: string;
  provider: string;
  base_url: string;
  api_key: string;
  models: Record<string, string>;
  priority: number;
  weight: number;
  enabled: boolean;
}

/** What a settled call consumed, recorded beside the charge for usage reports. */
export interface UsageReport {
  request_id: string;
  account_id: string;
  key_id: string | null;
  model: string;
  channel_id: string | null;
  tokens?: TokenUsage;
  /** the model_prices row the call was priced at (ModelView.price_id) */
  price_id?: number | null;
}

export type RpcPattern = keyof RpcContract;
export type RpcRequest<P extends RpcPattern> = RpcContract[P]['req'];
export type RpcResponse<P extends RpcPattern> = RpcContract[P]['res'];

/** Redis pub/sub channels on which owners announce changes that caches elsewhere must drop. */
export const CHANGE_CHANNELS = {
  keys: 'changes:keys',
  models: 'changes:models',
} as const;

export const QUEUES = {
  video: 'tasks-video',
  mj: 'tasks-mj',
  image: 'tasks-image',
} as const;
