-- Console money (issue 12): refunds and adjustments, who moved money and why, and the price each call was
-- charged at.
--
-- 1. The ledger gains the kinds `refund` (a credit for a call or a complaint) and `adjustment` (signed: a
--    correction either way), and every entry may say its `reference`, `reason`, `actor` (X-TT-Actor or the
--    admin role) and, for a refund, the `request_id` it refunds. Refunds and adjustments are idempotent on
--    (account, kind, reference), as top-ups are on (account, reference): a repeat returns the first entry.
-- 2. model_prices keeps every pricing a model ever had (one row on creation and on each price change),
--    written by a trigger on models, with the actor the models service put in `gateway.actor` for its
--    transaction. models.price_id is the current row; usage_records.price_id the row a call was priced at.

-- AlterEnum (the new values are used only inside function bodies below, never in this transaction)
ALTER TYPE "ledger_kind" ADD VALUE 'refund';
ALTER TYPE "ledger_kind" ADD VALUE 'adjustment';

-- AlterTable
ALTER TABLE "ledger_entries" ADD COLUMN "reference" TEXT,
                             ADD COLUMN "reason" TEXT,
                             ADD COLUMN "actor" TEXT,
                             ADD COLUMN "request_id" TEXT;

-- the top-up entries of before say their top-up's reference
UPDATE "ledger_entries" l SET "reference" = t."reference"
  FROM "topups" t
 WHERE l."topup_id" = t."id" AND l."kind" = 'topup';

-- CreateIndex: one entry per (account, kind, reference); charges and debt payments carry no reference
CREATE UNIQUE INDEX "ledger_entries_account_id_kind_reference_key" ON "ledger_entries"("account_id", "kind", "reference");

-- AlterTable
ALTER TABLE "usage_records" ADD COLUMN "price_id" BIGINT;

-- AlterTable
ALTER TABLE "models" ADD COLUMN "price_id" BIGINT;

-- CreateTable
CREATE TABLE "model_prices" (
    "id" BIGSERIAL NOT NULL,
    "model_id" TEXT NOT NULL,
    "pricing" JSONB NOT NULL,
    "changed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT,

    CONSTRAINT "model_prices_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "model_prices_model_id_id_idx" ON "model_prices"("model_id", "id");

-- ---------------------------------------------------------------------------------------------
-- A model's price fields as the API names them (micros numbers), the unset ones left out.
CREATE FUNCTION gw_model_pricing(m models)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'input_per_mtok_micros', m.input_per_mtok_micros,
    'cached_input_per_mtok_micros', m.cached_input_per_mtok_micros,
    'cache_write_per_mtok_micros', m.cache_write_per_mtok_micros,
    'cache_write_1h_per_mtok_micros', m.cache_write_1h_per_mtok_micros,
    'output_per_mtok_micros', m.output_per_mtok_micros,
    'per_web_search_micros', m.per_web_search_micros,
    'per_image_micros', m.per_image_micros,
    'per_second_micros', m.per_second_micros,
    'per_task_micros', m.per_task_micros))
$$;

-- Backfill: the pricing every existing model has now, as of its last change.
INSERT INTO "model_prices" ("model_id", "pricing", "changed_at", "actor")
SELECT m."id", gw_model_pricing(m), m."updated_at", NULL FROM "models" m ORDER BY m."id";
UPDATE "models" m SET "price_id" = p."id" FROM "model_prices" p WHERE p."model_id" = m."id";

-- On a model's creation, and on an update that changes a price column: one model_prices row, whose id
-- the model row keeps (so a model read and its price id are always one consistent row).
CREATE FUNCTION gw_model_price_history()
RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_pricing jsonb := gw_model_pricing(NEW);
BEGIN
  IF TG_OP = 'UPDATE' AND v_pricing = gw_model_pricing(OLD) AND OLD.price_id IS NOT NULL THEN
    NEW.price_id := OLD.price_id;
    RETURN NEW;
  END IF;
  INSERT INTO model_prices (model_id, pricing, actor)
  VALUES (NEW.id, v_pricing, NULLIF(current_setting('gateway.actor', true), ''))
  RETURNING id INTO NEW.price_id;
  RETURN NEW;
END $$;

CREATE TRIGGER "models_price_history" BEFORE INSERT OR UPDATE ON "models"
  FOR EACH ROW EXECUTE FUNCTION gw_model_price_history();

-- ---------------------------------------------------------------------------------------------
-- Credit an account, idempotent on (account, reference). Outstanding debt is paid first. The entries say
-- the top-up's reference, and the reason and actor given.
-- status: ok | duplicate | account_not_found
DROP FUNCTION gw_topup(text, text, bigint, text);
CREATE FUNCTION gw_topup(p_id text, p_account text, p_amount bigint, p_reference text,
                         p_reason text DEFAULT NULL, p_actor text DEFAULT NULL)
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
  INSERT INTO ledger_entries (account_id, kind, amount_micros, balance_after_micros, topup_id, reference, reason, actor)
  VALUES (p_account, 'topup', p_amount, v_balance, p_id, p_reference, p_reason, p_actor);
  IF v_debt > 0 THEN
    -- available (balance - held) bounds what can pay the debt without breaking the available >= 0 rule
    SELECT LEAST(v_debt, a.balance_micros - a.held_micros) INTO v_paid FROM accounts a WHERE a.id = p_account;
    IF v_paid > 0 THEN
      UPDATE accounts a SET balance_micros = a.balance_micros - v_paid, debt_micros = a.debt_micros - v_paid
       WHERE a.id = p_account RETURNING a.balance_micros INTO v_balance;
      INSERT INTO ledger_entries (account_id, kind, amount_micros, balance_after_micros, topup_id, reason, actor)
      VALUES (p_account, 'debt_payment', -v_paid, v_balance, p_id, 'debt paid by top-up ' || p_reference, p_actor);
    END IF;
  END IF;
  RETURN QUERY SELECT 'ok'::text, p_id, v_balance;
END $$;

-- A refund (amount > 0) or an adjustment (amount <> 0, signed), idempotent on (account, kind, reference):
-- a repeat answers the first entry and moves nothing. A debit is refused when it is larger than the
-- available balance (balance - held); a credit pays outstanding debt first, as a top-up does. The account
-- row is locked first, so concurrent movements of one account queue behind each other.
-- status: ok | duplicate | insufficient_balance | account_not_found
CREATE FUNCTION gw_adjust(p_account text, p_kind ledger_kind, p_amount bigint, p_reference text,
                          p_reason text, p_actor text, p_request text DEFAULT NULL)
RETURNS TABLE(status text, entry_id bigint, balance_micros bigint, available_micros bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_entry bigint;
  v_balance bigint;
  v_new_balance bigint;
  v_avail bigint;
  v_debt bigint;
  v_paid bigint;
BEGIN
  IF p_kind::text NOT IN ('refund', 'adjustment') THEN
    RAISE EXCEPTION 'gw_adjust moves refunds and adjustments only, got %', p_kind;
  END IF;
  IF p_kind::text = 'refund' AND p_amount <= 0 THEN
    RAISE EXCEPTION 'refund amount must be > 0, got %', p_amount;
  END IF;
  IF p_amount = 0 THEN
    RAISE EXCEPTION 'adjustment amount must not be 0';
  END IF;
  IF p_reference IS NULL OR p_reference = '' THEN
    RAISE EXCEPTION 'a reference is required';
  END IF;
  SELECT a.balance_micros, a.balance_micros - a.held_micros INTO v_balance, v_avail FROM accounts a WHERE a.id = p_account FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'account_not_found'::text, NULL::bigint, 0::bigint, 0::bigint;
    RETURN;
  END IF;
  -- under the account's lock: a concurrent first request has committed or not started
  SELECT l.id INTO v_entry FROM ledger_entries l WHERE l.account_id = p_account AND l.kind = p_kind AND l.reference = p_reference;
  IF FOUND THEN
    RETURN QUERY SELECT 'duplicate'::text, v_entry, v_balance, v_avail;
    RETURN;
  END IF;
  -- one conditional update: a debit beyond the available balance changes nothing
  UPDATE accounts a SET balance_micros = a.balance_micros + p_amount, updated_at = now()
   WHERE a.id = p_account AND a.balance_micros - a.held_micros + p_amount >= 0
  RETURNING a.balance_micros, a.debt_micros INTO v_new_balance, v_debt;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'insufficient_balance'::text, NULL::bigint, v_balance, v_avail;
    RETURN;
  END IF;
  v_balance := v_new_balance;
  INSERT INTO ledger_entries (account_id, kind, amount_micros, balance_after_micros, reference, reason, actor, request_id)
  VALUES (p_account, p_kind, p_amount, v_balance, p_reference, p_reason, p_actor, p_request)
  RETURNING id INTO v_entry;
  IF p_amount > 0 AND v_debt > 0 THEN
    SELECT LEAST(v_debt, a.balance_micros - a.held_micros) INTO v_paid FROM accounts a WHERE a.id = p_account;
    IF v_paid > 0 THEN
      UPDATE accounts a SET balance_micros = a.balance_micros - v_paid, debt_micros = a.debt_micros - v_paid
       WHERE a.id = p_account RETURNING a.balance_micros INTO v_balance;
      INSERT INTO ledger_entries (account_id, kind, amount_micros, balance_after_micros, reason, actor)
      VALUES (p_account, 'debt_payment', -v_paid, v_balance, 'debt paid by ' || p_kind::text || ' ' || p_reference, p_actor);
    END IF;
  END IF;
  RETURN QUERY SELECT 'ok'::text, v_entry, v_balance, (SELECT a.balance_micros - a.held_micros FROM accounts a WHERE a.id = p_account);
END $$;
