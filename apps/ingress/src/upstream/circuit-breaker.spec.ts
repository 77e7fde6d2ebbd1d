import type { RouteTarget } from '@gateway/contracts';
import { planFrom } from './circuit-breaker';

const t = (id: string): RouteTarget => ({ channel_id: id, provider: 'openai', base_url: 'http://x', api_key: '', upstream_model: 'm', priority: 0, weight: 1 });

describe('planFrom (what the breaker lets a call try)', () => {
  const [a, b, c] = [t('a'), t('b'), t('c')];

  it('leaves open channels out and keeps the order of the rest, a half-open one as its probe', () => {
    // [state, opened, failures] per target: 0 closed, 1 half-open (this call probes), 2 open
    const plan = planFrom([a, b, c], [2, 100, 0, 0, 0, 1, 1, 50, 0]);
    expect(plan.map((p) => [p.target.channel_id, p.state, p.failures])).toEqual([
      ['b', 'closed', 1],
      ['c', 'half_open', 0],
    ]);
  });

  it('with every channel open, forces the one opened longest ago rather than none', () => {
    const plan = planFrom([a, b, c], [2, 300, 0, 2, 100, 0, 2, 200, 0]);
    expect(plan.map((p) => [p.target.channel_id, p.state])).toEqual([['b', 'forced']]);
  });
});
