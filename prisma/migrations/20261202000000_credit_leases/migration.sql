-- Credit leases: a hold of kind 'lease' reserves part of an account's available balance once, and ingress
-- draws the holds of many calls from it in Redis, without a Postgres row per call on the call's path. A
-- call's draw becomes a hold of its own (a split: the lease's amount moves to a new 'call' hold, so the
-- account's held total does not change) when it settles, is released, or runs long enough to be extended;
-- then it resolves like any call hold. When ingress stops drawing from a lease, it closes it: the part no
-- call drew goes back to the account, and the lease resolves once every draw has been split off. A lease
-- that is never closed (its ingress and Redis gone) expires like a call hold, and what it still held is
-- reported as expired unsettled.
ALTER TYPE hold_kind ADD VALUE IF NOT EXISTS 'lease';
ALTER TABLE holds ADD COLUMN closed_at timestamptz(3);

-- Grants a lease of up to p_max micros, at most a p_share-th of the account's available balance, and
-- only if that is at least p_min: status ok | too_small | account_debt | account_not_found. Idempotent on
-- the lease's id. budgeted_keys: the account's keys with a budget (those never draw from a lease).
CREATE FUNCTION gw_grant_lease(p_id text, p_account text, p_max bigint, p_min bigint, p_share bigint, p_ttl_ms bigint)
RETURNS TABLE(status text, amount_micros bigint, expires_at timestamptz, budgeted_keys text[])
LANGUAGE plpgsql AS $$
DECLARE
  v_balance bigint;
  v_held bigint;
  v_debt bigint;
  v_amount bigint;
  v_expires timestamptz := now() + make_interval(secs => p_ttl_ms / 1000.0);
  v_keys text[];
BEGIN
  SELECT COALESCE(array_agg(b.key_id ORDER BY b.key_id), '{}') INTO v_keys
    FROM key_budgets b JOIN api_keys k ON k.id = b.key_id WHERE k.account_id = p_account;
  SELECT h.amount_micros, h.expires_at INTO v_amount, v_expires FROM holds h WHERE h.id = p_id AND h.account_id = p_account;
  IF FOUND THEN
    RETURN QUERY SELECT 'ok'::text, v_amount, v_expires, v_keys;
    RETURN;
  END IF;
  v_expires := now() + make_interval(secs => p_ttl_ms / 1000.0);
  SELECT a.balance_micros, a.held_micros, a.debt_micros INTO v_balance, v_held, v_debt FROM accounts a WHERE a.id = p_account FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'account_not_found'::text, 0::bigint, NULL::timestamptz, v_keys;
    RETURN;
  END IF;
  IF v_debt > 0 THEN
    RETURN QUERY SELECT 'account_debt'::text, 0::bigint, NULL::timestamptz, v_keys;
    RETURN;
  END IF;
  v_amount := LEAST(p_max, GREATEST(v_balance - v_held, 0) / GREATEST(p_share, 1));
  IF v_amount < p_min OR v_amount <= 0 THEN
    RETURN QUERY SELECT 'too_small'::text, v_amount, NULL::timestamptz, v_keys;
    RETURN;
  END IF;
  UPDATE accounts a SET held_micros = a.held_micros + v_amount, updated_at = now() WHERE a.id = p_account;
  INSERT INTO holds (id, account_id, key_id, request_id, kind, model, amount_micros, state, expires_at)
  VALUES (p_id, p_account, NULL, NULL, 'lease', NULL, v_amount, 'active', v_expires);
  INSERT INTO hold_events (hold_id, state, amount_micros, reason) VALUES (p_id, 'active', v_amount, 'lease granted');
  RETURN QUERY SELECT 'ok'::text, v_amount, v_expires, v_keys;
END $$;

-- Moves a call's draw off its lease into a call hold of its own, p_id (active, expiring after p_ttl_ms).
-- status: ok | exists (split before: a replay changes nothing) | lease_gone (the lease expired or was
-- released: the call's settle then charges as a settle of a lost hold does).
CREATE FUNCTION gw_split_hold(p_lease text, p_id text, p_draw bigint, p_account text, p_key text, p_request text, p_model text, p_ttl_ms bigint)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_left bigint;
  v_closed timestamptz;
BEGIN
  IF p_draw < 0 THEN
    RAISE EXCEPTION 'draw must be >= 0, got %', p_draw;
  END IF;
  INSERT INTO holds (id, account_id, key_id, request_id, kind, model, amount_micros, state, expires_at)
  VALUES (p_id, p_account, p_key, p_request, 'call', p_model, p_draw, 'active', now() + make_interval(secs => p_ttl_ms / 1000.0))
  ON CONFLICT (id) DO NOTHING;
  IF NOT FOUND THEN
    RETURN 'exists';
  END IF;
  UPDATE holds l SET amount_micros = l.amount_micros - p_draw
   WHERE l.id = p_lease AND l.kind = 'lease' AND l.state = 'active' AND l.account_id = p_account AND l.amount_micros >= p_draw
  RETURNING l.amount_micros, l.closed_at INTO v_left, v_closed;
  IF NOT FOUND THEN
    DELETE FROM holds h WHERE h.id = p_id;
    RETURN 'lease_gone';
  END IF;
  INSERT INTO hold_events (hold_id, state, amount_micros, reason) VALUES (p_id, 'active', p_draw, 'drawn from ' || p_lease);
  IF v_left = 0 AND v_closed IS NOT NULL THEN
    UPDATE holds l SET state = 'released', resolved_at = now() WHERE l.id = p_lease;
    INSERT INTO hold_events (hold_id, state, amount_micros, reason) VALUES (p_lease, 'released', 0, 'every draw split off');
  END IF;
  RETURN 'ok';
END $$;

-- Closes a lease once: p_unused (what no call drew) goes back to the account; what calls drew stays held
-- until their splits. status: ok | not_open (closed before, resolved, or unknown).
CREATE FUNCTION gw_close_lease(p_lease text, p_unused bigint)
RETURNS TABLE(status text, released_micros bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_account text;
  v_amount bigint;
  v_back bigint;
BEGIN
  SELECT l.account_id, l.amount_micros INTO v_account, v_amount FROM holds l
   WHERE l.id = p_lease AND l.kind = 'lease' AND l.state = 'active' AND l.closed_at IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'not_open'::text, 0::bigint;
    RETURN;
  END IF;
  v_back := LEAST(v_amount, GREATEST(p_unused, 0));
  UPDATE holds l SET amount_micros = v_amount - v_back, closed_at = now(),
                     state = CASE WHEN v_amount - v_back = 0 THEN 'released'::hold_state ELSE l.state END,
                     resolved_at = CASE WHEN v_amount - v_back = 0 THEN now() ELSE NULL END
   WHERE l.id = p_lease;
  UPDATE accounts a SET held_micros = a.held_micros - v_back, updated_at = now() WHERE a.id = v_account;
  INSERT INTO hold_events (hold_id, state, amount_micros, reason)
  VALUES (p_lease, CASE WHEN v_amount - v_back = 0 THEN 'released'::hold_state ELSE 'active'::hold_state END, v_back, 'lease closed: unused part returned');
  RETURN QUERY SELECT 'ok'::text, v_back;
END $$;

-- The sweeper expires leases as it expires call holds (task holds live as long as their task).
CREATE OR REPLACE FUNCTION gw_expire_holds(p_limit integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_id text;
  v_count integer := 0;
  v_status text;
BEGIN
  FOR v_id IN
    SELECT due.id FROM (
      SELECT h.id, h.account_id FROM holds h
       WHERE h.state = 'active' AND h.kind IN ('call', 'lease') AND h.expires_at < now()
       ORDER BY h.expires_at
       LIMIT p_limit
       FOR UPDATE SKIP LOCKED
    ) due
    ORDER BY due.account_id, due.id
  LOOP
    SELECT r.status INTO v_status FROM gw_release_hold(v_id, 'expired', 'deadline passed') r;
    IF v_status = 'ok' THEN
      v_count := v_count + 1;
    END IF;
  END LOOP;
  RETURN v_count;
END $$;
