-- 034: the hand-off of every dose to SATUSEHAT (issue 21), tracked like an SMS.
-- One row per dose to hand over, written in the same statement as the dose
-- (records/record-dose.ts) with its outbox job in the new lowest lane `sync`
-- (notify/jobs.ts), which a worker claims after every other lane: the hand-off
-- never delays a one-time code or a certificate SMS.
--   state  waiting            queued, not yet accepted by SATUSEHAT (retries of 5xx, 429, network errors stay here)
--          synced             SATUSEHAT holds the Immunization (immunization_id); a voided dose: its entered-in-error too
--          rejected           a 4xx with an OperationOutcome: `outcome` in words on the `satusehat_rejected` work list
--          patient_not_found  no NIK, or no Patient by that NIK: the `satusehat_patient_not_found` work list
CREATE TABLE satusehat_sync (
  vaccination_id  uuid PRIMARY KEY,
  person_id       uuid NOT NULL,
  facility_code   text NOT NULL,
  state           text NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'synced', 'rejected', 'patient_not_found')),
  immunization_id text,                 -- SATUSEHAT's id of the Immunization
  encounter_id    text,                 -- SATUSEHAT's id of the Encounter made for the visit
  outcome         jsonb,                -- the last OperationOutcome of a rejection
  sent_status     text,                 -- the Immunization.status SATUSEHAT last accepted (completed / entered-in-error)
  queued_at       timestamptz NOT NULL DEFAULT now(),
  synced_at       timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
-- The pipeline view's oldest waiting dose and the backlog, read from the head of this index.
CREATE INDEX satusehat_sync_waiting ON satusehat_sync (queued_at) WHERE state = 'waiting';
CREATE INDEX satusehat_sync_person ON satusehat_sync (person_id);
-- The pipeline view's throughput (last minute, last hour) and its work-list figure, each a range of an index.
CREATE INDEX satusehat_sync_synced_at ON satusehat_sync (synced_at) WHERE synced_at IS NOT NULL;
CREATE INDEX satusehat_sync_problems ON satusehat_sync (facility_code) WHERE state IN ('rejected', 'patient_not_found');
-- Doses SATUSEHAT holds, per facility: counted once, when a dose is first accepted (the pipeline view reads
-- these few rows, not a count over every dose ever sent).
CREATE TABLE satusehat_totals (
  facility_code text PRIMARY KEY,
  synced        int8 NOT NULL DEFAULT 0
);

-- The new lane. NOT VALID: checked for new rows, without a scan of the table under its lock.
ALTER TABLE jobs DROP CONSTRAINT jobs_lane_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_lane_check CHECK (lane IN ('code', 'periodic', 'certificate', 'notice', 'sync')) NOT VALID;
