/** A large `jobs` table in one statement per part, for the outbox's plan test and `npm run bench -- claim`. */
import type { Db, Queryable } from '../../src/db/client.ts';

const CHUNK = 100_000;

export interface JobsFill {
  /** Finished notify jobs (history). */
  done: number;
  /** Certificate SMS waiting, due now (the backlog). */
  backlog: number;
  /** Reminders waiting for their day (run_at weeks ahead). */
  future: number;
}

/**
 * Writes the jobs of a record day's queue: `done` finished ones, `backlog`
 * notify jobs due now (oldest first), `future` reminders weeks ahead, with
 * payloads and dedupe keys like the real ones. Nothing is analyzed.
 */
export async function fillJobs(db: Queryable, f: JobsFill): Promise<void> {
  const notify = (status: string, n: number, ageSeconds: number) =>
    db.query(
      `INSERT INTO jobs (kind, payload, dedupe_key, status, run_at, person_id, lane, created_at, updated_at, attempts)
       SELECT 'notify', jsonb_build_object('personId', p, 'certificateId', c), 'notify:' || c, $1,
              now() - make_interval(secs => $3::float8 - i * 0.001), p, 'certificate',
              now() - make_interval(secs => $3::float8 - i * 0.001), now() - make_interval(secs => $3::float8 - i * 0.001), $4
         FROM generate_series(1, $2::int) AS i, LATERAL (SELECT gen_random_uuid() AS p, gen_random_uuid() AS c, i AS k) u`,
      [status, n, ageSeconds, status === 'done' ? 1 : 0],
    );
  // In statements of at most CHUNK rows: one of a million would pass the statement timeout on a busy machine.
  for (let i = 0; i < f.done; i += CHUNK) await notify('done', Math.min(CHUNK, f.done - i), 7 * 86_400 - i * 0.001);
  for (let i = 0; i < f.backlog; i += CHUNK) await notify('pending', Math.min(CHUNK, f.backlog - i), 3_600 - i * 0.001);
  if (f.future)
    await db.query(
      `INSERT INTO jobs (kind, payload, dedupe_key, run_at, person_id, lane)
       SELECT 'reminder', jsonb_build_object('personId', p, 'doseNumber', 2, 'vaccine', 'CORONAVAC', 'due', '2030-01-01'), 'reminder:' || p || ':2',
              now() + interval '28 days' + make_interval(secs => i), p, 'notice'
         FROM generate_series(1, $1::int) AS i, LATERAL (SELECT gen_random_uuid() AS p, i AS k) u`,
      [f.future],
    );
}

/**
 * Runs `fn` in a transaction with the tables' triggers off (`session_replication_role = replica`;
 * the tests connect as a superuser): for a plan test's fill and clean-up of a million rows, where
 * the rows' bookkeeping (the backlog gauges of migration 038) is not the question and costs most
 * of the time. Anything counted by triggers is left unchanged, so only where nothing reads it.
 */
export async function withoutTriggers<T>(db: Db, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  return db.withTransaction(async (tx) => {
    await tx.query("SET LOCAL session_replication_role = 'replica'");
    return fn(tx);
  });
}
