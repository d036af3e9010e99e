-- 019: the pipeline view and its series (records/stats.ts) without reading all
-- of history on every call. Events of each stage are counted per facility and
-- UTC hour once the hour is final (records/pipeline-rollup.ts, run by the
-- worker every 5 minutes); a request adds the hours of its window to the live
-- tail since `done_until`, read from the source tables through the indexes
-- below. Stages, each counted in the hour its timestamp falls in:
--   recorded  a dose, any status            vaccinations.recorded_at
--   certified a dose's first certificate     certificates.issued_at
--   queued    a `notify` job                 jobs.created_at
--   accepted  a certificate SMS accepted     notifications.submitted_at
--   delivered … cancelled: how it ended      notifications.final_at, by status
-- Jobs and SMS belong to the facility of their certificate's dose.
-- entry_days: the sum over the recorded doses of days from the vaccination
-- date to recorded_at (the average delay of entry is entry_days / recorded).
CREATE TABLE pipeline_hours (
  facility_code text NOT NULL,
  hour          timestamptz NOT NULL,
  recorded      int8 NOT NULL DEFAULT 0,
  certified     int8 NOT NULL DEFAULT 0,
  queued        int8 NOT NULL DEFAULT 0,
  accepted      int8 NOT NULL DEFAULT 0,
  delivered     int8 NOT NULL DEFAULT 0,
  failed        int8 NOT NULL DEFAULT 0,
  expired       int8 NOT NULL DEFAULT 0,
  unknown       int8 NOT NULL DEFAULT 0,
  held          int8 NOT NULL DEFAULT 0,
  cancelled     int8 NOT NULL DEFAULT 0,
  entry_days    float8 NOT NULL DEFAULT 0,
  PRIMARY KEY (facility_code, hour)
);
CREATE INDEX pipeline_hours_hour ON pipeline_hours (hour);

-- Per facility, the sums of all its rolled-up hours (all-time counts without
-- summing hours), and the latest recorded_at among them.
CREATE TABLE pipeline_totals (
  facility_code    text PRIMARY KEY,
  recorded         int8 NOT NULL DEFAULT 0,
  certified        int8 NOT NULL DEFAULT 0,
  queued           int8 NOT NULL DEFAULT 0,
  accepted         int8 NOT NULL DEFAULT 0,
  delivered        int8 NOT NULL DEFAULT 0,
  failed           int8 NOT NULL DEFAULT 0,
  expired          int8 NOT NULL DEFAULT 0,
  unknown          int8 NOT NULL DEFAULT 0,
  held             int8 NOT NULL DEFAULT 0,
  cancelled        int8 NOT NULL DEFAULT 0,
  entry_days       float8 NOT NULL DEFAULT 0,
  last_recorded_at timestamptz
);

-- One row: events before done_until are in pipeline_hours and final; NULL: nothing rolled up yet.
CREATE TABLE pipeline_rollup (
  one        boolean PRIMARY KEY DEFAULT true CHECK (one),
  done_until timestamptz
);
INSERT INTO pipeline_rollup (one) VALUES (true);

-- The indexes on the source tables that the rollup and the live tail read
-- through (vaccinations.recorded_at, certificates.issued_at, jobs, notifications)
-- are built by 032_indexes_concurrently.sql, CONCURRENTLY and outside a
-- transaction: built here, inside this migration's transaction, they blocked
-- every write to those tables for as long as the build took on a large
-- database. Databases that applied this migration before that change have them
-- already (same names); 032 finds them valid and leaves them.
