-- 033: the pipeline view at record-day rate (issue 20). The rollup
-- (records/pipeline-rollup.ts) now runs every few seconds on a timer of its own
-- and counts up to a few seconds ago, not to the hour before last: the live
-- tail a request reads is seconds of events, not one to two hours (two million
-- doses on a record day). Counts of the last hour, which the tail no longer
-- holds, come from per-minute counts kept for two hours. An hour's counts are
-- made exact once it is final (an hour after it ended), by counting it again
-- from the source tables: a row committed later than its timestamp plus the
-- rollup's margin is then counted after all. final_until: hours before it
-- were counted again (NULL: set by the next run).
CREATE TABLE pipeline_minutes (
  facility_code text NOT NULL,
  minute        timestamptz NOT NULL,
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
  PRIMARY KEY (facility_code, minute)
);
CREATE INDEX pipeline_minutes_minute ON pipeline_minutes (minute);
ALTER TABLE pipeline_rollup ADD COLUMN final_until timestamptz;
-- Hours rolled up by 019's rollup were final when counted.
UPDATE pipeline_rollup SET final_until = done_until;
