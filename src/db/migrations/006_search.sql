-- 006 search: find people by name with typos and Indonesian spelling variants.
-- name_norm: lower case, no diacritics or punctuation (domain/names.ts normalizeName);
-- name_key: the variant-folding key (nameKey: Muhammad/Muhamad/Mohammad → mhmd…).
-- Both are computed by the application (one implementation of the rules) and
-- indexed with trigrams, which run the same on PostgreSQL and PGlite.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

ALTER TABLE people ADD COLUMN name_norm text;
ALTER TABLE people ADD COLUMN name_key text;

CREATE INDEX people_name_key_trgm ON people USING gin (name_key public.gin_trgm_ops);
CREATE INDEX people_name_norm_trgm ON people USING gin (name_norm public.gin_trgm_ops);
