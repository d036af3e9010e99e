/**
 * Imports as a service of a running Dosis process: receive an upload (stored
 * in the database, checked through to the end), run it in the background,
 * resume imports left behind by a crashed or stopped process (a lease that
 * is not renewed expires), answer status, and write errors.csv.
 *
 * A process runs at most a few imports at once; others wait as `queued`.
 * Nothing here blocks single entries: an import takes two connections and
 * locks only the people of the batch in flight.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../../db/client.ts';
import type { Principal } from '../../access/tokens.ts';
import { AppError, type Text } from '../../domain/errors.ts';
import { facilityForEntry, regionWithin } from '../facilities.ts';
import type { RecordDeps } from '../record-dose.ts';
import { checkFile, createImport, failImport, getImportRow, ImportInterrupted, importCounts, runImport, type ImportRow, type InvalidPhone } from './run.ts';
import { sniffFormat, type FileFormat } from './read.ts';
import { chunkSource, storeChunks } from './source.ts';
import { SigningPool } from './signing.ts';
import type { RowReason } from './columns.ts';

/** The largest upload accepted: a 1,000,000-row CSV is ~150 MB. */
export const MAX_IMPORT_BYTES = 512 * 1024 * 1024;
const LEASE_SECONDS = 60;

/** The status answer of `GET /api/v1/imports/{id}`. */
export interface ImportStatus {
  id: string;
  status: 'running' | 'done' | 'failed';
  phase: 'queued' | 'recording' | 'done' | 'failed';
  fileName: string | null;
  format: FileFormat;
  facility: string | null;
  invalidPhone: InvalidPhone;
  rows: number;
  rowsTotal: number | null;
  accepted: number;
  rejected: number;
  alreadyRecorded: number;
  progress: number | null;
  rowsPerSecond: number | null;
  etaSeconds: number | null;
  columns: Record<string, string>;
  ignoredColumns: string[];
  reason: { code: string; message: string } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

const notFound = (id: string) =>
  new AppError('not_found', 'import_not_found', { en: `No import ${id}.`, id: `Tidak ada impor ${id}.` });

/** May `who` see this import? Its uploader's facility, a district over it, support and admin. */
async function visible(db: Queryable, who: Principal, row: ImportRow): Promise<boolean> {
  switch (who.role) {
    case 'admin':
    case 'support':
      return true;
    case 'facility':
      return row.principal_facility !== null && row.principal_facility === who.facilityCode;
    case 'district': {
      const scope = who.regionCode as string;
      if (row.principal_region !== null && regionWithin(row.principal_region, scope)) return true;
      const code = row.principal_facility ?? row.facility_code;
      if (!code) return false;
      const r = await db.query<{ region_code: string }>('SELECT region_code FROM facilities WHERE code = $1', [code]);
      return r.rows[0] !== undefined && regionWithin(r.rows[0].region_code, scope);
    }
    default:
      return who.role satisfies never;
  }
}

async function visibleRow(db: Queryable, who: Principal, id: string): Promise<ImportRow> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw notFound(id);
  const row = await getImportRow(db, id);
  if (!row || !(await visible(db, who, row))) throw notFound(id);
  return row;
}

/** The status of one import, as its uploader sees it. */
export async function importStatus(db: Queryable, who: Principal, id: string, lang: 'en' | 'id'): Promise<ImportStatus> {
  return statusOf(db, await visibleRow(db, who, id), lang);
}

async function statusOf(db: Queryable, row: ImportRow, lang: 'en' | 'id'): Promise<ImportStatus> {
  const c = await importCounts(db, row.id);
  const status = row.status === 'done' ? 'done' : row.status === 'failed' ? 'failed' : 'running';
  const phase = row.status === 'running' ? 'recording' : row.status === 'uploading' ? 'queued' : row.status;
  const elapsed = row.started_at ? ((row.finished_at ?? new Date()).getTime() - row.started_at.getTime()) / 1000 : 0;
  const rate = elapsed > 0 && c.rows > 0 ? c.rows / elapsed : null;
  const total = row.rows_total;
  const columns: Record<string, string> = {};
  for (const [field, i] of Object.entries(row.columns?.index ?? {})) columns[field] = row.columns?.header[i] ?? '';
  return {
    id: row.id,
    status,
    phase,
    fileName: row.file_name,
    format: row.format,
    facility: row.facility_code,
    invalidPhone: row.invalid_phone,
    rows: c.rows,
    rowsTotal: total,
    accepted: c.accepted,
    rejected: c.rejected,
    alreadyRecorded: c.alreadyRecorded,
    progress: total ? Math.min(1, c.rows / total) : status === 'done' ? 1 : null,
    rowsPerSecond: rate === null ? null : Math.round(rate),
    etaSeconds: status === 'running' && rate && total ? Math.max(0, Math.round((total - c.rows) / rate)) : status === 'done' ? 0 : null,
    columns,
    ignoredColumns: row.columns?.ignored ?? [],
    reason: row.reason ? { code: row.reason.code, message: row.reason[lang] } : null,
    createdAt: row.created_at.toISOString(),
    startedAt: row.started_at ? row.started_at.toISOString() : null,
    finishedAt: row.finished_at ? row.finished_at.toISOString() : null,
  };
}

/**
 * A cell for a spreadsheet: quoted when needed, and never a formula. A cell
 * that starts with = + - @ TAB or CR (or their full-width forms) is read as
 * a formula by Excel, LibreOffice or Sheets — `+1+HYPERLINK(…)` and
 * `-2+3+cmd|…` included — so it gets a leading apostrophe (OWASP "CSV
 * Injection"). The row as uploaded stays readable; a number like -5 shows as
 * text, which is what a rejected row's cell is.
 */
export function csvCell(v: string, delimiter: string): string {
  let s = v;
  if (/^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/.test(s)) s = `'${s}`;
  return s.includes(delimiter) || /["\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The header of errors.csv for a file with these columns. */
export function errorsCsvHeader(header: string[], delimiter: string): string {
  return '\uFEFF' + ['line', 'reasons', 'codes', ...header].map((h) => csvCell(h, delimiter)).join(delimiter) + '\r\n';
}

/** One line of errors.csv: the line number, every reason (naming its column), the codes, then the row as it was. */
export function errorsCsvLine(line: number, reasons: RowReason[], cells: string[], width: number, delimiter: string, lang: 'en' | 'id'): string {
  const text = reasons.map((r) => (r.column ? `${r.column}: ${r[lang]}` : r[lang])).join(' | ');
  const codes = reasons.map((r) => r.code).join(' ');
  const values = Array.from({ length: Math.max(width, cells.length) }, (_, i) => cells[i] ?? '');
  return [String(line), text, codes, ...values].map((v) => csvCell(v, delimiter)).join(delimiter) + '\r\n';
}

/** errors.csv of an import, page by page (the file can have many rejected rows). */
export async function* errorsCsv(db: Queryable, row: Pick<ImportRow, 'id' | 'columns'>, lang: 'en' | 'id'): AsyncGenerator<string> {
  const header = row.columns?.header ?? [];
  const delimiter = row.columns?.delimiter ?? ',';
  yield errorsCsvHeader(header, delimiter);
  let after = -1;
  for (;;) {
    const r = await db.query<{ line: number; reasons: RowReason[]; cells: string[] }>(
      'SELECT line, reasons, cells FROM import_errors WHERE import_id = $1 AND line > $2 ORDER BY line LIMIT 2000',
      [row.id, after],
    );
    if (r.rows.length === 0) return;
    let out = '';
    for (const e of r.rows) out += errorsCsvLine(e.line, e.reasons, e.cells, header.length, delimiter, lang);
    yield out;
    after = (r.rows[r.rows.length - 1] as { line: number }).line;
  }
}

/** One rejected row as the console shows it: its line, each reason (with its column and the value there) in one language. */
export interface RejectedRow {
  line: number;
  reasons: { column: string; value: string | null; code: string; message: string }[];
}

/** The rejected rows of an import, in line order, `limit` from after line `after` (the upload page lists them). */
export async function importErrorRows(
  db: Queryable,
  who: Principal,
  id: string,
  lang: 'en' | 'id',
  page: { after: number; limit: number },
): Promise<{ header: string[]; rows: RejectedRow[]; more: boolean }> {
  const row = await visibleRow(db, who, id);
  const header = row.columns?.header ?? [];
  const r = await db.query<{ line: number; reasons: RowReason[]; cells: string[] }>(
    'SELECT line, reasons, cells FROM import_errors WHERE import_id = $1 AND line > $2 ORDER BY line LIMIT $3',
    [row.id, page.after, page.limit + 1],
  );
  const rows = r.rows.slice(0, page.limit).map((e) => ({
    line: e.line,
    reasons: e.reasons.map((x) => {
      const at = x.column ? header.indexOf(x.column) : -1;
      return { column: x.column, value: at >= 0 ? (e.cells[at] ?? '') : null, code: x.code, message: x[lang] };
    }),
  }));
  return { header, rows, more: r.rows.length > page.limit };
}

/** errors.csv for `GET /api/v1/imports/{id}/errors.csv`, after the scope check. */
export async function importErrors(db: Queryable, who: Principal, id: string, lang: 'en' | 'id'): Promise<AsyncGenerator<string>> {
  const row = await visibleRow(db, who, id);
  return errorsCsv(db, row, lang);
}

export interface UploadRequest {
  principal: Principal;
  body: AsyncIterable<Uint8Array>;
  fileName: string | null;
  facility: string | null;
  invalidPhone: InvalidPhone;
  /** The declared type, when it says XLSX (the bytes decide otherwise). */
  declaredXlsx: boolean;
}

/**
 * Runs imports in the background of a Dosis process; resumes abandoned ones.
 * `start` at boot, `close` at shutdown (running imports stop at a batch
 * boundary and stay resumable).
 */
export class ImportRunner {
  private readonly deps: RecordDeps;
  private readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private readonly maxRunning: number;
  private signer: SigningPool | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Errors of background runs, for the log (they also mark the import failed). */
  onError: (e: unknown, importId: string) => void = () => {};

  constructor(deps: RecordDeps, opts: { maxRunning?: number } = {}) {
    this.deps = deps;
    this.maxRunning = opts.maxRunning ?? 2;
  }

  /** Looks for imports to resume now and every 15 s (another process may have died holding one). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), 15_000);
    this.timer.unref();
    void this.poll();
  }

  private async poll(): Promise<void> {
    if (this.closed || this.running.size >= this.maxRunning) return;
    try {
      // An upload cut off by a crash of the process receiving it leaves chunks behind: drop them after a while.
      await this.deps.db.query("DELETE FROM imports WHERE status = 'uploading' AND created_at < now() - interval '6 hours'");
      const r = await this.deps.db.query<{ id: string }>(
        `SELECT id FROM imports WHERE status IN ('queued', 'running') AND (locked_until IS NULL OR locked_until < now())
          ORDER BY created_at LIMIT $1`,
        [this.maxRunning - this.running.size],
      );
      for (const { id } of r.rows) this.submit(id);
    } catch (e) {
      if (!this.closed) this.onError(e, '');
    }
  }

  /** Starts running an import if this process has room; otherwise it waits as queued for the next poll. */
  submit(id: string): void {
    if (this.closed || this.running.has(id) || this.running.size >= this.maxRunning) return;
    const abort = new AbortController();
    const done = this.run(id, abort.signal)
      .catch((e: unknown) => {
        if (e instanceof ImportInterrupted) this.resumeWhenBack(id);
        else this.onError(e, id);
      })
      .finally(() => {
        this.running.delete(id);
        if (!this.closed) void this.poll();
      });
    this.running.set(id, { abort, done });
  }

  /**
   * After the database went away under an import: gives its lease back as soon
   * as the database answers again (every second, then less often), and looks
   * for imports to run, which takes it up where its last committed batch ended.
   * Until then the lease (LEASE_SECONDS) keeps other processes from starting
   * it while this one is still stopping.
   */
  private resumeWhenBack(id: string): void {
    let wait = 1000;
    const attempt = () => {
      if (this.closed) return;
      this.deps.db
        .query('UPDATE imports SET locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2', [id, this.owner])
        .then(
          () => void this.poll(),
          () => {
            wait = Math.min(wait * 2, 10_000);
            setTimeout(attempt, wait).unref();
          },
        );
    };
    setTimeout(attempt, wait).unref();
  }

  /** Waits until an import this process runs has stopped (tests, shutdown). */
  async settled(id: string): Promise<void> {
    await this.running.get(id)?.done;
  }

  private async claim(id: string): Promise<boolean> {
    const r = await this.deps.db.query(
      `UPDATE imports SET status = 'running', locked_by = $2, locked_until = now() + make_interval(secs => $3),
              started_at = coalesce(started_at, now()), updated_at = now()
        WHERE id = $1 AND status IN ('queued', 'running') AND (locked_until IS NULL OR locked_until < now() OR locked_by = $2)
        RETURNING id`,
      [id, this.owner, LEASE_SECONDS],
    );
    return r.rowCount === 1;
  }

  private async run(id: string, signal: AbortSignal): Promise<void> {
    if (!(await this.claim(id))) return;
    const row = await getImportRow(this.deps.db, id);
    if (!row) return;
    const stored = await this.deps.db.query('SELECT 1 FROM import_chunks WHERE import_id = $1 LIMIT 1', [id]);
    if (stored.rowCount === 0) {
      // Run by `dosis import` from a file on its machine, which stopped: only that command can finish it.
      await failImport(this.deps.db, id, {
        code: 'interrupted',
        en: 'This import was run by "dosis import" from a file on its machine and was interrupted. Run the command again: rows recorded so far are reported as already recorded.',
        id: 'Impor ini dijalankan oleh "dosis import" dari berkas di mesinnya dan terhenti. Jalankan perintah itu lagi: baris yang sudah tercatat dilaporkan sebagai sudah tercatat.',
      });
      return;
    }
    this.signer ??= new SigningPool(this.deps.db, this.deps.issuer, this.deps.linkSecret);
    try {
      await runImport({ ...this.deps, signer: this.signer }, id, {
        owner: this.owner,
        source: chunkSource(this.deps.db, id, row.file_bytes),
        signal,
        heartbeat: () => this.claim(id),
      });
    } finally {
      if (signal.aborted) {
        // Stopped by shutdown: let the next start (here or elsewhere) resume at once.
        await this.deps.db.query(`UPDATE imports SET locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2`, [id, this.owner]).catch(() => {});
      }
    }
  }

  /**
   * Receives an upload: stores it, checks it through to the end (a broken
   * file is a 4xx and leaves nothing behind), and starts it. Returns its status.
   */
  async upload(req: UploadRequest, lang: 'en' | 'id'): Promise<ImportStatus> {
    const db = this.deps.db;
    if (req.facility !== null) await facilityForEntry(db, req.principal, req.facility);
    const id = await createImport(db, {
      principal: req.principal,
      format: 'csv',
      fileName: req.fileName,
      facility: req.facility === null ? null : req.facility.toUpperCase(),
      invalidPhone: req.invalidPhone,
    });
    try {
      const stored = await storeChunks(db, id, req.body, {
        maxBytes: MAX_IMPORT_BYTES,
        tooLarge: () =>
          new AppError('payload_too_large', 'file_too_large', {
            en: `The file is larger than ${MAX_IMPORT_BYTES / 1024 / 1024} MiB; split it into smaller files.`,
            id: `Berkas lebih besar dari ${MAX_IMPORT_BYTES / 1024 / 1024} MiB; bagi menjadi beberapa berkas.`,
          }),
      });
      if (stored.size === 0) throw new AppError('bad_request', 'file_empty', { en: 'The file is empty: upload a CSV or XLSX file with a header row and one row per dose.', id: 'Berkas kosong: unggah berkas CSV atau XLSX berisi baris judul kolom dan satu baris per dosis.' });
      const format = sniffFormat(stored.head);
      if (req.declaredXlsx && format !== 'xlsx') {
        throw new AppError('invalid', 'xlsx_corrupt', {
          en: 'The file was sent as XLSX but is not one (an XLSX file is a zip archive). Save it again from Excel, or send it as CSV with Content-Type text/csv.',
          id: 'Berkas dikirim sebagai XLSX tetapi bukan XLSX (berkas XLSX adalah arsip zip). Simpan ulang dari Excel, atau kirim sebagai CSV dengan Content-Type text/csv.',
        });
      }
      const check = await checkFile(chunkSource(db, id, stored.size), format, {
        facilityGiven: req.facility !== null || req.principal.role === 'facility',
      });
      await db.query(
        `UPDATE imports SET status = 'queued', format = $2, file_bytes = $3, file_sha256 = $4, rows_total = $5, columns = $6, updated_at = now()
          WHERE id = $1`,
        [id, format, stored.size, stored.sha256, check.rowsTotal, JSON.stringify({ ...check.columns, delimiter: check.delimiter ?? ',' })],
      );
    } catch (e) {
      // Nothing half-written: a file that cannot be imported leaves no trace but the answer.
      await db.query('DELETE FROM imports WHERE id = $1', [id]).catch(() => {});
      throw e;
    }
    this.submit(id);
    const row = await getImportRow(db, id);
    if (!row) throw notFound(id);
    return statusOf(db, row, lang);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const r of this.running.values()) r.abort.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    await this.signer?.close();
  }
}

/** A failed import's reason, for callers that catch a file error themselves (the CLI). */
export async function markFailed(db: Db, id: string, e: AppError): Promise<void> {
  await failImport(db, id, { code: e.code, en: e.text.en, id: e.text.id } satisfies { code: string } & Text);
}
