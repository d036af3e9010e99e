-- 045: SMS updated, counted once per statement (issue 20). The update
-- triggers of 038/039 ran for each row whose wait or events may have changed:
-- per row a call of pipeline_waiting_row, two primary-key probes for its
-- facility and one to three single-row inserts; the worker's batch of 100
-- certificate SMS delivered in one statement fired it 100 times.
--
-- Now one trigger per statement on `notifications`, over its transition
-- tables, does for all its rows what pipeline_waiting_row did for each, with
-- the same result per facility, state (stage) and minute:
--  1. the rows whose wait or events may have changed: old and new versions
--     joined by id (a hash join, whatever the number of rows), kept when they
--     pass 039's WHEN — an update that changes no such column (a retry's
--     next_attempt_at, a compacted text, a merge's person_id) stops here, at
--     the cost of that join;
--  2. for those, -1 for the wait and events the row counted before and +1 for
--     those it counts now, where they differ, under the facility of the row as
--     it is now, found once per row by two primary-key probes; summed per
--     facility, state and minute, in one insert into each change table.
-- A statement-level trigger fires for every UPDATE of its table, even of no
-- row, and has no WHEN: step 1 is all that such an update pays.
--
-- `jobs` keeps its row trigger: measured (bench/triggers.ts, server CPU per
-- batch of 100), the statement trigger saved ~0.6 ms on the 100 jobs marked
-- done and cost 0.2–0.4 ms on every claim of 100 (which changes nothing
-- counted, and which the row trigger's WHEN skips without a call), and a call
-- on each single-job update (a retry, a postponement, a release): even at best. The row
-- triggers were never the large cost: per row ~20 µs, mostly the two probes,
-- which a statement trigger makes as well.
--
-- The function's settings leave the planner one plan whatever the statistics
-- and the size of the statement a session first ran it with (the plans are
-- made once per session and kept): no nested loop and no merge join, so the
-- join of step 1 is a hash join (a nested loop planned for the one-row update
-- that came first would be quadratic for a 100,000-row one); step 2 has no
-- join: the facility is a scalar subquery per row, each a primary-key probe
-- (no sequential or bitmap scan).

-- What a row's update changes for the pipeline: its wait (state and minute;
-- NULL: it waits for nothing) and its events (accepted; ended, by status)
-- before and after, and the row as it is now.
CREATE TYPE pipeline_row_change AS (
  person_id    uuid,
  certificate  uuid,
  was_state    text,
  was_since    timestamptz,
  now_state    text,
  now_since    timestamptz,
  was_accepted timestamptz,
  now_accepted timestamptz,
  was_ended    text,
  was_ended_at timestamptz,
  now_ended    text,
  now_ended_at timestamptz
);

CREATE FUNCTION pipeline_waiting_updates() RETURNS trigger LANGUAGE plpgsql
  SET enable_seqscan = off SET enable_bitmapscan = off SET enable_nestloop = off SET enable_mergejoin = off SET jit = off AS $$
DECLARE
  changed pipeline_row_change[];
BEGIN
  -- 1. The rows that may have changed what they count (the WHEN of 039's row trigger).
  SELECT array_agg(ROW(
           n.person_id, n.certificate_id,
           CASE WHEN o.kind = 'certificate' AND o.final_at IS NULL THEN o.status END,
           CASE WHEN o.kind = 'certificate' AND o.final_at IS NULL THEN pipeline_minute(coalesce(o.submitted_at, o.created_at)) END,
           CASE WHEN n.kind = 'certificate' AND n.final_at IS NULL THEN n.status END,
           CASE WHEN n.kind = 'certificate' AND n.final_at IS NULL THEN pipeline_minute(coalesce(n.submitted_at, n.created_at)) END,
           CASE WHEN o.kind = 'certificate' THEN pipeline_minute(o.submitted_at) END,
           CASE WHEN n.kind = 'certificate' THEN pipeline_minute(n.submitted_at) END,
           CASE WHEN o.kind = 'certificate' AND o.final_at IS NOT NULL AND o.status IN ('delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled') THEN o.status END,
           CASE WHEN o.kind = 'certificate' AND o.final_at IS NOT NULL AND o.status IN ('delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled') THEN pipeline_minute(o.final_at) END,
           CASE WHEN n.kind = 'certificate' AND n.final_at IS NOT NULL AND n.status IN ('delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled') THEN n.status END,
           CASE WHEN n.kind = 'certificate' AND n.final_at IS NOT NULL AND n.status IN ('delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled') THEN pipeline_minute(n.final_at) END
           )::pipeline_row_change)
    INTO changed
    FROM pipeline_old o JOIN pipeline_new n ON n.id = o.id
   WHERE (o.kind = 'certificate' OR n.kind = 'certificate')
     AND (o.status IS DISTINCT FROM n.status OR o.final_at IS DISTINCT FROM n.final_at OR o.kind IS DISTINCT FROM n.kind
          OR o.submitted_at IS DISTINCT FROM n.submitted_at OR o.created_at IS DISTINCT FROM n.created_at);
  IF changed IS NULL THEN RETURN NULL; END IF;
  -- 2. Where the wait or an event did change: -1 before, +1 after, under the facility of the row as it is now.
  WITH r AS MATERIALIZED (
    SELECT x.*,
           x.was_state IS DISTINCT FROM x.now_state OR x.was_since IS DISTINCT FROM x.now_since AS waits_changed,
           (SELECT d.facility_code FROM vaccinations d
             WHERE d.person_id = x.person_id
               AND d.id = (SELECT c.vaccination_id FROM certificates c WHERE c.person_id = x.person_id AND c.id = x.certificate)) AS facility
      FROM unnest(changed) x
     WHERE x.was_state IS DISTINCT FROM x.now_state OR x.was_since IS DISTINCT FROM x.now_since
        OR x.was_accepted IS DISTINCT FROM x.now_accepted
        OR x.was_ended IS DISTINCT FROM x.now_ended OR x.was_ended_at IS DISTINCT FROM x.now_ended_at),
  w AS (
    INSERT INTO pipeline_waiting_changes (facility_code, state, since, n)
    SELECT coalesce(r.facility, ''), e.state, e.since, sum(e.n) FROM r
     CROSS JOIN LATERAL (VALUES (r.was_state, r.was_since, -1), (r.now_state, r.now_since, 1)) e (state, since, n)
     WHERE r.waits_changed AND e.state IS NOT NULL
     GROUP BY 1, 2, 3 HAVING sum(e.n) <> 0)
  -- The pipeline's events count only SMS whose certificate and dose exist (as pipelineEvents joins them).
  INSERT INTO pipeline_live_changes (facility_code, stage, minute, n)
  SELECT r.facility, e.stage, e.minute, sum(e.n) FROM r
   CROSS JOIN LATERAL (VALUES ('accepted', r.was_accepted, -1, r.was_accepted IS DISTINCT FROM r.now_accepted),
                              ('accepted', r.now_accepted, 1, r.was_accepted IS DISTINCT FROM r.now_accepted),
                              (r.was_ended, r.was_ended_at, -1, r.was_ended IS DISTINCT FROM r.now_ended OR r.was_ended_at IS DISTINCT FROM r.now_ended_at),
                              (r.now_ended, r.now_ended_at, 1, r.was_ended IS DISTINCT FROM r.now_ended OR r.was_ended_at IS DISTINCT FROM r.now_ended_at)) e (stage, minute, n, changed)
   WHERE r.facility IS NOT NULL AND e.changed AND e.minute IS NOT NULL
   GROUP BY 1, 2, 3 HAVING sum(e.n) <> 0;
  RETURN NULL;
END
$$;

-- No write to the table while its trigger changes (reads go on): every update is counted by exactly one of them.
LOCK TABLE notifications IN SHARE ROW EXCLUSIVE MODE;
DROP TRIGGER notifications_waiting_update ON notifications;
CREATE TRIGGER notifications_waiting_update AFTER UPDATE ON notifications REFERENCING OLD TABLE AS pipeline_old NEW TABLE AS pipeline_new
  FOR EACH STATEMENT EXECUTE FUNCTION pipeline_waiting_updates();
