// Money is integer micros (1 USD = 1,000,000). Prices per million tokens are micros too, so a token
// cost is tokens * price / 1e6 micros: computed exactly in bigint and rounded up once per call.

export interface Pricing {
  input_per_mtok_micros?: number;
  /** prompt tokens read from the upstream's cache; default: the input rate */
  cached_input_per_mtok_micros?: number;
  /** prompt tokens written to the upstream's cache with a 5-minute TTL; default: 1.25 x input */
  cache_write_per_mtok_micros?: number;
  /** prompt tokens written to the upstream's cache with a 1-hour TTL; default: 2 x input */
  cache_write_1h_per_mtok_micros?: number;
  output_per_mtok_micros?: number;
  /** one server-side web search (Anthropic's web_search tool, Gemini's grounding with Google Search); unset: refused */
  per_web_search_micros?: number;
  per_image_micros?: number;
  per_second_micros?: number;
  per_task_micros?: number;
}

export interface TokenUsage {
  /** every prompt token: uncached, cache reads and cache writes */
  input_tokens: number;
  /** the part of input_tokens the upstream served from its prompt cache */
  cached_input_tokens: number;
  /** the part of input_tokens written to the upstream's cache with a 5-minute TTL */
  cache_write_tokens?: number;
  /** the part of input_tokens written to the upstream's cache with a 1-hour TTL */
  cache_write_1h_tokens?: number;
  /** every generated token, reasoning / thinking included */
  output_tokens: number;
  /** the part of output_tokens the model spent reasoning */
  reasoning_tokens: number;
  /** server-side web searches the upstream ran (billed per search) */
  web_searches?: number;
}

const MTOK = 1_000_000n;

function ceilDiv(a: bigint, b: bigint): bigint {
  return a <= 0n ? 0n : (a + b - 1n) / b;
}

const big = (n: number | undefined): bigint => BigInt(n ?? 0);

/** The rates a token kind is billed at, with API.md's defaults for the cache rates a model leaves unset. */
export function tokenRates(p: Pricing): { input: bigint; cached: bigint; write5m: bigint; write1h: bigint; output: bigint; search: bigint } {
  const input = big(p.input_per_mtok_micros);
  return {
    input,
    cached: p.cached_input_per_mtok_micros !== undefined ? big(p.cached_input_per_mtok_micros) : input,
    // 1.25 x input per million tokens, kept exact: the division happens once, on the call's total
    write5m: p.cache_write_per_mtok_micros !== undefined ? big(p.cache_write_per_mtok_micros) * 4n : input * 5n,
    write1h: p.cache_write_1h_per_mtok_micros !== undefined ? big(p.cache_write_1h_per_mtok_micros) : input * 2n,
    output: big(p.output_per_mtok_micros),
    search: big(p.per_web_search_micros),
  };
}

/**
 * ceil((uncached*input + cached*cached_input + write5m*cache_write + write1h*cache_write_1h + output*output)
 * / 1e6) + searches*per_web_search, rounded up once. Cached and written tokens are parts of input_tokens;
 * reasoning tokens are part of output_tokens. The 5-minute write rate is carried x4 (its default, 1.25 x
 * input, is not whole), so the sum is divided by 4e6 with the rest multiplied by 4.
 */
export function tokenCostMicros(pricing: Pricing, usage: TokenUsage): number {
  const r = tokenRates(pricing);
  const input = BigInt(usage.input_tokens);
  const cached = minBig(BigInt(usage.cached_input_tokens), input);
  const w5 = minBig(BigInt(usage.cache_write_tokens ?? 0), input - cached);
  const w1 = minBig(BigInt(usage.cache_write_1h_tokens ?? 0), input - cached - w5);
  const uncached = input - cached - w5 - w1;
  const quarters = 4n * (uncached * r.input + cached * r.cached + w1 * r.write1h + BigInt(usage.output_tokens) * r.output) + w5 * r.write5m;
  return toSafeNumber(ceilDiv(quarters, 4n * MTOK) + BigInt(usage.web_searches ?? 0) * r.search);
}

/** What prompt caching saved: the cache reads priced at the input rate, less what they were billed. */
export function cacheSavingsMicros(pricing: Pricing, usage: TokenUsage): number {
  if (!usage.cached_input_tokens) return 0;
  const plain = tokenCostMicros(pricing, { ...usage, cached_input_tokens: 0 });
  return Math.max(0, plain - tokenCostMicros(pricing, usage));
}

const minBig = (a: bigint, b: bigint) => (a < b ? a : b);

/**
 * What a call may cost at most: output at its bound, and every input token at the dearest rate it may be
 * billed at: plain input, or the cache-write rate (`cacheWrites`: 5m or 1h) when the request asks the
 * upstream to cache its prompt.
 */
export function tokenEstimateMicros(pricing: Pricing, inputTokens: number, maxOutputTokens: number, cacheWrites?: '5m' | '1h'): number {
  const plain = { input_tokens: inputTokens, cached_input_tokens: 0, output_tokens: maxOutputTokens, reasoning_tokens: 0 };
  const estimate = tokenCostMicros(pricing, plain);
  if (!cacheWrites) return estimate;
  // a 1-hour request may still write some of its prompt for 5 minutes: the dearer of the two
  const w5 = tokenCostMicros(pricing, { ...plain, cache_write_tokens: inputTokens });
  const w1 = cacheWrites === '1h' ? tokenCostMicros(pricing, { ...plain, cache_write_1h_tokens: inputTokens }) : 0;
  return Math.max(estimate, w5, w1);
}

export function toSafeNumber(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`amount ${v} exceeds the safe integer range`);
  return Number(v);
}

export function formatUsd(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(micros);
  return `${sign}$${Math.floor(abs / 1_000_000)}.${String(abs % 1_000_000).padStart(6, '0')}`;
}

/** per_image × images. */
export function imageCostMicros(pricing: Pricing, images: number): number {
  return toSafeNumber(big(pricing.per_image_micros) * BigInt(images));
}

/** per_second × seconds, on milliseconds so a fraction of a second is billed as a fraction, rounded up once. */
export function secondsCostMicros(pricing: Pricing, milliseconds: number): number {
  return toSafeNumber(ceilDiv(big(pricing.per_second_micros) * BigInt(Math.ceil(milliseconds)), 1000n));
}
