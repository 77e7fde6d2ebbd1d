// The shapes of the gateway's HTTP API (see the console contract). Money: integer micros.

export type Role = 'client' | 'admin' | 'finance';

export interface Pricing {
  input_per_mtok_micros?: number;
  cached_input_per_mtok_micros?: number;
  cache_write_per_mtok_micros?: number;
  cache_write_1h_per_mtok_micros?: number;
  output_per_mtok_micros?: number;
  per_web_search_micros?: number;
  per_image_micros?: number;
  per_second_micros?: number;
  per_task_micros?: number;
}

export interface AccountView {
  id: string;
  name: string;
  balance_micros: number;
  held_micros: number;
  available_micros: number;
  debt_micros: number;
  created_at: string;
}

export interface ClientAccount extends AccountView {
  key?: { id: string; name: string; prefix: string; models: string[] };
}

export interface BudgetView {
  limit_micros: number;
  period: 'day' | 'week' | 'month';
  alert_webhook: string | null;
  spent_micros?: number;
  held_micros?: number;
  remaining_micros?: number;
  period_start?: string;
  resets_at?: string;
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
  cache_ttl_s: number;
  budget: BudgetView | null;
}

export interface CreatedKey extends KeyView {
  key: string;
}

export interface UsageGroupRow {
  day?: string;
  model?: string;
  key_id?: string | null;
  account_id?: string;
  requests: number;
  input_tokens: number;
  cached_input_tokens?: number;
  output_tokens: number;
  reasoning_tokens?: number;
  cost_micros: number;
}

export interface UsageTotal {
  requests: number;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_micros: number;
}

export interface UsageReport {
  from?: string;
  to?: string;
  group_by?: string[];
  data: UsageGroupRow[];
  total?: UsageTotal;
}

export interface StatementUsage {
  input_tokens?: number;
  cached_input_tokens?: number;
  output_tokens?: number;
  reasoning_tokens?: number;
  cache_write_tokens?: number;
  cache_write_1h_tokens?: number;
  web_searches?: number;
  unit_prices?: Pricing | null;
  price_id?: string | null;
  [k: string]: unknown;
}

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
  usage?: StatementUsage | null;
}

export interface RequestPage {
  data: RequestLogEntry[];
  next_before: string | null;
}

export interface TaskView {
  id: string;
  object: 'task';
  type: string;
  model: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  progress: number;
  result: unknown;
  error: unknown;
  cost_micros: number;
  hold_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface TaskEventView {
  seq: number;
  type: string;
  at: string;
  data: unknown;
}

export interface StatementEntry {
  id: string;
  created_at: string;
  kind: 'topup' | 'charge' | 'debt_payment' | 'refund' | 'adjustment' | string;
  amount_micros: number;
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
  opening_balance_micros: number;
  closing_balance_micros: number;
  balance_micros: number;
  entries: StatementEntry[];
}

export interface LedgerEntryView {
  id: string;
  account_id: string;
  kind: string;
  amount_micros: number;
  balance_after_micros?: number;
  /** the top-up route's answer carries the balance under this name */
  balance_micros?: number;
  reference: string;
  reason?: string | null;
  actor?: string | null;
  created_at?: string;
  duplicate?: boolean;
}

export interface ChannelHealth {
  channel_id: string;
  name: string;
  provider: string;
  enabled: boolean;
  state: 'closed' | 'open' | 'half_open';
  consecutive_failures: number;
  open_until: string | null;
  requests_15m: number;
  errors_15m: number;
  error_rate_15m: number;
}

export interface ChannelView {
  id: string;
  name: string;
  provider: string;
  base_url: string;
  api_key: string;
  models: Record<string, string>;
  priority: number;
  weight: number;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}

export interface ModelView {
  id: string;
  kind: string;
  aliases: string[];
  fallbacks: string[];
  pricing: Pricing;
  limits: { context_tokens?: number; max_output_tokens?: number };
  created_at: string;
  updated_at: string;
}

export interface PriceChange {
  id: string;
  model_id: string;
  pricing: Pricing;
  changed_at: string;
  actor: string | null;
}

export interface QueueCounts {
  queue: string;
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  [k: string]: unknown;
}

export interface ReconciliationRow {
  account_id: string;
  opening_balance_micros: number;
  topups_micros: number;
  adjustments_micros?: number;
  charges_micros: number;
  released_holds_micros: number;
  open_holds_micros: number;
  closing_balance_micros: number;
  hold_charges_micros: number;
  debt_micros: number;
  expired_unsettled_holds: number;
  expired_unsettled_micros: number;
  ties_out: boolean;
}

export interface Reconciliation {
  from: string;
  to: string;
  ties_out: boolean;
  expired_unsettled_holds: number;
  expired_unsettled_micros: number;
  accounts: ReconciliationRow[];
}

export interface HoldView {
  id: string;
  account_id: string;
  key_id: string | null;
  request_id: string | null;
  kind: 'call' | 'task';
  model: string | null;
  state: 'active' | 'settled' | 'released' | 'expired';
  amount_micros: number;
  settled_micros: number;
  overage_micros: number;
  debt_micros: number;
  expires_at: string;
  created_at: string;
  resolved_at: string | null;
  history: Array<{ state: string; amount_micros: number; reason: string | null; at: string }>;
}

export interface ListOf<T> {
  data: T[];
}

export const PRICE_FIELDS: ReadonlyArray<{ field: keyof Pricing; label: string; unit: string }> = [
  { field: 'input_per_mtok_micros', label: 'Input', unit: 'per 1M tokens' },
  { field: 'cached_input_per_mtok_micros', label: 'Cached input', unit: 'per 1M tokens' },
  { field: 'cache_write_per_mtok_micros', label: 'Cache write (5 min)', unit: 'per 1M tokens' },
  { field: 'cache_write_1h_per_mtok_micros', label: 'Cache write (1 h)', unit: 'per 1M tokens' },
  { field: 'output_per_mtok_micros', label: 'Output', unit: 'per 1M tokens' },
  { field: 'per_web_search_micros', label: 'Web search', unit: 'per search' },
  { field: 'per_image_micros', label: 'Image', unit: 'per image' },
  { field: 'per_second_micros', label: 'Video', unit: 'per second' },
  { field: 'per_task_micros', label: 'Task', unit: 'per task' },
];
