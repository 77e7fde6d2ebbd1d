
-- CreateEnum
CREATE TYPE "hold_state" AS ENUM ('active', 'settled', 'released', 'expired');

-- CreateEnum
CREATE TYPE "hold_kind" AS ENUM ('call', 'task');

-- CreateEnum
CREATE TYPE "ledger_kind" AS ENUM ('topup', 'charge', 'debt_payment');

-- CreateEnum
CREATE TYPE "model_kind" AS ENUM ('chat', 'embedding', 'image', 'speech', 'transcription', 'video', 'mj');

-- CreateEnum
CREATE TYPE "task_status" AS ENUM ('queued', 'running', 'succeeded', 'failed', 'cancelled');

-- CreateTable
CREATE TABLE "accounts" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "balance_micros" BIGINT NOT NULL DEFAULT 0,
    "held_micros" BIGINT NOT NULL DEFAULT 0,
    "debt_micros" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "accounts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "key_hash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "models" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "rpm" INTEGER,
    "tpm" INTEGER,
    "expires_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "holds" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "key_id" TEXT,
    "request_id" TEXT,
    "kind" "hold_kind" NOT NULL DEFAULT 'call',
    "model" TEXT,
    "amount_micros" BIGINT NOT NULL,
    "settled_micros" BIGINT NOT NULL DEFAULT 0,
    "overage_micros" BIGINT NOT NULL DEFAULT 0,
    "debt_micros" BIGINT NOT NULL DEFAULT 0,
    "state" "hold_state" NOT NULL DEFAULT 'active',
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolved_at" TIMESTAMPTZ(3),

    CONSTRAINT "holds_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "hold_events" (
    "id" BIGSERIAL NOT NULL,
    "hold_id" TEXT NOT NULL,
    "state" "hold_state" NOT NULL,
    "amount_micros" BIGINT NOT NULL,
    "reason" TEXT,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "hold_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_entries" (
    "id" BIGSERIAL NOT NULL,
    "account_id" TEXT NOT NULL,
    "kind" "ledger_kind" NOT NULL,
    "amount_micros" BIGINT NOT NULL,
    "balance_after_micros" BIGINT NOT NULL,
    "hold_id" TEXT,
    "topup_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_entries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "topups" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "amount_micros" BIGINT NOT NULL,
    "reference" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "topups_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "usage_records" (
    "id" BIGSERIAL NOT NULL,
    "request_id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "key_id" TEXT,
    "hold_id" TEXT,
    "model" TEXT NOT NULL,
    "channel_id" TEXT,
    "input_tokens" INTEGER NOT NULL DEFAULT 0,
    "cached_input_tokens" INTEGER NOT NULL DEFAULT 0,
    "output_tokens" INTEGER NOT NULL DEFAULT 0,
    "reasoning_tokens" INTEGER NOT NULL DEFAULT 0,
    "units" JSONB,
    "cost_micros" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "usage_records_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "models" (
    "id" TEXT NOT NULL,
    "kind" "model_kind" NOT NULL,
    "aliases" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "input_per_mtok_micros" BIGINT,
    "cached_input_per_mtok_micros" BIGINT,
    "output_per_mtok_micros" BIGINT,
    "per_image_micros" BIGINT,
    "per_second_micros" BIGINT,
    "per_task_micros" BIGINT,
    "limits" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "models_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "channels" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "base_url" TEXT NOT NULL,
    "api_key" TEXT NOT NULL,
    "models" JSONB NOT NULL DEFAULT '{}',
    "priority" INTEGER NOT NULL DEFAULT 0,
    "weight" INTEGER NOT NULL DEFAULT 1,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "channels_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tasks" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "key_id" TEXT,
    "type" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "status" "task_status" NOT NULL DEFAULT 'queued',
    "progress" INTEGER NOT NULL DEFAULT 0,
    "input" JSONB NOT NULL,
    "result" JSONB,
    "error" JSONB,
    "cost_micros" BIGINT NOT NULL DEFAULT 0,
    "hold_id" TEXT,
    "channel_id" TEXT,
    "upstream_id" TEXT,
    "deadline_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tasks_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "task_events" (
    "id" BIGSERIAL NOT NULL,
    "task_id" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "data" JSONB NOT NULL DEFAULT '{}',
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "task_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"("key_hash");

-- CreateIndex
CREATE INDEX "api_keys_account_id_idx" ON "api_keys"("account_id");

-- CreateIndex
CREATE INDEX "holds_state_expires_at_idx" ON "holds"("state", "expires_at");

-- CreateIndex
CREATE INDEX "holds_account_id_created_at_idx" ON "holds"("account_id", "created_at");

-- CreateIndex
CREATE INDEX "hold_events_hold_id_idx" ON "hold_events"("hold_id");

-- CreateIndex
CREATE UNIQUE INDEX "ledger_entries_hold_id_key" ON "ledger_entries"("hold_id");

-- CreateIndex
CREATE INDEX "ledger_entries_account_id_created_at_idx" ON "ledger_entries"("account_id", "created_at");

-- CreateIndex
CREATE INDEX "ledger_entries_created_at_idx" ON "ledger_entries"("created_at");

-- CreateIndex
CREATE UNIQUE INDEX "topups_account_id_reference_key" ON "topups"("account_id", "reference");

-- CreateIndex
CREATE UNIQUE INDEX "usage_records_request_id_key" ON "usage_records"("request_id");

-- CreateIndex
CREATE INDEX "usage_records_account_id_created_at_idx" ON "usage_records"("account_id", "created_at");

-- CreateIndex
CREATE INDEX "tasks_account_id_created_at_idx" ON "tasks"("account_id", "created_at");

-- CreateIndex
CREATE INDEX "tasks_status_idx" ON "tasks"("status");

-- CreateIndex
CREATE UNIQUE INDEX "task_events_task_id_seq_key" ON "task_events"("task_id", "seq");

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "holds" ADD CONSTRAINT "holds_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "hold_events" ADD CONSTRAINT "hold_events_hold_id_fkey" FOREIGN KEY ("hold_id") REFERENCES "holds"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "topups" ADD CONSTRAINT "topups_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "task_events" ADD CONSTRAINT "task_events_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "tasks"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


-- ---------------------------------------------------------------------------------------------
-- Money invariants the database itself enforces, whatever the caller does.
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_held_nonnegative" CHECK (held_micros >= 0);
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_available_nonnegative" CHECK (balance_micros - held_micros >= 0);
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_debt_nonnegative" CHECK (debt_micros >= 0);
ALTER TABLE "holds" ADD CONSTRAINT "holds_amounts_nonnegative"
  CHECK (amount_micros >= 0 AND settled_micros >= 0 AND settled_micros <= amount_micros AND overage_micros >= 0 AND debt_micros >= 0);
ALTER TABLE "topups" ADD CONSTRAINT "topups_amount_positive" CHECK (amount_micros > 0);

-- Each money movement is one function: one round trip, row locks taken in one order
-- (hold, then account), no read-then-write in the application.

-- Place a hold: succeeds only if the account's available balance covers it and it has no debt.
-- status: ok | insufficient_balance | account_debt | account_not_found
CREATE FUNCTION gw_place_hold(p_id text, p_account text, p_key text, p_request text, p_kind hold_kind,
                              p_model text, p_amount bigint, p_ttl_ms bigint)
RETURNS TABLE(status text, expires_at timestamptz, available_micros bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_avail bigint;
  v_debt bigint;
  v_expires timestamptz := now() + make_interval(secs => p_ttl_ms / 1000.0);
BEGIN
  IF p_amount < 0 THEN
    RAISE EXCEPTION 'hold amount must be >= 0, got %', p_amount;
  END IF;
  UPDATE accounts a SET held_micros = a.held_micros + p_amount, updated_at = now()
   WHERE a.id = p_account AND a.debt_micros = 0 AND a.balance_micros - a.held_micros >= p_amount
  RETURNING a.balance_micros - a.held_micros INTO v_avail;
  IF NOT FOUND THEN
    SELECT a.balance_micros - a.held_micros, a.debt_micros INTO v_avail, v_debt FROM accounts a WHERE a.id = p_account;
    IF NOT FOUND THEN
      RETURN QUERY SELECT 'account_not_found'::text, NULL::timestamptz, 0::bigint;
    ELSIF v_debt > 0 THEN
      RETURN QUERY SELECT 'account_debt'::text, NULL::timestamptz, v_avail;
    ELSE
      RETURN QUERY SELECT 'insufficient_balance'::text, NULL::timestamptz, v_avail;
    END IF;
    RETURN;
  END IF;
  INSERT INTO holds (id, account_id, key_id, request_id, kind, model, amount_micros, state, expires_at)
  VALUES (p_id, p_account, p_key, p_request, p_kind, p_model, p_amount, 'active', v_expires);
  INSERT INTO hold_events (hold_id, state, amount_micros) VALUES (p_id, 'active', p_amount);
  RETURN QUERY SELECT 'ok'::text, v_expires, v_avail;
END $$;

-- Settle a hold for its final cost. Up to the hold is charged from it; an overage is charged while the
-- account's available balance covers it, and the rest is recorded as debt (which blocks new holds).
-- A second settle (or a settle after release/expiry) changes nothing and reports the first outcome.
-- status: ok | already_settled | already_released | already_expired | hold_not_found
CREATE FUNCTION gw_settle_hold(p_id text, p_cost bigint)
RETURNS TABLE(status text, charged_micros bigint, released_micros bigint, debt_micros bigint, balance_micros bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_account text;
  v_amount bigint;
  v_avail bigint;
  v_charge bigint;
  v_debt bigint;
  v_balance bigint;
  v_state hold_state;
BEGIN
  IF p_cost < 0 THEN
    RAISE EXCEPTION 'cost must be >= 0, got %', p_cost;
  END IF;
  UPDATE holds h SET state = 'settled', resolved_at = now()
   WHERE h.id = p_id AND h.state = 'active'
  RETURNING h.account_id, h.amount_micros INTO v_account, v_amount;
  IF NOT FOUND THEN
    SELECT h.state, h.settled_micros + h.overage_micros INTO v_state, v_charge FROM holds h WHERE h.id = p_id;
    IF NOT FOUND THEN
      RETURN QUERY SELECT 'hold_not_found'::text, 0::bigint, 0::bigint, 0::bigint, 0::bigint;
    ELSE
      RETURN QUERY SELECT ('already_' || v_state::text), v_charge, 0::bigint, 0::bigint, 0::bigint;
    END IF;
    RETURN;
  END IF;
  SELECT a.balance_micros - a.held_micros + v_amount INTO v_avail FROM accounts a WHERE a.id = v_account FOR UPDATE;
  v_charge := LEAST(p_cost, v_avail);
  v_debt := p_cost - v_charge;
  UPDATE accounts a SET held_micros = a.held_micros - v_amount,
                        balance_micros = a.balance_micros - v_charge,
                        debt_micros = a.debt_micros + v_debt,
                        updated_at = now()
   WHERE a.id = v_account
  RETURNING a.balance_micros INTO v_balance;
  UPDATE holds h SET settled_micros = LEAST(v_charge, v_amount),
                     overage_micros = v_charge - LEAST(v_charge, v_amount),
                     debt_micros = v_debt
   WHERE h.id = p_id;
  IF v_charge > 0 THEN
    INSERT INTO ledger_entries (account_id, kind, amount_micros, balance_after_micros, hold_id)
    VALUES (v_account, 'charge', -v_charge, v_balance, p_id);
  END IF;
  INSERT INTO hold_events (hold_id, state, amount_micros) VALUES (p_id, 'settled', v_charge);
  RETURN QUERY SELECT 'ok'::text, v_charge, GREATEST(v_amount - v_charge, 0), v_debt, v_balance;
END $$;

-- Release (or expire) a hold without charging.
-- status: ok | already_settled | already_released | already_expired | hold_not_found
CREATE FUNCTION gw_release_hold(p_id text, p_state hold_state, p_reason text)
RETURNS TABLE(status text, released_micros bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_account text;
  v_amount bigint;
  v_state hold_state;
BEGIN
  IF p_state NOT IN ('released', 'expired') THEN
    RAISE EXCEPTION 'release target state must be released or expired, got %', p_state;
  END IF;
  UPDATE holds h SET state = p_state, resolved_at = now()
   WHERE h.id = p_id AND h.state = 'active'
  RETURNING h.account_id, h.amount_micros INTO v_account, v_amount;
  IF NOT FOUND THEN
    SELECT h.state INTO v_state FROM holds h WHERE h.id = p_id;
    IF NOT FOUND THEN
      RETURN QUERY SELECT 'hold_not_found'::text, 0::bigint;
    ELSE
      RETURN QUERY SELECT ('already_' || v_state::text), 0::bigint;
    END IF;
    RETURN;
  END IF;
  UPDATE accounts a SET held_micros = a.held_micros - v_amount, updated_at = now() WHERE a.id = v_account;
  INSERT INTO hold_events (hold_id, state, amount_micros, reason) VALUES (p_id, p_state, v_amount, p_reason);
  RETURN QUERY SELECT 'ok'::text, v_amount;
END $$;

-- Expire call holds past their deadline (database clock). SKIP LOCKED lets several sweepers run at once;
-- the state guard in gw_release_hold makes each hold resolve exactly once either way.
CREATE FUNCTION gw_expire_holds(p_limit integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_id text;
  v_count integer := 0;
  v_status text;
BEGIN
  FOR v_id IN
    SELECT h.id FROM holds h
     WHERE h.state = 'active' AND h.kind = 'call' AND h.expires_at < now()
     ORDER BY h.expires_at
     LIMIT p_limit
     FOR UPDATE SKIP LOCKED
  LOOP
    SELECT r.status INTO v_status FROM gw_release_hold(v_id, 'expired', 'deadline passed') r;
    IF v_status = 'ok' THEN
      v_count := v_count + 1;
    END IF;
  END LOOP;
  RETURN v_count;
END $$;

-- Credit an account, idempotent on (account, reference). Outstanding debt is paid first.
-- status: ok | duplicate | account_not_found
CREATE FUNCTION gw_topup(p_id text, p_account text, p_amount bigint, p_reference text)
RETURNS TABLE(status text, topup_id text, balance_micros bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_balance bigint;
  v_debt bigint;
  v_paid bigint;
  v_existing text;
BEGIN
  IF p_amount <= 0 THEN
    RAISE EXCEPTION 'top-up amount must be > 0, got %', p_amount;
  END IF;
  PERFORM 1 FROM accounts a WHERE a.id = p_account FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'account_not_found'::text, NULL::text, 0::bigint;
    RETURN;
  END IF;
  INSERT INTO topups (id, account_id, amount_micros, reference) VALUES (p_id, p_account, p_amount, p_reference)
  ON CONFLICT (account_id, reference) DO NOTHING;
  IF NOT FOUND THEN
    SELECT t.id INTO v_existing FROM topups t WHERE t.account_id = p_account AND t.reference = p_reference;
    RETURN QUERY SELECT 'duplicate'::text, v_existing, (SELECT a.balance_micros FROM accounts a WHERE a.id = p_account);
    RETURN;
  END IF;
  UPDATE accounts a SET balance_micros = a.balance_micros + p_amount, updated_at = now()
   WHERE a.id = p_account RETURNING a.balance_micros, a.debt_micros INTO v_balance, v_debt;
  INSERT INTO ledger_entries (account_id, kind, amount_micros, balance_after_micros, topup_id)
  VALUES (p_account, 'topup', p_amount, v_balance, p_id);
  IF v_debt > 0 THEN
    -- available (balance - held) bounds what can pay the debt without breaking the available >= 0 rule
    SELECT LEAST(v_debt, a.balance_micros - a.held_micros) INTO v_paid FROM accounts a WHERE a.id = p_account;
    IF v_paid > 0 THEN
      UPDATE accounts a SET balance_micros = a.balance_micros - v_paid, debt_micros = a.debt_micros - v_paid
       WHERE a.id = p_account RETURNING a.balance_micros INTO v_balance;
      INSERT INTO ledger_entries (account_id, kind, amount_micros, balance_after_micros, topup_id)
      VALUES (p_account, 'debt_payment', -v_paid, v_balance, p_id);
    END IF;
  END IF;
  RETURN QUERY SELECT 'ok'::text, p_id, v_balance;
END $$;
