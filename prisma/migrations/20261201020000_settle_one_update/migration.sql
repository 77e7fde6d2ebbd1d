-- gw_settle_hold wrote the hold twice (its state, then its amounts): each a new row version with an entry
-- in every index of holds. Now once. Same rules, same results.
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
  SELECT h.state, h.account_id, h.amount_micros, h.settled_micros + h.overage_micros
    INTO v_state, v_account, v_amount, v_charge FROM holds h WHERE h.id = p_id FOR UPDATE;
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
  RETURN QUERY SELECT 'ok'::text, v_charge, GREATEST(v_held - v_charge, 0), v_debt, v_balance;
END $$;
