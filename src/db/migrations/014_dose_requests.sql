-- 014 dose requests (issue 9): a person whose dose is not on record asks the
-- facility that gave it to enter it. The request sits on that facility's work
-- list; the facility enters the dose (linked here) or declines with a reason;
-- one still open after DOSIS_DOSE_REQUEST_ESCALATE_DAYS escalates to the
-- district of the facility's region (a periodic outbox job).
CREATE TABLE dose_requests (
  person_id      uuid NOT NULL,
  id             uuid NOT NULL,
  facility_code  text NOT NULL REFERENCES facilities (code),
  vaccine        text NOT NULL,
  dose_number    integer NOT NULL CHECK (dose_number BETWEEN 1 AND 9),
  date           date NOT NULL,
  lot            text,
  note           text,
  status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'escalated', 'entered', 'declined')),
  escalated_at   timestamptz,
  vaccination_id uuid,                  -- the dose entered for it
  decline_reason text CHECK (decline_reason IN ('no_record_at_facility', 'wrong_facility', 'person_not_identified', 'duplicate_of_recorded_dose', 'other')),
  decline_text   text,
  decided_by     uuid,
  decided_at     timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (person_id, id),
  CHECK (status <> 'declined' OR decline_reason IS NOT NULL),
  CHECK (status <> 'entered' OR vaccination_id IS NOT NULL)
);
CREATE UNIQUE INDEX dose_requests_id ON dose_requests (id);
-- One request per dose still waiting: asking twice is a conflict, not a second item on the list.
CREATE UNIQUE INDEX dose_requests_waiting_dose ON dose_requests (person_id, dose_number) WHERE status IN ('open', 'escalated');
CREATE INDEX dose_requests_facility ON dose_requests (facility_code, status, created_at);
CREATE INDEX dose_requests_overdue ON dose_requests (created_at) WHERE status = 'open';

-- The SMS that tells the person the request was declined.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('certificate', 'reminder', 'code', 'recall', 'dose_request'));

