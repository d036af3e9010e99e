-- 020 identity holds (issue 15, item 1): a dose recorded by NIK with a name
-- that does not match the record is recorded against the record as it
-- stands, but held: its certificate waits as `held` (never sent, never in
-- an answer), the vaccination is marked `identity_held` (it gives the
-- recording facility no scope over the person), and a `name_mismatch` case
-- opens. Confirming the case makes the certificate valid and sends its SMS;
-- finding it is someone else voids the dose (records/identity.ts).
--
-- A new phone sent with a dose for a person whose phone is on record no
-- longer replaces it: a `phone_change` case holds the number until a code
-- to it is entered, or a facility that vaccinated the person before, the
-- district, support or admin confirms. The old number is told (a
-- `phone_replaced` notification, no link, no name).
ALTER TABLE vaccinations ADD COLUMN identity_held boolean NOT NULL DEFAULT false;
ALTER TABLE certificates DROP CONSTRAINT certificates_status_check;
ALTER TABLE certificates ADD CONSTRAINT certificates_status_check CHECK (status IN ('valid', 'revoked', 'superseded', 'held'));
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
  CHECK (kind IN ('certificate', 'reminder', 'code', 'recall', 'correction', 'dose_request', 'phone_replaced'));
-- Open cases of a kind about one row (a dose, a phone change) are found by subject.
CREATE INDEX cases_subject ON cases (subject_id) WHERE status = 'open';

-- Item 11: a correction whose name matches the record weakly needs two reviewers.
ALTER TABLE phone_corrections ADD COLUMN first_approved_by text, ADD COLUMN first_approved_at timestamptz;
