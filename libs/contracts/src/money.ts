// Money is integer micros (1 USD = 1,000,000). Prices per million tokens are micros too, so a token
// cost is tokens * price / 1e6 micros: computed exactly in bigint and rounded up once per call.

export interface Pricing {
  input_per_mtok_micros?: number;
  cached_input_per_mtok_micros?: number;
  output_per_mtok_micros?: number;
  per_image_micros?: number;
  per_second_micros?: number;
  per_task_micros?: number;
}

export interface TokenUsage {
  input_tokens: number;
  /** the part of input_tokens the upstream served from its prompt cache */
  cached_input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
}

const MTOK = 1_000_000n;

function ceilDiv(a: bigint, b: bigint): bigint {
  return a <= 0n ? 0n : (a + b - 1n) / b;
}

const big = (n: number | undefined): bigint => BigInt(n ?? 0);

/**
 * ceil((uncached_input*input + cached*cached_input + output*output) / 1e6). Cached tokens are billed at the
 * cached rate when the model has one, else at the input rate. Reasoning tokens are part of output_tokens.
 */
export function tokenCostMicros(pricing: Pricing, usage: TokenUsage): number {
  const cached = BigInt(Math.min(usage.cached_input_tokens, usage.input_tokens));
  const uncached = BigInt(usage.input_tokens) - cached;
  const cachedRate = pricing.cached_input_per_mtok_micros ?? pricing.input_per_mtok_micros;
  const total =
    uncached * big(pricing.input_per_mtok_micros) +
    cached * big(cachedRate) +
    BigInt(usage.output_tokens) * big(pricing.output_per_mtok_micros);
  return toSafeNumber(ceilDiv(total, MTOK));
}

/** What a call may cost at most: every input token uncached, output at its bound. */
export function tokenEstimateMicros(pricing: Pricing, inputTokens: number, maxOutputTokens: number): number {
  return tokenCostMicros(pricing, {
    input_tokens: inputTokens,
    cached_input_tokens: 0,
    output_tokens: maxOutputTokens,
    reasoning_tokens: 0,
  });
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
