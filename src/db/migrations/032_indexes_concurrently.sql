-- dosis:no-transaction
-- 032: indexes on large tables, built CONCURRENTLY (issue 20).
--
-- The indexes of the pipeline view and its rollup (records/stats.ts,
-- records/pipeline-rollup.ts) on the large tables, built CONCURRENTLY: writes
-- to vaccinations, certificates, jobs and notifications go on while they build
-- (migrate.ts runs this file outside a transaction, one statement at a time).
-- They were part of 019, built inside its transaction; 019 no longer builds
-- them. A database that applied 019 before has them, valid, under these names:
-- IF NOT EXISTS keeps them. One left INVALID by an interrupted build is dropped
-- and built again (migrate.ts).
--
-- Events at or after a time, found without scanning: the append-only times
-- follow the order rows are written in, so a BRIN index (a few pages, next to
-- nothing per insert) finds them; the times set by an update get partial btrees.
CREATE INDEX CONCURRENTLY IF NOT EXISTS vaccinations_recorded_at ON vaccinations USING brin (recorded_at) WITH (pages_per_range = 32);
CREATE INDEX CONCURRENTLY IF NOT EXISTS certificates_issued_at ON certificates USING brin (issued_at) WITH (pages_per_range = 32);
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_created_at ON jobs USING brin (created_at) WITH (pages_per_range = 32);
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_notify_left ON jobs (updated_at) WHERE kind = 'notify' AND status <> 'pending';
CREATE INDEX CONCURRENTLY IF NOT EXISTS notifications_certificate_submitted ON notifications (submitted_at) WHERE kind = 'certificate' AND submitted_at IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS notifications_certificate_final ON notifications (final_at) WHERE kind = 'certificate' AND final_at IS NOT NULL;
-- What waits now (the pipeline view's queue and open SMS, with their oldest;
-- the series' backlogs, with those that left since the window's start): only
-- the waiting rows, not every pending job (reminders wait for months).
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_notify_waiting ON jobs (created_at) WHERE kind = 'notify' AND status = 'pending';
CREATE INDEX CONCURRENTLY IF NOT EXISTS notifications_certificate_open ON notifications (created_at) WHERE kind = 'certificate' AND final_at IS NULL;

-- Search by NIK (records/search.ts: people.id_value = $1): an index probe, not
-- a scan of every person (181 ms idle at 2 M people, seconds under load).
CREATE INDEX CONCURRENTLY IF NOT EXISTS people_id_value ON people (id_value);
