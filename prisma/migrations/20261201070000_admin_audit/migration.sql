-- An audit log of admin changes (top-ups, keys, models, channels), written by billing.
-- CreateTable
CREATE TABLE "admin_audit" (
    "id" BIGSERIAL NOT NULL,
    "role" TEXT NOT NULL,
    "actor" TEXT,
    "action" TEXT NOT NULL,
    "target_type" TEXT NOT NULL,
    "target_id" TEXT NOT NULL,
    "details" JSONB NOT NULL,
    "request_id" TEXT,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "admin_audit_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "admin_audit_target_type_target_id_at_idx" ON "admin_audit"("target_type", "target_id", "at");

-- CreateIndex
CREATE INDEX "admin_audit_at_idx" ON "admin_audit"("at");
