/**
 * The pipeline rollup: the events of each pipeline stage counted per facility
 * and UTC hour (`pipeline_hours`) and per facility over all time
 * (`pipeline_totals`), once an hour is final, so that the pipeline view and its
 * series (stats.ts) read the hours of their window and the live tail since
 * `pipeline_rollup.done_until` instead of all of history (migration 019).
 *
 * An event is counted in the hour its timestamp falls in, as it happened: a
 * dose voided later still counts where it was recorded and certified, an SMS
 * that ends twice (held, then cancelled; given up, then delivered after all)
 * counts under both final states, and one sent again counts each time it is
 * accepted. (The series' backlogs of the SMS queue and of the wait for a
 * report are read from the rows themselves, stats.ts.)
 * The tail is computed by the same SQL (pipelineEvents), so rolling an hour up
 * changes what a figure costs, not the figure.
 *
 * Run by the worker as the periodic outbox job `pipeline_rollup` (every few
 * minutes, notify/service.ts). An hour is rolled up only once it ended more
 * than ROLLUP_MARGIN_MS ago: a row written with `now()` is committed a little
 * after its timestamp (a slow statement, another app server's clock), and an
 * hour rolled up before such a row arrived would miss it for good.
 */
import type { Db } from '../db/client.ts';

/** The stages counted, one column each in pipeline_hours and pipeline_totals. */
export const PIPELINE_STAGES = ['recorded', 'certified', 'queued', 'accepted', 'delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

/** How a certificate SMS ends: its status when `final_at` is set (notify/notifier.ts), counted at final_at. */
export const FINAL_SMS_STATUSES = ['delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled'] as const satisfies readonly PipelineStage[];

/** How long after an hour ends it is rolled up. */
export const ROLLUP_MARGIN_MS = 3_600_000;
const HOUR_MS = 3_600_000;
/** pg_try_advisory_xact_lock(LOCK_KEY, schema): one rollup at a time per schema. Arbitrary, fixed: "dosis pipeline rollup". */
const LOCK_KEY = 720_302;

/** The dose behind a job's or SMS's certificate, as `d` (its facility: `d.facility_code`): two primary-key probes per row. */
export function certificateDose(personId: string, certificateId: string): string {
  return `JOIN certificates dc ON dc.person_id = ${personId} AND dc.id = ${certificateId}
          JOIN vaccinations d ON d.person_id = dc.person_id AND d.id = dc.vaccination_id`;
}

/** The facility of the dose behind a job's or SMS's certificate, as a subquery: the same two probes, once per row whatever the plan. */
export function facilityOf(personId: string, certificateId: string): string {
  return `(SELECT d.facility_code FROM certificates dc JOIN vaccinations d ON d.person_id = dc.person_id AND d.id = dc.vaccination_id
            WHERE dc.person_id = ${personId} AND dc.id = ${certificateId})`;
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

// $1: done_until (NULL: nothing yet), $2: the end of the hours rolled up now.
const ROLLUP_SQL = `
  WITH h AS (
    SELECT e.facility_code, date_bin(interval '1 hour', e.at, timestamptz '2000-01-01 00:00:00Z') AS hour,
           ${list((s) => `count(*) FILTER (WHERE e.stage = '${s}')::int8 AS ${s}`)},
           coalesce(sum(e.days), 0)::float8 AS entry_days,
           max(e.at) FILTER (WHERE e.stage = 'recorded') AS last_recorded_at
      FROM (${pipelineEvents("coalesce($1::timestamptz, '-infinity')", '$2::timestamptz')}) e
     GROUP BY 1, 2),
  hours AS (
    -- Hours at or after done_until were never rolled up; a row there can only come from a rollup
    -- whose done_until was reset (to build again), which also emptied the tables: add, as totals do.
    INSERT INTO pipeline_hours (facility_code, hour, ${list((s) => s)}, entry_days)
    SELECT facility_code, hour, ${list((s) => s)}, entry_days FROM h
    ON CONFLICT (facility_code, hour) DO UPDATE SET ${list((s) => `${s} = pipeline_hours.${s} + EXCLUDED.${s}`)},
       entry_days = pipeline_hours.entry_days + EXCLUDED.entry_days),
  totals AS (
    INSERT INTO pipeline_totals (facility_code, ${list((s) => s)}, entry_days, last_recorded_at)
    SELECT facility_code, ${list((s) => `sum(${s})`)}, sum(entry_days), max(last_recorded_at) FROM h GROUP BY 1
    ON CONFLICT (facility_code) DO UPDATE SET ${list((s) => `${s} = pipeline_totals.${s} + EXCLUDED.${s}`)},
       entry_days = pipeline_totals.entry_days + EXCLUDED.entry_days,
       last_recorded_at = greatest(pipeline_totals.last_recorded_at, EXCLUDED.last_recorded_at))
  UPDATE pipeline_rollup SET done_until = $2
  RETURNING (SELECT count(*) FROM h)::int8 AS hours, (SELECT coalesce(sum(${PIPELINE_STAGES.join(' + ')}), 0) FROM h)::int8 AS events`;

export interface RollupResult {
  /** False: another rollup held the lock, this one did nothing. */
  ran: boolean;
  /** Events before this are rolled up (null: none yet). */
  doneUntil: Date | null;
  /** Facility-hours and events added by this run. */
  hours: number;
  events: number;
}

/**
 * Rolls up every event before the start of the hour containing
 * `now − ROLLUP_MARGIN_MS` not rolled up yet, in one transaction. A second
 * rollup running meanwhile (another worker) does nothing; one with nothing
 * new to add changes nothing. The first run on a database rolls up all of
 * its history, so the statement timeout is lifted for it (it runs in the
 * worker, never in a request).
 */
export async function rollupPipeline(db: Db, now = new Date()): Promise<RollupResult> {
  const target = new Date(Math.floor((now.getTime() - ROLLUP_MARGIN_MS) / HOUR_MS) * HOUR_MS);
  return db.withTransaction(async (tx) => {
    const lock = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema())) AS ok', [LOCK_KEY]);
    if (!lock.rows[0]?.ok) return { ran: false, doneUntil: null, hours: 0, events: 0 };
    const cur = await tx.query<{ done_until: Date | null }>('SELECT done_until FROM pipeline_rollup');
    const from = cur.rows[0]?.done_until ?? null;
    if (from !== null && from.getTime() >= target.getTime()) return { ran: true, doneUntil: from, hours: 0, events: 0 };
    // For this run's range (a few minutes, or all of history the first time), without JIT: see stats.ts.
    await tx.query("SELECT set_config('statement_timeout', '0', true), set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true)");
    const r = await tx.query<{ hours: number; events: number }>(ROLLUP_SQL, [from, target]);
    return { ran: true, doneUntil: target, hours: Number(r.rows[0]?.hours ?? 0), events: Number(r.rows[0]?.events ?? 0) };
  });
}
