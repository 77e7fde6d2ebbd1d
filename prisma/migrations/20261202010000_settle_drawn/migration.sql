-- The settle of a call whose hold was drawn from a credit lease, in one step: the draw leaves its lease and
-- the call's hold row is written once, already settled (before: a split wrote it active, in a statement and a
-- transaction of its own, and the settle then updated it, two more index entries on holds and one more
-- hold event per call). Both this and gw_split_hold lock the lease before they look for or write the call's
-- hold, so the two never make the same draw into a hold twice, and do not deadlock on each other.

-- A batch of such settles. Per item: the lease, the hold id, the draw, the cost, and the call's account,
-- key, request and model. A hold that exists already (split off at an extension, or settled before: a
-- replay) and a lease that is gone (expired or released: the settle then charges as a lost hold's does) go
-- through gw_settle_call as before; drawn says which took the one-step way. Leases are locked first, in one
-- order, then accounts, in one order: the order of gw_close_lease and of a lease's expiry (lease, then
-- account), so no two of these deadlock.
CREATE FUNCTION gw_settle_drawn_many(p_idx int[], p_lease text[], p_id text[], p_draw bigint[], p_cost bigint[],
                                     p_account text[], p_key text[], p_request text[], p_model text[], p_ttl_ms bigint)
RETURNS TABLE(idx int, hold_id text, status text, charged_micros bigint, released_micros bigint, debt_micros bigint, drawn boolean)
LANGUAGE plpgsql AS $$
DECLARE
  n int := COALESCE(array_length(p_id, 1), 0);
  v_fresh boolean[];
  r record;
  v_left bigint;
  v_closed timestamptz;
  v_avail bigint;
  v_charge bigint;
  v_debt bigint;
  v_balance bigint;
BEGIN
  IF n = 0 THEN
    RETURN;
  END IF;
  v_fresh := array_fill(false, ARRAY[n]);
  -- 1. each draw leaves its lease (one item per hold id: a hold id twice in a batch settles once, the
  --    second answers as a replay does)
  FOR r IN
    SELECT d.i, d.lease, d.id, d.draw, d.account FROM (
      SELECT DISTINCT ON (u.id) u.i, u.lease, u.id, u.draw, u.account
        FROM unnest(p_lease, p_id, p_draw, p_account) WITH ORDINALITY AS u(lease, id, draw, account, i)
       ORDER BY u.id, u.i) d
     ORDER BY d.lease, d.id
  LOOP
    IF p_cost[r.i] < 0 OR r.draw < 0 THEN
      RAISE EXCEPTION 'cost and draw must be >= 0, got % and %', p_cost[r.i], r.draw;
    END IF;
    -- the lease first (a split of this hold waits here, or has committed its row, which the look below sees)
    PERFORM 1 FROM holds l
      WHERE l.id = r.lease AND l.kind = 'lease' AND l.state = 'active' AND l.account_id = r.account AND l.amount_micros >= r.draw
      FOR UPDATE;
    CONTINUE WHEN NOT FOUND;
    CONTINUE WHEN EXISTS (SELECT 1 FROM holds h WHERE h.id = r.id);
    UPDATE holds l SET amount_micros = l.amount_micros - r.draw WHERE l.id = r.lease
    RETURNING l.amount_micros, l.closed_at INTO v_left, v_closed;
    v_fresh[r.i] := true;
    IF v_left = 0 AND v_closed IS NOT NULL THEN
      UPDATE holds l SET state = 'released', resolved_at = now() WHERE l.id = r.lease;
      INSERT INTO hold_events (hold_id, state, amount_micros, reason) VALUES (r.lease, 'released', 0, 'every draw split off');
    END IF;
  END LOOP;
  -- 2. the charges, accounts in one order
  FOR r IN
    SELECT u.i, u.lease, u.id, u.draw, u.cost, u.account, u.key, u.request, u.model
      FROM unnest(p_lease, p_id, p_draw, p_cost, p_account, p_key, p_request, p_model) WITH ORDINALITY AS u(lease, id, draw, cost, account, key, request, model, i)
     ORDER BY u.account, u.id, u.i
  LOOP
    IF v_fresh[r.i] THEN
      -- the draw is still counted in held_micros (the lease held it): the same charge as gw_settle_hold's
      SELECT a.balance_micros - a.held_micros + r.draw INTO v_avail FROM accounts a WHERE a.id = r.account FOR UPDATE;
      v_charge := LEAST(r.cost, GREATEST(v_avail, 0));
      v_debt := r.cost - v_charge;
      UPDATE accounts a SET held_micros = a.held_micros - r.draw,
                            balance_micros = a.balance_micros - v_charge,
                            debt_micros = a.debt_micros + v_debt,
                            updated_at = now()
       WHERE a.id = r.account
      RETURNING a.balance_micros INTO v_balance;
      INSERT INTO holds (id, account_id, key_id, request_id, kind, model, amount_micros, state, expires_at, resolved_at,
                         settled_micros, overage_micros, debt_micros)
      VALUES (r.id, r.account, r.key, r.request, 'call', r.model, r.draw, 'settled', now() + make_interval(secs => p_ttl_ms / 1000.0), now(),
              LEAST(v_charge, r.draw), v_charge - LEAST(v_charge, r.draw), v_debt);
      IF v_charge > 0 THEN
        INSERT INTO ledger_entries (account_id, kind, amount_micros, balance_after_micros, hold_id)
        VALUES (r.account, 'charge', -v_charge, v_balance, r.id);
      END IF;
      INSERT INTO hold_events (hold_id, state, amount_micros, reason) VALUES (r.id, 'settled', v_charge, 'drawn from ' || r.lease);
      RETURN QUERY SELECT p_idx[r.i], r.id, 'ok'::text, v_charge, GREATEST(r.draw - v_charge, 0), v_debt, true;
    ELSE
      RETURN QUERY SELECT p_idx[r.i], r.id, st.status, st.charged_micros, st.released_micros, st.debt_micros, false
        FROM gw_settle_call(r.id, r.cost, r.account, r.key, r.request, r.model) st;
    END IF;
  END LOOP;
END $$;

-- As in 20261202000000_credit_leases, but the lease is locked before the call's hold is written: the order of
-- gw_settle_drawn_many (leases, then holds and accounts).
CREATE OR REPLACE FUNCTION gw_split_hold(p_lease text, p_id text, p_draw bigint, p_account text, p_key text, p_request text, p_model text, p_ttl_ms bigint)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_left bigint;
  v_closed timestamptz;
BEGIN
  IF p_draw < 0 THEN
    RAISE EXCEPTION 'draw must be >= 0, got %', p_draw;
  END IF;
  PERFORM 1 FROM holds l WHERE l.id = p_lease FOR UPDATE;
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
