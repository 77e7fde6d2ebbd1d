import { DomainError } from '@gateway/contracts';

/** A report's [from, to) from its ISO 8601 strings; a 400 naming the field when one is not a time or to < from. */
export function period(req: { from: string; to: string }): [Date, Date] {
  const from = new Date(req.from);
  const to = new Date(req.to);
  if (Number.isNaN(from.getTime())) throw new DomainError('invalid_request', `from is not an ISO 8601 time: ${req.from}`, 'from');
  if (Number.isNaN(to.getTime())) throw new DomainError('invalid_request', `to is not an ISO 8601 time: ${req.to}`, 'to');
  if (to < from) throw new DomainError('invalid_request', 'to is before from', 'to');
  return [from, to];
}
