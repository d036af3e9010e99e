-- 031: storage that does not grow forever (issue 20; notify/retention.ts, what
-- stays per dose in db/README.md).

-- Done jobs are deleted some days after they ended, oldest first: only done
-- jobs are in this index, and only until they are deleted, so it stays the
-- size of those few days.
CREATE INDEX jobs_done ON jobs (updated_at) WHERE status = 'done';

-- Two indexes of every notification, for good, that nothing needs:
-- a person's SMS by certificate are found through the primary key (person_id,
-- id) — a person has a handful — and the open SMS by status through
-- notifications_certificate_open (019) and the partial indexes of the open ones;
-- counts by status read the whole table either way.
DROP INDEX IF EXISTS notifications_certificate;
DROP INDEX IF EXISTS notifications_status;
