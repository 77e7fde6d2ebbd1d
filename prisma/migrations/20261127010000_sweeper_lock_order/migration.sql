-- Holds are now settled and placed in batches that lock accounts in id order. The sweeper takes its
-- locks in the same order (it used to go by deadline), so a sweep and a batch cannot deadlock.
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
       WHERE h.state = 'active' AND h.kind = 'call' AND h.expires_at < now()
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
