/**
 * `npm run bench -- storage`: bytes per dose at rest on PostgreSQL, and the
 * projection for 450 M doses.
 *
 * A real `dosis serve` (embedded worker, sink gateway) on a new database
 * imports a generated file through `POST /api/v1/imports`; the worker sends
 * every SMS to the sink (delivered at once) and runs each report timeout
 * (`SMS_REPORT_TIMEOUT_SECONDS=1`), so every SMS is final. Then, with the
 * clock moved past every keeping period, the periodic jobs run as the worker
 * runs them (the pipeline rollup, then housekeeping), and `pg_total_relation_size`
 * (table, TOAST and indexes) is read per table at three moments:
 *
 * - drained: every SMS final, nothing deleted;
 * - housekept: after the rollup and housekeeping (deleted rows leave free
 *   space that later rows reuse, so the files do not shrink yet);
 * - at rest: after `VACUUM FULL`, i.e. the space the rows that stay take;
 * - run a while (`--days N`, default 3): without `VACUUM FULL`, each further
 *   day's file (other people) imported into the same database after the day
 *   before was housekept and vacuumed (twice, as autovacuum comes by), every
 *   SMS final, housekept in its turn (the clock moved on again): the freed
 *   space of the days before filled by the next day's rows, the last day's
 *   churn still free, indexes as inserts in random order leave them. Per dose
 *   of all days; and the last day's growth per dose of that day, split into
 *   the tables that keep rows for good and those housekeeping empties.
 *   `--days 1` stops at drained, housekept and at rest.
 *
 * `--satusehat` hands every dose to a SATUSEHAT peer in this process (test/
 * helpers/satusehat-peer.ts, as `npm run bench -- day --satusehat`), and waits
 * for every dose to be synced as well as every SMS to end.
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScratchDatabase, facilityToken, startServer, uploadFile } from '../test/helpers/server.ts';
import { generateDoses, toCsv } from '../test/fixtures/import-files.ts';
import { waitForImport } from './lib/imports.ts';
import { openDb } from '../src/db/open.ts';
import type { Db } from '../src/db/client.ts';
import { housekeep, maintenance, parts, printParts, printStages, sizes, type Sizes } from './lib/sizes.ts';
import { SatusehatPeer } from '../test/helpers/satusehat-peer.ts';

const HELP = `npm run bench -- storage [options]

  --rows <n>        rows of the imported file (default 20000)
  --project <n>     doses to project the figures to (default 450000000)
  --keep-days <n>   days housekeeping is run after (default 30: past every keeping period)
  --days <n>        days of rows (default 3): each day's rows fill the space the day before's housekeeping freed
  --satusehat       hand every dose to a SATUSEHAT peer (the hand-off on); wait until every dose is synced

PostgreSQL: TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test (a scratch
database is created next to it and dropped afterwards).`;

const { values: opts } = parseArgs({
  options: {
    rows: { type: 'string', default: '20000' },
    project: { type: 'string', default: '450000000' },
    'keep-days': { type: 'string', default: '30' },
    days: { type: 'string', default: '3' },
    satusehat: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}
const ADMIN = 'dos_bench_admin_token_0123456789abcdefgh';
const rows = Number(opts.rows);
const project = Number(opts.project);

async function waitFor(what: string, deadlineMs: number, done: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!(await done())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'dosis-bench-storage-'));
const scratch = await createScratchDatabase('dosis_bench_storage');
// The peer knows every NIK (a national registry) and lets the lot's expiry pass (the file's lots are in no register).
const peer = opts.satusehat ? await SatusehatPeer.start({ knowsEveryone: true, tolerate: ['vaccineCode: KFA code', 'expirationDate'] }) : null;
const env = {
  DOSIS_ADMIN_TOKEN: ADMIN,
  DATABASE_URL: scratch.url,
  DOSIS_WORKER: 'true',
  SMS_GATEWAY: 'sink',
  SMS_REPORT_TIMEOUT_SECONDS: '1',
  LOG_LEVEL: 'warn',
  ...(peer ? peer.env() : {}),
};
const keepMs = Number(opts['keep-days']) * 86_400_000;
const days = Number(opts.days);
let token: string | null = null;

/** Imports day `day`'s file through a new `dosis serve` and waits until every SMS (and hand-off) has ended. */
async function importDay(db: Db, day: number): Promise<void> {
  const file = generateDoses({ rows, seed: 303 + day, badShare: 0 });
  const path = join(dir, `storage-${day}.csv`);
  writeFileSync(path, toCsv(file, { bom: true }));
  const server = await startServer({ env, readyTimeoutMs: 120_000 });
  try {
    if (token === null) {
      token = await facilityToken(server.url, ADMIN, 'PKM-STORE');
      // The peer wants the facility's SATUSEHAT Location.
      if (peer) await db.query("UPDATE facilities SET satusehat_location_id = 'LOC-' || code");
    }
    const up = await uploadFile(server.url, token, path);
    if (up.status !== 202) throw new Error(`upload: ${up.status} ${JSON.stringify(up.body)}`);
    const t0 = performance.now();
    const s = await waitForImport(server.url, token, up.body.id);
    if (s.status !== 'done') throw new Error(`import ${String(s.status)}`);
    console.log(`day ${day}: imported ${String(s.accepted)} doses in ${((performance.now() - t0) / 1000).toFixed(1)} s; waiting for every SMS${peer ? ' and hand-off' : ''} to end`);
    // Every SMS final, every hand-off ended and every job that runs now done (reminders wait for their day, periodic jobs for their slot).
    await waitFor('the SMS to end', 30 * 60_000, async () => {
      const r = await db.query<{ open: number; due: number; sync: number }>(
        `SELECT (SELECT count(*) FROM notifications WHERE final_at IS NULL)::int8 AS open,
                (SELECT count(*) FROM jobs WHERE status = 'pending' AND run_at <= now() + interval '2 seconds'
                    AND kind NOT IN ('housekeeping', 'pipeline_rollup', 'escalate_dose_requests'))::int8 AS due,
                (SELECT count(*) FROM satusehat_sync WHERE state = 'waiting')::int8 AS sync`,
      );
      return Number(r.rows[0]?.open) === 0 && Number(r.rows[0]?.due) === 0 && Number(r.rows[0]?.sync) === 0;
    });
  } finally {
    await server.kill();
  }
}

/** Tables whose rows housekeeping deletes (or the rollup drains): their size follows the days kept, not the doses on record. */
const TRANSIENT = new Set(['jobs', 'notification_events', 'sms_sink', 'pipeline_minutes', 'pipeline_waiting_changes', 'import_chunks']);

const count = async (db: Db, sql: string) => Number((await db.query<{ n: number }>(sql)).rows[0]?.n);

try {
  console.log(`storage: ${opts.days} day(s) of a ${rows.toLocaleString('en')}-row file imported into ${scratch.name}, every SMS to the sink${peer ? ', every dose to a SATUSEHAT peer' : ''}`);
  const db = await openDb({ databaseUrl: scratch.url, dataDir: dir, poolSize: 2 });
  try {
    await importDay(db, 1);
    const doses = await count(db, 'SELECT count(*)::int8 AS n FROM vaccinations');
    const sms = await count(db, 'SELECT count(*)::int8 AS n FROM notifications');
    const synced = await count(db, "SELECT count(*)::int8 AS n FROM satusehat_sync WHERE state = 'synced'");
    console.log(`${doses.toLocaleString('en')} doses, ${sms.toLocaleString('en')} SMS, all final${peer ? `; ${synced.toLocaleString('en')} synced` : ''}`);
    await maintenance(db, 'VACUUM ANALYZE');
    const drained = await sizes(db);
    await housekeep(db, new Date(Date.now() + keepMs), `day 1 at now + ${opts['keep-days']} days`);
    const housekept = await sizes(db);
    const stages: [string, Sizes][] = [
      ['drained', drained],
      ['housekept', housekept],
    ];
    if (days >= 2) {
      // Day 2 and on, each into the space the days before freed; `last` is the day before the last one.
      let last = housekept;
      let current = housekept;
      let before = doses;
      let all = doses;
      for (let day = 2; day <= days; day++) {
        last = current;
        before = all;
        await importDay(db, day);
        // 30 days after this day, not after the day before's housekeeping: the clock goes back to now for every
        // import, and the events' mark (retention.ts) must stay behind this day's deliveries.
        await housekeep(db, new Date(Date.now() + keepMs), `day ${day} at now + ${opts['keep-days']} days`);
        current = await sizes(db);
        all = await count(db, 'SELECT count(*)::int8 AS n FROM vaccinations');
      }
      const both = all;
      // Per dose of every day, in the same columns as the first day's figures.
      const scaled: Sizes = new Map([...current].map(([k, v]) => [k, { bytes: Math.round((v.bytes * doses) / both), rows: v.rows }]));
      console.log(`day ${days}: ${both.toLocaleString('en')} doses in all; the "run a while" column is per dose of all ${days} days`);
      stages.push(['run a while', scaled]);
      // What the last day added, per dose of that day: the growth of a database whose freed space the next day reuses.
      const grown: Sizes = new Map([...current].map(([k, v]) => [k, { bytes: Math.round(((v.bytes - (last.get(k)?.bytes ?? 0)) * doses) / (both - before)), rows: v.rows }]));
      stages.push([`day ${days} growth`, grown]);
      const perDose = (pick: (k: string) => boolean) => Math.round([...current].filter(([k]) => pick(k)).reduce((a, [k, v]) => a + v.bytes - (last.get(k)?.bytes ?? 0), 0) / (both - before));
      console.log(
        `day ${days} growth per dose of that day: ${perDose((k) => !TRANSIENT.has(k)).toLocaleString('en')} B in the tables that keep rows for good, ${perDose((k) => TRANSIENT.has(k)).toLocaleString('en')} B in those whose rows go ` +
          `(${[...TRANSIENT].join(', ')}: bounded by their keeping periods, not by the doses on record)`,
      );
      printParts(`run a while (all ${days} days)`, current, await parts(db), both);
      // VACUUM FULL of all days, per dose of all days.
      await maintenance(db, `VACUUM FULL ${[...current.keys()].join(', ')}`);
      const rest2 = await sizes(db);
      stages.push(['at rest', new Map([...rest2].map(([k, v]) => [k, { bytes: Math.round((v.bytes * doses) / both), rows: v.rows }]))]);
      printParts(`at rest (all ${days} days)`, rest2, await parts(db), both);
    } else {
      // Dosis's tables only: a VACUUM FULL of the catalogs races with the reads of statistics.
      await maintenance(db, `VACUUM FULL ${[...housekept.keys()].join(', ')}`);
      const rest = await sizes(db);
      stages.push(['at rest', rest]);
      printParts('at rest', rest, await parts(db), doses);
    }
    printStages(stages, doses, project);
  } finally {
    await db.close();
  }
} finally {
  await peer?.close();
  await scratch.drop();
  rmSync(dir, { recursive: true, force: true });
}
