-- Prompt-cache writes are priced apart from plain input (Anthropic bills a 5-minute write at 1.25x input
-- and a 1-hour write at 2x); a priced server-side web search (Anthropic's web_search tool, Gemini's
-- grounding with Google Search) is billed per search. The usage record keeps the counts it was billed on.
ALTER TABLE "models" ADD COLUMN "cache_write_per_mtok_micros" BIGINT,
                     ADD COLUMN "cache_write_1h_per_mtok_micros" BIGINT,
                     ADD COLUMN "per_web_search_micros" BIGINT;

ALTER TABLE "usage_records" ADD COLUMN "cache_write_tokens" INTEGER NOT NULL DEFAULT 0,
                            ADD COLUMN "cache_write_1h_tokens" INTEGER NOT NULL DEFAULT 0,
                            ADD COLUMN "web_searches" INTEGER NOT NULL DEFAULT 0;
