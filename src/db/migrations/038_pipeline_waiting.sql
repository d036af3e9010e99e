-- 038: what waits now, counted as it changes (issue 20). The pipeline view
-- (records/stats.ts) read the waiting rows themselves on every call — the SMS
-- queue (`notify` jobs pending) and the certificate SMS not final, each looked
-- up to its dose's facility for a district or facility — so its cost grew with
-- the backlog: 1–3 s right after a record-day import, up to 5.7 s during it.
--
-- Now every change of such a row writes what it changed, in the same statement
-- and so the same transaction (a crash or a rollback takes both away): -1 for
-- the wait the row left, +1 for the one it entered, per facility, state and the
-- minute the wait began. The triggers only append rows to
-- pipeline_waiting_changes (no row is updated, so concurrent writers never wait
-- for one another); the rollup (records/pipeline-rollup.ts, every few seconds)
-- moves them into pipeline_waiting, one row per facility, state and minute
-- with something waiting. The view sums both: the minutes of the waits in its
-- scope, not the waiting rows.
--
--   state   'queued': a `notify` job pending (its minute: created_at);
--           an SMS status: a certificate SMS with final_at NULL (its minute:
--           submitted_at, or created_at before the first acceptance).
--   facility_code: the facility of the certificate's dose; '' when there is
--           none (counted for admin, in no facility's scope).
CREATE TABLE pipeline_waiting (
  facility_code text NOT NULL,
  state         text NOT NULL,
  since         timestamptz NOT NULL,
  n             int8 NOT NULL,
  PRIMARY KEY (facility_code, state, since)
);

-- Appended by the triggers below, moved into pipeline_waiting by the rollup: seconds of changes.
CREATE TABLE pipeline_waiting_changes (
  facility_code text NOT NULL,
  state         text NOT NULL,
  since         timestamptz NOT NULL,
  n             int8 NOT NULL
);

-- The certificate a `notify` job is about (NULL when its payload names none, or not as a uuid).
CREATE FUNCTION pipeline_job_certificate(payload jsonb) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN payload->>'certificateId' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              THEN (payload->>'certificateId')::uuid END
$$;

-- The minute a wait began, whatever the session's time zone.
CREATE FUNCTION pipeline_minute(t timestamptz) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT date_bin(interval '1 minute', t, timestamptz '2000-01-01 00:00:00Z')
$$;

-- Rows written or deleted by a statement: one insert for all of them, summed
-- per facility, state and minute (an import batch adds its 500 jobs at once),
-- each row's facility found by two primary-key probes (certificate, dose).
-- Each trigger's statements are planned once per connection and kept (no
-- parameters: a generic plan), whatever the size of the statement that first
-- ran them and whether or not the tables have statistics: hence the settings
-- of the functions, which leave the planner no plan for the lookup of a
-- facility but those probes (the plan test in
-- test/records/pipeline-waiting.test.ts).
CREATE FUNCTION pipeline_waiting_rows() RETURNS trigger LANGUAGE plpgsql
  SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
BEGIN
  IF TG_TABLE_NAME = 'jobs' AND TG_OP = 'INSERT' THEN
    INSERT INTO pipeline_waiting_changes (facility_code, state, since, n)
    SELECT coalesce(d.facility_code, ''), 'queued', pipeline_minute(j.created_at), count(*)
      FROM pipeline_new j
      LEFT JOIN certificates c ON c.person_id = j.person_id AND c.id = pipeline_job_certificate(j.payload)
      LEFT JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
     WHERE j.kind = 'notify' AND j.status = 'pending' GROUP BY 1, 3;
  ELSIF TG_TABLE_NAME = 'jobs' THEN
    INSERT INTO pipeline_waiting_changes (facility_code, state, since, n)
    SELECT coalesce(d.facility_code, ''), 'queued', pipeline_minute(j.created_at), -count(*)
      FROM pipeline_old j
      LEFT JOIN certificates c ON c.person_id = j.person_id AND c.id = pipeline_job_certificate(j.payload)
      LEFT JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
     WHERE j.kind = 'notify' AND j.status = 'pending' GROUP BY 1, 3;
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO pipeline_waiting_changes (facility_code, state, since, n)
    SELECT coalesce(d.facility_code, ''), x.status, pipeline_minute(coalesce(x.submitted_at, x.created_at)), count(*)
      FROM pipeline_new x
      LEFT JOIN certificates c ON c.person_id = x.person_id AND c.id = x.certificate_id
      LEFT JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
     WHERE x.kind = 'certificate' AND x.final_at IS NULL GROUP BY 1, 2, 3;
  ELSE
    INSERT INTO pipeline_waiting_changes (facility_code, state, since, n)
    SELECT coalesce(d.facility_code, ''), x.status, pipeline_minute(coalesce(x.submitted_at, x.created_at)), -count(*)
      FROM pipeline_old x
      LEFT JOIN certificates c ON c.person_id = x.person_id AND c.id = x.certificate_id
      LEFT JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
     WHERE x.kind = 'certificate' AND x.final_at IS NULL GROUP BY 1, 2, 3;
  END IF;
  RETURN NULL;
END
$$;

-- A row updated: called only for rows whose wait may have changed (the
-- triggers' WHEN, checked without calling it: a claim, a retry's run_at, a
-- compacted text or a merge's new person_id cost nothing). -1 where the row
-- waited, +1 where it waits, both under the facility of the row as it is now.
CREATE FUNCTION pipeline_waiting_row() RETURNS trigger LANGUAGE plpgsql
  SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
DECLARE
  was_state text;
  was_since timestamptz;
  now_state text;
  now_since timestamptz;
  certificate uuid;
  facility text;
BEGIN
  IF TG_TABLE_NAME = 'jobs' THEN
    IF OLD.kind = 'notify' AND OLD.status = 'pending' THEN was_state := 'queued'; was_since := pipeline_minute(OLD.created_at); END IF;
    IF NEW.kind = 'notify' AND NEW.status = 'pending' THEN now_state := 'queued'; now_since := pipeline_minute(NEW.created_at); END IF;
    certificate := pipeline_job_certificate(NEW.payload);
  ELSE
    IF OLD.kind = 'certificate' AND OLD.final_at IS NULL THEN was_state := OLD.status; was_since := pipeline_minute(coalesce(OLD.submitted_at, OLD.created_at)); END IF;
    IF NEW.kind = 'certificate' AND NEW.final_at IS NULL THEN now_state := NEW.status; now_since := pipeline_minute(coalesce(NEW.submitted_at, NEW.created_at)); END IF;
    certificate := NEW.certificate_id;
  END IF;
  IF was_state IS NOT DISTINCT FROM now_state AND was_since IS NOT DISTINCT FROM now_since THEN RETURN NULL; END IF;
  SELECT d.facility_code INTO facility FROM certificates c JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
   WHERE c.person_id = NEW.person_id AND c.id = certificate;
  IF was_state IS NOT NULL THEN
    INSERT INTO pipeline_waiting_changes (facility_code, state, since, n) VALUES (coalesce(facility, ''), was_state, was_since, -1);
  END IF;
  IF now_state IS NOT NULL THEN
    INSERT INTO pipeline_waiting_changes (facility_code, state, since, n) VALUES (coalesce(facility, ''), now_state, now_since, 1);
  END IF;
  RETURN NULL;
END
$$;

-- No write to either table while the triggers are made and what waits is
-- counted (SHARE ROW EXCLUSIVE: reads go on): from this transaction's commit
-- every change is counted by the triggers, none before it twice.
LOCK TABLE jobs, notifications IN SHARE ROW EXCLUSIVE MODE;

-- A trigger with transition tables has one event: one each.
CREATE TRIGGER jobs_waiting_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS pipeline_new
  FOR EACH STATEMENT EXECUTE FUNCTION pipeline_waiting_rows();
CREATE TRIGGER jobs_waiting_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS pipeline_old
  FOR EACH STATEMENT EXECUTE FUNCTION pipeline_waiting_rows();
CREATE TRIGGER jobs_waiting_update AFTER UPDATE ON jobs FOR EACH ROW
  WHEN ((OLD.kind = 'notify' OR NEW.kind = 'notify')
        AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.kind IS DISTINCT FROM NEW.kind OR OLD.created_at IS DISTINCT FROM NEW.created_at))
  EXECUTE FUNCTION pipeline_waiting_row();
CREATE TRIGGER notifications_waiting_insert AFTER INSERT ON notifications REFERENCING NEW TABLE AS pipeline_new
  FOR EACH STATEMENT EXECUTE FUNCTION pipeline_waiting_rows();
CREATE TRIGGER notifications_waiting_delete AFTER DELETE ON notifications REFERENCING OLD TABLE AS pipeline_old
  FOR EACH STATEMENT EXECUTE FUNCTION pipeline_waiting_rows();
CREATE TRIGGER notifications_waiting_update AFTER UPDATE ON notifications FOR EACH ROW
  WHEN ((OLD.kind = 'certificate' OR NEW.kind = 'certificate')
        AND (OLD.status IS DISTINCT FROM NEW.status OR (OLD.final_at IS NULL) <> (NEW.final_at IS NULL) OR OLD.kind IS DISTINCT FROM NEW.kind
             OR OLD.submitted_at IS DISTINCT FROM NEW.submitted_at OR OLD.created_at IS DISTINCT FROM NEW.created_at))
  EXECUTE FUNCTION pipeline_waiting_row();

-- What waits now, counted once, through the partial indexes of the waiting
-- rows (migration 032) and the primary keys of their certificates and doses.
SET LOCAL enable_hashjoin = off;
SET LOCAL enable_mergejoin = off;
INSERT INTO pipeline_waiting (facility_code, state, since, n)
SELECT coalesce(d.facility_code, ''), w.state, w.since, count(*) FROM (
  SELECT j.person_id, pipeline_job_certificate(j.payload) AS certificate_id, 'queued' AS state, pipeline_minute(j.created_at) AS since
    FROM jobs j WHERE j.kind = 'notify' AND j.status = 'pending'
  UNION ALL
  SELECT x.person_id, x.certificate_id, x.status, pipeline_minute(coalesce(x.submitted_at, x.created_at))
    FROM notifications x WHERE x.kind = 'certificate' AND x.final_at IS NULL) w
  LEFT JOIN certificates c ON c.person_id = w.person_id AND c.id = w.certificate_id
  LEFT JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
 GROUP BY 1, 2, 3;
RESET enable_hashjoin;
RESET enable_mergejoin;
