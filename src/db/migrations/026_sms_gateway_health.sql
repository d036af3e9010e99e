-- 026 (issue 16): a gateway's health apart from a person's fate, and the
-- report timeouts found by a sweep rather than one job per SMS (issue 20.5).

-- One row per SMS route: its circuit breaker as the processes last saw it
-- (each process keeps its own breaker and writes here on every change, and on
-- a success at most every few seconds), for the dashboard and /metrics.
-- `duplicates`: delivered reports for an attempt other than the one that had
-- already delivered the notification (the person got the SMS twice).
CREATE TABLE sms_routes (
  route            text PRIMARY KEY CHECK (route IN ('sink', 'primary', 'fallback')),
  state            text NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
  since            timestamptz NOT NULL DEFAULT now(),
  last_success_at  timestamptz,
  last_failure_at  timestamptz,
  last_error       text,
  failures         integer NOT NULL DEFAULT 0,   -- gateway failures in a row
  outages          integer NOT NULL DEFAULT 0,   -- times the breaker opened
  duplicates       int8 NOT NULL DEFAULT 0
);
INSERT INTO sms_routes (route) VALUES ('sink'), ('primary'), ('fallback');

-- Which attempt delivered (a delivered report for another attempt is a duplicate SMS);
-- whether the one resend a silent attempt may get was used (notifier.ts, "A missing report").
ALTER TABLE notifications ADD COLUMN delivered_attempt integer;
ALTER TABLE notifications ADD COLUMN unknown_resent boolean NOT NULL DEFAULT false;

-- The sweep's index of the SMS in flight is built by 031, CONCURRENTLY, outside a transaction.
