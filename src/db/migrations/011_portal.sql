-- 011 portal: the citizen lookup by NIK + birth date + one-time code.
-- Lookups are kept (hashed NIK, client address) for rate limiting; sessions
-- opened by a right code are stored as token hashes only.
CREATE TABLE portal_lookups (
  id        bigserial PRIMARY KEY,
  nik_hash  bytea NOT NULL,
  client    text NOT NULL,
  at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX portal_lookups_nik ON portal_lookups (nik_hash, at);
CREATE INDEX portal_lookups_client ON portal_lookups (client, at);

CREATE TABLE portal_sessions (
  token_hash bytea PRIMARY KEY,
  person_id  uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
