import { cacheSavingsMicros, formatUsd, tokenCostMicros, tokenEstimateMicros } from './money';

describe('tokenCostMicros', () => {
  const pricing = { input_per_mtok_micros: 150_000, cached_input_per_mtok_micros: 75_000, output_per_mtok_micros: 600_000 };

  it('charges per million tokens and rounds up once per call', () => {
    // 10 * 0.15 + 9 * 0.6 = 6.9 micros -> 7
    expect(tokenCostMicros(pricing, { input_tokens: 10, cached_input_tokens: 0, output_tokens: 9, reasoning_tokens: 0 })).toBe(7);
    // exactly whole: 1M input tokens at 150000 per M
    expect(tokenCostMicros(pricing, { input_tokens: 1_000_000, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0 })).toBe(150_000);
  });

  it('bills cached prompt tokens at the cached rate, the rest at the input rate', () => {
    // 600 uncached * 0.15 + 400 cached * 0.075 = 90 + 30 = 120
    expect(tokenCostMicros(pricing, { input_tokens: 1000, cached_input_tokens: 400, output_tokens: 0, reasoning_tokens: 0 })).toBe(120);
  });

  it('falls back to the input rate for cached tokens when the model has no cached price', () => {
    const p = { input_per_mtok_micros: 1_000_000, output_per_mtok_micros: 0 };
    expect(tokenCostMicros(p, { input_tokens: 3, cached_input_tokens: 3, output_tokens: 0, reasoning_tokens: 0 })).toBe(3);
  });

  it('is zero for no usage and never rounds a zero up', () => {
    expect(tokenCostMicros(pricing, { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0 })).toBe(0);
  });

  it('stays exact beyond floating point precision', () => {
    // 2^53 + 1 would be lost in a double; bigint keeps the last micro
    const p = { input_per_mtok_micros: 1_000_000 };
    const n = 9_007_199_254_740;
    expect(tokenCostMicros(p, { input_tokens: n, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0 })).toBe(n);
    expect(() => tokenCostMicros({ input_per_mtok_micros: 1e15 }, { input_tokens: 1e9, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0 })).toThrow(RangeError);
  });

  it('estimates the worst case: all input uncached, output at its bound', () => {
    expect(tokenEstimateMicros(pricing, 100, 1000)).toBe(Math.ceil((100 * 150_000 + 1000 * 600_000) / 1e6));
  });
});

describe('formatUsd', () => {
  it('prints micros as dollars without floating point', () => {
    expect(formatUsd(10_000_000)).toBe('$10.000000');
    expect(formatUsd(7)).toBe('$0.000007');
  });
});

describe('cache writes, web searches and savings', () => {
  const p = { input_per_mtok_micros: 3_000_000, cached_input_per_mtok_micros: 300_000, output_per_mtok_micros: 15_000_000 };

  it('prices 5-minute writes at 1.25 x input and 1-hour writes at 2 x input when the model leaves them unset', () => {
    // 1000 plain: 3000; 1000 written for 5 min: 3750; 1000 written for 1 h: 6000; 1000 read: 300
    const u = { input_tokens: 4000, cached_input_tokens: 1000, cache_write_tokens: 1000, cache_write_1h_tokens: 1000, output_tokens: 0, reasoning_tokens: 0 };
    expect(tokenCostMicros(p, u)).toBe(3000 + 3750 + 6000 + 300);
  });

  it('uses the model own write rates when set, and rounds the call once', () => {
    const own = { ...p, cache_write_per_mtok_micros: 3_333_333, cache_write_1h_per_mtok_micros: 5_000_001 };
    const u = { input_tokens: 3, cached_input_tokens: 0, cache_write_tokens: 1, cache_write_1h_tokens: 1, output_tokens: 0, reasoning_tokens: 0 };
    // (3_000_000 + 3_333_333 + 5_000_001) / 1e6 = 11.333334 -> 12
    expect(tokenCostMicros(own, u)).toBe(12);
  });

  it('bills web searches per search on top of tokens', () => {
    expect(tokenCostMicros({ ...p, per_web_search_micros: 10_000 }, { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0, web_searches: 3 })).toBe(30_000);
  });

  it('reports what cache reads saved against the input rate', () => {
    const u = { input_tokens: 2000, cached_input_tokens: 1000, output_tokens: 10, reasoning_tokens: 0 };
    expect(cacheSavingsMicros(p, u)).toBe(3000 - 300);
    expect(cacheSavingsMicros(p, { ...u, cached_input_tokens: 0 })).toBe(0);
  });

  it('estimates a request that asks for caching at the dearest write rate', () => {
    expect(tokenEstimateMicros(p, 1000, 0)).toBe(3000);
    expect(tokenEstimateMicros(p, 1000, 0, '5m')).toBe(3750);
    expect(tokenEstimateMicros(p, 1000, 0, '1h')).toBe(6000);
  });
});
