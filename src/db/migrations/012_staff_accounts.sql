-- 012 staff accounts: people who sign in to the console (/console) with a
-- username and password, and their sessions. API tokens stay for machines.
-- Passwords are stored as scrypt hashes with their parameters
-- ("scrypt$N$r$p$salt$hash"), so the cost can be raised later; sessions as
-- SHA-256 hashes of the cookie's secret only.
CREATE TABLE staff_accounts (
  id              uuid PRIMARY KEY,
  username        text NOT NULL,
  display_name    text NOT NULL,
  role            text NOT NULL CHECK (role IN ('facility', 'district', 'support', 'admin')),
  facility_code   text REFERENCES facilities (code),
  region_code     text,
  password_hash   text NOT NULL,
  disabled_at     timestamptz,
  failed_attempts integer NOT NULL DEFAULT 0,
  locked_until    timestamptz,              -- too many wrong passwords: no sign-in until then
  last_sign_in_at timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  created_by      uuid,                     -- the admin token or account that made it; NULL from the CLI
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (role <> 'facility' OR facility_code IS NOT NULL),
  CHECK (role <> 'district' OR region_code IS NOT NULL)
);
-- Usernames are unique whatever their case: "Siti" and "siti" are one account.
CREATE UNIQUE INDEX staff_accounts_username ON staff_accounts (lower(username));

CREATE TABLE staff_sessions (
  id           uuid PRIMARY KEY,
  token_hash   bytea NOT NULL UNIQUE,       -- SHA-256 of the cookie's secret; the secret is never stored
  account_id   uuid NOT NULL REFERENCES staff_accounts (id),
  csrf_token   text NOT NULL,               -- echoed by the page in x-csrf-token on every change
  client       text,                        -- address and browser at sign-in, for the audit trail
  user_agent   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(), -- idle expiry counts from here
  expires_at   timestamptz NOT NULL         -- absolute expiry
);
CREATE INDEX staff_sessions_account ON staff_sessions (account_id);
CREATE INDEX staff_sessions_expires ON staff_sessions (expires_at);
