import { Inject, Injectable } from '@nestjs/common';
import { DomainError, LEASE, LEASE_RETIRE_LUA, OUTBOX, newId, type AccountView, type RpcRequest, type RpcResponse, type Statement } from '@gateway/contracts';
import type { BillingConfig } from '@gateway/config';
import type Redis from 'ioredis';
import { CONFIG, REDIS } from '../shared/tokens';
import { AccountRepository, toAccountView, toLedgerEntryView, toStatementEntry } from './account.repository';
import { period } from '../shared/period';

@Injectable()
export class AccountsService {
  constructor(
    private readonly accounts: AccountRepository,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CONFIG) private readonly config: BillingConfig,
  ) {}

  /** Takes the account's open credit lease out of use and closes it; the micros given back (0: none open). */
  private async closeLease(accountId: string): Promise<number> {
    const prefix = this.config.REDIS_PREFIX;
    const got = (await this.redis
      .eval(LEASE_RETIRE_LUA, 3, LEASE.key(prefix, accountId), OUTBOX.stream(prefix), LEASE.due(prefix), 'now', Date.now(), accountId, '0')
      .catch(() => null)) as [string, string] | null;
    if (!got) return 0;
    return this.accounts.closeLease(got[0], Number(got[1]));
  }

  async create(req: RpcRequest<'accounts.create'>): Promise<AccountView> {
    const account = await this.accounts.create(newId('acct'), req.name);
    if (req.credit_micros && req.credit_micros > 0) {
      // initial credit is a top-up like any other, so the ledger and reconciliation see it
      await this.topup({ account_id: account.id, amount_micros: req.credit_micros, reference: 'initial-credit' });
    }
    return this.get(account.id);
  }

  async get(id: string): Promise<AccountView> {
    const account = await this.accounts.find(id);
    if (!account) throw new DomainError('not_found', `account ${id} not found`);
    return toAccountView(account);
  }

  async list(req: RpcRequest<'accounts.list'>): Promise<AccountView[]> {
    const limit = Math.min(Math.max(req.limit ?? 100, 1), 1000);
    return (await this.accounts.list(limit)).map(toAccountView);
  }

  async topup(req: RpcRequest<'accounts.topup'>): Promise<RpcResponse<'accounts.topup'>> {
    const result = await this.accounts.topup(newId('topup'), req.account_id, req.amount_micros, req.reference, req.reason ?? null, req.actor ?? null);
    if (result.status === 'account_not_found') throw new DomainError('not_found', `account ${req.account_id} not found`);
    const [topup, entry] = await Promise.all([this.accounts.findTopup(result.topup_id!), this.accounts.topupEntry(result.topup_id!)]);
    return {
      id: topup!.id,
      account_id: topup!.accountId,
      amount_micros: Number(topup!.amountMicros),
      reference: topup!.reference,
      duplicate: result.status === 'duplicate',
      balance_micros: Number(result.balance_micros),
      reason: entry?.reason ?? null,
      actor: entry?.actor ?? null,
    };
  }

  /** A refund or an adjustment: one gw_adjust call; a repeat of its reference answers the first entry. */
  async adjust(req: RpcRequest<'accounts.adjust'>): Promise<RpcResponse<'accounts.adjust'>> {
    if (req.kind !== 'refund' && req.kind !== 'adjustment') throw new DomainError('invalid_request', 'kind must be refund or adjustment', 'kind');
    if (!Number.isSafeInteger(req.amount_micros) || req.amount_micros === 0 || (req.kind === 'refund' && req.amount_micros < 0)) {
      throw new DomainError('invalid_request', req.kind === 'refund' ? 'amount_micros must be a positive integer' : 'amount_micros must be a non-zero integer', 'amount_micros');
    }
    if (!req.reference) throw new DomainError('invalid_request', 'reference is required', 'reference');
    if (!req.reason) throw new DomainError('invalid_request', 'reason is required', 'reason');
    if (req.request_id) {
      // a refund names a call of this account, never another account's (404 either way, as if it did not exist)
      const usage = await this.accounts.usageRecord(req.request_id);
      if (!usage || usage.accountId !== req.account_id) throw new DomainError('not_found', `request ${req.request_id} not found for account ${req.account_id}`, 'request_id');
    }
    const input = {
      accountId: req.account_id,
      kind: req.kind,
      amountMicros: req.amount_micros,
      reference: req.reference,
      reason: req.reason,
      actor: req.actor ?? null,
      requestId: req.request_id ?? null,
    };
    let r = await this.accounts.adjust(input);
    // a debit refused while the account's credit lease reserved part of the balance: the lease is closed
    // (its undrawn part back, as ingress does for a refused place) and the debit tried once more
    if (r.status === 'insufficient_balance' && (await this.closeLease(req.account_id)) > 0) r = await this.accounts.adjust(input);
    if (r.status === 'account_not_found') throw new DomainError('not_found', `account ${req.account_id} not found`);
    if (r.status === 'insufficient_balance') {
      throw new DomainError(
        'balance_conflict',
        `a debit of ${-req.amount_micros} micros is larger than the account's available balance of ${Number(r.available_micros)} micros`,
        'amount_micros',
      );
    }
    const entry = await this.accounts.ledgerEntry(r.entry_id!);
    return { ...toLedgerEntryView(entry!), duplicate: r.status === 'duplicate' };
  }

  /**
   * The account's ledger entries of [from, to) with running balances: opening (the ledger's sum before
   * `from`) plus the amounts so far, so the last one is the closing balance.
   */
  async statement(req: RpcRequest<'accounts.statement'>): Promise<Statement> {
    const [from, to] = period(req);
    const o = await this.accounts.statementOf(req.account_id, from, to);
    if (!o) throw new DomainError('not_found', `account ${req.account_id} not found`);
    const entries = o.rows.map((r) => toStatementEntry(r, o.opening));
    return {
      account_id: req.account_id,
      from: from.toISOString(),
      to: to.toISOString(),
      opening_balance_micros: Number(o.opening),
      closing_balance_micros: entries.length ? entries[entries.length - 1].running_balance_micros : Number(o.opening),
      balance_micros: Number(o.balance),
      entries,
    };
  }
}
