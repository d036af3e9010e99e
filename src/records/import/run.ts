/**
 * Running an import: the file is read once to check it (nothing is written
 * if it is broken), then row by row in batches. Each batch is one transaction
 * through recordEntries — the code that records a single entry — with the
 * batch's rejected rows and its progress record, so a crash loses nothing and
 * repeats nothing: a resumed import skips the line ranges already committed.
 *
 * Batches overlap (on PostgreSQL): the next reads its people and signs its
 * certificates (on worker threads) while the previous writes, and writes once
 * the previous has written, so a dose 2 later in the file always sees the
 * dose 1 before it.
 */
import { randomUUID } from 'node:crypto';
import { isConnectionLost, type Db, type Queryable } from '../../db/client.ts';
import type { Principal, Role } from '../../access/tokens.ts';
import { AppError, type FieldIssue, type Text } from '../../domain/errors.ts';
import { todayInJakarta, validateVaccinationInput } from '../../domain/vaccination-input.ts';
import { facilityForEntry } from '../facilities.ts';
import { recordEntries, type EntryOutcome, type PreparedEntry, type RecordDeps } from '../record-dose.ts';
import { mapColumns, reasonOf, rowReason, rowReasons, rowToBody, type ColumnMap, type RowReason, type SheetRow } from './columns.ts';
import { reasonOfError, type ByteSource, type FileFormat } from './read.ts';
import { openSheetOffThread } from './sheet-thread.ts';
import type { SigningPool } from './signing.ts';
import { nextTurn, Turns } from '../turns.ts';

/** What an import needs: what recording a dose needs, and optionally signing threads. */
export interface ImportDeps extends RecordDeps {
  signer?: SigningPool;
}

export type InvalidPhone = 'reject' | 'flag';

/** The result of reading a whole file once without recording anything. */
export interface FileCheck {
  rowsTotal: number;
  columns: ColumnMap;
  delimiter: string | null;
}

/** Reads a file through to the end: its header, every row's shape, its encoding. Throws an AppError (4xx) for a broken file. */
export async function checkFile(source: ByteSource, format: FileFormat, opts: { facilityGiven: boolean }): Promise<FileCheck> {
  const sheet = await openSheetOffThread(source, format);
  let columns: ColumnMap | undefined;
  let rowsTotal = 0;
  for await (const row of sheet.rows()) {
    if (!columns) {
      if (row.cells.every((c) => c.trim() === '')) continue;
      columns = mapColumns(row.cells, opts);
      continue;
    }
    if (!row.cells.every((c) => c.trim() === '')) rowsTotal++;
  }
  if (!columns) throw new AppError('invalid', 'file_empty', { en: 'The file has no header row and no rows.', id: 'Berkas tidak berisi judul kolom maupun baris.' });
  return { rowsTotal, columns, delimiter: sheet.delimiter };
}

export interface ImportRow extends Record<string, unknown> {
  id: string;
  status: 'uploading' | 'queued' | 'running' | 'done' | 'failed';
  format: FileFormat;
  file_name: string | null;
  file_bytes: number;
  principal_id: string;
  principal_role: Role;
  principal_facility: string | null;
  principal_region: string | null;
  principal_label: string;
  facility_code: string | null;
  invalid_phone: InvalidPhone;
  columns: (ColumnMap & { delimiter?: string | null }) | null;
  rows_total: number | null;
  reason: ({ code: string } & Text) | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

/** Creates the import record (status `uploading`, or `running` for the CLI). */
export async function createImport(
  db: Queryable,
  input: { principal: Principal; format: FileFormat; fileName: string | null; facility: string | null; invalidPhone: InvalidPhone; status?: 'uploading' | 'running'; owner?: string },
): Promise<string> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO imports (id, status, format, file_name, principal_id, principal_role, principal_facility, principal_region, principal_label,
                          facility_code, invalid_phone, locked_by, locked_until, started_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, CASE WHEN $12::text IS NULL THEN NULL ELSE now() + interval '60 seconds' END,
             CASE WHEN $2 = 'running' THEN now() END)`,
    [
      id,
      input.status ?? 'uploading',
      input.format,
      input.fileName,
      input.principal.id,
      input.principal.role,
      input.principal.facilityCode,
      input.principal.regionCode,
      input.principal.label,
      input.facility,
      input.invalidPhone,
      input.owner ?? null,
    ],
  );
  return id;
}

/** Marks an import failed with a reason; its committed batches stay (they are valid doses). */
export async function failImport(db: Queryable, id: string, reason: { code: string } & Text): Promise<void> {
  await db.query(
    `UPDATE imports SET status = 'failed', reason = $2, finished_at = now(), updated_at = now(), locked_by = NULL, locked_until = NULL WHERE id = $1`,
    [id, JSON.stringify(reason)],
  );
  await db.query('DELETE FROM import_chunks WHERE import_id = $1', [id]);
}

export async function getImportRow(db: Queryable, id: string): Promise<ImportRow | undefined> {
  const r = await db.query<ImportRow>(
    `SELECT id, status, format, file_name, file_bytes, principal_id, principal_role, principal_facility, principal_region, principal_label,
            facility_code, invalid_phone, columns, rows_total, reason, created_at, started_at, finished_at
       FROM imports WHERE id = $1`,
    [id],
  );
  return r.rows[0];
}

function principalOf(row: ImportRow): Principal {
  return { id: row.principal_id, role: row.principal_role, facilityCode: row.principal_facility, regionCode: row.principal_region, label: row.principal_label };
}

/** Counts so far, from the committed batches. */
export interface ImportCounts {
  rows: number;
  accepted: number;
  rejected: number;
  alreadyRecorded: number;
}

export async function importCounts(db: Queryable, id: string): Promise<ImportCounts> {
  const r = await db.query<{ rows: number; accepted: number; rejected: number; already: number }>(
    `SELECT coalesce(sum(rows), 0)::int8 AS rows, coalesce(sum(accepted), 0)::int8 AS accepted,
            coalesce(sum(rejected), 0)::int8 AS rejected, coalesce(sum(already), 0)::int8 AS already
       FROM import_batches WHERE import_id = $1`,
    [id],
  );
  const c = r.rows[0] ?? { rows: 0, accepted: 0, rejected: 0, already: 0 };
  return { rows: c.rows, accepted: c.accepted, rejected: c.rejected, alreadyRecorded: c.already };
}

export interface RunOptions {
  /** Who runs it (lease owner). */
  owner: string;
  /** The bytes; by default the uploaded chunks. */
  source: ByteSource;
  /** Rows per transaction. */
  batchSize?: number;
  /** Batch transactions in flight at once (1 on PGlite: it has one connection). */
  concurrency?: number;
  /** Stop at the next batch boundary (shutdown); the import stays resumable. */
  signal?: AbortSignal;
  onProgress?: (c: ImportCounts) => void;
  /** Renews the lease; returns false when another process took the import over. */
  heartbeat?: () => Promise<boolean>;
}

interface RowResult {
  line: number;
  cells: string[];
  prepared?: PreparedEntry;
  reasons?: RowReason[];
}

/** A cache of facility scope checks for one import: a district file names few facilities, many times. */
function facilityChecker(db: Db, who: Principal) {
  const cache = new Map<string, Promise<{ code: string } | AppError>>();
  return (named: string | null): Promise<{ code: string } | AppError> => {
    const key = named === null ? '' : named.toUpperCase();
    let hit = cache.get(key);
    if (!hit) {
      hit = facilityForEntry(db, who, named).then(
        (f) => ({ code: f.code }),
        (e: unknown) => {
          if (e instanceof AppError) return e;
          throw e;
        },
      );
      cache.set(key, hit);
    }
    return hit;
  };
}

/** Committed line ranges, for skipping on resume. */
async function committedRanges(db: Queryable, id: string): Promise<[number, number][]> {
  const r = await db.query<{ first_line: number; last_line: number }>(
    'SELECT first_line, last_line FROM import_batches WHERE import_id = $1 ORDER BY first_line',
    [id],
  );
  return r.rows.map((x) => [x.first_line, x.last_line]);
}

/**
 * Runs (or resumes) an import to its end. Returns the final counts; a broken
 * file or an unexpected failure marks the import failed (and rethrows the
 * latter).
 */
export async function runImport(deps: ImportDeps, id: string, opts: RunOptions): Promise<ImportCounts> {
  const row = await getImportRow(deps.db, id);
  if (!row) throw new Error(`import ${id} not found`);
  const who = principalOf(row);
  const batchSize = opts.batchSize ?? (deps.db.kind === 'pglite' ? 200 : 500);
  const concurrency = Math.max(1, opts.concurrency ?? (deps.db.kind === 'pglite' ? 1 : 2));
  const facilityOf = facilityChecker(deps.db, who);
  const ranges = await committedRanges(deps.db, id);
  let r = 0;
  const committed = (line: number): boolean => {
    while (r < ranges.length && (ranges[r] as [number, number])[1] < line) r++;
    const range = ranges[r];
    return range !== undefined && range[0] <= line && line <= range[1];
  };

  const sheet = await openSheetOffThread(opts.source, row.format);
  let columns: ColumnMap | undefined;
  let batch: RowResult[] = [];
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  let previousWritten: Promise<void> = Promise.resolve();
  let lastBeat = Date.now();
  let counts = await importCounts(deps.db, id);
  let lastStatsCheck = counts.accepted;

  const submit = async (rows: RowResult[]) => {
    while (inflight.size >= concurrency) await Promise.race(inflight);
    if (failure) return;
    // Batches read and sign side by side, but write in file order (see recordBatch).
    const previous = previousWritten;
    let written!: () => void;
    previousWritten = new Promise<void>((resolve) => (written = resolve));
    const done = recordBatch(deps, who, id, columns as ColumnMap, rows, previous, written)
      .then((c) => {
        counts = {
          rows: counts.rows + c.rows,
          accepted: counts.accepted + c.accepted,
          rejected: counts.rejected + c.rejected,
          alreadyRecorded: counts.alreadyRecorded + c.alreadyRecorded,
        };
        opts.onProgress?.(counts);
      })
      .catch((e: unknown) => {
        failure ??= e;
      })
      .finally(() => {
        written();
        inflight.delete(done);
      });
    inflight.add(done);
  };

  try {
    const today = todayInJakarta(deps.now ? deps.now() : new Date());
    const turns = new Turns();
    for await (const sheetRow of sheet.rows()) {
      if (failure || opts.signal?.aborted) break;
      if (!columns) {
        if (sheetRow.cells.every((c) => c.trim() === '')) continue;
        columns = mapColumns(sheetRow.cells, { facilityGiven: row.facility_code !== null || who.role === 'facility' });
        continue;
      }
      if (committed(sheetRow.line)) continue;
      // Validating a row is pure CPU: the requests waiting get a turn every few dozen rows (turns.ts).
      if (turns.due()) await nextTurn();
      const result = await prepareRow(sheetRow, columns, row, today, sheet.date1904, facilityOf);
      if (!result) continue;
      batch.push(result);
      if (batch.length >= batchSize) {
        await submit(batch);
        batch = [];
        if (counts.accepted - lastStatsCheck >= STATS_CHECK_ROWS) {
          lastStatsCheck = counts.accepted;
          await analyzeGrown(deps.db);
        }
        if (opts.heartbeat && Date.now() - lastBeat > 10_000) {
          lastBeat = Date.now();
          if (!(await opts.heartbeat())) throw new LeaseLost();
        }
      }
    }
    if (batch.length > 0 && !failure && !opts.signal?.aborted) await submit(batch);
    await Promise.all(inflight);
  } catch (e) {
    await Promise.allSettled(inflight);
    if (e instanceof LeaseLost) return counts;
    if (isConnectionLost(e)) throw new ImportInterrupted(id, e);
    if (e instanceof AppError) {
      // A broken file found while running (it passed the check, so this is rare): fail with the reason.
      await failImport(deps.db, id, reasonOfError(e));
      return counts;
    }
    failure ??= e;
  }
  if (failure && isConnectionLost(failure)) throw new ImportInterrupted(id, failure);
  if (failure) {
    await failImport(deps.db, id, {
      code: 'internal_error',
      en: 'The import stopped on an unexpected error; the rows recorded so far stay recorded. Upload the file again to finish it: recorded rows are reported as already recorded.',
      id: 'Impor berhenti karena kesalahan tak terduga; baris yang sudah tercatat tetap tercatat. Unggah ulang berkas untuk menyelesaikannya: baris yang sudah tercatat dilaporkan sebagai sudah tercatat.',
    });
    throw failure instanceof Error ? failure : new Error('import failed', { cause: failure });
  }
  if (opts.signal?.aborted) return counts;
  if (!columns) {
    await failImport(deps.db, id, { code: 'file_empty', en: 'The file has no header row.', id: 'Berkas tidak berisi judul kolom.' });
    return counts;
  }
  await analyzeGrown(deps.db);
  await deps.db.query(
    `UPDATE imports SET status = 'done', finished_at = now(), updated_at = now(), locked_by = NULL, locked_until = NULL WHERE id = $1`,
    [id],
  );
  await deps.db.query('DELETE FROM import_chunks WHERE import_id = $1', [id]);
  return counts;
}

class LeaseLost extends Error {}

/** The tables an import grows. */
const GROWN_TABLES = ['people', 'person_keys', 'vaccinations', 'certificates', 'jobs'];
/** Accepted rows between two looks at the tables' statistics. */
const STATS_CHECK_ROWS = 20_000;

/**
 * ANALYZEs each table an import grows once the rows changed since its last
 * statistics are at least as many as it had then (and 10,000): a table that
 * doubled (or was empty) is planned from figures that are no longer true until
 * autovacuum gets to it, which on a busy day is late (issue 20: plans built for
 * an empty table crossed the JIT thresholds and sorted whole backlogs). Tables
 * grow by doubling at most: a 2 M-row import analyses each about eight times.
 * PostgreSQL only: PGlite keeps no such counts, and its imports are small.
 */
export async function analyzeGrown(db: Db): Promise<string[]> {
  if (db.kind !== 'postgres') return [];
  const r = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1::text[])
        AND s.n_mod_since_analyze >= greatest(10000, c.reltuples)`,
    [GROWN_TABLES],
  );
  const names = r.rows.map((x) => x.name);
  // Names from pg_class, matched against a fixed list above: safe to put in the statement.
  if (names.length > 0) await db.exec(`ANALYZE ${names.map((n) => `"${n}"`).join(', ')}`);
  return names;
}

/**
 * The database went away under a running import (a restart, a failover): the
 * import is not failed — its committed batches are recorded in
 * `import_batches`, so a run resumed later skips them — and whoever runs it
 * (ImportRunner) runs it again once the database answers.
 */
export class ImportInterrupted extends Error {
  override name = 'ImportInterrupted';
  readonly importId: string;
  constructor(importId: string, cause: unknown) {
    super(`import ${importId} interrupted: the database connection was lost`, { cause });
    this.importId = importId;
  }
}

/** Turns one row into a prepared entry, or the reasons it is rejected; null for a blank row. */
async function prepareRow(
  sheetRow: SheetRow,
  columns: ColumnMap,
  imp: ImportRow,
  today: string,
  date1904: boolean,
  facilityOf: (named: string | null) => Promise<{ code: string } | AppError>,
): Promise<RowResult | null> {
  const read = rowToBody(sheetRow, columns, { facility: imp.facility_code, date1904 });
  if (read.blank) return null;
  const base = { line: sheetRow.line, cells: sheetRow.cells };
  const v = validateVaccinationInput(read.body, { today, invalidPhone: imp.invalid_phone });
  const reasons = rowReasons(columns, read, v.ok ? [] : v.issues);
  if (!v.ok || reasons.length > 0) return { ...base, reasons };
  const facility = await facilityOf(v.value.facility);
  if (facility instanceof AppError) {
    return { ...base, reasons: facility.fields.length ? facility.fields.map((f) => reasonOf(columns, f)) : [reasonOf(columns, { path: 'facility', code: facility.code, message: facility.text })] };
  }
  return { ...base, prepared: { entry: v.value, facilityCode: facility.code, importLine: sheetRow.line } };
}

/**
 * Records one batch in one transaction: its doses, its rejected rows and its
 * progress record. Its rows are written only once the previous batch's are
 * (`previous`), and `written` tells the next batch when its turn has come: a
 * dose 2 later in the file then meets the dose 1 before it, either already
 * written or holding its person's row until that batch commits.
 */
async function recordBatch(
  deps: ImportDeps,
  who: Principal,
  importId: string,
  columns: ColumnMap,
  rows: RowResult[],
  previous: Promise<void>,
  written: () => void,
): Promise<ImportCounts> {
  const valid = rows.filter((r) => r.prepared);
  const now = deps.now ? deps.now() : new Date();
  // Outside the transaction: both may read the database (the active signing key).
  await deps.issuer.ready();
  await deps.signer?.prepare();
  return deps.db.withTransaction(async (tx) => {
    let outcomes: EntryOutcome[] = [];
    if (valid.length > 0) {
      outcomes = await recordEntries(
        tx,
        deps,
        {
          principal: who,
          source: 'import',
          importId,
          now,
          beforeWrite: () => previous,
          onWritten: written,
          ...(deps.signer ? { sign: (inputs) => (deps.signer as SigningPool).sign(inputs) } : {}),
        },
        valid.map((r) => r.prepared as PreparedEntry),
      );
    } else written();
    let accepted = 0;
    let already = 0;
    const rejected: { line: number; reasons: RowReason[]; cells: string[] }[] = [];
    for (const r of rows) if (r.reasons) rejected.push({ line: r.line, reasons: r.reasons, cells: r.cells });
    for (const [i, o] of outcomes.entries()) {
      const r = valid[i] as RowResult;
      if (o.kind === 'recorded') accepted++;
      else if (o.kind === 'duplicate') {
        if (o.existing.importId === importId) {
          const first = o.existing.importLine;
          rejected.push({
            line: r.line,
            cells: r.cells,
            reasons: [
              rowReason('duplicate_row', {
                en: `The same dose (same person, dose number, vaccine and date) as line ${first ?? '?'} of this file.`,
                id: `Dosis yang sama (orang, nomor dosis, vaksin dan tanggal yang sama) dengan baris ${first ?? '?'} berkas ini.`,
              }),
            ],
          });
        } else already++;
      } else {
        rejected.push({ line: r.line, cells: r.cells, reasons: conflictReasons(columns, o.error) });
      }
    }
    const first = rows[0]?.line ?? 0;
    const last = rows[rows.length - 1]?.line ?? 0;
    await tx.query(
      `WITH e AS (
         INSERT INTO import_errors (import_id, line, reasons, cells)
         SELECT $1, line, reasons::jsonb, cells::jsonb FROM unnest($2::int[], $3::text[], $4::text[]) AS e(line, reasons, cells)
         ON CONFLICT (import_id, line) DO NOTHING)
       INSERT INTO import_batches (import_id, first_line, last_line, rows, accepted, rejected, already)
       VALUES ($1, $5, $6, $7, $8, $9, $10)`,
      [
        importId,
        rejected.map((x) => x.line),
        rejected.map((x) => JSON.stringify(x.reasons)),
        rejected.map((x) => JSON.stringify(x.cells)),
        first,
        last,
        rows.length,
        accepted,
        rejected.length,
        already,
      ],
    );
    return { rows: rows.length, accepted, rejected: rejected.length, alreadyRecorded: already };
  });
}

function conflictReasons(columns: ColumnMap, e: AppError): RowReason[] {
  const fields: FieldIssue[] = e.fields.length ? e.fields : [{ path: 'doseNumber', code: e.code, message: e.text }];
  return fields.map((f) => reasonOf(columns, f));
}
