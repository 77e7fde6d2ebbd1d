-- A call drawn from a credit lease names its lease on its own hold row (holds.lease_id) instead of in a
-- hold_events row. gw_settle_drawn_many wrote one hold_events row ('settled', 'drawn from <lease>') for every
-- drawn call, settled in one step: a fifth row, two index entries and a key check per call, a fifth of what
-- Postgres spent on a call. A drawn call's history is its hold row (created, resolved, settled and overage
-- micros, lease_id); the admin API shows it as the one event the row used to have. A split-off draw (a long
-- call, gw_split_hold) keeps its events ('active', 'drawn from <lease>', then its settle's) and gets lease_id too.
-- Rows drawn before this migration keep their events; their lease_id is filled in from them below.
-- No foreign key and no index on lease_id: a check and an index entry per call are what this saves; a lease's
-- draws are found by account (holds_account_id_created_at_idx) when an audit needs them.
ALTER TABLE holds ADD COLUMN lease_id TEXT;

UPDATE holds h SET lease_id = substr(e.reason, length('drawn from ') + 1)
  FROM hold_events e
 WHERE e.hold_id = h.id AND h.kind = 'call' AND e.reason LIKE 'drawn from %';

-- As in 20261202030000_settle_drawn_call_order, with lease_id set and no hold_events row for a drawn call.
CREATE OR REPLACE FUNCTION gw_settle_drawn_many(p_idx int[], p_lease text[], p_id text[], p_draw bigint[], p_cost bigint[],
                                                p_account text[], p_key text[], p_request text[], p_model text[], p_ttl_ms bigint)
RETURNS TABLE(idx int, hold_id text, status text, charged_micros bigint, released_micros bigint, debt_micros bigint, drawn boolean)
LANGUAGE plpgsql AS $$
DECLARE
  n int := COALESCE(array_length(p_id, 1), 0);
  v_fresh boolean[];
  v_fresh_ids text[] := '{}';
  v_later int[] := '{}';
  r record;
  v_lid text;
  v_lacct text;
  v_left bigint;
  v_start bigint;
  v_closed timestamptz;
  v_acct text := NULL;
  v_bal bigint;
  v_held bigint;
  v_dbt bigint;
  v_charge bigint;
  v_debt bigint;
  o_i int[] := '{}';
  o_charge bigint[] := '{}';
  o_debt bigint[] := '{}';
  o_bal bigint[] := '{}';
  k int := 0;
BEGIN
  IF n = 0 THEN
    RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(p_cost, p_draw) AS u(c, d) WHERE u.c < 0 OR u.d < 0 OR u.c IS NULL OR u.d IS NULL) THEN
    RAISE EXCEPTION 'cost and draw must be >= 0';
  END IF;
  v_fresh := array_fill(false, ARRAY[n]);

  -- 1. leases in id order: each locked, then the draws still in it (no hold row yet: one not split off at an
  --    extension, nor settled before) taken out of it by one update. The look for hold rows runs after the
  --    lock, so it sees a split of the same draw that got the lock first (gw_split_hold locks the lease too).
  --    A hold id twice in the batch is taken once.
  FOR v_lid IN SELECT DISTINCT u.lease FROM unnest(p_lease) AS u(lease) WHERE u.lease IS NOT NULL ORDER BY 1 LOOP
    SELECT l.amount_micros, l.closed_at, l.account_id INTO v_left, v_closed, v_lacct
      FROM holds l WHERE l.id = v_lid AND l.kind = 'lease' AND l.state = 'active' FOR UPDATE;
    CONTINUE WHEN NOT FOUND;
    v_start := v_left;
    FOR r IN
      SELECT d.i, d.id, d.draw, d.account FROM (
        SELECT DISTINCT ON (u.id) u.i, u.id, u.draw, u.account, u.lease
          FROM unnest(p_lease, p_id, p_draw, p_account) WITH ORDINALITY AS u(lease, id, draw, account, i)
         ORDER BY u.id, u.i) d
       WHERE d.lease = v_lid AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.id = d.id)
       ORDER BY d.id
    LOOP
      IF r.account = v_lacct AND v_left >= r.draw THEN
        v_left := v_left - r.draw;
        v_fresh[r.i] := true;
        v_fresh_ids := v_fresh_ids || r.id;
      END IF;
    END LOOP;
    IF v_left <> v_start THEN
      UPDATE holds l SET amount_micros = v_left,
                         state = CASE WHEN v_left = 0 AND v_closed IS NOT NULL THEN 'released'::hold_state ELSE l.state END,
                         resolved_at = CASE WHEN v_left = 0 AND v_closed IS NOT NULL THEN now() ELSE l.resolved_at END
       WHERE l.id = v_lid;
      IF v_left = 0 AND v_closed IS NOT NULL THEN
        INSERT INTO hold_events (hold_id, state, amount_micros, reason) VALUES (v_lid, 'released', 0, 'every draw split off');
      END IF;
    END IF;
  END LOOP;

  -- 2. the rest settle as any hold does (split off before, settled before, or their lease gone: a lost hold's
  --    settle), each locking its hold and then its account, in account order; a second copy of a draw taken
  --    in step 1 answers after step 3, as a replay
  FOR r IN
    SELECT u.i, u.id, u.cost, u.account, u.key, u.request, u.model
      FROM unnest(p_id, p_cost, p_account, p_key, p_request, p_model) WITH ORDINALITY AS u(id, cost, account, key, request, model, i)
     ORDER BY u.account, u.id, u.i
  LOOP
    CONTINUE WHEN v_fresh[r.i];
    IF r.id = ANY (v_fresh_ids) THEN
      v_later := v_later || r.i::int;
      CONTINUE;
    END IF;
    RETURN QUERY SELECT p_idx[r.i], r.id, st.status, st.charged_micros, st.released_micros, st.debt_micros, false
      FROM gw_settle_call(r.id, r.cost, r.account, r.key, r.request, r.model) st;
  END LOOP;

  -- 3. the drawn ones: per account (in id order) one lock and one update, its calls in the batch's order;
  --    each call's charge as  --    gw_settle_hold computes it (its draw still counts in held_micros: the lease held it)
  FOR r IN
    SELECT u.i, u.draw, u.cost, u.account
      FROM unnest(p_draw, p_cost, p_account) WITH ORDINALITY AS u(draw, cost, account, i)
     WHERE v_fresh[u.i]
     ORDER BY u.account, u.i
  LOOP
    IF v_acct IS DISTINCT FROM r.account THEN
      IF v_acct IS NOT NULL THEN
        UPDATE accounts a SET balance_micros = v_bal, held_micros = v_held, debt_micros = v_dbt, updated_at = now() WHERE a.id = v_acct;
      END IF;
      SELECT a.balance_micros, a.held_micros, a.debt_micros INTO v_bal, v_held, v_dbt FROM accounts a WHERE a.id = r.account FOR UPDATE;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'account % of a drawn hold not found', r.account;
      END IF;
      v_acct := r.account;
    END IF;
    v_charge := LEAST(r.cost, GREATEST(v_bal - v_held + r.draw, 0));
    v_debt := r.cost - v_charge;
    v_bal := v_bal - v_charge;
    v_held := v_held - r.draw;
    v_dbt := v_dbt + v_debt;
    k := k + 1;
    o_i[k] := r.i;
    o_charge[k] := v_charge;
    o_debt[k] := v_debt;
    o_bal[k] := v_bal;
  END LOOP;
  IF v_acct IS NOT NULL THEN
    UPDATE accounts a SET balance_micros = v_bal, held_micros = v_held, debt_micros = v_dbt, updated_at = now() WHERE a.id = v_acct;
  END IF;
  IF k > 0 THEN
    INSERT INTO holds (id, account_id, key_id, request_id, kind, model, amount_micros, state, expires_at, resolved_at,
                       settled_micros, overage_micros, debt_micros, lease_id)
    SELECT p_id[x.i], p_account[x.i], p_key[x.i], p_request[x.i], 'call', p_model[x.i], p_draw[x.i], 'settled',
           now() + make_interval(secs => p_ttl_ms / 1000.0), now(), LEAST(x.c, p_draw[x.i]), x.c - LEAST(x.c, p_draw[x.i]), x.d,
           p_lease[x.i]
      FROM unnest(o_i, o_charge, o_debt) AS x(i, c, d);
    INSERT INTO ledger_entries (account_id, kind, amount_micros, balance_after_micros, hold_id)
    SELECT p_account[x.i], 'charge', -x.c, x.b, p_id[x.i]
      FROM unnest(o_i, o_charge, o_bal) WITH ORDINALITY AS x(i, c, b, o)
     WHERE x.c > 0
     ORDER BY x.o;
    RETURN QUERY SELECT p_idx[x.i], p_id[x.i], 'ok'::text, x.c, GREATEST(p_draw[x.i] - x.c, 0), x.d, true
      FROM unnest(o_i, o_charge, o_debt) AS x(i, c, d);
  END IF;

  -- 4. second copies of the drawn ones: they find their hold settled
  FOR r IN
    SELECT u.i, u.id, u.cost, u.account, u.key, u.request, u.model
      FROM unnest(p_id, p_cost, p_account, p_key, p_request, p_model) WITH ORDINALITY AS u(id, cost, account, key, request, model, i)
     WHERE u.i = ANY (v_later)
  LOOP
    RETURN QUERY SELECT p_idx[r.i], r.id, st.status, st.charged_micros, st.released_micros, st.debt_micros, false
      FROM gw_settle_call(r.id, r.cost, r.account, r.key, r.request, r.model) st;
  END LOOP;
END $$;

-- As in 20261202010000_settle_drawn, with lease_id set on the split-off hold.
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
  INSERT INTO holds (id, account_id, key_id, request_id, kind, model, amount_micros, state, expires_at, lease_id)
  VALUES (p_id, p_account, p_key, p_request, 'call', p_model, p_draw, 'active', now() + make_interval(secs => p_ttl_ms / 1000.0), p_lease)
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
