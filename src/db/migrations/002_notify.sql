-- 002 notify: every SMS tracked from queue to gateway to delivery report.
-- Keys carry person_id (see 001): a delivery report finds its row by
-- (person_id, id), both carried in the report URL.

-- One message to one person about one thing (a certificate, a reminder, a code).
-- Retries are attempts of the same notification; `attempt` is the current one.
CREATE TABLE notifications (
  person_id      uuid NOT NULL,
  id             uuid NOT NULL,
  source_key     text NOT NULL,          -- what caused it (the job's dedupe key): a re-run job finds it
  certificate_id uuid,
  kind           text NOT NULL CHECK (kind IN ('certificate', 'reminder', 'code')),
  channel        text NOT NULL DEFAULT 'sms' CHECK (channel IN ('sms')),
  recipient      text,                   -- E.164; NULL when held for want of a usable phone
  template       text NOT NULL,          -- e.g. certificate_issued.id
  body           text,                   -- the rendered text, as sent
  encoding       text CHECK (encoding IN ('gsm7', 'ucs2')),
  parts          integer,
  status         text NOT NULL CHECK (status IN ('pending', 'submitted', 'delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled')),
  hold_reason    text,                   -- held: missing | invalid | held; cancelled: why
  attempt        integer NOT NULL DEFAULT 0,
  route          text,                   -- route of the current attempt: sink | primary | fallback
  gateway_ref    text,                   -- the SMSC's message id of the current attempt (Kannel %F)
  report_bits    integer NOT NULL DEFAULT 0, -- OR of every report status seen for the current attempt
  last_error     text,
  next_attempt_at timestamptz,           -- a retry is scheduled
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  submitted_at   timestamptz,            -- the gateway accepted the current attempt
  final_at       timestamptz,            -- delivered, or gave up after the last attempt, or held/cancelled
  PRIMARY KEY (person_id, id),
  UNIQUE (person_id, source_key)
);
CREATE INDEX notifications_certificate ON notifications (person_id, certificate_id);
CREATE INDEX notifications_status ON notifications (status, updated_at);

-- Every state change, gateway answer and delivery report, with its raw text. Append-only.
CREATE TABLE notification_events (
  person_id       uuid NOT NULL,
  notification_id uuid NOT NULL,
  id              bigserial,
  at              timestamptz NOT NULL DEFAULT now(),
  attempt         integer NOT NULL,
  type            text NOT NULL,         -- created | held | submitted | send_failed | report | timeout | retry_scheduled | retry | gave_up | cancelled
  route           text,
  status          text,                  -- the notification's status after this event
  applied         boolean NOT NULL DEFAULT true, -- false: a duplicate or stale report, stored but not acted on
  report_bits     integer,
  gateway_ref     text,
  raw             text,                  -- the gateway's answer or the report's query, verbatim
  PRIMARY KEY (person_id, notification_id, id)
);

-- The local sink gateway (embedded default): what would have been sent.
CREATE TABLE sms_sink (
  person_id       uuid NOT NULL,
  id              bigserial,
  at              timestamptz NOT NULL DEFAULT now(),
  recipient       text NOT NULL,
  body            text NOT NULL,
  notification_id uuid NOT NULL,
  PRIMARY KEY (person_id, id)
);
CREATE INDEX sms_sink_recent ON sms_sink (id);

-- Workers claim by kind and due time; the partial index keeps claims cheap however many jobs are done.
CREATE INDEX jobs_dead ON jobs (kind, updated_at) WHERE status = 'dead';
