-- 005 pages: the PDF of each certificate, rendered once per certificate version.
-- A version is a hash of everything the PDF shows (and of its layout), so a
-- change of status, name, facility name or layout makes a new row; older
-- versions of the same certificate are deleted when a new one is stored.
CREATE TABLE certificate_pdfs (
  person_id      uuid NOT NULL,
  certificate_id uuid NOT NULL,
  version        text NOT NULL,
  pdf            bytea NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (person_id, certificate_id, version)
);

-- The revocation list for offline verifiers reads the few certificates that are no longer valid.
CREATE INDEX certificates_not_valid ON certificates (uvci) WHERE status <> 'valid';
