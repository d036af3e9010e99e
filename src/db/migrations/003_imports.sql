-- 003 imports: bulk upload of CSV/XLSX files (a district's backlog of paper forms).
-- Each row is recorded by the same function as a single entry (records/record-dose.ts),
-- many rows per transaction. A batch's doses, its rejected rows and its progress
-- record commit together, so an import interrupted by a crash resumes exactly where
-- its last committed batch ended, and a re-upload finds every row already recorded.

-- Which import (and which line of it) recorded a dose: a repeated row of the same
-- file is told apart from a dose recorded by an earlier upload.
ALTER TABLE vaccinations ADD COLUMN import_line integer;

CREATE TABLE imports (
  id                 uuid PRIMARY KEY,
  status             text NOT NULL CHECK (status IN ('uploading', 'queued', 'running', 'done', 'failed')),
  format             text NOT NULL CHECK (format IN ('csv', 'xlsx')),
  file_name          text,
  file_bytes         bigint NOT NULL DEFAULT 0,
  file_sha256        bytea,
  -- Who uploaded it: the import runs (and resumes) with this principal's scope.
  principal_id       uuid NOT NULL,
  principal_role     text NOT NULL,
  principal_facility text,
  principal_region   text,
  principal_label    text NOT NULL,
  facility_code      text,               -- default facility for rows without a facility column
  invalid_phone      text NOT NULL DEFAULT 'reject' CHECK (invalid_phone IN ('reject', 'flag')),
  columns            jsonb,              -- header → field, as understood
  rows_total         integer,            -- data rows in the file, known once it was checked
  reason             jsonb,              -- why it failed: {code, en, id}
  locked_by          text,               -- the process running it
  locked_until       timestamptz,        -- lease: another process takes over after this
  created_at         timestamptz NOT NULL DEFAULT now(),
  started_at         timestamptz,
  finished_at        timestamptz,
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX imports_pending ON imports (created_at) WHERE status IN ('queued', 'running');

-- The uploaded file in chunks, so that any process can (re)read it; dropped when the import ends.
CREATE TABLE import_chunks (
  import_id uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  seq       integer NOT NULL,
  data      bytea NOT NULL,
  PRIMARY KEY (import_id, seq)
);

-- One row per committed batch (a range of lines): progress and counts without a hot row.
CREATE TABLE import_batches (
  import_id  uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  first_line integer NOT NULL,
  last_line  integer NOT NULL,
  rows       integer NOT NULL,
  accepted   integer NOT NULL,
  rejected   integer NOT NULL,
  already    integer NOT NULL,
  done_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (import_id, first_line)
);

-- Every rejected row with every reason, and its values as read, for errors.csv.
CREATE TABLE import_errors (
  import_id uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  line      integer NOT NULL,
  reasons   jsonb NOT NULL,                -- [{column, code, en, id}]
  cells     jsonb NOT NULL,                -- the row's values, in file order
  PRIMARY KEY (import_id, line)
);
