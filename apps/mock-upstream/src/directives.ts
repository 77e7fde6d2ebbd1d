// Knobs a test (or a curious user) sets from inside a prompt, since a client of the gateway cannot set
// the upstream's headers: [[mock:status=500]], [[mock:latency=200]], [[mock:fail_after=3]],
// [[mock:cached=10]], [[mock:reply=some text]], [[mock:chunk_delay=20]],
// [[mock:tool_args={"city":"Paris"}]] (a JSON object without `]`: the arguments of a forced tool call),
// [[mock:error_after=N]] (N stream pieces, then the provider's overloaded error event), [[mock:retry_after=S]] (a retry-after header on a forced status), [[mock:reasoning=N]] (N reasoning tokens spent before the answer, billed as output),
// [[mock:cache_write=N]] and [[mock:cache_write_hour=N]] (prompt tokens written to the cache, Anthropic).
// Async jobs (video, Midjourney, BFL) also read [[mock:duration_ms=1500]], [[mock:fail=1]],
// [[mock:submit_status=500]] and [[mock:flaky=2]] from their prompt; see jobs.ts.
export interface Directives {
  status?: number;
  latencyMs?: number;
  failAfterChunks?: number;
  cachedTokens?: number;
  reply?: string;
  chunkDelayMs?: number;
  toolArgs?: Record<string, unknown>;
  reasoningTokens?: number;
  /** a stream sends this many pieces, then the provider's own error event (overloaded) and ends */
  errorAfterChunks?: number;
  /** seconds for the retry-after header of a forced error status */
  retryAfter?: number;
  cacheWriteTokens?: number;
  cacheWrite1hTokens?: number;
  /** async jobs: time from submission to completion */
  durationMs?: number;
  /** async jobs: end in failure instead of success */
  fail?: boolean;
  /** async jobs: the submit call answers this HTTP status */
  submitStatus?: number;
  /** async jobs: the first N status polls answer 503 */
  flakyPolls?: number;
}

const PATTERN = /\[\[mock:([a-z_]+)=([^\]]*)\]\]/g;

export function parseDirectives(text: string): Directives {
  const d: Directives = {};
  for (const [, key, value] of text.matchAll(PATTERN)) {
    switch (key) {
      case 'status':
        d.status = Number(value);
        break;
      case 'latency':
        d.latencyMs = Number(value);
        break;
      case 'fail_after':
        d.failAfterChunks = Number(value);
        break;
      case 'cached':
        d.cachedTokens = Number(value);
        break;
      case 'reply':
        d.reply = value;
        break;
      case 'chunk_delay':
        d.chunkDelayMs = Number(value);
        break;
      case 'duration_ms':
        d.durationMs = Number(value);
        break;
      case 'fail':
        d.fail = value === '1' || value === 'true';
        break;
      case 'submit_status':
        d.submitStatus = Number(value);
        break;
      case 'error_after':
        d.errorAfterChunks = Number(value);
        break;
      case 'retry_after':
        d.retryAfter = Number(value);
        break;
      case 'reasoning':
        d.reasoningTokens = Number(value);
        break;
      case 'cache_write':
        d.cacheWriteTokens = Number(value);
        break;
      case 'cache_write_hour':
        d.cacheWrite1hTokens = Number(value);
        break;
      case 'flaky':
        d.flakyPolls = Number(value);
        break;
      case 'tool_args': {
        const args = parseJsonObject(value);
        if (args) d.toolArgs = args;
        break;
      }
    }
  }
  return d;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function stripDirectives(text: string): string {
  return text.replace(PATTERN, '').trim();
}

/** The mock's tokenizer: about four characters a token, at least one for any non-empty text. */
export function mockTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / 4);
}

/** The reply split into the pieces the stream sends; each piece counts as one output token. */
export function replyPieces(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [];
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
