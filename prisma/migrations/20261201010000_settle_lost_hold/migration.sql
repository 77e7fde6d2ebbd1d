-- Holds may be committed without waiting for the WAL flush (HOLD_COMMIT=fast, the default): a Postgres
-- crash (not a clean restart) can then lose the last fraction of a second of placed holds. A call whose
-- hold was lost is still charged: its settle carries the account, and finds or makes the hold.
-- status: as gw_settle_hold
CREATE FUNCTION gw_settle_call(p_id text, p_cost bigint, p_account text, p_key text, p_request text, p_model text)
RETURNS TABLE(status text, charged_micros bigint, released_micros bigint, debt_micros bigint, balance_micros bigint)
LANGUAGE plpgsql AS $$
BEGIN
  IF p_account IS NOT NULL AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.id = p_id)
     AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = p_account) THEN
    INSERT INTO holds (id, account_id, key_id, request_id, kind, model, amount_micros, state, expires_at, resolved_at)
    VALUES (p_id, p_account, p_key, p_request, 'call', p_model, 0, 'expired', now(), now())
    ON CONFLICT (id) DO NOTHING;
    IF FOUND THEN
      INSERT INTO hold_events (hold_id, state, amount_micros, reason) VALUES (p_id, 'expired', 0, 'hold not found at settle (lost)');
    END IF;
  END IF;
  RETURN QUERY SELECT * FROM gw_settle_hold(p_id, p_cost);
END $$;
