// The shapes of the gateway's HTTP API. Those the services define are imported from their own definitions
// (type-only: nothing of the services is bundled), so the console cannot drift from what the API answers.
// Money: integer micros.
import type { AccountView, LedgerEntryView, RequestLogEntry, RpcContract, UsageGrouped } from '../../../libs/contracts/src/messages';
import type { Pricing } from '../../../libs/contracts/src/money';

export type {
  AccountView,
  BudgetView,
  ChannelHealth,
  ChannelView,
  CreatedKey,
  HoldView,
  KeyView,
  LedgerEntryView,
  ModelPriceView as PriceChange,
  ModelView,
  Reconciliation,
  ReconciliationRow,
  RequestLogEntry,
  RequestLookup,
  Statement,
  StatementEntry,
  StatementUsage,
  UsageGroupRow,
} from '../../../libs/contracts/src/messages';
export type { Pricing } from '../../../libs/contracts/src/money';
export type { TaskEventView, TaskView } from '../../../libs/tasks/src/task.types';

export type Role = 'client' | 'admin' | 'finance';

/** GET /v1/account */
export interface ClientAccount extends AccountView {
  key: { id: string; name: string; prefix: string; models: string[] };
}

/** GET /v1/account/usage and /admin/usage */
export type UsageReport = UsageGrouped;
export type UsageTotal = UsageGrouped['total'];

/** POST /admin/accounts/{id}/topups */
export type TopupAnswer = RpcContract['accounts.topup']['res'];
/** POST /admin/accounts/{id}/refunds and /adjustments (`duplicate`: the reference was used before; nothing moved) */
export type AdjustmentAnswer = LedgerEntryView & { duplicate: boolean };

/** a page of the request log */
export interface RequestPage {
  data: RequestLogEntry[];
  next_before: string | null;
}

/** GET /admin/queues (the task producer's counts) */
export interface QueueCounts {
  queue: string;
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  [k: string]: unknown;
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
