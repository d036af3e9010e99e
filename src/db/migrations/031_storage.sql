-- 031: the outbox's indexes for lanes and for storage that does not grow
-- forever (issue 20; notify/outbox.ts, notify/retention.ts, what stays per
-- dose in db/README.md). Index builds and drops only, so that on a large
-- database this file can run outside a transaction, CONCURRENTLY, where the
-- migration runner allows it (each statement is safe to run again).

-- The claim: the first due jobs of one lane, in run_at order, read from the
-- head of this index whatever waits behind them and whether or not the
-- table has statistics (the plan test in test/notify/lanes.test.ts). Only
-- pending rows are in it, so done jobs cost it nothing. It replaces jobs_due
-- (run_at of every pending job), which served the claim of all kinds at once.
CREATE INDEX IF NOT EXISTS jobs_lane_due ON jobs (lane, run_at, id) WHERE status = 'pending';
DROP INDEX IF EXISTS jobs_due;

-- Done jobs are deleted some days after they ended, oldest first: only done
-- jobs are in this index, and only until they are deleted, so it stays the
-- size of those few days.
CREATE INDEX IF NOT EXISTS jobs_done ON jobs (updated_at) WHERE status = 'done';

-- Two indexes of every notification, for good, that nothing needs:
-- a person's SMS by certificate are found through the primary key (person_id,
-- id) — a person has a handful — and the open SMS through the partial indexes
-- of the open ones (019, and issue 16's notifications_open); counts by status
-- read the whole table either way.
DROP INDEX IF EXISTS notifications_certificate;
DROP INDEX IF EXISTS notifications_status;
