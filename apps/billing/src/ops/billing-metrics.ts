import { counter } from '@gateway/ops';

const holds = counter('gateway_holds_total', 'Holds by outcome: placed, refused (balance, budget, account), settled, released, expired (unsettled at their deadline)', ['outcome']);

/** One child per outcome, made once: the hold statements count without any label lookup. */
export const holdOutcomes = {
  placed: holds.labels('placed'),
  refused: holds.labels('refused'),
  settled: holds.labels('settled'),
  released: holds.labels('released'),
  expired: holds.labels('expired'),
};
