/**
 * `dosis satusehat backfill [--since DATE] [--facility CODE]`: queues the hand-off of every dose never
 * handed to SATUSEHAT (recorded before the hand-off was on, or while it was off), facility by facility in
 * batches, with a progress bar. Safe to run twice, and beside a running worker: a dose already queued is
 * left alone (its sync row is the key), so a second run queues nothing more.
 */
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { openDb } from '../db/open.ts';
import { migrate } from '../db/migrate.ts';
import { queueNew, switchSync } from './sync.ts';

export const SATUSEHAT_HELP: Record<string, string> = {
  satusehat: `dosis satusehat backfill [--since DATE] [--facility CODE]

Queues the hand-off to SATUSEHAT of every dose never handed over (voided doses
and doses held for an identity review are left out); the worker then sends them
in its lowest lane. Safe to run twice. Needs the SATUSEHAT_* configuration.
Options:
  --since DATE      only doses given on or after DATE (YYYY-MM-DD)
  --facility CODE   only doses recorded by this facility`,
};

/** Doses per statement. */
const BATCH = 1000;

export interface BackfillOptions {
  since?: string | undefined;
  facility?: string | undefined;
  /** Called after each batch with the doses looked at and the total. */
  progress?: (done: number, total: number, queued: number) => void;
}

/** Queues every dose never handed over; returns how many doses were looked at and how many queued. */
export async function backfill(db: Db, o: BackfillOptions = {}): Promise<{ seen: number; queued: number }> {
  const facilities = (
    await db.query<{ code: string }>('SELECT code FROM facilities WHERE $1::text IS NULL OR code = $1 ORDER BY code', [o.facility ?? null])
  ).rows.map((r) => r.code);
  const total = Number(
    (
      await db.query<{ n: number }>(
        'SELECT count(*)::int8 AS n FROM vaccinations WHERE ($1::text IS NULL OR facility_code = $1) AND ($2::date IS NULL OR date >= $2::date)',
        [o.facility ?? null, o.since ?? null],
      )
    ).rows[0]?.n ?? 0,
  );
  let seen = 0;
  let queued = 0;
  for (const code of facilities) {
    // Through vaccinations_facility (facility_code, recorded_at), a page at a time after the last (recorded_at, id).
    let after: { at: Date; id: string } | null = null;
    for (;;) {
      const page: { person_id: string; id: string; recorded_at: Date }[] = (
        await db.query<{ person_id: string; id: string; recorded_at: Date }>(
          `SELECT v.person_id, v.id, v.recorded_at FROM vaccinations v
            WHERE v.facility_code = $1 AND ($2::timestamptz IS NULL OR (v.recorded_at, v.id) > ($2::timestamptz, $3::uuid))
              AND ($4::date IS NULL OR v.date >= $4::date)
            ORDER BY v.recorded_at, v.id LIMIT ${BATCH}`,
          [code, after?.at ?? null, after?.id ?? null, o.since ?? null],
        )
      ).rows;
      if (page.length === 0) break;
      queued += await queueNew(db, page.map((r) => ({ personId: r.person_id, vaccinationId: r.id })));
      seen += page.length;
      o.progress?.(seen, total, queued);
      const last = page[page.length - 1]!;
      after = { at: last.recorded_at, id: last.id };
      if (page.length < BATCH) break;
    }
  }
  return { seen, queued };
}

function bar(done: number, total: number, queued: number): string {
  const width = 30;
  const frac = total === 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(frac * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} doses looked at, ${queued} queued`;
}

/** Runs `dosis satusehat …`; returns the exit code. */
export async function satusehatCommand(args: string[], config: Config): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { since: { type: 'string' }, facility: { type: 'string' } }, allowPositionals: true });
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const { values, positionals } = parsed;
  if (positionals[0] !== 'backfill' || positionals.length !== 1) {
    console.error('usage: dosis satusehat backfill [--since DATE] [--facility CODE]');
    return 2;
  }
  if (values.since !== undefined && (!/^\d{4}-\d{2}-\d{2}$/.test(values.since) || Number.isNaN(Date.parse(values.since)))) {
    console.error(`--since must be a date YYYY-MM-DD, got "${values.since}"`);
    return 2;
  }
  if (!config.satusehat) {
    console.error('The hand-off to SATUSEHAT is off: set SATUSEHAT_URL, SATUSEHAT_AUTH_URL, SATUSEHAT_CLIENT_ID, SATUSEHAT_CLIENT_SECRET and SATUSEHAT_ORGANIZATION_ID.');
    return 2;
  }
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
  try {
    await migrate(db);
    if (values.facility !== undefined) {
      const f = await db.query('SELECT 1 FROM facilities WHERE code = $1', [values.facility]);
      if (f.rows.length === 0) {
        console.error(`--facility: no facility "${values.facility}"`);
        return 2;
      }
    }
    await switchSync(db, true);
    const tty = process.stderr.isTTY;
    let lastLine = 0;
    const r = await backfill(db, {
      since: values.since,
      facility: values.facility,
      progress: (done, total, queued) => {
        if (tty) process.stderr.write(`\r${bar(done, total, queued)}`);
        else if (Date.now() - lastLine > 1000 || done === total) {
          lastLine = Date.now();
          process.stderr.write(`${bar(done, total, queued)}\n`);
        }
      },
    });
    if (tty) process.stderr.write('\n');
    console.log(`dosis satusehat backfill: ${r.seen} doses looked at, ${r.queued} queued for SATUSEHAT`);
    return 0;
  } finally {
    await db.close();
  }
}
