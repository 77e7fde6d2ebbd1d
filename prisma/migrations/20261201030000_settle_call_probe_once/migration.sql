-- gw_settle_call looked the hold up before settling it, on every settle; now it settles first and only
-- a settle that finds no hold (lost in a crash) takes the slower path. Same results.
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
  INSERT INTO holds (id, account_id, key_id, request_id, kind, model, amount_micros, state, expires_at, resolved_at)
  VALUES (p_id, p_account, p_key, p_request, 'call', p_model, 0, 'expired', now(), now())
  ON CONFLICT (id) DO NOTHING;
  IF FOUND THEN
    INSERT INTO hold_events (hold_id, state, amount_micros, reason) VALUES (p_id, 'expired', 0, 'hold not found at settle (lost)');
  END IF;
  RETURN QUERY SELECT * FROM gw_settle_hold(p_id, p_cost);
END $$;
