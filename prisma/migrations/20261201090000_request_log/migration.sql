-- The request log: one row per authenticated call as ingress answered it (status, latency, cache,
-- tokens, cost), written by ingress in batches after each response closes. It is an operations record,
-- not money: the charge and its usage record are written by billing in the settle's transaction.
CREATE TABLE "request_log" (
    "request_id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "key_id" TEXT,
    "method" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "model" TEXT,
    "status" INTEGER NOT NULL,
    "error_code" TEXT,
    "latency_ms" INTEGER NOT NULL,
    "stream" BOOLEAN NOT NULL DEFAULT false,
    "cache" TEXT,
    "channel_id" TEXT,
    "input_tokens" INTEGER NOT NULL DEFAULT 0,
    "output_tokens" INTEGER NOT NULL DEFAULT 0,
    "cost_micros" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "request_log_pkey" PRIMARY KEY ("request_id")
);

CREATE INDEX "request_log_account_id_created_at_idx" ON "request_log"("account_id", "created_at");
CREATE INDEX "request_log_created_at_idx" ON "request_log"("created_at");
CREATE INDEX "request_log_channel_id_created_at_idx" ON "request_log"("channel_id", "created_at");
