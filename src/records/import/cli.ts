/**
 * `dosis import FILE [--facility CODE]`: the same import as an upload, run
 * from a file on this machine straight into the database, with a progress
 * bar (rows/s, ETA) on stderr, a summary on stdout, and the rejected rows
 * written next to the input as FILE.errors.csv.
 *
 * Exit codes: 0 every row recorded (or already recorded); 1 some rows were
 * rejected (see the errors file); 2 usage; 3 the file cannot be imported
 * (broken, wrong columns) and nothing was recorded.
 */
import { createWriteStream, existsSync, rmSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { once } from 'node:events';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import type { Config } from '../../config.ts';
import { openDb } from '../../db/open.ts';
import { Issuer, type SigningSetup } from '../../certificates/issuer.ts';
import { openSigningSetup } from '../../certificates/issuer.ts';
import { migrate } from '../../db/migrate.ts';
import { loadLinkSecret } from '../../access/links.ts';
import type { Principal } from '../../access/tokens.ts';
import { AppError } from '../../domain/errors.ts';
import { facilityForEntry } from '../facilities.ts';
import { checkFile, createImport, getImportRow, runImport, type ImportCounts } from './run.ts';
import { sniffFormat } from './read.ts';
import { fileSource } from './source.ts';
import { SigningPool } from './signing.ts';
import { errorsCsv, markFailed } from './service.ts';

export const IMPORT_HELP: Record<string, string> = {
  import: `dosis import FILE [--facility CODE] — record every row of a CSV or XLSX file of doses

Each row is validated and recorded exactly as POST /api/v1/vaccinations would,
with its certificate and its SMS job. Rows already recorded (same person,
dose number, vaccine and date) are reported, not recorded again, so running
the command twice, or after an interruption, records nothing twice.

Options:
  --facility CODE        facility for rows without a "Kode Faskes" column
  --invalid-phone MODE   reject (default): a row with an unusable phone number
                         is rejected; flag: it is recorded and the person goes
                         on the phone work list
  --lang en|id           language of the reasons in the errors file (default en)

Writes FILE.errors.csv next to the input when rows were rejected: each
rejected row with its line number and every reason.
Exit codes: 0 all recorded; 1 rows rejected; 2 usage; 3 file not importable.`,
};

/** The CLI acts as an operator with database access: recorded as this id, labelled with the OS user. */
export const CLI_PRINCIPAL_ID = '00000000-0000-4000-8000-00000000c11d';

function formatDuration(s: number): string {
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

/** A progress line on stderr: a bar on a terminal, a line every few seconds otherwise. */
function progress(total: number | null, started: number) {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  return (c: ImportCounts, final = false) => {
    const now = Date.now();
    if (!final && now - last < (tty ? 100 : 5000)) return;
    last = now;
    const secs = (now - started) / 1000;
    const rate = secs > 0 ? c.rows / secs : 0;
    const share = total ? c.rows / total : 0;
    const width = 24;
    const bar = '█'.repeat(Math.round(share * width)).padEnd(width, '░');
    const eta = total && rate > 0 ? formatDuration((total - c.rows) / rate) : '–';
    const text =
      `${bar} ${(share * 100).toFixed(0).padStart(3)}% ${c.rows.toLocaleString('en')}/${(total ?? 0).toLocaleString('en')} rows · ` +
      `${Math.round(rate).toLocaleString('en')} rows/s · ETA ${eta} · ${c.rejected.toLocaleString('en')} rejected`;
    process.stderr.write(tty ? `\r${text}\x1b[K${final ? '\n' : ''}` : `${text}\n`);
  };
}

/** Runs `dosis import`; returns the exit code. */
export async function importCommand(args: string[], config: Config): Promise<number> {
  let values: { facility?: string | undefined; 'invalid-phone'?: string | undefined; lang?: string | undefined };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: { facility: { type: 'string' }, 'invalid-phone': { type: 'string' }, lang: { type: 'string' } },
      allowPositionals: true,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${IMPORT_HELP.import}`);
    return 2;
  }
  const path = positionals[0];
  const invalidPhone = values['invalid-phone'] ?? 'reject';
  const lang = values.lang ?? 'en';
  if (!path || positionals.length > 1 || (invalidPhone !== 'reject' && invalidPhone !== 'flag') || (lang !== 'en' && lang !== 'id')) {
    console.error(`Usage: ${IMPORT_HELP.import}`);
    return 2;
  }
  if (!existsSync(path)) {
    console.error(`dosis import: no such file: ${path}`);
    return 2;
  }
  const source = await fileSource(path);
  const head: Uint8Array[] = [];
  for await (const c of source.read(0, Math.min(8, source.size))) head.push(c);
  const format = sniffFormat(Buffer.concat(head));

  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 4 });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let signer: SigningPool | undefined;
  let signing: SigningSetup | undefined;
  try {
    await migrate(db);
    signing = await openSigningSetup(db, config);
    const issuer = await new Issuer(db, config.certificateValidityDays, signing).ready();
    const deps = { db, issuer, linkSecret: await loadLinkSecret(db), publicUrl: config.publicUrl };
    const who: Principal = { id: CLI_PRINCIPAL_ID, role: 'admin', facilityCode: null, regionCode: null, label: `cli:${userInfo().username}` };
    const facility = values.facility ? (await facilityForEntry(db, who, values.facility)).code : null;
    const owner = `cli:${process.pid}`;
    const id = await createImport(db, { principal: who, format, fileName: basename(path), facility, invalidPhone, status: 'running', owner });

    const started = Date.now();
    process.stderr.write(`Checking ${path} (${(source.size / 1024 / 1024).toFixed(1)} MiB)…\n`);
    let check;
    try {
      check = await checkFile(source, format, { facilityGiven: facility !== null });
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      await markFailed(db, id, e);
      console.error(`dosis import: the file cannot be imported; nothing was recorded.\n${e.text[lang]}`);
      return 3;
    }
    await db.query('UPDATE imports SET file_bytes = $2, rows_total = $3, columns = $4 WHERE id = $1', [
      id,
      source.size,
      check.rowsTotal,
      JSON.stringify({ ...check.columns, delimiter: check.delimiter ?? ',' }),
    ]);
    const show = progress(check.rowsTotal, Date.now());
    signer = new SigningPool(db, issuer, deps.linkSecret);
    const counts = await runImport({ ...deps, signer }, id, {
      owner,
      source,
      signal: stop.signal,
      onProgress: (c) => show(c),
      heartbeat: async () => (await db.query("UPDATE imports SET locked_until = now() + interval '60 seconds' WHERE id = $1 AND locked_by = $2", [id, owner])).rowCount === 1,
    });
    show(counts, true);
    const row = await getImportRow(db, id);
    if (stop.signal.aborted || row?.status !== 'done') {
      await markFailed(
        db,
        id,
        new AppError('unavailable', 'interrupted', {
          en: 'Interrupted; run the command again to finish: rows recorded so far are reported as already recorded.',
          id: 'Terhenti; jalankan perintah lagi untuk menyelesaikan: baris yang sudah tercatat dilaporkan sebagai sudah tercatat.',
        }),
      );
      console.error(`dosis import: ${row?.status === 'failed' && row.reason ? row.reason[lang] : 'interrupted'}; ${counts.accepted} rows were recorded. Run it again to finish.`);
      return 1;
    }

    const errorsPath = join(dirname(resolve(path)), `${basename(path, extname(path))}.errors.csv`);
    if (counts.rejected > 0) {
      const out = createWriteStream(errorsPath);
      for await (const chunk of errorsCsv(db, row, lang)) if (!out.write(chunk)) await once(out, 'drain');
      out.end();
      await once(out, 'finish');
    } else if (existsSync(errorsPath)) rmSync(errorsPath); // a stale list from an earlier run would mislead
    const secs = (Date.now() - started) / 1000;
    console.log(
      [
        `Import ${id} of ${path}: ${counts.rows.toLocaleString('en')} rows in ${secs.toFixed(1)} s (${Math.round(counts.rows / Math.max(secs, 0.001)).toLocaleString('en')} rows/s)`,
        `  recorded now:      ${counts.accepted.toLocaleString('en')} (each with its certificate and SMS job)`,
        `  already recorded:  ${counts.alreadyRecorded.toLocaleString('en')}`,
        `  rejected:          ${counts.rejected.toLocaleString('en')}${counts.rejected > 0 ? ` → ${errorsPath}` : ''}`,
      ].join('\n'),
    );
    return counts.rejected > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await signer?.close();
    await db.close();
    signing?.store.close();
  }
}
