import type { RouteTarget } from '@gateway/contracts';
import { orderTargets } from './upstream.client';

const t = (id: string, priority: number, weight: number): RouteTarget => ({
  channel_id: id,
  provider: 'openai',
  base_url: 'http://x',
  api_key: '',
  upstream_model: 'm',
  priority,
  weight,
});

describe('orderTargets', () => {
  it('tries higher priority first, whatever the weights', () => {
    const order = orderTargets([t('low', 0, 100), t('high', 10, 1)]);
    expect(order.map((x) => x.channel_id)).toEqual(['high', 'low']);
  });

  it('spreads first picks within a priority by weight', () => {
    const targets = [t('a', 0, 3), t('b', 0, 1)];
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const firsts = { a: 0, b: 0 } as Record<string, number>;
    for (let i = 0; i < 4000; i++) firsts[orderTargets(targets, random)[0].channel_id]++;
    expect(firsts.a / 4000).toBeGreaterThan(0.7);
    expect(firsts.a / 4000).toBeLessThan(0.8);
  });

  it('gives one channel, or none, back as it is, whatever its weight, without drawing a random number', () => {
    const random = jest.fn(() => 0.5);
    const one = [t('only', 3, 5)];
    expect(orderTargets(one, random)).toEqual([t('only', 3, 5)]);
    expect(orderTargets([], random)).toEqual([]);
    expect(random).not.toHaveBeenCalled();
  });

  it('keeps every target exactly once, zero weights last in their group', () => {
    const order = orderTargets([t('z', 0, 0), t('a', 0, 5), t('b', 0, 5)], () => 0.99);
    expect(order.map((x) => x.channel_id).sort()).toEqual(['a', 'b', 'z']);
    expect(order[2].channel_id).toBe('z');
  });
});
