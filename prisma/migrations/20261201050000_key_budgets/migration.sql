-- Per-key spend budgets (API.md, admin keys: `budget`), and the key's response-cache TTL (`cache_ttl_s`).
--
-- A key's budget (key_budgets) bounds what its calls may hold and spend per UTC day, week (from Monday
-- 00:00 UTC) or calendar month. key_budget_usage keeps, per key and period, what settled calls spent and
-- what the key's active holds hold. Placing a hold locks the key's budget row and refuses it
-- ('key_budget_exceeded') when spent + held + the new hold would pass the limit: the check and the count
-- are one step, as for the account's balance. A settle moves the hold from held to spent (the call's cost,
-- more or less than the hold); a release or an expiry gives the held part back.
--
-- Each hold remembers the period it was counted in (holds.budget_period_start), so a settle, release or
-- expiry after a period boundary corrects that period's counters, and a new period starts from nothing.
-- A budget counts the holds placed while it exists: spend before a budget was set is not in it.
--
-- Keys without a budget pay one primary-key probe of key_budgets per place, and nothing per settle,
-- release or expiry (their holds have no budget_period_start).
--
-- Lock order: every function here takes the account's row before the key's budget and usage rows, as the
-- batches (accounts in id order) and the sweeper already do; so budgets add no deadlock.
--
-- Clock: budget periods are computed from gw_now(), which is now() unless the session sets `gateway.now`
-- (SET gateway.now = '2026-12-07T23:59:00Z'; RESET gateway.now): tests use it to cross period boundaries.
-- Nothing else reads it; hold deadlines stay on now().
--
-- Alerts: when a key's spend in a period first reaches 50, 80 or 100 % of its limit (on a settle), and
-- when the budget first refuses a place in the period (100 %), a row per threshold goes into
-- webhook_outbox, unique per key, period and threshold; billing posts it to the key's alert_webhook.

-- CreateEnum
CREATE TYPE "budget_period" AS ENUM ('day', 'week', 'month');

-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN     "cache_ttl_s" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "holds" ADD COLUMN     "budget_period_start" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "key_budgets" (
    "key_id" TEXT NOT NULL,
    "limit_micros" BIGINT NOT NULL,
    "period" "budget_period" NOT NULL,
    "alert_webhook" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "key_budgets_pkey" PRIMARY KEY ("key_id")
);

-- CreateTable
CREATE TABLE "key_budget_usage" (
    "key_id" TEXT NOT NULL,
    "period_start" TIMESTAMPTZ(3) NOT NULL,
    "spent_micros" BIGINT NOT NULL DEFAULT 0,
    "held_micros" BIGINT NOT NULL DEFAULT 0,
    "alerted_pct" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "key_budget_usage_pkey" PRIMARY KEY ("key_id","period_start")
);

-- CreateTable
CREATE TABLE "webhook_outbox" (
    "id" BIGSERIAL NOT NULL,
    "type" TEXT NOT NULL,
    "key_id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "threshold_pct" INTEGER NOT NULL,
    "period_start" TIMESTAMPTZ(3) NOT NULL,
    "payload" JSONB NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_error" TEXT,
    "delivered_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_outbox_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "webhook_outbox_delivered_at_next_attempt_at_idx" ON "webhook_outbox"("delivered_at", "next_attempt_at");

-- CreateIndex
CREATE UNIQUE INDEX "webhook_outbox_key_id_period_start_threshold_pct_key" ON "webhook_outbox"("key_id", "period_start", "threshold_pct");

-- AddForeignKey
ALTER TABLE "key_budgets" ADD CONSTRAINT "key_budgets_key_id_fkey" FOREIGN KEY ("key_id") REFERENCES "api_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "key_budget_usage" ADD CONSTRAINT "key_budget_usage_key_id_fkey" FOREIGN KEY ("key_id") REFERENCES "api_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_outbox" ADD CONSTRAINT "webhook_outbox_key_id_fkey" FOREIGN KEY ("key_id") REFERENCES "api_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


-- ---------------------------------------------------------------------------------------------
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_cache_ttl_nonnegative" CHECK (cache_ttl_s >= 0);
ALTER TABLE "key_budgets" ADD CONSTRAINT "key_budgets_limit_nonnegative" CHECK (limit_micros >= 0);
ALTER TABLE "key_budget_usage" ADD CONSTRAINT "key_budget_usage_nonnegative" CHECK (spent_micros >= 0 AND held_micros >= 0);

-- The clock of budget periods: now(), or the session's `gateway.now` when a test set one.
CREATE FUNCTION gw_now()
RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT COALESCE(NULLIF(current_setting('gateway.now', true), '')::timestamptz, now())
$$;

-- The start of the UTC day, week (Monday) or month that contains p_at.
CREATE FUNCTION gw_budget_period_start(p_period budget_period, p_at timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
  SELECT date_trunc(p_period::text, p_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
$$;

-- The end of the period that starts at p_start (when the budget resets); in UTC whatever the session's zone.
CREATE FUNCTION gw_budget_period_end(p_period budget_period, p_start timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
  SELECT ((p_start AT TIME ZONE 'UTC')
          + CASE p_period WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '7 days' ELSE interval '1 month' END)
         AT TIME ZONE 'UTC'
$$;

-- The highest alert threshold that a spend has reached: 0, 50, 80 or 100 (percent of the limit).
CREATE FUNCTION gw_budget_reached_pct(p_spent bigint, p_limit bigint)
RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_spent >= p_limit THEN 100
              WHEN p_spent * 10 >= p_limit * 8 THEN 80
              WHEN p_spent * 2 >= p_limit THEN 50
              ELSE 0 END
$$;

-- Raises the period's alerted threshold to p_pct and queues one alert for each threshold passed on the
-- way that the spend has reached, and for p_pct itself (a refused place alerts 100 % before the spend
-- gets there). The usage row's lock orders concurrent callers; the unique index is the backstop. Nothing
-- is queued for a key without an alert_webhook, but the threshold still counts as alerted.
CREATE FUNCTION gw_budget_alert(p_key text, p_account text, p_start timestamptz, p_pct integer)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_from integer;
  v_spent bigint;
  v_limit bigint;
  v_period budget_period;
  v_webhook text;
BEGIN
  SELECT b.limit_micros, b.period, b.alert_webhook INTO v_limit, v_period, v_webhook FROM key_budgets b WHERE b.key_id = p_key;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  INSERT INTO key_budget_usage (key_id, period_start) VALUES (p_key, p_start) ON CONFLICT (key_id, period_start) DO NOTHING;
  SELECT u.alerted_pct, u.spent_micros INTO v_from, v_spent
    FROM key_budget_usage u WHERE u.key_id = p_key AND u.period_start = p_start FOR UPDATE;
  IF v_from >= p_pct THEN
    RETURN;
  END IF;
  UPDATE key_budget_usage u SET alerted_pct = p_pct WHERE u.key_id = p_key AND u.period_start = p_start;
  IF v_webhook IS NULL THEN
    RETURN;
  END IF;
  INSERT INTO webhook_outbox (type, key_id, account_id, url, threshold_pct, period_start, payload)
  SELECT 'budget.threshold', p_key, p_account, v_webhook, t.pct, p_start,
         jsonb_build_object('key_id', p_key, 'account_id', p_account, 'threshold_pct', t.pct,
                            'limit_micros', v_limit, 'spent_micros', v_spent, 'period', v_period,
                            'period_start', to_char(p_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                            'resets_at', to_char(gw_budget_period_end(v_period, p_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
    FROM unnest(ARRAY[50, 80, 100]) AS t(pct)
   WHERE t.pct > v_from AND (t.pct <= gw_budget_reached_pct(v_spent, v_limit) OR t.pct = p_pct)
  ON CONFLICT (key_id, period_start, threshold_pct) DO NOTHING;
END $$;

-- A settled hold's part of its key's budget: its held amount (p_held: 0 when it had expired, which gave
-- it back already) leaves held, and the call's cost is spent, in the period the hold was counted in.
CREATE FUNCTION gw_budget_settle(p_key text, p_account text, p_start timestamptz, p_held bigint, p_cost bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_spent bigint;
  v_alerted integer;
  v_limit bigint;
  v_reached integer;
BEGIN
  INSERT INTO key_budget_usage AS u (key_id, period_start, spent_micros) VALUES (p_key, p_start, p_cost)
  ON CONFLICT (key_id, period_start) DO UPDATE
    SET held_micros = u.held_micros - p_held, spent_micros = u.spent_micros + EXCLUDED.spent_micros
  RETURNING u.spent_micros, u.alerted_pct INTO v_spent, v_alerted;
  IF v_alerted >= 100 THEN
    RETURN;
  END IF;
  SELECT b.limit_micros INTO v_limit FROM key_budgets b WHERE b.key_id = p_key;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  v_reached := gw_budget_reached_pct(v_spent, v_limit);
  IF v_reached > v_alerted THEN
    PERFORM gw_budget_alert(p_key, p_account, p_start, v_reached);
  END IF;
END $$;

-- As in 20261201000000_money_path, plus the key's budget: after the account's conditional update, the
-- budget row is locked and the hold counted in its period's usage only if it fits; a hold that does not
-- fit gives the account its amount back and is refused.
-- status: ok | insufficient_balance | account_debt | account_not_found | key_budget_exceeded
--   (key_budget_exceeded: expires_at is when the budget resets, available_micros what is left of it)
CREATE OR REPLACE FUNCTION gw_place_hold(p_id text, p_account text, p_key text, p_request text, p_kind hold_kind,
                                         p_model text, p_amount bigint, p_ttl_ms bigint)
RETURNS TABLE(status text, expires_at timestamptz, available_micros bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_avail bigint;
  v_debt bigint;
  v_expires timestamptz := now() + make_interval(secs => p_ttl_ms / 1000.0);
  v_existing_account text;
  v_existing_expires timestamptz;
  v_limit bigint;
  v_period budget_period;
  v_start timestamptz;
  v_left bigint;
BEGIN
  IF p_amount < 0 THEN
    RAISE EXCEPTION 'hold amount must be >= 0, got %', p_amount;
  END IF;
  -- a duplicate of a place already done: the same answer, nothing moved
  SELECT h.account_id, h.expires_at INTO v_existing_account, v_existing_expires FROM holds h WHERE h.id = p_id;
  IF FOUND THEN
    IF v_existing_account <> p_account THEN
      RAISE EXCEPTION 'hold % belongs to another account', p_id;
    END IF;
    RETURN QUERY SELECT 'ok'::text, v_existing_expires, (SELECT a.balance_micros - a.held_micros FROM accounts a WHERE a.id = p_account);
    RETURN;
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
  IF p_key IS NOT NULL THEN
    SELECT b.limit_micros, b.period INTO v_limit, v_period FROM key_budgets b WHERE b.key_id = p_key FOR UPDATE;
    IF FOUND THEN
      v_start := gw_budget_period_start(v_period, gw_now());
      INSERT INTO key_budget_usage AS u (key_id, period_start, held_micros)
      SELECT p_key, v_start, p_amount WHERE p_amount <= v_limit
      ON CONFLICT (key_id, period_start) DO UPDATE SET held_micros = u.held_micros + EXCLUDED.held_micros
       WHERE u.spent_micros + u.held_micros + EXCLUDED.held_micros <= v_limit;
      IF NOT FOUND THEN
        UPDATE accounts a SET held_micros = a.held_micros - p_amount WHERE a.id = p_account;
        PERFORM gw_budget_alert(p_key, p_account, v_start, 100);
        SELECT GREATEST(v_limit - u.spent_micros - u.held_micros, 0) INTO v_left
          FROM key_budget_usage u WHERE u.key_id = p_key AND u.period_start = v_start;
        RETURN QUERY SELECT 'key_budget_exceeded'::text, gw_budget_period_end(v_period, v_start), v_left;
        RETURN;
      END IF;
    END IF;
  END IF;
  INSERT INTO holds (id, account_id, key_id, request_id, kind, model, amount_micros, state, expires_at, budget_period_start)
  VALUES (p_id, p_account, p_key, p_request, p_kind, p_model, p_amount, 'active', v_expires, v_start)
  ON CONFLICT (id) DO NOTHING;
  IF NOT FOUND THEN
    -- a concurrent duplicate committed first (this one waited on its row): undo our part
    UPDATE accounts a SET held_micros = a.held_micros - p_amount WHERE a.id = p_account;
    IF v_start IS NOT NULL THEN
      UPDATE key_budget_usage u SET held_micros = u.held_micros - p_amount WHERE u.key_id = p_key AND u.period_start = v_start;
    END IF;
    RETURN QUERY SELECT 'ok'::text, h.expires_at, v_avail FROM holds h WHERE h.id = p_id;
    RETURN;
  END IF;
  INSERT INTO hold_events (hold_id, state, amount_micros) VALUES (p_id, 'active', p_amount);
  RETURN QUERY SELECT 'ok'::text, v_expires, v_avail;
END $$;

-- As in 20261201020000_settle_one_update, plus the key's budget: a hold counted in a budget period moves
-- from held to spent there.
CREATE OR REPLACE FUNCTION gw_settle_hold(p_id text, p_cost bigint)
RETURNS TABLE(status text, charged_micros bigint, released_micros bigint, debt_micros bigint, balance_micros bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_account text;
  v_amount bigint;
  v_held bigint;
  v_avail bigint;
  v_charge bigint;
  v_debt bigint;
  v_balance bigint;
  v_state hold_state;
  v_key text;
  v_budget_start timestamptz;
BEGIN
  IF p_cost < 0 THEN
    RAISE EXCEPTION 'cost must be >= 0, got %', p_cost;
  END IF;
  SELECT h.state, h.account_id, h.amount_micros, h.settled_micros + h.overage_micros, h.key_id, h.budget_period_start
    INTO v_state, v_account, v_amount, v_charge, v_key, v_budget_start FROM holds h WHERE h.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'hold_not_found'::text, 0::bigint, 0::bigint, 0::bigint, 0::bigint;
    RETURN;
  END IF;
  IF v_state NOT IN ('active', 'expired') THEN
    RETURN QUERY SELECT ('already_' || v_state::text), v_charge, 0::bigint, 0::bigint, 0::bigint;
    RETURN;
  END IF;
  -- an active hold still counts in held_micros; an expired one was already given back
  v_held := CASE WHEN v_state = 'active' THEN v_amount ELSE 0 END;
  SELECT a.balance_micros - a.held_micros + v_held INTO v_avail FROM accounts a WHERE a.id = v_account FOR UPDATE;
  v_charge := LEAST(p_cost, GREATEST(v_avail, 0));
  v_debt := p_cost - v_charge;
  UPDATE accounts a SET held_micros = a.held_micros - v_held,
                        balance_micros = a.balance_micros - v_charge,
                        debt_micros = a.debt_micros + v_debt,
                        updated_at = now()
   WHERE a.id = v_account
  RETURNING a.balance_micros INTO v_balance;
  UPDATE holds h SET state = 'settled',
                     resolved_at = now(),
                     settled_micros = LEAST(v_charge, v_amount),
                     overage_micros = v_charge - LEAST(v_charge, v_amount),
                     debt_micros = v_debt
   WHERE h.id = p_id;
  IF v_charge > 0 THEN
    INSERT INTO ledger_entries (account_id, kind, amount_micros, balance_after_micros, hold_id)
    VALUES (v_account, 'charge', -v_charge, v_balance, p_id);
  END IF;
  INSERT INTO hold_events (hold_id, state, amount_micros, reason)
  VALUES (p_id, 'settled', v_charge, CASE WHEN v_state = 'expired' THEN 'late settle after expiry' END);
  -- the call's whole cost counts against the key's budget, the part owed as debt included
  IF v_budget_start IS NOT NULL THEN
    PERFORM gw_budget_settle(v_key, v_account, v_budget_start, v_held, p_cost);
  END IF;
  RETURN QUERY SELECT 'ok'::text, v_charge, GREATEST(v_held - v_charge, 0), v_debt, v_balance;
END $$;

-- As in 20261201030000_settle_call_probe_once, plus: a hold recreated for a lost place is counted in its
-- key's current budget period (when the key has a budget), so the lost call's cost is spent there.
CREATE OR REPLACE FUNCTION gw_settle_call(p_id text, p_cost bigint, p_account text, p_key text, p_request text, p_model text)
RETURNS TABLE(status text, charged_micros bigint, released_micros bigint, debt_micros bigint, balance_micros bigint)
LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  SELECT * INTO r FROM gw_settle_hold(p_id, p_cost) s;
  IF r.status <> 'hold_not_found' OR p_account IS NULL OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = p_account) THEN
    RETURN QUERY SELECT r.status, r.charged_micros, r.released_micros, r.debt_micros, r.balance_micros;
    RETURN;
  END IF;
  INSERT INTO holds (id, account_id, key_id, request_id, kind, model, amount_micros, state, expires_at, resolved_at, budget_period_start)
  VALUES (p_id, p_account, p_key, p_request, 'call', p_model, 0, 'expired', now(), now(),
          (SELECT gw_budget_period_start(b.period, gw_now()) FROM key_budgets b WHERE b.key_id = p_key))
  ON CONFLICT (id) DO NOTHING;
  IF FOUND THEN
    INSERT INTO hold_events (hold_id, state, amount_micros, reason) VALUES (p_id, 'expired', 0, 'hold not found at settle (lost)');
  END IF;
  RETURN QUERY SELECT * FROM gw_settle_hold(p_id, p_cost);
END $$;

-- As in 20261127000000_init, plus: the held part of a hold counted in a budget period is given back there.
-- The sweeper (gw_expire_holds) expires holds through this function, so expiry does the same.
CREATE OR REPLACE FUNCTION gw_release_hold(p_id text, p_state hold_state, p_reason text)
RETURNS TABLE(status text, released_micros bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_account text;
  v_amount bigint;
  v_state hold_state;
  v_key text;
  v_budget_start timestamptz;
BEGIN
  IF p_state NOT IN ('released', 'expired') THEN
    RAISE EXCEPTION 'release target state must be released or expired, got %', p_state;
  END IF;
  UPDATE holds h SET state = p_state, resolved_at = now()
   WHERE h.id = p_id AND h.state = 'active'
  RETURNING h.account_id, h.amount_micros, h.key_id, h.budget_period_start INTO v_account, v_amount, v_key, v_budget_start;
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
  IF v_budget_start IS NOT NULL THEN
    UPDATE key_budget_usage u SET held_micros = u.held_micros - v_amount WHERE u.key_id = v_key AND u.period_start = v_budget_start;
  END IF;
  INSERT INTO hold_events (hold_id, state, amount_micros, reason) VALUES (p_id, p_state, v_amount, p_reason);
  RETURN QUERY SELECT 'ok'::text, v_amount;
END $$;
