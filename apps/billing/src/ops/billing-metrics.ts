import { counter } from '@gateway/ops';

const holds = counter('gateway_holds_total', 'Holds by outcome: placed, refused (balance, budget, account), split (a call drawn from a credit lease made a hold of its own), settled, released, expired (unsettled at their deadline)', ['outcome']);

/** One child per outcome, made once: the hold statements count without any label lookup. */
export const holdOutcomes = {
  placed: holds.labels('placed'),
  refused: holds.labels('refused'),
  settled: holds.labels('settled'),
  released: holds.labels('released'),
  expired: holds.labels('expired'),
  split: holds.labels('split'),
};

const leases = counter('gateway_leases_total', 'Credit leases by outcome: granted, refused (too small a share of the balance, debt), closed', ['outcome']);

export const leaseOutcomes = {
  granted: leases.labels('granted'),
  refused: leases.labels('refused'),
  closed: leases.labels('closed'),
};
