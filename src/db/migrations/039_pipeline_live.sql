-- 039: the pipeline view's live tail counted as events are written (issue 20).
-- The view and its series (records/stats.ts) added to the rollup the events
-- since its done_until, read from the source tables: 13–17 s of them on a
-- record day, tens of thousands of doses, certificates, jobs and SMS (each job
-- and SMS with two primary-key probes for its facility) per call, 1–4.5 s.
--
-- Now every write of such a row appends what it changes in the pipeline's
-- events, in its statement and so its transaction: per facility, stage and the
-- minute of the event's timestamp, -1 for what the row counted before and +1
-- for what it counts now (the same events as the rollup's pipelineEvents: a
-- dose at recorded_at with its days to entry, a dose's first certificate at
-- issued_at, a `notify` job at created_at, a certificate SMS accepted at
-- submitted_at and ended at final_at by status), into pipeline_live_changes
-- (append only). The rollup's compaction (records/pipeline-rollup.ts) sums
-- them into pipeline_live, one row per facility, stage and minute. So at any
-- snapshot pipeline_live + pipeline_live_changes hold, for each minute from
-- pipeline_rollup.live_from on, exactly the events of the rows that snapshot
-- sees; a request reads the live tail from them (minutes from done_until on),
-- whatever the rate of events. The rollup itself still counts from the source
-- tables, to minute boundaries. Minutes before done_until are deleted (and
-- live_from raised): nothing reads them.
CREATE TABLE pipeline_live (
  facility_code text NOT NULL,
  stage         text NOT NULL,
  minute        timestamptz NOT NULL,
  n             int8 NOT NULL,
  -- For `recorded`: the sum of the days from the vaccination date to recorded_at.
  days          float8 NOT NULL DEFAULT 0,
  -- For `recorded`: the latest recorded_at (a facility's last dose). Kept as the latest ever counted: a dose
  -- re-dated or deleted (Dosis does neither) leaves it.
  last          timestamptz,
  PRIMARY KEY (facility_code, stage, minute)
);
-- A request reads the minutes from done_until on: a few, unless the rollup stopped.
CREATE INDEX pipeline_live_minute ON pipeline_live (minute);

CREATE TABLE pipeline_live_changes (
  facility_code text NOT NULL,
  stage         text NOT NULL,
  minute        timestamptz NOT NULL,
  n             int8 NOT NULL,
  days          float8 NOT NULL DEFAULT 0,
  last          timestamptz
);

-- pipeline_live is exact for the minutes from live_from on (a minute boundary).
ALTER TABLE pipeline_rollup ADD COLUMN live_from timestamptz;

-- The days from a dose's date to its entry, as the rollup counts them.
CREATE FUNCTION pipeline_entry_days(recorded_at timestamptz, date date) RETURNS float8 LANGUAGE sql STABLE AS $$
  SELECT extract(epoch FROM recorded_at - date::timestamp)::float8 / 86400
$$;

-- Doses inserted or deleted (a statement's rows in one insert); a row whose
-- recorded_at, date or facility changed (the update trigger's WHEN: a status,
-- a hold or a merge's person_id cost nothing). Doses are never deleted or
-- re-dated by Dosis today; counted all the same, so that the counts stay the rows.
CREATE FUNCTION pipeline_live_doses() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO pipeline_live_changes (facility_code, stage, minute, n, days, last)
    SELECT v.facility_code, 'recorded', pipeline_minute(v.recorded_at), count(*), sum(pipeline_entry_days(v.recorded_at, v.date)), max(v.recorded_at)
      FROM pipeline_new v GROUP BY 1, 3;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO pipeline_live_changes (facility_code, stage, minute, n, days)
    SELECT v.facility_code, 'recorded', pipeline_minute(v.recorded_at), -count(*), -sum(pipeline_entry_days(v.recorded_at, v.date))
      FROM pipeline_old v GROUP BY 1, 3;
  ELSE
    INSERT INTO pipeline_live_changes (facility_code, stage, minute, n, days, last)
    VALUES (OLD.facility_code, 'recorded', pipeline_minute(OLD.recorded_at), -1, -pipeline_entry_days(OLD.recorded_at, OLD.date), NULL),
           (NEW.facility_code, 'recorded', pipeline_minute(NEW.recorded_at), 1, pipeline_entry_days(NEW.recorded_at, NEW.date), NEW.recorded_at);
  END IF;
  RETURN NULL;
END
$$;

-- Certificates: `certified` is a dose's first certificate (by issued_at, id).
-- For each dose a statement touched, its first certificate before the
-- statement (the rows now, less those the statement wrote, plus the old
-- versions of those it changed or deleted) and after it: -1 and +1 where they
-- differ. An import batch's certificates are each their dose's first: one
-- probe of certificates_vaccination and one of the dose each. An update that
-- changes no issued_at or vaccination_id (a status: revoked, superseded,
-- valid; a merge's person_id) adds nothing.
CREATE FUNCTION pipeline_live_certificates() RETURNS trigger LANGUAGE plpgsql
  SET enable_seqscan = off SET enable_bitmapscan = off SET jit = off AS $$
DECLARE
  before_rows certificates[];
  after_rows certificates[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(x) INTO after_rows FROM pipeline_new x;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(x) INTO before_rows FROM pipeline_old x;
  ELSE
    SELECT array_agg(a), array_agg(b) INTO before_rows, after_rows FROM pipeline_old a JOIN pipeline_new b ON b.id = a.id
     WHERE a.issued_at IS DISTINCT FROM b.issued_at OR a.vaccination_id IS DISTINCT FROM b.vaccination_id;
    IF before_rows IS NULL THEN RETURN NULL; END IF;
  END IF;
  INSERT INTO pipeline_live_changes (facility_code, stage, minute, n)
  SELECT d.facility_code, 'certified', pipeline_minute(f.issued_at), sum(f.n)
    FROM (SELECT DISTINCT x.person_id, x.vaccination_id
            FROM (SELECT y.person_id, y.vaccination_id FROM unnest(before_rows) y UNION ALL SELECT y.person_id, y.vaccination_id FROM unnest(after_rows) y) x) k
    CROSS JOIN LATERAL (
      (SELECT b.issued_at, -1 AS n FROM (
         SELECT e.issued_at, e.id FROM certificates e
          WHERE e.person_id = k.person_id AND e.vaccination_id = k.vaccination_id
            AND e.id NOT IN (SELECT y.id FROM unnest(after_rows) y)
         UNION ALL
         SELECT y.issued_at, y.id FROM unnest(before_rows) y WHERE y.person_id = k.person_id AND y.vaccination_id = k.vaccination_id) b
       ORDER BY b.issued_at, b.id LIMIT 1)
      UNION ALL
      (SELECT e.issued_at, 1 FROM certificates e WHERE e.person_id = k.person_id AND e.vaccination_id = k.vaccination_id
        ORDER BY e.issued_at, e.id LIMIT 1)) f
    JOIN vaccinations d ON d.person_id = k.person_id AND d.id = k.vaccination_id
   GROUP BY 1, 3 HAVING sum(f.n) <> 0;
  RETURN NULL;
END
$$;

-- Jobs and SMS inserted or deleted: 038's function, now also appending their
-- events (a `notify` job queued; a certificate SMS accepted, ended), with the
-- facility looked up once for both.
CREATE OR REPLACE FUNCTION pipeline_waiting_rows() RETURNS trigger LANGUAGE plpgsql
  SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
BEGIN
  IF TG_TABLE_NAME = 'jobs' AND TG_OP = 'INSERT' THEN
    WITH r AS MATERIALIZED (
      SELECT d.facility_code, pipeline_minute(j.created_at) AS since, j.status = 'pending' AS waits
        FROM pipeline_new j
        LEFT JOIN certificates c ON c.person_id = j.person_id AND c.id = pipeline_job_certificate(j.payload)
        LEFT JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
       WHERE j.kind = 'notify'),
    w AS (INSERT INTO pipeline_waiting_changes (facility_code, state, since, n)
          SELECT coalesce(r.facility_code, ''), 'queued', r.since, count(*) FROM r WHERE r.waits GROUP BY 1, 3)
    INSERT INTO pipeline_live_changes (facility_code, stage, minute, n)
    SELECT r.facility_code, 'queued', r.since, count(*) FROM r WHERE r.facility_code IS NOT NULL GROUP BY 1, 3;
  ELSIF TG_TABLE_NAME = 'jobs' THEN
    WITH r AS MATERIALIZED (
      SELECT d.facility_code, pipeline_minute(j.created_at) AS since, j.status = 'pending' AS waits
        FROM pipeline_old j
        LEFT JOIN certificates c ON c.person_id = j.person_id AND c.id = pipeline_job_certificate(j.payload)
        LEFT JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
       -- Done jobs deleted by housekeeping are days old: their events are in no live minute, no lookup for them.
       WHERE j.kind = 'notify' AND (j.status = 'pending' OR j.created_at >= (SELECT live_from FROM pipeline_rollup))),
    w AS (INSERT INTO pipeline_waiting_changes (facility_code, state, since, n)
          SELECT coalesce(r.facility_code, ''), 'queued', r.since, -count(*) FROM r WHERE r.waits GROUP BY 1, 3)
    INSERT INTO pipeline_live_changes (facility_code, stage, minute, n)
    SELECT r.facility_code, 'queued', r.since, -count(*) FROM r WHERE r.facility_code IS NOT NULL GROUP BY 1, 3;
  ELSIF TG_OP = 'INSERT' THEN
    WITH r AS MATERIALIZED (
      SELECT d.facility_code, x.status, x.submitted_at, x.final_at, pipeline_minute(coalesce(x.submitted_at, x.created_at)) AS since
        FROM pipeline_new x
        LEFT JOIN certificates c ON c.person_id = x.person_id AND c.id = x.certificate_id
        LEFT JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
       WHERE x.kind = 'certificate'),
    w AS (INSERT INTO pipeline_waiting_changes (facility_code, state, since, n)
          SELECT coalesce(r.facility_code, ''), r.status, r.since, count(*) FROM r WHERE r.final_at IS NULL GROUP BY 1, 2, 3)
    INSERT INTO pipeline_live_changes (facility_code, stage, minute, n)
    SELECT r.facility_code, e.stage, e.minute, count(*) FROM r
     CROSS JOIN LATERAL (VALUES ('accepted', pipeline_minute(r.submitted_at)),
                                (r.status, CASE WHEN r.status IN ('delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled') THEN pipeline_minute(r.final_at) END)) e (stage, minute)
     WHERE r.facility_code IS NOT NULL AND e.minute IS NOT NULL GROUP BY 1, 2, 3;
  ELSE
    WITH r AS MATERIALIZED (
      SELECT d.facility_code, x.status, x.submitted_at, x.final_at, pipeline_minute(coalesce(x.submitted_at, x.created_at)) AS since
        FROM pipeline_old x
        LEFT JOIN certificates c ON c.person_id = x.person_id AND c.id = x.certificate_id
        LEFT JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
       WHERE x.kind = 'certificate'
         AND (x.final_at IS NULL OR x.submitted_at >= (SELECT live_from FROM pipeline_rollup) OR x.final_at >= (SELECT live_from FROM pipeline_rollup))),
    w AS (INSERT INTO pipeline_waiting_changes (facility_code, state, since, n)
          SELECT coalesce(r.facility_code, ''), r.status, r.since, -count(*) FROM r WHERE r.final_at IS NULL GROUP BY 1, 2, 3)
    INSERT INTO pipeline_live_changes (facility_code, stage, minute, n)
    SELECT r.facility_code, e.stage, e.minute, -count(*) FROM r
     CROSS JOIN LATERAL (VALUES ('accepted', pipeline_minute(r.submitted_at)),
                                (r.status, CASE WHEN r.status IN ('delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled') THEN pipeline_minute(r.final_at) END)) e (stage, minute)
     WHERE r.facility_code IS NOT NULL AND e.minute IS NOT NULL GROUP BY 1, 2, 3;
  END IF;
  RETURN NULL;
END
$$;

-- A job or SMS updated (038's function): its wait as before, and its events
-- (queued at created_at; accepted at submitted_at; ended at final_at by
-- status) where they changed — an SMS accepted, one that ended, one sent
-- again. Both under the facility of the row as it is now, looked up once.
CREATE OR REPLACE FUNCTION pipeline_waiting_row() RETURNS trigger LANGUAGE plpgsql
  SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
DECLARE
  was_state text;
  was_since timestamptz;
  now_state text;
  now_since timestamptz;
  -- Events: a job queued (minute), an SMS accepted (minute), an SMS ended (status, minute).
  was_queued timestamptz;
  now_queued timestamptz;
  was_accepted timestamptz;
  now_accepted timestamptz;
  was_ended text;
  was_ended_at timestamptz;
  now_ended text;
  now_ended_at timestamptz;
  waits_changed boolean;
  events_changed boolean;
  certificate uuid;
  facility text;
BEGIN
  IF TG_TABLE_NAME = 'jobs' THEN
    IF OLD.kind = 'notify' AND OLD.status = 'pending' THEN was_state := 'queued'; was_since := pipeline_minute(OLD.created_at); END IF;
    IF NEW.kind = 'notify' AND NEW.status = 'pending' THEN now_state := 'queued'; now_since := pipeline_minute(NEW.created_at); END IF;
    IF OLD.kind = 'notify' THEN was_queued := pipeline_minute(OLD.created_at); END IF;
    IF NEW.kind = 'notify' THEN now_queued := pipeline_minute(NEW.created_at); END IF;
    certificate := pipeline_job_certificate(NEW.payload);
  ELSE
    IF OLD.kind = 'certificate' AND OLD.final_at IS NULL THEN was_state := OLD.status; was_since := pipeline_minute(coalesce(OLD.submitted_at, OLD.created_at)); END IF;
    IF NEW.kind = 'certificate' AND NEW.final_at IS NULL THEN now_state := NEW.status; now_since := pipeline_minute(coalesce(NEW.submitted_at, NEW.created_at)); END IF;
    IF OLD.kind = 'certificate' THEN
      was_accepted := pipeline_minute(OLD.submitted_at);
      IF OLD.final_at IS NOT NULL AND OLD.status IN ('delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled') THEN
        was_ended := OLD.status; was_ended_at := pipeline_minute(OLD.final_at);
      END IF;
    END IF;
    IF NEW.kind = 'certificate' THEN
      now_accepted := pipeline_minute(NEW.submitted_at);
      IF NEW.final_at IS NOT NULL AND NEW.status IN ('delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled') THEN
        now_ended := NEW.status; now_ended_at := pipeline_minute(NEW.final_at);
      END IF;
    END IF;
    certificate := NEW.certificate_id;
  END IF;
  waits_changed := was_state IS DISTINCT FROM now_state OR was_since IS DISTINCT FROM now_since;
  events_changed := was_queued IS DISTINCT FROM now_queued OR was_accepted IS DISTINCT FROM now_accepted
                    OR was_ended IS DISTINCT FROM now_ended OR was_ended_at IS DISTINCT FROM now_ended_at;
  IF NOT waits_changed AND NOT events_changed THEN RETURN NULL; END IF;
  SELECT d.facility_code INTO facility FROM certificates c JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
   WHERE c.person_id = NEW.person_id AND c.id = certificate;
  IF waits_changed AND was_state IS NOT NULL THEN
    INSERT INTO pipeline_waiting_changes (facility_code, state, since, n) VALUES (coalesce(facility, ''), was_state, was_since, -1);
  END IF;
  IF waits_changed AND now_state IS NOT NULL THEN
    INSERT INTO pipeline_waiting_changes (facility_code, state, since, n) VALUES (coalesce(facility, ''), now_state, now_since, 1);
  END IF;
  -- The pipeline's events count only jobs and SMS whose certificate and dose exist (as pipelineEvents joins them).
  IF events_changed AND facility IS NOT NULL THEN
    INSERT INTO pipeline_live_changes (facility_code, stage, minute, n)
    SELECT facility, e.stage, e.minute, e.n
      FROM (VALUES ('queued', was_queued, -1, was_queued IS DISTINCT FROM now_queued),
                   ('queued', now_queued, 1, was_queued IS DISTINCT FROM now_queued),
                   ('accepted', was_accepted, -1, was_accepted IS DISTINCT FROM now_accepted),
                   ('accepted', now_accepted, 1, was_accepted IS DISTINCT FROM now_accepted),
                   (was_ended, was_ended_at, -1, was_ended IS DISTINCT FROM now_ended OR was_ended_at IS DISTINCT FROM now_ended_at),
                   (now_ended, now_ended_at, 1, was_ended IS DISTINCT FROM now_ended OR was_ended_at IS DISTINCT FROM now_ended_at)) e (stage, minute, n, changed)
     WHERE e.changed AND e.minute IS NOT NULL;
  END IF;
  RETURN NULL;
END
$$;

-- No write to the four tables while the triggers are made and the live minutes counted (reads go on).
LOCK TABLE vaccinations, certificates, jobs, notifications IN SHARE ROW EXCLUSIVE MODE;

CREATE TRIGGER vaccinations_live_insert AFTER INSERT ON vaccinations REFERENCING NEW TABLE AS pipeline_new
  FOR EACH STATEMENT EXECUTE FUNCTION pipeline_live_doses();
CREATE TRIGGER vaccinations_live_delete AFTER DELETE ON vaccinations REFERENCING OLD TABLE AS pipeline_old
  FOR EACH STATEMENT EXECUTE FUNCTION pipeline_live_doses();
CREATE TRIGGER vaccinations_live_update AFTER UPDATE ON vaccinations FOR EACH ROW
  WHEN (OLD.recorded_at IS DISTINCT FROM NEW.recorded_at OR OLD.date IS DISTINCT FROM NEW.date OR OLD.facility_code IS DISTINCT FROM NEW.facility_code)
  EXECUTE FUNCTION pipeline_live_doses();
CREATE TRIGGER certificates_live_insert AFTER INSERT ON certificates REFERENCING NEW TABLE AS pipeline_new
  FOR EACH STATEMENT EXECUTE FUNCTION pipeline_live_certificates();
CREATE TRIGGER certificates_live_delete AFTER DELETE ON certificates REFERENCING OLD TABLE AS pipeline_old
  FOR EACH STATEMENT EXECUTE FUNCTION pipeline_live_certificates();
CREATE TRIGGER certificates_live_update AFTER UPDATE ON certificates REFERENCING OLD TABLE AS pipeline_old NEW TABLE AS pipeline_new
  FOR EACH STATEMENT EXECUTE FUNCTION pipeline_live_certificates();
-- An SMS's events also move with final_at (not only when it becomes set or unset).
DROP TRIGGER notifications_waiting_update ON notifications;
CREATE TRIGGER notifications_waiting_update AFTER UPDATE ON notifications FOR EACH ROW
  WHEN ((OLD.kind = 'certificate' OR NEW.kind = 'certificate')
        AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.final_at IS DISTINCT FROM NEW.final_at OR OLD.kind IS DISTINCT FROM NEW.kind
             OR OLD.submitted_at IS DISTINCT FROM NEW.submitted_at OR OLD.created_at IS DISTINCT FROM NEW.created_at))
  EXECUTE FUNCTION pipeline_waiting_row();

-- The live minutes from this one on, counted once from the rows (the same events as the rollup's pipelineEvents).
UPDATE pipeline_rollup SET live_from = pipeline_minute(now());
SET LOCAL enable_hashjoin = off;
SET LOCAL enable_mergejoin = off;
INSERT INTO pipeline_live (facility_code, stage, minute, n, days, last)
SELECT e.facility_code, e.stage, pipeline_minute(e.at), count(*), coalesce(sum(e.days), 0), max(e.at) FILTER (WHERE e.stage = 'recorded') FROM (
  SELECT v.facility_code, 'recorded' AS stage, v.recorded_at AS at, pipeline_entry_days(v.recorded_at, v.date) AS days
    FROM vaccinations v WHERE v.recorded_at >= (SELECT live_from FROM pipeline_rollup)
  UNION ALL
  SELECT d.facility_code, 'certified', c.issued_at, NULL
    FROM certificates c JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
   WHERE c.issued_at >= (SELECT live_from FROM pipeline_rollup)
     AND NOT EXISTS (SELECT 1 FROM certificates e WHERE e.person_id = c.person_id AND e.vaccination_id = c.vaccination_id AND (e.issued_at, e.id) < (c.issued_at, c.id))
  UNION ALL
  SELECT d.facility_code, 'queued', j.created_at, NULL FROM jobs j
    JOIN certificates dc ON dc.person_id = j.person_id AND dc.id = pipeline_job_certificate(j.payload)
    JOIN vaccinations d ON d.person_id = dc.person_id AND d.id = dc.vaccination_id
   WHERE j.kind = 'notify' AND j.created_at >= (SELECT live_from FROM pipeline_rollup)
  UNION ALL
  SELECT d.facility_code, 'accepted', n.submitted_at, NULL FROM notifications n
    JOIN certificates dc ON dc.person_id = n.person_id AND dc.id = n.certificate_id
    JOIN vaccinations d ON d.person_id = dc.person_id AND d.id = dc.vaccination_id
   WHERE n.kind = 'certificate' AND n.submitted_at >= (SELECT live_from FROM pipeline_rollup)
  UNION ALL
  SELECT d.facility_code, n.status, n.final_at, NULL FROM notifications n
    JOIN certificates dc ON dc.person_id = n.person_id AND dc.id = n.certificate_id
    JOIN vaccinations d ON d.person_id = dc.person_id AND d.id = dc.vaccination_id
   WHERE n.kind = 'certificate' AND n.final_at >= (SELECT live_from FROM pipeline_rollup)
     AND n.status IN ('delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled')) e
 GROUP BY 1, 2, 3;
RESET enable_hashjoin;
RESET enable_mergejoin;
