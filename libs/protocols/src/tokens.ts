/**
 * A local upper-bound estimate of prompt tokens, for the hold only (the charge uses the upstream's count).
 * One token per 3 UTF-8 bytes over-counts English (about 4 chars a token) and matches CJK (one token a
 * 3-byte char), plus the chat format's per-message overhead.
 */
export function estimateTokens(texts: string[]): number {
  let n = 3;
  for (const t of texts) n += Math.ceil(Buffer.byteLength(t, 'utf8') / 3) + 4;
  return n;
}

/** A local count of generated text, used only when the upstream reports no usage (e.g. a cut stream). */
export function countOutputTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(Buffer.byteLength(text, 'utf8') / 4);
}

/** A typical (not upper-bound) count for count-tokens endpoints served without the provider's tokenizer. */
export function approxTokens(texts: string[]): number {
  let n = 3;
  for (const t of texts) n += Math.ceil(t.length / 4) + 4;
  return n;
}
