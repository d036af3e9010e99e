-- dosis:no-transaction
-- 044: the series' SMS backlogs from an hourly gauge (issue 20).
--
-- GET /api/v1/stats/series (records/stats.ts) computed its backlogs `queue`
-- (notify jobs pending) and `report` (certificate SMS accepted by the gateway,
-- no final report) from the waiting rows themselves: every pending job and
-- every job that left the queue since the window's start, every open SMS and
-- every SMS final since then, for a district each looked up to its dose's
-- facility. On the 2 M-row record day (1.8 M jobs pending) that took 2–20 s a
-- call, and a core while a dashboard polled it.
--
-- Now the rollup (records/pipeline-rollup.ts `sampleWaiting`, every few
-- seconds) writes what waits at its snapshot — from pipeline_waiting and its
-- changes (migration 038), exact — into the row of the current UTC hour of
-- each facility with something waiting, and deletes the rows of that hour of
-- the facilities where nothing waits any more (absent = 0). A past hour's
-- rows are what waited at the last run in it. A series reads, per bucket, the
-- rows of the last sampled hour in it: buckets × facilities in scope.
--
--   facility_code: as in pipeline_waiting ('' when a job's certificate or dose
--                  is not found: counted for an unscoped caller only).
--   queue:         notify jobs pending (state 'queued').
--   report:        certificate SMS `submitted` or `unknown`, not final.
CREATE TABLE IF NOT EXISTS pipeline_waiting_hours (
  hour          timestamptz NOT NULL,
  facility_code text NOT NULL,
  queue         int8 NOT NULL,
  report        int8 NOT NULL,
  PRIMARY KEY (hour, facility_code)
);

-- The hours the rollup sampled, and when it last did in each: an hour with no
-- row here was not observed (no worker ran), and a series carries the value
-- before it forward; one here with no facility row had nothing waiting.
CREATE TABLE IF NOT EXISTS pipeline_waiting_samples (
  hour       timestamptz PRIMARY KEY,
  sampled_at timestamptz NOT NULL
);

-- The partial indexes only the series' reading of the waiting rows used
-- (032): every claim and completion of a notify job wrote jobs_notify_left,
-- every SMS's creation notifications_certificate_open. Nothing else reads by
-- them (the pipeline view reads pipeline_waiting since 038; the report sweep
-- has notifications_in_flight, retention notifications_certificate_final).
DROP INDEX CONCURRENTLY IF EXISTS jobs_notify_waiting;
DROP INDEX CONCURRENTLY IF EXISTS jobs_notify_left;
DROP INDEX CONCURRENTLY IF EXISTS notifications_certificate_open;
