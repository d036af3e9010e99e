-- 013 phone corrections: "the code never reaches me — the number on record is
-- wrong, lost, or was never mine" (issue 6, item 3).
--
-- A request is filed from the citizen portal with what the person typed; a
-- one-time code goes to the NEW number (otp_requests, purpose
-- phone_correction; the request's id is the code request's id). The right
-- code moves it from `unverified` to `open` on the support work list.
-- Support approves (the person's phone is changed by records/operations.ts
-- correctPhone) or declines with a reason. Nothing about a person is ever
-- sent to new_phone before approval.
--
-- Not keyed by person: most requests are from people whose NIK + birth date
-- may match no one (the public answer must not tell). person_id is the
-- match, for support only; rows are found by id, status and the rate-limit
-- columns.
CREATE TABLE phone_corrections (
  id            uuid PRIMARY KEY,                  -- = otp_requests.id of the code sent to new_phone
  status        text NOT NULL DEFAULT 'unverified' CHECK (status IN ('unverified', 'open', 'approved', 'declined')),
  nik           text NOT NULL,                     -- as entered (16 digits)
  birth_date    date NOT NULL,
  name          text NOT NULL,
  new_phone     text NOT NULL,                     -- E.164, proven by the code once status <> 'unverified'
  note          text,
  client        text NOT NULL,                     -- the client address, for the rate limit
  person_id     uuid,                              -- NIK + birth date matched this person (when filed)
  name_score    real,                              -- 0..1, entered name against the record's (domain/names.ts)
  created_at    timestamptz NOT NULL DEFAULT now(),
  submitted_at  timestamptz,                       -- the code was entered
  decided_at    timestamptz,
  decided_by    text,                              -- the principal's id
  reason        text CHECK (reason IN ('identity_mismatch', 'duplicate_request', 'other')),
  reason_text   text,
  CHECK ((status IN ('approved', 'declined')) = (decided_at IS NOT NULL)),
  CHECK (status <> 'declined' OR reason IS NOT NULL)
);
CREATE INDEX phone_corrections_status ON phone_corrections (status, submitted_at);
CREATE INDEX phone_corrections_nik ON phone_corrections (nik, created_at);
CREATE INDEX phone_corrections_phone ON phone_corrections (new_phone, created_at);
CREATE INDEX phone_corrections_client ON phone_corrections (client, created_at);
CREATE INDEX phone_corrections_person ON phone_corrections (person_id) WHERE person_id IS NOT NULL;

-- The SMS telling the new number that its request was declined: a notification
-- of its own kind, filed under the request's id as person_id (as a code to a
-- number without a person is).
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('certificate', 'reminder', 'code', 'recall', 'correction'));
