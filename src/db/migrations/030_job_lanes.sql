-- dosis:no-transaction
-- 030: lanes in the outbox (issue 20). On a record day one-time codes waited
-- 12–15 min behind 1.5 M certificate SMS in one first-in-first-out queue (past
-- the code's 10-minute life) and the pipeline rollup ~20 min. Each job now
-- goes in a lane (notify/jobs.ts `laneOf`), which a worker claims on its own.
--
-- Outside a transaction, one statement at a time (migrate.ts), each safe to
-- run again after a crash: the backfill below runs in batches, each committed
-- on its own, so that it neither holds the rows of millions of waiting
-- reminders locked until it ends nor stops the outbox meanwhile. (Until issue
-- 20's follow-up this file ran as one transaction and one UPDATE; a database
-- that applied it then has the same column, constraint and lanes, and does
-- not run it again.)
--
-- The column's constant default costs no rewrite of the table (PostgreSQL 11+):
-- jobs written by an older version while this one deploys land in the
-- certificate lane, where they run like before.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS lane text NOT NULL DEFAULT 'certificate';
-- NOT VALID: checked for new rows, without a scan of the table under its lock.
ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_lane_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_lane_check CHECK (lane IN ('code', 'periodic', 'certificate', 'notice')) NOT VALID;

-- The waiting jobs of the other lanes move to theirs (done jobs need no lane);
-- `sms_sweep` is the periodic report-timeout sweep of issue 16, where present.
-- On a national database they may be millions (weeks of second-dose
-- reminders). A batch takes the next 5,000 from the head of this index, which
-- holds only the jobs still to move (a moved job leaves it), so no batch reads
-- the ones moved before it; dropped once they are all moved.
CREATE INDEX CONCURRENTLY IF NOT EXISTS jobs_lane_backfill ON jobs (id)
  WHERE status = 'pending' AND lane = 'certificate'
    AND kind IN ('code_sms', 'escalate_dose_requests', 'housekeeping', 'pipeline_rollup', 'sms_sweep',
                 'reminder', 'recall_notice', 'correction_notice', 'phone_replaced_notice', 'dose_request_notice');

-- dosis:batch
UPDATE jobs SET lane = CASE
    WHEN kind = 'code_sms' THEN 'code'
    WHEN kind IN ('escalate_dose_requests', 'housekeeping', 'pipeline_rollup', 'sms_sweep') THEN 'periodic'
    ELSE 'notice' END
 WHERE id IN (SELECT id FROM jobs
               WHERE status = 'pending' AND lane = 'certificate'
                 AND kind IN ('code_sms', 'escalate_dose_requests', 'housekeeping', 'pipeline_rollup', 'sms_sweep',
                              'reminder', 'recall_notice', 'correction_notice', 'phone_replaced_notice', 'dose_request_notice')
               ORDER BY id LIMIT 5000);

DROP INDEX CONCURRENTLY IF EXISTS jobs_lane_backfill;

-- The claim's index (jobs_lane_due) is built by 031, with the other index changes.
