-- 030: lanes in the outbox (issue 20). On a record day one-time codes waited
-- 12–15 min behind 1.5 M certificate SMS in one first-in-first-out queue (past
-- the code's 10-minute life) and the pipeline rollup ~20 min. Each job now
-- goes in a lane (notify/jobs.ts `laneOf`), which a worker claims on its own.
--
-- The column's constant default costs no rewrite of the table (PostgreSQL 11+):
-- jobs written by an older version while this one deploys land in the
-- certificate lane, where they run like before.
ALTER TABLE jobs ADD COLUMN lane text NOT NULL DEFAULT 'certificate';
-- NOT VALID: checked for new rows, without a scan of the table under its lock.
ALTER TABLE jobs ADD CONSTRAINT jobs_lane_check CHECK (lane IN ('code', 'periodic', 'certificate', 'notice')) NOT VALID;

-- The waiting jobs of the other lanes move to theirs (done jobs need no lane);
-- `sms_sweep` is the periodic report-timeout sweep of issue 16, where present.
-- One statement: it rewrites the waiting reminders too, which on a national
-- database may be millions (weeks of second-dose reminders).
UPDATE jobs SET lane = CASE
    WHEN kind = 'code_sms' THEN 'code'
    WHEN kind IN ('escalate_dose_requests', 'housekeeping', 'pipeline_rollup', 'sms_sweep') THEN 'periodic'
    ELSE 'notice' END
 WHERE status = 'pending' AND kind IN ('code_sms', 'escalate_dose_requests', 'housekeeping', 'pipeline_rollup', 'sms_sweep',
                                       'reminder', 'recall_notice', 'correction_notice', 'phone_replaced_notice', 'dose_request_notice');

-- The claim's index (jobs_lane_due) is built by 031, with the other index changes.
