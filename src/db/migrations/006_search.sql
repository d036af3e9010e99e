-- 006 search: find people by name with typos and Indonesian spelling variants.
-- name_norm: lower case, no diacritics or punctuation (domain/names.ts normalizeName);
-- name_key: the variant-folding key (nameKey: Muhammad/Muhamad/Mohammad → mhmd…).
-- Both are computed by the application (one implementation of the rules) and
-- indexed with trigrams, which run the same on PostgreSQL and PGlite.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

ALTER TABLE people ADD COLUMN name_norm text;
ALTER TABLE people ADD COLUMN name_key text;

-- GiST, not GIN: it serves `ORDER BY name_key <-> $1 LIMIT n` (nearest first)
-- straight from the index, so a common name does not scan every candidate.
CREATE INDEX people_name_key_trgm ON people USING gist (name_key public.gist_trgm_ops);
