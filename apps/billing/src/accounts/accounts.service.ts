import { Injectable } from '@nestjs/common';
import { DomainError, newId, type AccountView, type RpcRequest, type RpcResponse } from '@gateway/contracts';
import { AccountRepository, toAccountView } from './account.repository';

@Injectable()
export class AccountsService {
  constructor(private readonly accounts: AccountRepository) {}

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

  async topup(req: RpcRequest<'accounts.topup'>): Promise<RpcResponse<'accounts.topup'>> {
    const result = await this.accounts.topup(newId('topup'), req.account_id, req.amount_micros, req.reference);
    if (result.status === 'account_not_found') throw new DomainError('not_found', `account ${req.account_id} not found`);
    const topup = await this.accounts.findTopup(result.topup_id!);
    return {
      id: topup!.id,
      account_id: topup!.accountId,
      amount_micros: Number(topup!.amountMicros),
      reference: topup!.reference,
      duplicate: result.status === 'duplicate',
      balance_micros: Number(result.balance_micros),
    };
  }
}
