/**
 * What the outbox and the SMS keep, and for how long (issue 20: at 2 M doses
 * a day the tables grew by ~5.4 KB per dose for good, `jobs_dedupe_key_key`
 * alone 280 MB). Run by the periodic `housekeeping` job (service.ts
 * `runHousekeeping`), in batches of a few thousand rows, each its own short
 * statement, so that writers never wait on it for long; a run stops at its
 * time budget and the next run goes on.
 *
 * - **Done jobs** go `KEEP_DONE_JOBS_DAYS` after they ended. Their dedupe keys
 *   go with them: what keeps a job run again from sending again is the
 *   notification's own unique `(person_id, source_key)`, the source key being
 *   the job's dedupe key (`notify:<certificateId>`, `reminder:…`, `recall:…`,
 *   `otp:…`, `correction:…`), written before any send; a retry or report
 *   timeout of a notification since ended does nothing. A `notify` job goes
 *   only once the pipeline rollup has counted it (`created_at` before
 *   `pipeline_rollup.done_until`): the live tail of the pipeline view reads
 *   notify jobs. Dead and pending jobs stay.
 * - **Events of delivered SMS** go `KEEP_DELIVERED_EVENTS_DAYS` after the
 *   delivery (`final_at`): the notification row keeps what they came to
 *   (status, attempts, route, the SMSC's id, submitted and final times); its
 *   text keeps `[link]` in place of the certificate link. The
 *   events of an SMS that did not reach its person (failed, expired, unknown,
 *   held, cancelled) stay: support reads them. Certificate SMS only (they are
 *   found by `notifications_certificate_final`); codes, reminders and notices
 *   keep theirs.
 * - **The local sink's messages** go after `KEEP_SINK_DAYS` (it stands in for
 *   phones; a production gateway keeps nothing here).
 */
import type { Db } from '../db/client.ts';

/** Days a done job is kept (a notify job also only once the pipeline rollup has counted it: DONE_JOBS_SQL). */
export const KEEP_DONE_JOBS_DAYS = 7;
/** Days the events of a delivered certificate SMS are kept after delivery. */
export const KEEP_DELIVERED_EVENTS_DAYS = 30;
/** Days the local sink keeps a message. */
export const KEEP_SINK_DAYS = 7;

const DAY_MS = 86_400_000;
/** `settings` key: certificate SMS delivered before this time have had their events compacted. */
const EVENTS_MARK = 'notify_events_compacted_until';

/** The next done jobs past keeping, oldest first ($1: ended before, $2: how many), from jobs_done (exported for its plan test). */
export const DONE_JOBS_SQL = `SELECT id FROM jobs
        WHERE status = 'done' AND updated_at < $1
          AND (kind <> 'notify' OR created_at < (SELECT coalesce(done_until, '-infinity') FROM pipeline_rollup))
        ORDER BY updated_at LIMIT $2`;

/**
 * The settings under which the reads that walk an index in order run
 * (`SET LOCAL`, this transaction only). Without statistics (a table grown in a
 * day, autovacuum not yet by) the planner puts the rows of a range at a third
 * of a percent of the table and plans a bitmap scan of the whole range and a
 * sort of it over the ordered walk that stops at the batch: on a million done
 * jobs, every row read to delete 5,000. A sort or a bitmap scan then costs
 * 10^10 to the planner, which leaves the ordered walk; and JIT is off, since a
 * plan that had to keep such a node anyway (an index missing) would pass every
 * JIT threshold. The test of these plans is in test/notify/lanes.test.ts.
 */
export const ORDERED_WALK = "SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true), set_config('jit', 'off', true)";

/** Runs one read that walks an index in order under ORDERED_WALK. */
/** A timestamptz as an ISO text in UTC to the microsecond (what JS reads back as a Date keeps only milliseconds). */
const MICROSECONDS = (expr: string): string => `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

async function walk<R extends Record<string, unknown>>(db: Db, sql: string, params: unknown[]): Promise<R[]> {
  return db.withTransaction(async (tx) => {
    await tx.query(ORDERED_WALK);
    return (await tx.query<R>(sql, params)).rows;
  });
}

export interface PruneOptions {
  /** Rows per statement (default 5,000). */
  batch?: number;
  /** Stop starting batches after this long (default 40 s, under the job lease); the next run goes on. */
  budgetMs?: number;
}

export interface PruneCounts {
  doneJobs: number;
  /** Events deleted, of `compactedSms` delivered SMS. */
  events: number;
  compactedSms: number;
  sinkMessages: number;
  /** True when the budget ran out with work left. */
  more: boolean;
}

/** Deletes the done jobs, the events of delivered SMS and the sink messages past keeping at `now`, in batches. */
export async function pruneNotify(db: Db, now: Date, o: PruneOptions = {}): Promise<PruneCounts> {
  const batch = o.batch ?? 5000;
  const deadline = performance.now() + (o.budgetMs ?? 40_000);
  const out: PruneCounts = { doneJobs: 0, events: 0, compactedSms: 0, sinkMessages: 0, more: false };
  const left = () => performance.now() < deadline;

  // Done jobs, oldest first, from the partial index jobs_done (migration 031). The ids are read
  // first and deleted by primary key: two plans that cannot go wrong without statistics.
  const jobsBefore = new Date(now.getTime() - KEEP_DONE_JOBS_DAYS * DAY_MS);
  for (;;) {
    if (!left()) return { ...out, more: true };
    const ids = await walk<{ id: number }>(db, DONE_JOBS_SQL, [jobsBefore, batch]);
    if (ids.length === 0) break;
    const r = await db.query("DELETE FROM jobs WHERE id = ANY($1::int8[]) AND status = 'done'", [ids.map((x) => x.id)]);
    out.doneJobs += r.rowCount;
    if (ids.length < batch) break;
  }

  // Events of delivered certificate SMS, by delivery time from the mark on: a batch ends at the
  // final_at of its `batch`-th SMS (so SMS of the same instant stay together), the mark moves to it.
  // The bounds are ISO texts to the microsecond, as PostgreSQL keeps final_at: a Date keeps
  // milliseconds, and SMS delivered in one statement (one final_at) a few microseconds into a
  // millisecond were never passed — the same bound came back at every step until the time ran out.
  const eventsBefore = new Date(now.getTime() - KEEP_DELIVERED_EVENTS_DAYS * DAY_MS).toISOString();
  const mark = await db.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [EVENTS_MARK]);
  let from = mark.rows[0]?.value ?? new Date(0).toISOString();
  while (Date.parse(from) < Date.parse(eventsBefore)) {
    if (!left()) return { ...out, more: true };
    const end = await walk<{ at: string; later: boolean }>(
      db,
      `SELECT ${MICROSECONDS('final_at')} AS at, final_at > $1::timestamptz AS later FROM notifications
        WHERE kind = 'certificate' AND final_at IS NOT NULL AND final_at >= $1::timestamptz AND final_at < $2::timestamptz
        ORDER BY final_at OFFSET $3 LIMIT 1`,
      [from, eventsBefore, batch],
    );
    let to = end[0]?.at ?? eventsBefore;
    if (end[0] && !end[0].later) {
      // More than a batch ended at the very instant `from`: take that instant whole.
      const next = await walk<{ at: string | null }>(
        db,
        `SELECT ${MICROSECONDS('min(final_at)')} AS at FROM notifications
          WHERE kind = 'certificate' AND final_at IS NOT NULL AND final_at > $1::timestamptz AND final_at < $2::timestamptz`,
        [from, eventsBefore],
      );
      to = next[0]?.at ?? eventsBefore;
    }
    const sms = await db.query<{ person_id: string; id: string }>(
      `SELECT person_id, id FROM notifications
        WHERE kind = 'certificate' AND final_at IS NOT NULL AND final_at >= $1::timestamptz AND final_at < $2::timestamptz AND status = 'delivered'`,
      [from, to],
    );
    if (sms.rows.length) {
      const r = await db.query(
        `DELETE FROM notification_events e USING unnest($1::uuid[], $2::uuid[]) AS d(person_id, id)
          WHERE e.person_id = d.person_id AND e.notification_id = d.id`,
        [sms.rows.map((x) => x.person_id), sms.rows.map((x) => x.id)],
      );
      out.events += r.rowCount;
      out.compactedSms += sms.rows.length;
      // The text keeps what it said but not the certificate link, a bearer credential with no other
      // plaintext copy at rest, and ~40 bytes a dose shorter. Neither a resend nor a retry reads the
      // body of a delivered SMS; `updated_at` stays (it is when the SMS last changed state).
      await db.query(
        `UPDATE notifications n SET body = regexp_replace(n.body, 'https?://\\S+', '[link]', 'g')
           FROM unnest($1::uuid[], $2::uuid[]) AS d(person_id, id)
          WHERE n.person_id = d.person_id AND n.id = d.id AND n.body ~ 'https?://'`,
        [sms.rows.map((x) => x.person_id), sms.rows.map((x) => x.id)],
      );
    }
    await db.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [EVENTS_MARK, to]);
    from = to;
  }

  // The sink, oldest first by id (its times follow its ids): a batch with a young message is the last.
  const sinkBefore = new Date(now.getTime() - KEEP_SINK_DAYS * DAY_MS);
  for (;;) {
    if (!left()) return { ...out, more: true };
    const head = await walk<{ person_id: string; id: number; old: boolean }>(db, 'SELECT person_id, id, at < $1 AS old FROM sms_sink ORDER BY id LIMIT $2', [sinkBefore, batch]);
    const old = head.filter((x) => x.old);
    if (old.length) {
      const r = await db.query(
        `DELETE FROM sms_sink s USING unnest($1::uuid[], $2::int8[]) AS d(person_id, id) WHERE s.person_id = d.person_id AND s.id = d.id`,
        [old.map((x) => x.person_id), old.map((x) => x.id)],
      );
      out.sinkMessages += r.rowCount;
    }
    if (old.length < batch) break;
  }
  return out;
}
