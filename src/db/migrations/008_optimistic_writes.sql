-- 008 optimistic writes: recording a dose takes no lock and no transaction.
-- The people of an entry are read with their doses and `version` (no lock),
-- the dose is judged and signed in the application, and everything is written
-- by ONE statement whose rows exist only for the people whose version is still
-- the one read (records/record-dose.ts). A person changed in between is read
-- again and the dose judged again. So every change to a person or to their
-- doses must move the version: the recording statement sets it itself, and the
-- triggers below cover every other writer (merge, void, phone correction,
-- settling a claim) without those having to know.

ALTER TABLE people ADD COLUMN version integer NOT NULL DEFAULT 0;
-- A recorded dose rewrites its person's row (version, maybe phone): leave room
-- on each page so that the new row version stays on it (a HOT update, which
-- touches no index — the trigram index included).
ALTER TABLE people SET (fillfactor = 90);

CREATE FUNCTION people_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  RETURN NEW;
END
$$;
-- Only updates that do not move the version themselves (the WHEN clause is
-- checked without calling the function: the recording statement pays nothing).
CREATE TRIGGER people_version BEFORE UPDATE ON people
  FOR EACH ROW WHEN (NEW.version = OLD.version) EXECUTE FUNCTION people_version_bump();

CREATE FUNCTION vaccinations_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE people SET version = version + 1
   WHERE id IN (SELECT person_id FROM changed_old UNION SELECT person_id FROM changed_new);
  RETURN NULL;
END
$$;
-- A dose voided, renumbered, confirmed or moved by a merge changes how the
-- next dose of its person is judged. (Recording only inserts doses, and
-- bumps the version in the same statement.)
CREATE TRIGGER vaccinations_version AFTER UPDATE ON vaccinations
  REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
  FOR EACH STATEMENT EXECUTE FUNCTION vaccinations_version_bump();

-- The recording statement calls this when it claimed an Idempotency-Key but
-- its person had changed: the whole statement, the claim included, is undone
-- and the request runs again (40001 is the "retry" class of errors).
CREATE FUNCTION record_conflict() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'a person changed while a dose was being recorded' USING ERRCODE = '40001';
END
$$;


-- Per-dose cost. Each recorded dose inserts into eight tables; what every
-- insert pays for and nothing reads goes:
-- * The foreign keys from vaccinations to facilities and from certificates to
--   signing_keys: each inserted row ran a lookup that also locked the one
--   facility row and the one key row FOR KEY SHARE — every dose of a facility
--   locking the same row (a multixact per concurrent dose), about a twentieth
--   of PostgreSQL's work per dose. Nothing deletes facilities or signing keys
--   (retired keys stay for the trust list); a dose's facility is checked
--   against the caller's scope (facilityForEntry) and its kid is the issuer's
--   active key, read from signing_keys.
ALTER TABLE vaccinations DROP CONSTRAINT IF EXISTS vaccinations_facility_code_fkey;
ALTER TABLE certificates DROP CONSTRAINT IF EXISTS certificates_kid_fkey;
-- * certificates (person_id, vaccination_id): every query for a dose's
--   certificates names the person, and the primary key (person_id, id) finds
--   a person's few certificates as well.
DROP INDEX IF EXISTS certificates_vaccination;
-- * vaccinations (facility_code, recorded_at): no query reads doses by
--   facility without their person (the facility scope asks "did this facility
--   vaccinate this person", which the primary key answers).
DROP INDEX IF EXISTS vaccinations_facility;
