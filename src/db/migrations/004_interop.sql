-- 004 interop: SMART Health Card keys, the published revocation list, lot recalls.

-- SMART Health Card signing keys (ES256, P-256), apart from the EU DCC
-- document signers: a DSC carries the DCC key usage and its own rotation, an
-- SHC key is a bare JWK named by its RFC 7638 thumbprint and published at
-- /.well-known/jwks.json. Retired keys stay published so old cards verify.
CREATE TABLE shc_keys (
  kid         text PRIMARY KEY,          -- base64url SHA-256 JWK thumbprint
  public_jwk  jsonb NOT NULL,
  private_key bytea NOT NULL,            -- PKCS#8 DER
  created_at  timestamptz NOT NULL DEFAULT now(),
  retired_at  timestamptz
);
-- At most one key signs at a time.
CREATE UNIQUE INDEX shc_keys_active ON shc_keys ((true)) WHERE retired_at IS NULL;

-- The revocation list's version (the SHC CRL `ctr` and the JWKS `crlVersion`):
-- one row, bumped once per statement that revokes. Its row lock orders
-- revoking transactions, so versions follow commit order.
CREATE TABLE revocation_state (
  id      boolean PRIMARY KEY DEFAULT true CHECK (id),
  version bigint NOT NULL
);
INSERT INTO revocation_state (id, version) VALUES (true, 1);

-- Every certificate that left 'valid' (voided dose, superseded record, recalled
-- lot), written by the trigger below in the statement that changed it: the
-- published list cannot disagree with the certificates, whoever changes them.
CREATE TABLE revocations (
  person_id      uuid NOT NULL,
  certificate_id uuid NOT NULL,
  uvci           text NOT NULL,
  uvci_hash      bytea NOT NULL,         -- first 16 bytes of SHA-256 of the UVCI (EU DCC revocation, hash type UCI)
  status         text NOT NULL,          -- revoked | superseded
  reason         text,
  revoked_at     timestamptz NOT NULL,   -- clock time of the revoking statement: SHC cards issued before it are revoked
  version        bigint NOT NULL,
  PRIMARY KEY (person_id, certificate_id)
);
CREATE INDEX revocations_version ON revocations (version);
CREATE INDEX revocations_uvci_hash ON revocations (uvci_hash);

CREATE FUNCTION record_revocations() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v bigint;
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM changed_new n JOIN changed_old o ON o.person_id = n.person_id AND o.id = n.id
     WHERE o.status = 'valid' AND n.status <> 'valid') THEN
    RETURN NULL;
  END IF;
  UPDATE revocation_state SET version = version + 1 WHERE id RETURNING version INTO v;
  INSERT INTO revocations (person_id, certificate_id, uvci, uvci_hash, status, reason, revoked_at, version)
  SELECT n.person_id, n.id, n.uvci, substring(sha256(convert_to(n.uvci, 'UTF8')) FROM 1 FOR 16), n.status, n.status_reason, clock_timestamp(), v
    FROM changed_new n JOIN changed_old o ON o.person_id = n.person_id AND o.id = n.id
   WHERE o.status = 'valid' AND n.status <> 'valid'
  ON CONFLICT (person_id, certificate_id) DO NOTHING;
  RETURN NULL;
END
$$;

CREATE TRIGGER certificates_revocations
  AFTER UPDATE ON certificates
  REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
  FOR EACH STATEMENT EXECUTE FUNCTION record_revocations();

-- The signed list of each version, kept: what verifiers downloaded can be shown later.
CREATE TABLE revocation_lists (
  version   bigint PRIMARY KEY,
  issued_at timestamptz NOT NULL,
  kid       text NOT NULL,               -- the SHC key that signed it
  jws       text NOT NULL
);

-- Lot recalls by an administrator. Lots are matched without regard to case:
-- "a123" and "A123" typed at two puskesmas are the same vials.
CREATE TABLE lot_recalls (
  id           uuid PRIMARY KEY,
  vaccine      text NOT NULL,
  lot          text NOT NULL,            -- as the administrator wrote it
  lot_key      text NOT NULL,            -- upper(lot)
  reason       text NOT NULL,
  recalled_by  text NOT NULL,
  recalled_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (vaccine, lot_key)
);
CREATE INDEX vaccinations_lot ON vaccinations (vaccine, upper(lot)) WHERE lot IS NOT NULL;
