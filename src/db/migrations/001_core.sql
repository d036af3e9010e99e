-- 001 core: facilities, access, people, vaccinations, certificates, keys, outbox, cases, audit.
-- Every table about a person carries person_id and its primary and unique keys
-- include it, so the schema can be distributed by person (Citus) later; global
-- lookups go through small tables keyed by what is looked up (person_keys,
-- certificate_uvcis, link_tokens, idempotency_keys).

CREATE TABLE facilities (
  code        text PRIMARY KEY,
  name        text NOT NULL,
  region_code text NOT NULL,            -- Kemendagri code: PP, PPKK or PPKKCC
  phone       text,                     -- E.164; a person recorded with it is suspicious
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
  id            uuid PRIMARY KEY,
  token_hash    bytea NOT NULL UNIQUE,  -- SHA-256 of the token; the token itself is never stored
  role          text NOT NULL CHECK (role IN ('facility', 'district', 'support', 'admin')),
  facility_code text REFERENCES facilities (code),
  region_code   text,
  label         text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  created_by    uuid,
  revoked_at    timestamptz,
  CHECK (role <> 'facility' OR facility_code IS NOT NULL),
  CHECK (role <> 'district' OR region_code IS NOT NULL)
);

CREATE TABLE people (
  id            uuid PRIMARY KEY,
  id_type       text NOT NULL CHECK (id_type IN ('nik', 'passport', 'mother-nik')),
  id_value      text NOT NULL,
  id_country    text,                   -- passport issuing country
  nik_new       boolean NOT NULL DEFAULT false, -- NIK issued on the spot by the civil registry
  name          text NOT NULL,
  birth_date    date NOT NULL,
  sex           text CHECK (sex IN ('M', 'F')),
  phone         text,                   -- E.164, NULL when missing or invalid
  phone_raw     text,                   -- as written at entry, kept for the work list
  phone_status  text NOT NULL CHECK (phone_status IN ('ok', 'missing', 'invalid', 'held')),
  region_code   text,                   -- PPKKCC from the NIK, for district scopes
  merged_into   uuid,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX people_phone ON people (phone) WHERE phone IS NOT NULL;
CREATE INDEX people_birth_date ON people (birth_date);

-- Global lookup: identifier key ('nik:3171…', 'passport:ID:A123…', 'mother-nik:…') → person.
CREATE TABLE person_keys (
  key       text PRIMARY KEY,
  person_id uuid NOT NULL
);

CREATE TABLE vaccinations (
  person_id       uuid NOT NULL,
  id              uuid NOT NULL,
  dose_number     integer NOT NULL CHECK (dose_number BETWEEN 1 AND 9),
  vaccine         text NOT NULL,
  date            date NOT NULL,
  lot             text,
  facility_code   text NOT NULL REFERENCES facilities (code),
  status          text NOT NULL CHECK (status IN ('recorded', 'claims_prior_dose', 'void')),
  source          text NOT NULL CHECK (source IN ('api', 'import', 'form', 'fhir', 'offline')),
  import_id       uuid,
  recorded_by     uuid,                 -- token or user id
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  idempotency_key text,
  void_reason     text,
  PRIMARY KEY (person_id, id)
);
-- One live record per dose number: a second dose 1 is a conflict, not a new row.
CREATE UNIQUE INDEX vaccinations_live_dose ON vaccinations (person_id, dose_number) WHERE status <> 'void';
CREATE INDEX vaccinations_facility ON vaccinations (facility_code, recorded_at);

CREATE TABLE signing_keys (
  kid          text PRIMARY KEY,        -- base64 of the first 8 bytes of SHA-256 of the certificate
  algorithm    text NOT NULL,
  certificate  bytea NOT NULL,          -- X.509 DER
  private_key  bytea,                   -- PKCS#8 DER; NULL for keys only trusted, not ours
  valid_from   timestamptz NOT NULL,
  valid_until  timestamptz NOT NULL,
  signing_from timestamptz NOT NULL,
  retired_at   timestamptz,             -- no longer signs, still in the trust list
  created_at   timestamptz NOT NULL DEFAULT now()
);
-- At most one key signs at a time.
CREATE UNIQUE INDEX signing_keys_active ON signing_keys ((true)) WHERE retired_at IS NULL AND private_key IS NOT NULL;

CREATE TABLE certificates (
  person_id      uuid NOT NULL,
  id             uuid NOT NULL,
  vaccination_id uuid NOT NULL,
  format         text NOT NULL DEFAULT 'eu-dcc' CHECK (format IN ('eu-dcc')),
  uvci           text NOT NULL,
  kid            text NOT NULL REFERENCES signing_keys (kid),
  qr             text NOT NULL,         -- the HC1 text, as signed
  dn             integer NOT NULL,
  sd             integer NOT NULL,
  issued_at      timestamptz NOT NULL,
  expires_at     timestamptz NOT NULL,
  status         text NOT NULL CHECK (status IN ('valid', 'revoked', 'superseded')),
  status_reason  text,
  superseded_by  uuid,
  PRIMARY KEY (person_id, id)
);
CREATE INDEX certificates_vaccination ON certificates (person_id, vaccination_id);

CREATE TABLE certificate_uvcis (
  uvci           text PRIMARY KEY,
  person_id      uuid NOT NULL,
  certificate_id uuid NOT NULL
);

-- The SMS link /c/<token>: only the SHA-256 of the token is stored.
CREATE TABLE link_tokens (
  token_hash     bytea PRIMARY KEY,
  person_id      uuid NOT NULL,
  certificate_id uuid NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz
);

-- Durable idempotency: the first answer is kept for good (no expiry, no fail-open).
CREATE TABLE idempotency_keys (
  scope        text NOT NULL,           -- who may replay: the facility code
  key          text NOT NULL,
  request_hash bytea NOT NULL,
  status_code  integer,
  response     jsonb,
  person_id    uuid,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);

-- The outbox. Jobs are written in the transaction that causes them.
CREATE TABLE jobs (
  id           bigserial PRIMARY KEY,
  kind         text NOT NULL,
  payload      jsonb NOT NULL,
  dedupe_key   text UNIQUE,
  status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'dead')),
  run_at       timestamptz NOT NULL DEFAULT now(),
  attempts     integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 10,
  locked_by    text,
  locked_until timestamptz,
  last_error   text,
  person_id    uuid,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'pending';

CREATE TABLE cases (
  person_id     uuid NOT NULL,
  id            uuid NOT NULL,
  kind          text NOT NULL,
  status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed')),
  facility_code text,
  region_code   text,
  subject_id    uuid,                   -- the vaccination, notification or other row it is about
  detail        jsonb NOT NULL DEFAULT '{}',
  notes         text,
  opened_at     timestamptz NOT NULL DEFAULT now(),
  resolved_at   timestamptz,
  resolved_by   uuid,
  PRIMARY KEY (person_id, id)
);
CREATE INDEX cases_open ON cases (kind, status, opened_at);

-- Append-only: nothing updates or deletes rows here.
CREATE TABLE audit_log (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  actor      text NOT NULL,
  action     text NOT NULL,
  subject    text,
  person_id  uuid,
  detail     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_person ON audit_log (person_id, at) WHERE person_id IS NOT NULL;

CREATE TABLE settings (
  key   text PRIMARY KEY,
  value text NOT NULL
);
