-- The money path without lost settles (issue 8).
-- 1. Placing a hold is idempotent on its id: ingress names the hold before asking for it, so a retried or
--    duplicated place message finds the hold already there and changes nothing.
-- 2. A settle that arrives after the hold expired still charges what the call used (as the available
--    balance allows, the rest as debt): a long call or a delayed settle is never served for free.
-- 3. Holds of calls still running are extended (gw_extend_holds), so a long stream keeps its hold.
-- 4. Statuses and amounts of many holds resolve in one statement (batches from the settle outbox).

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
  INSERT INTO holds (id, account_id, key_id, request_id, kind, model, amount_micros, state, expires_at)
  VALUES (p_id, p_account, p_key, p_request, p_kind, p_model, p_amount, 'active', v_expires)
  ON CONFLICT (id) DO NOTHING;
  IF NOT FOUND THEN
    -- a concurrent duplicate committed first (this one waited on its row): undo our part
    UPDATE accounts a SET held_micros = a.held_micros - p_amount WHERE a.id = p_account;
    RETURN QUERY SELECT 'ok'::text, h.expires_at, v_avail FROM holds h WHERE h.id = p_id;
    RETURN;
  END IF;
  INSERT INTO hold_events (hold_id, state, amount_micros) VALUES (p_id, 'active', p_amount);
  RETURN QUERY SELECT 'ok'::text, v_expires, v_avail;
END $$;

-- Settle a hold for its final cost. Up to the hold is charged from it; an overage is charged while the
-- account's available balance covers it, and the rest is recorded as debt (which blocks new holds).
-- A hold that expired before its settle arrived is charged all the same, from the available balance
-- (its amount is no longer held), the rest as debt.
-- A second settle (or a settle after a release) changes nothing and reports the first outcome.
-- status: ok | already_settled | already_released | hold_not_found
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
BEGIN
  IF p_cost < 0 THEN
    RAISE EXCEPTION 'cost must be >= 0, got %', p_cost;
  END IF;
  SELECT h.state, h.account_id, h.amount_micros INTO v_state, v_account, v_amount FROM holds h WHERE h.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'hold_not_found'::text, 0::bigint, 0::bigint, 0::bigint, 0::bigint;
    RETURN;
  END IF;
  IF v_state NOT IN ('active', 'expired') THEN
    SELECT h.settled_micros + h.overage_micros INTO v_charge FROM holds h WHERE h.id = p_id;
    RETURN QUERY SELECT ('already_' || v_state::text), v_charge, 0::bigint, 0::bigint, 0::bigint;
    RETURN;
  END IF;
  -- an active hold still counts in held_micros; an expired one was already given back
  v_held := CASE WHEN v_state = 'active' THEN v_amount ELSE 0 END;
  UPDATE holds h SET state = 'settled', resolved_at = now() WHERE h.id = p_id;
  SELECT a.balance_micros - a.held_micros + v_held INTO v_avail FROM accounts a WHERE a.id = v_account FOR UPDATE;
  v_charge := LEAST(p_cost, GREATEST(v_avail, 0));
  v_debt := p_cost - v_charge;
  UPDATE accounts a SET held_micros = a.held_micros - v_held,
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
  INSERT INTO hold_events (hold_id, state, amount_micros, reason)
  VALUES (p_id, 'settled', v_charge, CASE WHEN v_state = 'expired' THEN 'late settle after expiry' END);
  RETURN QUERY SELECT 'ok'::text, v_charge, GREATEST(v_held - v_charge, 0), v_debt, v_balance;
END $$;

-- Push the deadline of running calls' holds forward (never back). Returns how many were extended.
CREATE FUNCTION gw_extend_holds(p_ids text[], p_ttl_ms bigint)
RETURNS integer
LANGUAGE sql AS $$
  WITH x AS (
    UPDATE holds h SET expires_at = GREATEST(h.expires_at, now() + make_interval(secs => p_ttl_ms / 1000.0))
     WHERE h.id = ANY(p_ids) AND h.state = 'active'
    RETURNING 1
  )
  SELECT count(*)::int FROM x
$$;
