-- dosis:no-transaction
-- 043: the certificates written before 042 keep the bytes of their HC1 text
-- too (042), in batches: outside a transaction, one statement at a time
-- (migrate.ts), each batch committed on its own, so that it neither holds
-- millions of rows locked until it ends nor blocks the certificates written
-- meanwhile; safe to run again from its start after a crash (a moved row
-- leaves the partial index below and is not read again).
--
-- The Base45 decoding, in SQL for this backfill only (dropped at the end):
-- three characters → c + 45·d + 45²·e → two bytes; a last pair → one byte
-- (RFC 9285 §4.3). Only texts of the Base45 alphabet are read (the WHERE
-- below); a group whose value does not fit its bytes makes NULL, and such a
-- row keeps its text. For every other text, encoding the bytes again gives
-- the same digits (each digit below 45, each value within its bytes), so the
-- text certificates/hc1.ts `hc1OfStored` builds is the one stored, byte for
-- byte (test/db/migrate.test.ts checks it on issued certificates).
CREATE OR REPLACE FUNCTION dosis_base45_decode_043(t text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE WHEN bool_and(v <= CASE WHEN n = 3 THEN 65535 ELSE 255 END) AND length(t) % 3 <> 1
              THEN decode(string_agg(lpad(to_hex(v), CASE WHEN n = 3 THEN 4 ELSE 2 END, '0'), '' ORDER BY i), 'hex') END
    FROM (SELECT i, length(substr(t, i, 3)) AS n,
                 (strpos(a, substr(t, i, 1)) - 1) + 45 * (strpos(a, substr(t, i + 1, 1)) - 1)
                   + CASE WHEN length(substr(t, i, 3)) = 3 THEN 2025 * (strpos(a, substr(t, i + 2, 1)) - 1) ELSE 0 END AS v
            FROM generate_series(1, length(t), 3) AS i,
                 (SELECT '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:'::text AS a) AS alphabet) AS g
$$;

-- The rows still to move, in key order; a moved row leaves this index.
CREATE INDEX CONCURRENTLY IF NOT EXISTS certificates_hc1_backfill ON certificates (person_id, id) WHERE qr IS NOT NULL;

-- dosis:batch
UPDATE certificates c SET hc1 = x.b, qr = NULL
  FROM (SELECT person_id, id, d.b FROM certificates, LATERAL (SELECT dosis_base45_decode_043(substr(qr, 5)) AS b) AS d
         WHERE qr IS NOT NULL AND qr ~ '^HC1:[0-9A-Z $%*+./:-]+$' AND d.b IS NOT NULL
         ORDER BY person_id, id LIMIT 5000) AS x
 WHERE c.person_id = x.person_id AND c.id = x.id;

DROP INDEX CONCURRENTLY IF EXISTS certificates_hc1_backfill;
DROP FUNCTION IF EXISTS dosis_base45_decode_043(text);
