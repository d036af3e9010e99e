-- 024: no private key in the database (certificates/key-store.ts).
--
-- A signing key is now named by `key_ref`: a PKCS#11 token reference
-- ({"store":"pkcs11","token","id","label"}) or a local key sealed with
-- AES-256-GCM under a key-encryption key the database never sees
-- ({"store":"local","sealed"}). `private_key` stays only so that keys written
-- before this migration can be read once: the key-encryption key is known to
-- the process, not to SQL, so the first start after this migration seals
-- them (or, with the pkcs11 signer, drops them: they stay trusted, retired)
-- and sets private_key to NULL (certificates/issuer.ts, upgradeKeyStorage).
ALTER TABLE signing_keys ADD COLUMN key_ref jsonb;
ALTER TABLE shc_keys ADD COLUMN key_ref jsonb;
ALTER TABLE shc_keys ALTER COLUMN private_key DROP NOT NULL;

-- "Ours, may sign": a key with a reference (or, until the first start seals it, a plaintext one).
DROP INDEX signing_keys_active;
CREATE UNIQUE INDEX signing_keys_active ON signing_keys ((true))
  WHERE retired_at IS NULL AND (key_ref IS NOT NULL OR private_key IS NOT NULL);

-- The country signing CA's certificates, published beside the DSCs in the
-- trust list. Its private key is not here: it lives on the offline CSCA
-- machine (dosis keys csca init), or, on the embedded default, in the CSCA
-- directory beside the data directory.
CREATE TABLE csca_certificates (
  thumbprint  text PRIMARY KEY,           -- hex SHA-256 of the DER
  certificate bytea NOT NULL,             -- X.509 DER
  valid_from  timestamptz NOT NULL,
  valid_until timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO csca_certificates (thumbprint, certificate, valid_from, valid_until)
SELECT encode(sha256(decode(value::json ->> 'certificate', 'base64')), 'hex'),
       decode(value::json ->> 'certificate', 'base64'),
       (value::json ->> 'validFrom')::timestamptz,
       (value::json ->> 'validUntil')::timestamptz
  FROM settings WHERE key = 'csca';

-- A document signer key waiting for its certificate: `dosis keys request`
-- made the key (on the token, or sealed) and printed the CSR; `dosis keys
-- install` matches the signed DSC to it by public key.
CREATE TABLE key_requests (
  id          uuid PRIMARY KEY,
  key_ref     jsonb NOT NULL,
  public_key  bytea NOT NULL,             -- SPKI DER
  csr         bytea NOT NULL,             -- PKCS#10 DER
  created_at  timestamptz NOT NULL DEFAULT now()
);
