-- 028: what SATUSEHAT's Immunization profile asks for that Dosis did not hold
-- (fhir/satusehat.ts). All of it optional: a FHIR export that lacks any of it
-- leaves out the profile claim rather than claim a profile it does not meet.
--   facilities.satusehat_organization_id  the facility's Organization id in SATUSEHAT
--                                          (identifier system .../immunization/{id}, performer)
--   facilities.satusehat_location_id      its Location id (Immunization.location)
--   people.ihs_number                     the person's IHS number (Patient/{IHS}),
--                                          looked up in SATUSEHAT by NIK
--   vaccine_lots                          lots with their expiry date (Immunization.expirationDate)
-- Nothing here is invented: each is filled from SATUSEHAT or from the
-- distributor's lot records, or stays NULL.
ALTER TABLE facilities ADD COLUMN satusehat_organization_id text;
ALTER TABLE facilities ADD COLUMN satusehat_location_id text;
ALTER TABLE people ADD COLUMN ihs_number text;

CREATE TABLE vaccine_lots (
  vaccine    text NOT NULL,             -- catalogue code
  lot_key    text NOT NULL,             -- upper(lot), as vaccinations_lot and lot_recalls match lots
  lot        text NOT NULL,             -- as written on the vial
  expires_on date NOT NULL,
  PRIMARY KEY (vaccine, lot_key)
);
