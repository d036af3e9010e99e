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

-- Events at or after a time, found without scanning: the append-only times
-- follow the order rows are written in, so a BRIN index (a few pages, next to
-- nothing per insert) finds them; the times set by an update get partial btrees.
CREATE INDEX vaccinations_recorded_at ON vaccinations USING brin (recorded_at) WITH (pages_per_range = 32);
CREATE INDEX certificates_issued_at ON certificates USING brin (issued_at) WITH (pages_per_range = 32);
CREATE INDEX jobs_created_at ON jobs USING brin (created_at) WITH (pages_per_range = 32);
CREATE INDEX jobs_notify_left ON jobs (updated_at) WHERE kind = 'notify' AND status <> 'pending';
CREATE INDEX notifications_certificate_submitted ON notifications (submitted_at) WHERE kind = 'certificate' AND submitted_at IS NOT NULL;
CREATE INDEX notifications_certificate_final ON notifications (final_at) WHERE kind = 'certificate' AND final_at IS NOT NULL;
-- What waits now (the pipeline view's queue and open SMS, with their oldest;
-- the series' backlogs, with those that left since the window's start): only
-- the waiting rows, not every pending job (reminders wait for months).
CREATE INDEX jobs_notify_waiting ON jobs (created_at) WHERE kind = 'notify' AND status = 'pending';
CREATE INDEX notifications_certificate_open ON notifications (created_at) WHERE kind = 'certificate' AND final_at IS NULL;
