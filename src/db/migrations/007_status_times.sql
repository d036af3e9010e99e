-- 007: when a certificate's status changed (superseded, revoked), for the timeline.
ALTER TABLE certificates ADD COLUMN status_at timestamptz;
