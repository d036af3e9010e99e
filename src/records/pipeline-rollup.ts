/**
 * The pipeline rollup: the events of each pipeline stage counted per facility
 * and UTC hour (`pipeline_hours`), per facility and minute for the last two
 * hours (`pipeline_minutes`) and per facility over all time
 * (`pipeline_totals`), so that the pipeline view and its series (stats.ts)
 * read the counts of their window and the live tail since
 * `pipeline_rollup.done_until` instead of all of history (migrations 019, 033).
 *
 * An event is counted in the hour its timestamp falls in, as it happened: a
 * dose voided later still counts where it was recorded and certified, an SMS
 * that ends twice (held, then cancelled; given up, then delivered after all)
 * counts under both final states, and one sent again counts each time it is
 * accepted.
 *
 * Each run also samples what waits now (the SMS queue, the SMS waiting for a
 * report: sampleWaiting) into the gauge of the current hour
 * (`pipeline_waiting_hours`, migration 044), from which the series reads its
 * SMS backlogs of past hours.
 * The tail is counted by triggers as the rows are written, per facility, stage
 * and minute (migration 039, `pipeline_live`: the same events as pipelineEvents),
 * and the rollup ends on a minute boundary, so rolling up changes what a figure
 * costs, not the figure.
 *
 * Two steps (issue 20: on a record day the tail of the hour-aligned rollup
 * held up to two hours of events, two million doses, and every pipeline
 * request hit the statement timeout):
 * - **counting up to a few seconds ago**: the live minutes since `done_until`
 *   up to ROLLUP_MARGIN_MS ago (or the start of the oldest running
 *   transaction) are folded into their hours, minutes and totals and deleted,
 *   in one statement: `pipeline_live` and the changes not compacted yet hold,
 *   at the statement's snapshot, exactly the events of the rows it sees (the
 *   triggers write them in each row's transaction), so the figures are those
 *   a count of the source tables on that snapshot gives. Its cost is the
 *   facilities × stages × minutes folded, not the events (200,000-row day
 *   bench: 15 ms a run; the source tables, read until then, 3.7–6.9 s).
 *   `live_from` moves to the new `done_until`. Only what the live minutes do
 *   not hold, the span before `live_from` (the first run; one after a reset to
 *   nothing), is counted from the source tables (pipelineEvents). Run every
 *   few seconds by the worker on a timer of its own (startPipelineRollup), so a
 *   backlog of jobs never delays it, and as the periodic outbox job
 *   `pipeline_rollup`.
 * - **counting a final hour again**: once an hour ended FINAL_AFTER_MS ago it
 *   is counted again from the source tables and its hour and totals corrected
 *   by the difference, so a row committed later than the margin (a batch
 *   signed long before its transaction) is not missed for good: its change
 *   arrives in a minute before `live_from`, which the compaction drops (the
 *   live minutes are exact from `live_from` on, and those before it are
 *   counted). One hour's source rows once an hour, through the BRIN indexes,
 *   partial btrees and primary-key probes of migration 019.
 *
 * Both in one transaction under an advisory lock (one rollup at a time; a crash
 * leaves nothing half done); compactWaiting moves the live changes only under
 * the same lock, so a fold never misses a minute a compaction adds meanwhile.
 */
import { type Db, type Queryable, SCHEMA_LOCKS, tryLockSchemaKey } from '../db/client.ts';

/** The stages counted, one column each in pipeline_hours and pipeline_totals. */
export const PIPELINE_STAGES = ['recorded', 'certified', 'queued', 'accepted', 'delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

/** How a certificate SMS ends: its status when `final_at` is set (notify/notifier.ts), counted at final_at. */
export const FINAL_SMS_STATUSES = ['delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled'] as const satisfies readonly PipelineStage[];

/**
 * The rollup counts up to this long ago (or to the start of the oldest
 * transaction still running, when earlier): a row stamped with `now()` commits
 * within its transaction's life, one stamped by the application's clock (a
 * dose's recorded_at, a certificate's issued_at: taken before signing) a little
 * after. A row that commits later still is counted when its hour is counted
 * again (FINAL_AFTER_MS).
 */
export const ROLLUP_MARGIN_MS = 10_000;
/** An hour is counted again from the source tables, exactly, this long after it ended. */
export const FINAL_AFTER_MS = 3_600_000;
/** Per-minute counts are kept this long (the pipeline view's last hour). */
const MINUTES_KEPT_MS = 2 * 3_600_000;
const HOUR_MS = 3_600_000;

/** The dose behind a job's or SMS's certificate, as `d` (its facility: `d.facility_code`): two primary-key probes per row. */
export function certificateDose(personId: string, certificateId: string): string {
  return `JOIN certificates dc ON dc.person_id = ${personId} AND dc.id = ${certificateId}
          JOIN vaccinations d ON d.person_id = dc.person_id AND d.id = dc.vaccination_id`;
}

/** The certificate a `notify` job is about. */
export const NOTIFY_CERTIFICATE = "(j.payload->>'certificateId')::uuid";

/**
 * The pipeline's events with a time in [lo, hi) (SQL expressions), one row
 * each: (facility_code, stage, at, days — from vaccination date to entry, for
 * `recorded`). Each branch reads only its range, through the indexes of
 * migration 019, and finds the facility of a job or SMS by primary key.
 */
export function pipelineEvents(lo: string, hi: string): string {
  const final = FINAL_SMS_STATUSES.map((s) => `'${s}'`).join(', ');
  return `
    SELECT v.facility_code, 'recorded' AS stage, v.recorded_at AS at, extract(epoch FROM v.recorded_at - v.date::timestamp)::float8 / 86400 AS days
      FROM vaccinations v WHERE v.recorded_at >= ${lo} AND v.recorded_at < ${hi}
    UNION ALL
    SELECT d.facility_code, 'certified', c.issued_at, NULL
      FROM certificates c JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
     WHERE c.issued_at >= ${lo} AND c.issued_at < ${hi}
       AND NOT EXISTS (SELECT 1 FROM certificates e WHERE e.person_id = c.person_id AND e.vaccination_id = c.vaccination_id AND (e.issued_at, e.id) < (c.issued_at, c.id))
    UNION ALL
    SELECT d.facility_code, 'queued', j.created_at, NULL FROM jobs j ${certificateDose('j.person_id', NOTIFY_CERTIFICATE)}
     WHERE j.kind = 'notify' AND j.created_at >= ${lo} AND j.created_at < ${hi}
    UNION ALL
    SELECT d.facility_code, 'accepted', n.submitted_at, NULL FROM notifications n ${certificateDose('n.person_id', 'n.certificate_id')}
     WHERE n.kind = 'certificate' AND n.submitted_at >= ${lo} AND n.submitted_at < ${hi}
    UNION ALL
    -- How the SMS that ended did (its status).
    SELECT d.facility_code, n.status, n.final_at, NULL FROM notifications n ${certificateDose('n.person_id', 'n.certificate_id')}
     WHERE n.kind = 'certificate' AND n.final_at >= ${lo} AND n.final_at < ${hi} AND n.status IN (${final})`;
}

const list = (f: (s: PipelineStage) => string) => PIPELINE_STAGES.map(f).join(', ');

const sumsOf = (a: string) => list((x) => `${x} = ${a}.${x} + EXCLUDED.${x}`);

/** Per stage, the events of `e` (rows of n events each) as one column each. */
const stageSums = list((s) => `coalesce(sum(e.n) FILTER (WHERE e.stage = '${s}'), 0)::int8 AS ${s}`);
/** A group that adds something (live minutes may net to nothing: an SMS's acceptance moved within its hour). */
const addsSomething = `${PIPELINE_STAGES.map((s) => `coalesce(sum(e.n) FILTER (WHERE e.stage = '${s}'), 0) <> 0`).join(' OR ')}`;

/**
 * The rollup's regular step, one statement. $1: done_until (NULL: nothing yet), $2: the end of what is rolled up
 * now (a minute boundary), $3: minutes kept from, $4: live_from (NULL: no live minutes). The events of
 * [done_until, $2) are, from live_from on, the live minutes (migration 039: pipeline_live and the changes not
 * compacted yet), which are folded in and deleted — those before $2 that were counted already (before done_until)
 * or are before live_from are deleted unread; `source`: before live_from (the first run, or one after a reset to
 * nothing), the events from the source tables (pipelineEvents). Each event row is (facility_code, stage, at, n,
 * days, last), as a request's tail (stats.ts).
 */
function rollupSql(source: boolean): string {
  const liveFrom = "greatest(coalesce($1::timestamptz, '-infinity'), coalesce($4::timestamptz, 'infinity'))";
  return `
  WITH live AS (DELETE FROM pipeline_live WHERE minute < $2::timestamptz RETURNING facility_code, stage, minute, n, days, last),
  changes AS (DELETE FROM pipeline_live_changes WHERE minute < $2::timestamptz RETURNING facility_code, stage, minute, n, days, last),
  e AS (
    ${source ? `SELECT s.facility_code, s.stage, s.at, 1::int8 AS n, s.days, CASE WHEN s.stage = 'recorded' THEN s.at END AS last
      FROM (${pipelineEvents("coalesce($1::timestamptz, '-infinity')", "least($2::timestamptz, coalesce($4::timestamptz, 'infinity'))")}) s
    UNION ALL` : ''}
    SELECT facility_code, stage, minute AS at, n, days, last FROM live WHERE minute >= ${liveFrom}
    UNION ALL
    SELECT facility_code, stage, minute, n, days, last FROM changes WHERE minute >= ${liveFrom}),
  h AS (
    SELECT e.facility_code, date_bin(interval '1 hour', e.at, timestamptz '2000-01-01 00:00:00Z') AS hour, ${stageSums},
           coalesce(sum(e.days), 0)::float8 AS entry_days,
           max(e.last) FILTER (WHERE e.stage = 'recorded') AS last_recorded_at
      FROM e GROUP BY 1, 2 HAVING ${addsSomething} OR coalesce(sum(e.days), 0) <> 0),
  m AS (
    SELECT e.facility_code, date_trunc('minute', e.at) AS minute, ${stageSums}
      FROM e WHERE e.at >= $3::timestamptz GROUP BY 1, 2 HAVING ${addsSomething}),
  hours AS (
    -- An hour's row gets the events of each run that counted part of it: add.
    INSERT INTO pipeline_hours (facility_code, hour, ${list((s) => s)}, entry_days)
    SELECT facility_code, hour, ${list((s) => s)}, entry_days FROM h
    ON CONFLICT (facility_code, hour) DO UPDATE SET ${sumsOf('pipeline_hours')}, entry_days = pipeline_hours.entry_days + EXCLUDED.entry_days),
  minutes AS (
    INSERT INTO pipeline_minutes (facility_code, minute, ${list((s) => s)})
    SELECT facility_code, minute, ${list((s) => s)} FROM m
    ON CONFLICT (facility_code, minute) DO UPDATE SET ${sumsOf('pipeline_minutes')}),
  totals AS (
    INSERT INTO pipeline_totals (facility_code, ${list((s) => s)}, entry_days, last_recorded_at)
    SELECT facility_code, ${list((s) => `sum(${s})`)}, sum(entry_days), max(last_recorded_at) FROM h GROUP BY 1
    ON CONFLICT (facility_code) DO UPDATE SET ${sumsOf('pipeline_totals')},
       entry_days = pipeline_totals.entry_days + EXCLUDED.entry_days,
       last_recorded_at = greatest(pipeline_totals.last_recorded_at, EXCLUDED.last_recorded_at))
  -- The live minutes before $2 are gone: they start at $2 (unless later already).
  UPDATE pipeline_rollup SET done_until = $2::timestamptz, live_from = CASE WHEN live_from IS NOT NULL THEN greatest(live_from, $2::timestamptz) END
  RETURNING (SELECT count(*) FROM h)::int8 AS hours, (SELECT coalesce(sum(${PIPELINE_STAGES.join(' + ')}), 0) FROM h)::int8 AS events`;
}
/** The regular step once the rollup has passed live_from (exported for its plan test). */
export const ROLLUP_LIVE_SQL = rollupSql(false);
const ROLLUP_SOURCE_SQL = rollupSql(true);

// $1: the hour counted again. Its events as the source tables hold them now, less what its row holds:
// the difference goes into its row and its facility's totals.
const RECOUNT_SQL = `
  WITH fresh AS (
    SELECT e.facility_code, ${list((s) => `count(*) FILTER (WHERE e.stage = '${s}')::int8 AS ${s}`)},
           coalesce(sum(e.days), 0)::float8 AS entry_days, max(e.at) FILTER (WHERE e.stage = 'recorded') AS last_recorded_at
      FROM (${pipelineEvents('$1::timestamptz', "$1::timestamptz + interval '1 hour'")}) e GROUP BY 1),
  diff AS (
    SELECT coalesce(f.facility_code, o.facility_code) AS facility_code,
           ${list((s) => `coalesce(f.${s}, 0) - coalesce(o.${s}, 0) AS ${s}`)},
           coalesce(f.entry_days, 0) - coalesce(o.entry_days, 0) AS entry_days, f.last_recorded_at
      FROM fresh f FULL JOIN (SELECT * FROM pipeline_hours WHERE hour = $1::timestamptz) o ON o.facility_code = f.facility_code
     WHERE ${PIPELINE_STAGES.map((s) => `coalesce(f.${s}, 0) <> coalesce(o.${s}, 0)`).join(' OR ')}),
  hours AS (
    INSERT INTO pipeline_hours (facility_code, hour, ${list((s) => s)}, entry_days)
    SELECT facility_code, $1::timestamptz, ${list((s) => s)}, entry_days FROM diff
    ON CONFLICT (facility_code, hour) DO UPDATE SET ${sumsOf('pipeline_hours')}, entry_days = pipeline_hours.entry_days + EXCLUDED.entry_days),
  totals AS (
    INSERT INTO pipeline_totals (facility_code, ${list((s) => s)}, entry_days, last_recorded_at)
    SELECT facility_code, ${list((s) => s)}, entry_days, last_recorded_at FROM diff
    ON CONFLICT (facility_code) DO UPDATE SET ${sumsOf('pipeline_totals')},
       entry_days = pipeline_totals.entry_days + EXCLUDED.entry_days,
       last_recorded_at = greatest(pipeline_totals.last_recorded_at, EXCLUDED.last_recorded_at))
  UPDATE pipeline_rollup SET final_until = $1::timestamptz + interval '1 hour'
  RETURNING (SELECT coalesce(sum(${PIPELINE_STAGES.join(' + ')}), 0) FROM diff)::int8 AS corrected`;

export interface RollupResult {
  /** False: another rollup held the lock, this one did nothing. */
  ran: boolean;
  /** Events before this are rolled up (null: none yet). */
  doneUntil: Date | null;
  /** Facility-hours and events added by this run. */
  hours: number;
  events: number;
  /** Events a final hour's second count added (or, negative, removed). */
  corrected?: number;
}

/** Takes the rollup's lock for this transaction, if free. */
const tryRollupLock = (tx: Queryable): Promise<boolean> => tryLockSchemaKey(tx, SCHEMA_LOCKS.pipelineRollup);

/**
 * The rollup's settings, in its transaction: no statement timeout (its first run counts all of history), plans for
 * this run's range (seconds, or all of history the first time), without JIT (see stats.ts), and never a whole
 * table for a range of seconds, whatever the statistics say (see stats.ts).
 */
export const ROLLUP_SETTINGS =
  "SELECT set_config('statement_timeout', '0', true), set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true), set_config('enable_seqscan', 'off', true)";

const floorHour = (t: number) => Math.floor(t / HOUR_MS) * HOUR_MS;
const MINUTE_MS = 60_000;
const floorMinute = (t: number) => Math.floor(t / MINUTE_MS) * MINUTE_MS;

/**
 * Rolls up, in one transaction, every event not rolled up yet up to
 * ROLLUP_MARGIN_MS before `now` (or the start of the oldest transaction still
 * running in this database, when earlier, but never further back than
 * FINAL_AFTER_MS), then counts again the next hour that has become final. A
 * second rollup running meanwhile (another worker) does nothing; one with
 * nothing new to add changes nothing. The first run on a database rolls up all
 * of its history, so the statement timeout is lifted for it (it runs in the
 * worker, never in a request).
 */
export async function rollupPipeline(db: Db, now = new Date()): Promise<RollupResult> {
  await compactWaiting(db);
  await summarizeNewRanges(db);
  return db.withTransaction(async (tx) => {
    if (!(await tryRollupLock(tx))) return { ran: false, doneUntil: null, hours: 0, events: 0 };
    // Under the lock (one sampler at a time), before this run's counting, which may take long the first time.
    await sampleWaiting(tx, now);
    // A transaction still running may yet commit rows stamped with its start (now()): stop before it.
    const cur = await tx.query<{ done_until: Date | null; final_until: Date | null; live_from: Date | null; oldest: Date | null }>(
      `SELECT done_until, final_until, live_from,
              (SELECT min(a.xact_start) FROM pg_stat_activity a
                WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend') AS oldest
         FROM pipeline_rollup`,
    );
    const row = cur.rows[0];
    const from = row?.done_until ?? null;
    const nowMs = now.getTime();
    // To a minute boundary: the live tail a request reads (migration 039) is whole minutes from done_until on.
    const target = new Date(floorMinute(Math.max(nowMs - FINAL_AFTER_MS, Math.min(nowMs - ROLLUP_MARGIN_MS, row?.oldest?.getTime() ?? Infinity))));
    await tx.query(ROLLUP_SETTINGS);
    let result: RollupResult = { ran: true, doneUntil: from, hours: 0, events: 0 };
    if (from === null || from.getTime() < target.getTime()) {
      const liveFrom = row?.live_from ?? null;
      // The source tables only for what the live minutes do not hold: before live_from.
      const source = from === null || liveFrom === null || from.getTime() < liveFrom.getTime();
      const r = await tx.query<{ hours: number; events: number }>(source ? ROLLUP_SOURCE_SQL : ROLLUP_LIVE_SQL, [from, target, new Date(nowMs - MINUTES_KEPT_MS), liveFrom]);
      result = { ran: true, doneUntil: target, hours: Number(r.rows[0]?.hours ?? 0), events: Number(r.rows[0]?.events ?? 0) };
      await tx.query('DELETE FROM pipeline_minutes WHERE minute < $1', [new Date(nowMs - MINUTES_KEPT_MS)]);
    }
    const rolledTo = result.doneUntil?.getTime() ?? -Infinity;
    const finalEnd = floorHour(Math.min(nowMs - FINAL_AFTER_MS, rolledTo));
    if (row?.final_until == null) {
      // First run (or the first since migration 033): hours that were final when counted need no second count.
      if (result.doneUntil !== null) await tx.query('UPDATE pipeline_rollup SET final_until = $1', [new Date(from === null ? finalEnd : floorHour(from.getTime()))]);
    } else if (row.final_until.getTime() + HOUR_MS <= finalEnd) {
      // One hour a run: the next runs, seconds apart, catch up.
      const r = await tx.query<{ corrected: number }>(RECOUNT_SQL, [row.final_until]);
      result.corrected = Number(r.rows[0]?.corrected ?? 0);
    }
    return result;
  });
}

// Every change appended since the last run, summed into its facility, state and minute: deleted and added in one
// statement, so a reader's snapshot sees a change in one table or the other, never both. Returns the changes moved.
const COMPACT_WAITING_SQL = `
  WITH moved AS (DELETE FROM pipeline_waiting_changes RETURNING facility_code, state, since, n),
  added AS (
    INSERT INTO pipeline_waiting AS w (facility_code, state, since, n)
    SELECT facility_code, state, since, sum(n) FROM moved GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (facility_code, state, since) DO UPDATE SET n = w.n + EXCLUDED.n)
  SELECT count(*)::int8 AS n FROM moved`;

// The same for the pipeline's events (migration 039), less the minutes before live_from, which nothing reads.
const COMPACT_LIVE_SQL = `
  WITH moved AS (DELETE FROM pipeline_live_changes RETURNING facility_code, stage, minute, n, days, last),
  added AS (
    INSERT INTO pipeline_live AS l (facility_code, stage, minute, n, days, last)
    SELECT facility_code, stage, minute, sum(n), sum(days), max(last) FROM moved
     WHERE minute >= (SELECT live_from FROM pipeline_rollup) GROUP BY 1, 2, 3 HAVING sum(n) <> 0 OR sum(days) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (facility_code, stage, minute) DO UPDATE SET n = l.n + EXCLUDED.n, days = l.days + EXCLUDED.days, last = greatest(l.last, EXCLUDED.last))
  SELECT count(*)::int8 AS n FROM moved`;

// The minutes whose events cancelled out (live_from moves with done_until as the rollup folds the minutes before it).
const PRUNE_LIVE_SQL = 'DELETE FROM pipeline_live WHERE n = 0';

/**
 * Moves the changes of what waits (appended by the triggers of migration 038
 * with each change of a `notify` job or certificate SMS, in its transaction)
 * into `pipeline_waiting`, and deletes the minutes where nothing waits any
 * more; the same for the pipeline's events per minute (migration 039:
 * `pipeline_live_changes` into `pipeline_live`; the rollup folds and deletes
 * the minutes before its `done_until`), under the rollup's lock: skipped while
 * a rollup holds it. Safe to run from several workers at once: each change is
 * deleted, and so added, by one of them. Returns how many changes it moved.
 */
export async function compactWaiting(db: Db): Promise<number> {
  const moved = await db.withTransaction(async (tx) => {
    const r = await tx.query<{ n: number }>(COMPACT_WAITING_SQL);
    await tx.query('DELETE FROM pipeline_waiting WHERE n = 0');
    // The live minutes only under the rollup's lock (none while a rollup folds them: it would not see a minute this
    // compaction adds meanwhile, which would then be left before live_from, uncounted); a rollup running does it.
    if (!(await tryRollupLock(tx))) return Number(r.rows[0]?.n ?? 0);
    const l = await tx.query<{ n: number }>(COMPACT_LIVE_SQL);
    await tx.query(PRUNE_LIVE_SQL);
    return Number(r.rows[0]?.n ?? 0) + Number(l.rows[0]?.n ?? 0);
  });
  // Each change lives seconds: its space is made reusable at once, or the table would grow by every change
  // until autovacuum came by (6 MiB after 20,000 doses, measured; each view reads all of it) — and PGlite has no
  // autovacuum. A few pages: milliseconds. SKIP_LOCKED: a vacuum already at work there is enough. TRUNCATE
  // false: cutting the emptied pages off the end takes an exclusive lock of the table, which every write of a
  // dose, job or SMS (their triggers append here) would wait behind — on the 2 M-row day the vacuum sat up to
  // 5 s in each run trying to take it while the writers went on; the pages are reused by the next changes.
  if (moved > 0) await db.withSession((s) => s.exec('VACUUM (SKIP_LOCKED, TRUNCATE false) pipeline_waiting_changes, pipeline_waiting, pipeline_live_changes, pipeline_live'));
  return moved;
}

/** Most buckets one series answer holds (a month of hours, more than two years of days): stats.ts `seriesWindow`. */
export const MAX_SERIES_POINTS = 750;
/**
 * What a certificate SMS not final waits for, by its status (notify/notifier.ts):
 * `submitted` — accepted by the gateway, its final report to come; `unknown` —
 * no final report within the timeout (the sweep), a late one still settles it.
 * Not waiting for a report: `pending` (not accepted yet: being sent, or waiting
 * for the gateway), `failed` / `expired` before their last attempt (the report
 * came; a retry is due).
 */
export const REPORT_WAIT_STATES = ['submitted', 'unknown'] as const;

/**
 * SQL: what waits now per facility, as (facility_code, queue, report): the
 * counts of migration 038 (pipeline_waiting and the changes not compacted
 * yet), one statement's snapshot, exact; `where` filters each row `w`.
 * Its cost is the facilities × states × minutes that hold something waiting,
 * not the waiting rows.
 */
export function waitingNow(where = ''): string {
  // The filter in each branch: so a scope's facilities are probed by primary key (facility_code first), where a
  // filter over the union read every facility's minutes and joined them (225 ms instead of a few, 32,000 minutes).
  return `SELECT x.facility_code, coalesce(sum(x.n) FILTER (WHERE x.state = 'queued'), 0)::int8 AS queue,
                 coalesce(sum(x.n) FILTER (WHERE x.state IN (${REPORT_WAIT_STATES.map((s) => `'${s}'`).join(', ')})), 0)::int8 AS report
            FROM (SELECT w.facility_code, w.state, w.n FROM pipeline_waiting w ${where}
                  UNION ALL
                  SELECT w.facility_code, w.state, w.n FROM pipeline_waiting_changes w ${where}) x
           GROUP BY 1`;
}

// $1: the hour sampled, $2: the time of the sample. The hour's rows become what waits now: the facilities with
// something waiting upserted (a row only rewritten when its figures moved), the others' rows of the hour deleted.
// Returns whether this is the hour's first sample.
const SAMPLE_WAITING_SQL = `
  WITH cur AS MATERIALIZED (SELECT * FROM (${waitingNow()}) x WHERE x.queue <> 0 OR x.report <> 0),
  gone AS (
    DELETE FROM pipeline_waiting_hours h WHERE h.hour = $1::timestamptz AND NOT EXISTS (SELECT 1 FROM cur WHERE cur.facility_code = h.facility_code)),
  put AS (
    INSERT INTO pipeline_waiting_hours AS h (hour, facility_code, queue, report)
    SELECT $1::timestamptz, facility_code, queue, report FROM cur ORDER BY facility_code
    ON CONFLICT (hour, facility_code) DO UPDATE SET queue = EXCLUDED.queue, report = EXCLUDED.report
     WHERE (h.queue, h.report) IS DISTINCT FROM (EXCLUDED.queue, EXCLUDED.report))
  INSERT INTO pipeline_waiting_samples AS s (hour, sampled_at) VALUES ($1::timestamptz, $2::timestamptz)
  ON CONFLICT (hour) DO UPDATE SET sampled_at = greatest(s.sampled_at, EXCLUDED.sampled_at)
  RETURNING (xmax = 0) AS first`;

// $1: hours before this keep only their day's last sample; $2: samples before this go. The gauge rows of the
// samples that go, by primary key. Reads the samples (about 24 × 31 + 750 rows), never the gauge's rows.
const PRUNE_SAMPLES_SQL = `
  WITH gone AS (
    DELETE FROM pipeline_waiting_samples s
     WHERE s.hour < $2::timestamptz
        OR (s.hour < $1::timestamptz AND EXISTS (
              SELECT 1 FROM pipeline_waiting_samples x
               WHERE x.hour > s.hour AND x.hour < date_bin(interval '1 day', s.hour, timestamptz '2000-01-01 00:00:00Z') + interval '1 day'))
    RETURNING s.hour)
  DELETE FROM pipeline_waiting_hours h USING gone WHERE h.hour = gone.hour`;

/**
 * Samples what waits now (the SMS queue: `notify` jobs pending; waiting for a
 * report: certificate SMS in a REPORT_WAIT_STATES) into the gauge of the UTC
 * hour of `now` (migration 044): `pipeline_waiting_hours` holds, per facility
 * with something waiting, what waited at the last sample of the hour, and
 * `pipeline_waiting_samples` the hours sampled. The series (stats.ts) reads a
 * past bucket's SMS backlogs there: the last sampled hour in it, so a past
 * hour's figure is what waited at the rollup's last run in it, seconds before
 * its end while a worker runs (every ROLLUP_EVERY_MS).
 *
 * Kept small: rows only for facilities with something waiting; on the first
 * sample of an hour, the hours more than MAX_SERIES_POINTS hours old (the
 * longest hourly series) are thinned to the last sampled hour of their UTC day
 * (what a day bucket reads), and samples more than MAX_SERIES_POINTS days old
 * go (a series that far back shows these backlogs as 0). So at most about
 * (31 × 24 + 750) × the facilities with a backlog rows.
 */
export async function sampleWaiting(tx: Queryable, now: Date): Promise<void> {
  const hour = floorHour(now.getTime());
  const r = await tx.query<{ first: boolean }>(SAMPLE_WAITING_SQL, [new Date(hour), now]);
  if (r.rows[0]?.first) await tx.query(PRUNE_SAMPLES_SQL, [new Date(hour - MAX_SERIES_POINTS * HOUR_MS), new Date(hour - MAX_SERIES_POINTS * 24 * HOUR_MS)]);
}

/** The BRIN indexes the rollup and the live tail find time ranges through (migrations 019, 032). */
const BRIN_INDEXES = ['vaccinations_recorded_at', 'certificates_issued_at', 'jobs_created_at'];

/**
 * Summarizes the block ranges of the BRIN indexes filled since the last
 * summary. A range nobody summarized matches every search, and nothing does
 * it but VACUUM (autosummarize is off by default): on a table that grew by
 * 200,000 rows in minutes, the tail's "last 15 seconds" read most of the table
 * (measured: 181,000 of 200,000 certificates). Cheap: only new full ranges. A
 * VACUUM or index build holding the table (lock_timeout, 55P03) summarizes
 * too, or lets the next run do it.
 */
async function summarizeNewRanges(db: Db): Promise<void> {
  for (const index of BRIN_INDEXES) {
    try {
      await db.withTransaction(async (tx) => {
        await tx.query("SELECT set_config('lock_timeout', '200ms', true)");
        await tx.query('SELECT brin_summarize_new_values($1::regclass)', [index]);
      });
    } catch (e) {
      if (!(typeof e === 'object' && e !== null && 'code' in e && e.code === '55P03')) throw e;
    }
  }
}

/**
 * Runs rollupPipeline every `everyMs` (default ROLLUP_EVERY_MS) in this process
 * until stopped, beside the outbox: a backlog of SMS jobs never holds the
 * pipeline view's counts back. Several processes may run it: one at a time
 * does the work (the lock), the others find nothing to do.
 */
export function startPipelineRollup(db: Db, opts: { everyMs?: number; onError?: (e: unknown) => void } = {}): { stop(): Promise<void> } {
  let stopped = false;
  let running: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    running = rollupPipeline(db)
      .catch((e: unknown) => opts.onError?.(e))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, opts.everyMs ?? ROLLUP_EVERY_MS);
      });
  };
  timer = setTimeout(tick, 0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** How often each worker rolls up (startPipelineRollup): the live tail a pipeline request reads is about this and ROLLUP_MARGIN_MS. */
export const ROLLUP_EVERY_MS = 5_000;
