-- 017 idempotency answers as text: the first answer is kept as the exact JSON
-- text that was sent, so a replay is byte-identical, and recording a dose no
-- longer makes PostgreSQL parse it into jsonb (measured: the JSON of a
-- write's answers was most of its parsing cost; bench/record.ts).
ALTER TABLE idempotency_keys ALTER COLUMN response TYPE text USING response::text;
