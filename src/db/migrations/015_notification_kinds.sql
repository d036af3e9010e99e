-- 015: 013 (phone corrections) and 014 (dose requests) were written in parallel and each
-- redefined the notification kinds without the other's; the kinds of both, together.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('certificate', 'reminder', 'code', 'recall', 'correction', 'dose_request'));
