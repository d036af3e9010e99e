-- 009 notify: lot-recall SMS and one-time codes.

-- A recall notice is its own kind of notification (issue 8: "everyone affected got one SMS").
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('certificate', 'reminder', 'code', 'recall'));

-- One-time codes sent by SMS (citizen portal: certificate lookup, phone change, …).
-- The code is never stored: it is HMAC(otp secret, id) cut to 6 digits, derived
-- when the SMS is sent and again when the code is checked (src/notify/codes.ts).
-- Looked up by id alone (a small global table, like person_keys).
CREATE TABLE otp_requests (
  id           uuid PRIMARY KEY,
  person_id    uuid,                    -- NULL: a number not (yet) tied to a person
  phone        text NOT NULL,           -- E.164, where the code goes
  purpose      text NOT NULL,           -- lookup | phone_change | missing_dose | …
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  attempts     integer NOT NULL DEFAULT 0, -- wrong codes entered
  max_attempts integer NOT NULL DEFAULT 5,
  consumed_at  timestamptz              -- the right code was entered (a code works once)
);
CREATE INDEX otp_requests_phone ON otp_requests (phone, created_at);

-- A certificate SMS to a facility's own number is held as suspicious: looked up per send.
CREATE INDEX facilities_phone ON facilities (phone) WHERE phone IS NOT NULL;
