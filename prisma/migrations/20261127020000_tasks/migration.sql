-- DropIndex
DROP INDEX "tasks_status_idx";

-- AlterTable
ALTER TABLE "tasks" ADD COLUMN     "upstream" JSONB;

-- CreateIndex
CREATE INDEX "tasks_status_created_at_idx" ON "tasks"("status", "created_at");


ALTER TABLE "tasks" ADD CONSTRAINT "tasks_progress_range" CHECK (progress BETWEEN 0 AND 100);
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_cost_nonnegative" CHECK (cost_micros >= 0);

-- Appends one event with the next sequence number of its task (the task row lock orders concurrent appends).
CREATE FUNCTION gw_task_event(p_task text, p_type text, p_data jsonb)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_seq integer;
BEGIN
  PERFORM 1 FROM tasks t WHERE t.id = p_task FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'task % not found', p_task;
  END IF;
  SELECT COALESCE(MAX(e.seq), 0) + 1 INTO v_seq FROM task_events e WHERE e.task_id = p_task;
  INSERT INTO task_events (task_id, seq, type, data) VALUES (p_task, v_seq, p_type, COALESCE(p_data, '{}'::jsonb));
  RETURN v_seq;
END $$;

-- Moves a task from one of the given states to another, with its event, in one statement. Exactly one
-- caller wins a race (worker finishing, user cancelling, deadline): only the winner moves the money.
-- NULL arguments leave their column as it is.
CREATE FUNCTION gw_task_transition(p_task text, p_from task_status[], p_to task_status, p_progress integer,
                                   p_result jsonb, p_error jsonb, p_cost bigint, p_event text, p_event_data jsonb)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  v_seq integer;
BEGIN
  UPDATE tasks t SET status = p_to,
                     progress = COALESCE(p_progress, t.progress),
                     result = COALESCE(p_result, t.result),
                     error = COALESCE(p_error, t.error),
                     cost_micros = COALESCE(p_cost, t.cost_micros),
                     updated_at = now()
   WHERE t.id = p_task AND t.status = ANY(p_from);
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  SELECT COALESCE(MAX(e.seq), 0) + 1 INTO v_seq FROM task_events e WHERE e.task_id = p_task;
  INSERT INTO task_events (task_id, seq, type, data) VALUES (p_task, v_seq, p_event, COALESCE(p_event_data, '{}'::jsonb));
  RETURN true;
END $$;
