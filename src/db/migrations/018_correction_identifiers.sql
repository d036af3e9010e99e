-- 018 phone corrections for people without a NIK: a passport holder, or a
-- child recorded under the mother's NIK (issue 9's identifiers, issue 6's
-- wrong-phone flow). `nik` keeps the identifier's value as entered (the NIK,
-- the passport number, or the mother's NIK); id_type and id_country say
-- which; person_key is the key it names (records/people.ts personKey), by
-- which the request is matched when filed and again when approved.
ALTER TABLE phone_corrections
  ADD COLUMN id_type text NOT NULL DEFAULT 'nik' CHECK (id_type IN ('nik', 'passport', 'mother-nik')),
  ADD COLUMN id_country text,
  ADD COLUMN person_key text;
UPDATE phone_corrections SET person_key = 'nik:' || nik;
ALTER TABLE phone_corrections ALTER COLUMN person_key SET NOT NULL;
