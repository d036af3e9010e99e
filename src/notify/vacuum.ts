/**
 * The outbox vacuums its own tables (issue 20, `npm run bench -- queue`).
 * Every SMS changes its rows several times: a `notify` job is claimed and then
 * done (two updates, neither HOT: `updated_at` is indexed), its notification
 * is inserted and then updated. Each change leaves a dead row version and
 * dead index entries; only VACUUM takes them away. Dosis cannot count on
 * autovacuum (off on some servers, late on a busy day, absent in PGlite), and
 * without it the drain of a record day's backlog fell with every 100,000 jobs
 * done (the figures in bench/README.md). So the periodic `queue_vacuum` job
 * (service.ts) runs `vacuumQueue` every QUEUE_VACUUM_EVERY_MINUTES; an
 * operator whose autovacuum keeps up turns it off (DOSIS_QUEUE_VACUUM=false).
 */
import type { Db } from '../db/client.ts';

/** The tables the sending of SMS changes (notification_events and sms_sink only lose rows to retention). */
export const QUEUE_TABLES = ['jobs', 'notifications', 'notification_events', 'sms_sink'];
/** How often the periodic job looks; a run vacuums only the tables that need it. */
export const QUEUE_VACUUM_EVERY_MINUTES = 1;
/** A table is vacuumed once it has this many dead row versions, and at least 2 % of its live rows (a VACUUM reads every index of the table whole). */
export const VACUUM_MIN_DEAD = 10_000;
export const VACUUM_DEAD_SHARE = 0.02;

export interface Vacuumed {
  table: string;
  /** Dead row versions counted before (pg_stat_user_tables, as the statistics had them). */
  dead: number;
  ms: number;
}

/**
 * VACUUMs the tables of QUEUE_TABLES whose dead row versions passed the
 * threshold, one at a time; returns what it did ([] when another process
 * holds the lock, or nothing needed it). Never in a transaction (VACUUM
 * cannot be), never waiting: SKIP_LOCKED passes a table another VACUUM (or an
 * index build, an ALTER) holds; TRUNCATE false, because cutting the empty
 * pages off the end takes an exclusive lock that every write of the table
 * would queue behind (pipeline-rollup.ts). Without the statement timeout of
 * the connection: a VACUUM cancelled at 30 s keeps none of its index work.
 * One process at a time (a session advisory lock).
 */
export async function vacuumQueue(db: Db, o: { minDead?: number; share?: number } = {}): Promise<Vacuumed[]> {
  return db.withSession(async (s) => {
    const lock = await s.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext('dosis:queue_vacuum:' || current_schema())) AS ok");
    if (!lock.rows[0]?.ok) return [];
    try {
      const due = await s.query<{ relname: string; dead: number }>(
        `SELECT relname, n_dead_tup::int8 AS dead FROM pg_stat_user_tables
          WHERE schemaname = current_schema() AND relname = ANY($1::text[])
            AND n_dead_tup >= greatest($2::int8, $3::float8 * n_live_tup)
          ORDER BY n_dead_tup DESC`,
        [QUEUE_TABLES, o.minDead ?? VACUUM_MIN_DEAD, o.share ?? VACUUM_DEAD_SHARE],
      );
      const out: Vacuumed[] = [];
      if (due.rows.length === 0) return out;
      await s.exec('SET statement_timeout = 0');
      try {
        for (const r of due.rows) {
          const t0 = performance.now();
          // The name comes from QUEUE_TABLES (matched above), not from outside.
          await s.exec(`VACUUM (SKIP_LOCKED, TRUNCATE false) "${r.relname}"`);
          out.push({ table: r.relname, dead: Number(r.dead), ms: Math.round(performance.now() - t0) });
        }
      } finally {
        await s.exec('RESET statement_timeout');
      }
      return out;
    } finally {
      await s.query("SELECT pg_advisory_unlock(hashtext('dosis:queue_vacuum:' || current_schema()))");
    }
  });
}
