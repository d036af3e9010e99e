-- dosis:no-transaction
-- 031: the outbox's indexes for lanes and for storage that does not grow
-- forever (issue 20; notify/outbox.ts, notify/retention.ts, what stays per
-- dose in db/README.md), and the sweep's index of SMS in flight (issue 16,
-- notify/notifier.ts sweep). Index builds and drops only, run outside a
-- transaction, CONCURRENTLY (migrate.ts): writes to jobs and notifications go
-- on while they build; each statement is safe to run again.

-- The claim: the first due jobs of one lane, in run_at order, read from the
-- head of this index whatever waits behind them and whether or not the
-- table has statistics (the plan test in test/notify/lanes.test.ts). Only
-- pending rows are in it, so done jobs cost it nothing. It replaces jobs_due
-- (run_at of every pending job), which served the claim of all kinds at once.
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_lane_due ON jobs (lane, run_at, id) WHERE status = 'pending';
DROP INDEX CONCURRENTLY IF EXISTS jobs_due;

-- Done jobs are deleted some days after they ended, oldest first: only done
-- jobs are in this index, and only until they are deleted, so it stays the
-- size of those few days.
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_done ON jobs (updated_at) WHERE status = 'done';

-- Two indexes of every notification, for good, that nothing needs:
-- a person's SMS by certificate are found through the primary key (person_id,
-- id) — a person has a handful — and the open SMS through the partial indexes
-- of the open ones (019, and issue 16's notifications_open); counts by status
-- read the whole table either way.
DROP INDEX CONCURRENTLY IF EXISTS notifications_certificate;
DROP INDEX CONCURRENTLY IF EXISTS notifications_status;

-- The missing-report sweep reads the open notifications in flight by status
-- and age: only those rows are in this index, so it stays small however many
-- SMS have ended (and, naming the statuses, it is not taken for other readers
-- of open notifications, e.g. the pipeline's notifications_certificate_open).
CREATE INDEX CONCURRENTLY IF NOT EXISTS notifications_in_flight ON notifications (status, updated_at) WHERE final_at IS NULL AND status IN ('pending', 'submitted', 'unknown');
