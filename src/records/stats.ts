/**
 * The pipeline view: how many doses are at each stage (recorded, certified,
 * SMS pending / submitted / delivered / failed / unknown / held), the oldest
 * item waiting at each stage and its age, throughput in the last minute and
 * hour, and the same per facility and region — so a backlog is never silent.
 *
 * What it costs: the hours of the window asked and the facilities in scope,
 * not the size of history. Both answers read the hourly rollup
 * (pipeline-rollup.ts: all-time sums per facility in `pipeline_totals`, per
 * facility and hour in `pipeline_hours`) and add the live tail since its
 * `done_until` (a minute boundary), read from per-minute counts that triggers
 * write with the rows (migration 039: `pipeline_live`, the same events as the
 * rollup's `pipelineEvents`), not from the source rows; see TailRange. What waits now (the SMS queue,
 * SMS not final) is counted as it changes: triggers on `jobs` and
 * `notifications` append +1/−1 per facility, state and minute the wait began
 * in the transaction of each change, and the rollup sums them (migration 038,
 * `compactWaiting`); the view reads those minutes, whatever the backlog (it
 * read every waiting row, with two lookups each for a district or facility:
 * 1–3 s after a record-day import, up to 5.7 s during it). Their oldest and
 * their last minute and hour are to the minute: the oldest is the start of the
 * first minute in which something still waits (an SMS waits from its
 * acceptance by the gateway, or from its creation before that).
 *
 * Events are counted as they happened, in the hour of their timestamp: a dose
 * voided later still counts as recorded and certified then (`recorded` is
 * every dose entered, `certified` every dose that got a certificate); an SMS
 * sent again counts each time the gateway accepts it; one that ends twice (held, then cancelled; given up, then
 * delivered after all) counts under both of its final states.
 */
import { parseRegionCode, regionCodeIssue } from '../domain/regions.ts';
import type { Db, Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { invalid, issue, type FieldIssue } from '../domain/errors.ts';
import { FINAL_SMS_STATUSES, MAX_SERIES_POINTS, PIPELINE_STAGES, pipelineEvents, waitingNow, type PipelineStage } from './pipeline-rollup.ts';

export { MAX_SERIES_POINTS };

export interface StageFigures {
  stage: string;
  count: number;
  oldestWaitingAt: string | null;
  oldestWaitingSeconds: number | null;
  lastMinute: number;
  lastHour: number;
}

export interface FacilityFigures {
  facility: string;
  regionCode: string;
  recorded: number;
  recordedLastHour: number;
  /** Open `claims_prior_dose` cases of the facility. */
  claimsPriorDose: number;
  lastRecordedAt: string | null;
  /** Days from the vaccination date to its entry, on average, to the hundredth. */
  averageDaysToEntry: number | null;
}

/** One SQL statement and its parameters. */
export interface Statement {
  sql: string;
  params: unknown[];
}

/** The caller's scope narrowed to what was asked: caller's region, caller's facility, region asked, facility asked (null: any). */
type Scope = [string | null, string | null, string | null, string | null];

function scopeOf(who: Principal, asked: { region: string | null; facility: string | null } = { region: null, facility: null }): Scope {
  return [who.role === 'district' ? who.regionCode : null, who.role === 'facility' ? who.facilityCode : null, asked.region, asked.facility];
}

/** SQL: facility `f` is in the Scope given as parameters $p..$p+3 (a region is a prefix of the facility's region code). */
function scopeHas(p: number): string {
  return `($${p}::text IS NULL OR f.region_code LIKE $${p} || '%') AND ($${p + 1}::text IS NULL OR f.code = $${p + 1})
          AND ($${p + 2}::text IS NULL OR f.region_code LIKE $${p + 2} || '%') AND ($${p + 3}::text IS NULL OR f.code = $${p + 3})`;
}
const inScope = (p: number) => `IN (SELECT f.code FROM facilities f WHERE ${scopeHas(p)})`;

/**
 * How these statements are planned, in their transaction:
 * - for the parameters of each call: the best plan depends on the time range
 *   (a tail is a few rows; before the first rollup it is all of history), and
 *   a generic plan, which PostgreSQL may pick for a prepared statement after five
 *   runs, read whole tables (2.5 s instead of 2 ms, measured);
 * - without JIT: a plan this size crosses jit_above_cost, and compiling it took
 *   longer (1.4 s) than running it;
 * - without parallel workers: starting them took 25–35 ms, for a tail read in
 *   under a millisecond;
 * - without sequential scans: every read here is a time range of seconds, a
 *   scope's facilities or what waits now, through an index. On tables that
 *   grew fast (a record day) the statistics and the BRIN summaries lag, and the
 *   planner read whole tables of 200,000 doses for 15 seconds of events
 *   (1.1 s instead of 0.4 s, measured under load; issue 20). Small tables
 *   (facilities) are then read through their primary key, at no real cost.
 */
export const PLAN_SETTINGS = `SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true),
                                     set_config('max_parallel_workers_per_gather', '0', true), set_config('enable_seqscan', 'off', true)`;

/**
 * Where the live tail (the events the rollup has not counted) is read from:
 * the per-minute counts written with the rows (migration 039: `pipeline_live`
 * and the changes not compacted yet) from `live` on (null: none), and, when
 * `source`, the events from `from` (null: the beginning) to `live` read from
 * the source tables (pipelineEvents). The rollup ends on a minute boundary at
 * or after `live_from`, so a request reads the source tables only when the
 * rollup was reset to nothing (all of history before `live_from`) or until
 * its first run after migration 039.
 */
export interface TailRange {
  from: Date | null;
  live: Date | null;
  source: boolean;
}

const MINUTE_MS = 60_000;

/** The tail from the rollup's `done_until` (null: nothing rolled up) and `live_from` (null: no live minutes). */
export function tailRange(doneUntil: Date | null, liveFrom: Date | null): TailRange {
  const from = doneUntil?.getTime() ?? -Infinity;
  const live = Math.max(Math.ceil(from / MINUTE_MS) * MINUTE_MS, liveFrom?.getTime() ?? Infinity);
  return { from: doneUntil, live: Number.isFinite(live) ? new Date(live) : null, source: from < live };
}

/**
 * SQL: the tail's events as (facility_code, stage, at, n, days, last), with its
 * TailRange as parameters $p (from) and $p+1 (live): a source event is one
 * row (n 1) at its time, a live minute one row at the minute's start.
 */
function tailEvents(t: TailRange, p: number): string {
  // (live is set whenever these are read: the coalesce only gives $p its type when the source tables are not read.)
  const live = (table: string) => `SELECT facility_code, stage, minute AS at, n, days, last FROM ${table} WHERE minute >= coalesce($${p + 1}::timestamptz, $${p}::timestamptz)`;
  const source = `SELECT s.facility_code, s.stage, s.at, 1::int8 AS n, s.days, CASE WHEN s.stage = 'recorded' THEN s.at END AS last
                    FROM (${pipelineEvents(`coalesce($${p}::timestamptz, '-infinity')`, `coalesce($${p + 1}::timestamptz, 'infinity')`)}) s`;
  return [...(t.source ? [source] : []), ...(t.live === null ? [] : [live('pipeline_live'), live('pipeline_live_changes')])].join('\n    UNION ALL\n    ');
}
const tailParams = (t: TailRange) => [t.from, t.live];

/**
 * Runs `read` on one snapshot with the rollup's `done_until` and `live_from`,
 * so that the rolled-up hours and the tail neither overlap nor leave a gap
 * when a rollup commits meanwhile.
 */
async function onSnapshot<T>(db: Db, read: (tx: Queryable, tail: TailRange) => Promise<T>): Promise<T> {
  return db.withTransaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    await tx.query(PLAN_SETTINGS);
    const r = await tx.query<{ done_until: Date | null; live_from: Date | null }>('SELECT done_until, live_from FROM pipeline_rollup');
    return read(tx, tailRange(r.rows[0]?.done_until ?? null, r.rows[0]?.live_from ?? null));
  });
}

type Counts = Record<PipelineStage, number>;
const noCounts = (): Counts => Object.fromEntries(PIPELINE_STAGES.map((s) => [s, 0])) as Counts;
const isStage = (s: string): s is PipelineStage => (PIPELINE_STAGES as readonly string[]).includes(s);
const isFinal = (s: string): s is (typeof FINAL_SMS_STATUSES)[number] => (FINAL_SMS_STATUSES as readonly string[]).includes(s);
/** The order SMS states are listed in. */
const SMS_STATES = ['pending', 'submitted', 'delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled'] as const;

interface TailRow extends Record<string, unknown> {
  facility: string;
  region: string;
  stage: string;
  n: number;
  last_minute: number;
  last_hour: number;
  last: Date | null;
  days: number;
}

interface WaitingRow extends Record<string, unknown> {
  status: string;
  n: number;
  oldest: Date | null;
  last_minute: number;
  last_hour: number;
}

/**
 * The "in SATUSEHAT" stage (satusehat/sync.ts): doses waiting (with the oldest, from the head of
 * satusehat_sync_waiting), synced (the per-facility totals; the last minute and hour from
 * satusehat_sync_synced_at) and rejected or without a patient (satusehat_sync_problems), in scope.
 */
export function satusehatStatement(who: Principal): Statement {
  const scope = scopeOf(who);
  const scoped = scope.some((x) => x !== null);
  const where = scoped ? `AND s.facility_code ${inScope(1)}` : '';
  return {
    sql: `SELECT 'waiting' AS state, count(*)::int8 AS n, min(s.queued_at) AS oldest, 0::int8 AS last_minute, 0::int8 AS last_hour
            FROM satusehat_sync s WHERE s.state = 'waiting' ${where}
          UNION ALL
          SELECT 'synced', (SELECT coalesce(sum(t.synced), 0)::int8 FROM satusehat_totals t WHERE true ${scoped ? `AND t.facility_code ${inScope(1)}` : ''}), NULL,
                 count(*) FILTER (WHERE s.synced_at > now() - interval '1 minute')::int8, count(*)::int8
            FROM satusehat_sync s WHERE s.synced_at > now() - interval '1 hour' ${where}
          UNION ALL
          SELECT 'rejected', count(*)::int8, min(s.updated_at), 0::int8, 0::int8
            FROM satusehat_sync s WHERE s.state IN ('rejected', 'patient_not_found') ${where}`,
    params: scoped ? scope : [],
  };
}

/**
 * The four statements of the pipeline view (exported for the test of their
 * plans): the rolled-up totals of the facilities in scope; the tail's events
 * since `doneUntil` per facility and stage, with the last minute and hour;
 * what waits now (the SMS queue, SMS not final) by state, with the oldest;
 * open `claims_prior_dose` cases per facility.
 */
export function statsStatements(who: Principal, tail: TailRange): { totals: Statement; recent: Statement; tail: Statement; waiting: Statement; claims: Statement } {
  const scope = scopeOf(who);
  const scoped = scope.some((x) => x !== null);
  const where = scoped ? `WHERE w.facility_code ${inScope(1)}` : '';
  return {
    totals: {
      sql: `SELECT t.facility_code AS facility, f.region_code AS region, ${PIPELINE_STAGES.map((s) => `t.${s}`).join(', ')}, t.entry_days, t.last_recorded_at
              FROM pipeline_totals t JOIN facilities f ON f.code = t.facility_code WHERE ${scopeHas(1)}`,
      params: scope,
    },
    // The rolled-up minutes of the last hour (and minute), by the minute they began in: to the minute.
    recent: {
      sql: `SELECT m.facility_code AS facility, f.region_code AS region,
                   ${PIPELINE_STAGES.map((s) => `sum(m.${s}) FILTER (WHERE m.minute >= now() - interval '1 minute')::int8 AS ${s}_minute, sum(m.${s})::int8 AS ${s}_hour`).join(', ')}
              FROM pipeline_minutes m JOIN facilities f ON f.code = m.facility_code
             WHERE m.minute >= now() - interval '1 hour' AND ${scopeHas(1)} GROUP BY 1, 2`,
      params: scope,
    },
    // The last minute and hour of the tail to the minute, as the rolled-up minutes.
    tail: {
      sql: `SELECT e.facility_code AS facility, f.region_code AS region, e.stage, sum(e.n)::int8 AS n,
                   coalesce(sum(e.n) FILTER (WHERE e.at >= now() - interval '1 minute'), 0)::int8 AS last_minute,
                   coalesce(sum(e.n) FILTER (WHERE e.at >= now() - interval '1 hour'), 0)::int8 AS last_hour,
                   max(e.last) AS last,
                   coalesce(sum(e.days), 0)::float8 AS days
              FROM (${tailEvents(tail, 5)}) e JOIN facilities f ON f.code = e.facility_code
             WHERE ${scopeHas(1)} GROUP BY 1, 2, 3 HAVING sum(e.n) <> 0`,
      params: [...scope, ...tailParams(tail)],
    },
    // What waits now: the counts of its minutes (migration 038), not the waiting rows. A minute's count is
    // its row in pipeline_waiting plus the changes appended since the last rollup; the oldest is the first
    // minute in which something still waits. The scope filters each branch (as waitingNow): a scope's
    // facilities are probed by primary key, where a filter over the union read every facility's minutes.
    waiting: {
      sql: `SELECT m.state AS status, sum(m.n)::int8 AS n, min(m.since) FILTER (WHERE m.n > 0) AS oldest,
                   CASE WHEN m.state = 'queued' THEN 0 ELSE coalesce(sum(m.n) FILTER (WHERE m.since >= now() - interval '1 minute'), 0) END::int8 AS last_minute,
                   CASE WHEN m.state = 'queued' THEN 0 ELSE coalesce(sum(m.n) FILTER (WHERE m.since >= now() - interval '1 hour'), 0) END::int8 AS last_hour
              FROM (SELECT w.state, w.since, sum(w.n) AS n
                      FROM (SELECT w.state, w.since, w.n FROM pipeline_waiting w ${where}
                            UNION ALL
                            SELECT w.state, w.since, w.n FROM pipeline_waiting_changes w ${where}) w
                     GROUP BY 1, 2) m
             GROUP BY m.state HAVING sum(m.n) <> 0`,
      params: scoped ? scope : [],
    },
    claims: {
      sql: `SELECT c.facility_code AS facility, count(*)::int8 AS n FROM cases c
             WHERE c.kind = 'claims_prior_dose' AND c.status = 'open' AND c.facility_code ${inScope(1)} GROUP BY 1`,
      params: scope,
    },
  };
}

/** The pipeline view within the caller's scope: counts, oldest waiting, throughput, and per facility (the first 1000 by code that recorded a dose). */
export async function pipelineStats(db: Db, who: Principal): Promise<{ stages: StageFigures[]; facilities: FacilityFigures[]; generatedAt: string }> {
  const { totals, recentRows, tail, waiting, claims, satusehat } = await onSnapshot(db, async (tx, range) => {
    const st = statsStatements(who, range);
    const sync = satusehatStatement(who);
    return {
      satusehat: await tx.query<{ state: string; n: number; oldest: Date | null; last_minute: number; last_hour: number }>(sync.sql, sync.params),
      totals: await tx.query<Counts & { facility: string; region: string; entry_days: number; last_recorded_at: Date | null }>(st.totals.sql, st.totals.params),
      recentRows: await tx.query<Record<`${PipelineStage}_${'minute' | 'hour'}`, number | null> & { facility: string; region: string }>(st.recent.sql, st.recent.params),
      tail: await tx.query<TailRow>(st.tail.sql, st.tail.params),
      waiting: await tx.query<WaitingRow>(st.waiting.sql, st.waiting.params),
      claims: await tx.query<{ facility: string; n: number }>(st.claims.sql, st.claims.params),
    };
  });

  // All-time counts: the rolled-up totals plus the tail; the last minute and hour: the rolled-up minutes plus the tail.
  const count = noCounts();
  const recent = Object.fromEntries(PIPELINE_STAGES.map((s) => [s, { lastMinute: 0, lastHour: 0 }])) as Record<PipelineStage, { lastMinute: number; lastHour: number }>;
  const perFacility = new Map<string, { facility: string; regionCode: string; recorded: number; recordedLastHour: number; days: number; last: Date | null }>();
  const facility = (code: string, regionCode: string) => {
    let f = perFacility.get(code);
    if (!f) perFacility.set(code, (f = { facility: code, regionCode, recorded: 0, recordedLastHour: 0, days: 0, last: null }));
    return f;
  };
  for (const t of totals.rows) {
    for (const s of PIPELINE_STAGES) count[s] += Number(t[s]);
    const f = facility(t.facility, t.region);
    f.recorded += Number(t.recorded);
    f.days += Number(t.entry_days);
    f.last = t.last_recorded_at;
  }
  for (const m of recentRows.rows) {
    for (const s of PIPELINE_STAGES) {
      recent[s].lastMinute += Number(m[`${s}_minute`] ?? 0);
      recent[s].lastHour += Number(m[`${s}_hour`] ?? 0);
    }
    facility(m.facility, m.region).recordedLastHour += Number(m.recorded_hour ?? 0);
  }
  for (const e of tail.rows) {
    if (!isStage(e.stage)) continue;
    count[e.stage] += Number(e.n);
    recent[e.stage].lastMinute += Number(e.last_minute);
    recent[e.stage].lastHour += Number(e.last_hour);
    if (e.stage !== 'recorded') continue;
    const f = facility(e.facility, e.region);
    f.recorded += Number(e.n);
    f.recordedLastHour += Number(e.last_hour);
    f.days += Number(e.days);
    if (e.last && (!f.last || e.last > f.last)) f.last = e.last;
  }

  const now = Date.now();
  const figures = (stage: string, n: number, oldest: Date | null, lastMinute: number, lastHour: number): StageFigures => ({
    stage,
    count: n,
    oldestWaitingAt: oldest ? oldest.toISOString() : null,
    oldestWaitingSeconds: oldest ? Math.round((now - oldest.getTime()) / 1000) : null,
    lastMinute,
    lastHour,
  });
  const wait = new Map(waiting.rows.map((w) => [w.status, w]));
  const queued = wait.get('queued');
  const stages = [
    figures('recorded', count.recorded, null, recent.recorded.lastMinute, recent.recorded.lastHour),
    figures('certified', count.certified, null, recent.certified.lastMinute, recent.certified.lastHour),
    figures('sms_queued', Number(queued?.n ?? 0), queued?.oldest ?? null, 0, 0),
  ];
  // An SMS state: those that ended in it (rolled up and tail), and those in it now, waiting for a retry or a report.
  for (const s of SMS_STATES) {
    const w = wait.get(s);
    const ended = isFinal(s) ? { n: count[s], ...recent[s] } : { n: 0, lastMinute: 0, lastHour: 0 };
    const n = ended.n + Number(w?.n ?? 0);
    if (n > 0) stages.push(figures(`sms_${s}`, n, w?.oldest ?? null, ended.lastMinute + Number(w?.last_minute ?? 0), ended.lastHour + Number(w?.last_hour ?? 0)));
  }
  // "In SATUSEHAT" (issue 21): waiting (with the oldest), synced (all time, and its throughput), rejected (on the work lists).
  for (const r of satusehat.rows) {
    if (Number(r.n) > 0 || Number(r.last_hour) > 0) stages.push(figures(`satusehat_${r.state}`, Number(r.n), r.oldest, Number(r.last_minute), Number(r.last_hour)));
  }
  const claimsOf = new Map(claims.rows.map((c) => [c.facility, Number(c.n)]));
  const facilities = [...perFacility.values()]
    .filter((f) => f.recorded > 0)
    .sort((a, b) => (a.facility < b.facility ? -1 : a.facility > b.facility ? 1 : 0))
    .slice(0, 1000)
    .map((f) => ({
      facility: f.facility,
      regionCode: f.regionCode,
      recorded: f.recorded,
      recordedLastHour: f.recordedLastHour,
      claimsPriorDose: claimsOf.get(f.facility) ?? 0,
      lastRecordedAt: f.last ? f.last.toISOString() : null,
      // To the hundredth of a day: a sum of per-hour sums differs from one sum in the last bits.
      averageDaysToEntry: Math.round((f.days / f.recorded) * 100) / 100,
    }));
  return { stages, facilities, generatedAt: new Date(now).toISOString() };
}

export const SERIES_BUCKETS = { hour: 3600, day: 86_400 } as const;
export type SeriesBucket = keyof typeof SERIES_BUCKETS;

export interface SeriesQuery {
  from?: string | undefined;
  to?: string | undefined;
  bucket?: string | undefined;
  facility?: string | undefined;
  region?: string | undefined;
}

/** Items that entered each stage in a bucket. */
export interface Throughput {
  recorded: number;
  certified: number;
  queued: number;
  accepted: number;
  delivered: number;
  failed: number;
}

/** Items waiting at the end of a bucket: for a certificate, in the SMS queue, for the gateway's final report. */
export interface Backlog {
  certificate: number;
  queue: number;
  report: number;
}

export interface SeriesPoint {
  start: string;
  throughput: Throughput;
  backlog: Backlog;
}

export interface PipelineSeries {
  bucket: SeriesBucket;
  from: string;
  to: string;
  facility: string | null;
  region: string | null;
  points: SeriesPoint[];
}

/** The series' stages: the rollup's, with the two ways an SMS fails as one. */
const EVENT_STAGES = ['recorded', 'certified', 'queued', 'accepted', 'delivered', 'failed'] as const;
type EventStage = (typeof EVENT_STAGES)[number];
const seriesStage = (s: PipelineStage): EventStage | null => (s === 'expired' ? 'failed' : (EVENT_STAGES as readonly string[]).includes(s) ? (s as EventStage) : null);

/** A series query checked: its buckets (UTC, aligned to their width) and what it is narrowed to. */
export interface SeriesWindow {
  bucket: SeriesBucket;
  /** Bucket width, ms. */
  width: number;
  /** First bucket's start and last bucket's end, ms. */
  start: number;
  end: number;
  /** How many buckets. */
  n: number;
  facility: string | null;
  region: string | null;
}

/** Checks a series query; throws `invalid` naming each bad field. */
export function seriesWindow(q: SeriesQuery, now = new Date()): SeriesWindow {
  const problems: FieldIssue[] = [];
  const bucket = (q.bucket ?? 'hour') as SeriesBucket;
  if (!Object.hasOwn(SERIES_BUCKETS, bucket)) problems.push(issue('bucket', 'unknown_bucket', 'bucket is hour or day.', 'bucket: hour atau day.'));
  const width = (SERIES_BUCKETS[bucket] ?? 3600) * 1000;
  const time = (field: 'from' | 'to', v: string | undefined, fallback: number): number => {
    if (v === undefined) return fallback;
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) problems.push(issue(field, 'timestamp', `${field}: an ISO 8601 time, e.g. 2021-06-10T00:00:00Z.`, `${field}: waktu ISO 8601, mis. 2021-06-10T00:00:00Z.`));
    return ms;
  };
  const toMs = time('to', q.to, now.getTime());
  const fromMs = time('from', q.from, Math.ceil(toMs / width) * width - (bucket === 'day' ? 30 : 24) * width);
  const region = q.region == null ? null : parseRegionCode(q.region, { prefix: true });
  if (q.region != null && region === null) problems.push(regionCodeIssue('region'));
  const facility = q.facility ? q.facility.toUpperCase() : null;
  const start = Math.floor(fromMs / width) * width;
  const end = Math.ceil(toMs / width) * width;
  const n = (end - start) / width;
  if (!Number.isNaN(n) && n <= 0) problems.push(issue('to', 'range', 'to must be later than from.', 'to harus sesudah from.'));
  if (n > MAX_SERIES_POINTS)
    problems.push(issue('from', 'range_too_long', `At most ${MAX_SERIES_POINTS} buckets: narrow from–to or use bucket=day.`, `Paling banyak ${MAX_SERIES_POINTS} bucket: persempit from–to atau pakai bucket=day.`));
  if (problems.length) throw invalid(problems);
  return { bucket, width, start, end, n, facility, region };
}

/**
 * The statements of a series (exported for the test of their plans):
 * `rolled` — the all-time totals of the facilities in scope (at NULL) and
 * their rolled-up hours from the window's start on, by bucket; `tail` — the
 * events since `doneUntil` up to the window's end, by bucket (NULL: before the
 * window); both give counts per stage. `backlog` — the SMS queue and the SMS
 * waiting for a report at the last sampled hour of each bucket (the gauge of
 * migration 044, sampleWaiting) and at the last one before the window (at
 * NULL); `now` — the same waiting now, exact (migration 038's counts).
 */
export function seriesStatements(who: Principal, w: SeriesWindow, tail: TailRange): { rolled: Statement; tail: Statement; backlog: Statement; now: Statement } {
  const scope = scopeOf(who, w);
  const scoped = scope.some((x) => x !== null);
  const bucket = (col: string) => `CASE WHEN ${col} < $1 THEN NULL ELSE date_bin(make_interval(secs => $2::int), ${col}, $1) END`;
  const sums = (a: string) => PIPELINE_STAGES.map((s) => `coalesce(sum(${a}.${s}), 0)::int8 AS ${s}`).join(', ');
  return {
    // $1: the window's start, $2: bucket width (s), $3..$6: scope.
    rolled: {
      sql: `SELECT NULL::timestamptz AS at, ${sums('t')} FROM pipeline_totals t WHERE t.facility_code ${inScope(3)}
            UNION ALL
            SELECT date_bin(make_interval(secs => $2::int), h.hour, $1), ${sums('h')} FROM pipeline_hours h
             WHERE h.hour >= $1 AND h.facility_code ${inScope(3)} GROUP BY 1`,
      params: [new Date(w.start), w.width / 1000, ...scope],
    },
    // $1: the window's start, $2: bucket width (s), $3..$6: scope, $7, $8: the tail (TailRange), $9: the window's end.
    tail: {
      sql: `SELECT e.stage, ${bucket('e.at')} AS at, sum(e.n)::int8 AS n
              FROM (${tailEvents(tail, 7)}) e
             WHERE e.at < $9::timestamptz AND e.facility_code ${inScope(3)} GROUP BY 1, 2`,
      params: [new Date(w.start), w.width / 1000, ...scope, ...tailParams(tail), new Date(w.end)],
    },
    // $1: the window's start, $2: bucket width (s), $3: the window's end, $4..$7: scope. The hours picked from the
    // samples (a few hundred rows at most, by primary key), then per hour the gauge's rows of the facilities in
    // scope (primary key: hour, facility); unscoped, every facility's, '' (a job whose dose is not found) included,
    // as the pipeline view counts what waits. A bucket with no sample has no row.
    backlog: {
      sql: `WITH s AS (
              SELECT NULL::timestamptz AS at, (SELECT max(p.hour) FROM pipeline_waiting_samples p WHERE p.hour < $1) AS hour
              UNION ALL
              SELECT date_bin(make_interval(secs => $2::int), p.hour, $1), max(p.hour) FROM pipeline_waiting_samples p
               WHERE p.hour >= $1 AND p.hour < $3 GROUP BY 1)
            SELECT s.at, s.hour, g.queue, g.report FROM s
             CROSS JOIN LATERAL (
               SELECT coalesce(sum(h.queue), 0)::int8 AS queue, coalesce(sum(h.report), 0)::int8 AS report FROM pipeline_waiting_hours h
                WHERE h.hour = s.hour ${scoped ? `AND h.facility_code ${inScope(4)}` : ''}) g`,
      params: [new Date(w.start), w.width / 1000, new Date(w.end), ...(scoped ? scope : [])],
    },
    // What waits now in scope, exact: the bucket holding now.
    now: {
      sql: `SELECT coalesce(sum(x.queue), 0)::int8 AS queue, coalesce(sum(x.report), 0)::int8 AS report
              FROM (${waitingNow(scoped ? `WHERE w.facility_code ${inScope(1)}` : '')}) x`,
      params: scoped ? scope : [],
    },
  };
}

/**
 * Throughput and backlog per stage over time:
 * - recorded: a dose's `recorded_at`; certified: its first certificate's `issued_at`;
 * - queued: a `notify` job's `created_at`, leaving the queue at its `updated_at` once done or dead;
 * - accepted: a certificate SMS's `submitted_at`; delivered / failed (or expired): its `final_at` by status;
 *   it waits for a report from `submitted_at` until `final_at`.
 * Throughput counts events as they happened (see above). A backlog is what is
 * waiting at the end of a bucket, waits from before `from` included:
 * - for a certificate: doses recorded minus doses certified by then, from the
 *   beginning of time (the rolled-up totals, less the rolled-up hours from the
 *   window's start on, plus the tail before the window); neither event ever
 *   moves, so the rollup cannot make them disagree;
 * - in the SMS queue (`notify` jobs pending), for a report (certificate SMS
 *   `submitted` or `unknown`, not final: REPORT_WAIT_STATES): a gauge, not
 *   events. The bucket holding now: what waits now, exact (migration 038's
 *   counts, as the pipeline view reads them). A past bucket: what waited at
 *   the rollup's last sample in it (sampleWaiting, every few seconds, into
 *   its UTC hour: seconds before the bucket's end while a worker runs; a day:
 *   its last sampled hour). A bucket with no sample — no rollup ran in it,
 *   the worker was down — carries the value before it forward (the last
 *   sample before the window, 0 when none is kept), and so do the buckets
 *   after now. Counted from events instead, a wait that ended and began again
 *   after its hour was rolled up (an SMS sent again, a dead job replayed)
 *   would be counted in and out a different number of times and the backlog
 *   would drift for good; read from the waiting rows (as before), it cost
 *   2–20 s a call with 1.8 M jobs pending. Read so, it costs buckets ×
 *   facilities in scope with something waiting, whatever the backlog.
 * Scope as the pipeline view: by the recording facility (its region),
 * intersected with the `facility` and `region` asked for. Buckets are UTC,
 * aligned to their width.
 */
export async function pipelineSeries(db: Db, who: Principal, q: SeriesQuery, now = new Date()): Promise<PipelineSeries> {
  const w = seriesWindow(q, now);
  const { start, width, n } = w;
  const { rolled, tail, backlog, waiting } = await onSnapshot(db, async (tx, range) => {
    const st = seriesStatements(who, w, range);
    return {
      rolled: await tx.query<Counts & { at: Date | null }>(st.rolled.sql, st.rolled.params),
      tail: await tx.query<{ stage: string; at: Date | null; n: number }>(st.tail.sql, st.tail.params),
      backlog: await tx.query<{ at: Date | null; hour: Date | null; queue: number; report: number }>(st.backlog.sql, st.backlog.params),
      waiting: await tx.query<{ queue: number; report: number }>(st.now.sql, st.now.params),
    };
  });
  // Per stage: the count before `from` (index 0) and per bucket (1..n).
  const counts = Object.fromEntries(EVENT_STAGES.map((s) => [s, new Array<number>(n + 1).fill(0)])) as Record<EventStage, number[]>;
  const slotOf = (at: Date | null) => (at === null ? 0 : 1 + Math.round((at.getTime() - start) / width));
  const add = (stage: PipelineStage, i: number, v: number) => {
    const s = seriesStage(stage);
    if (s && i >= 0 && i <= n) counts[s][i]! += v;
  };
  for (const row of rolled.rows) {
    for (const s of PIPELINE_STAGES) {
      const v = Number(row[s]);
      if (row.at === null) add(s, 0, v);
      else {
        // A rolled-up hour from the window's start on: out of "before", into its bucket (none past the end).
        add(s, 0, -v);
        add(s, slotOf(row.at), v);
      }
    }
  }
  for (const row of tail.rows) if (isStage(row.stage)) add(row.stage, Math.min(Math.max(slotOf(row.at), 0), n), Number(row.n));
  // The SMS backlogs: per slot, the sample (slot 0: the last before the window); the slot holding now, exact.
  const sampled = new Array<{ queue: number; report: number } | undefined>(n + 1);
  for (const row of backlog.rows) if (row.hour !== null && slotOf(row.at) <= n) sampled[slotOf(row.at)] = { queue: Number(row.queue), report: Number(row.report) };
  const nowSlot = Math.floor((now.getTime() - start) / width) + 1;
  if (nowSlot >= 1 && nowSlot <= n) sampled[nowSlot] = { queue: Number(waiting.rows[0]?.queue ?? 0), report: Number(waiting.rows[0]?.report ?? 0) };
  const total = Object.fromEntries(EVENT_STAGES.map((s) => [s, counts[s][0]!])) as Record<EventStage, number>;
  // No sample in a slot (no rollup ran in it): the value before it, carried forward.
  let inWait = sampled[0] ?? { queue: 0, report: 0 };
  const points: SeriesPoint[] = [];
  for (let i = 1; i <= n; i++) {
    for (const s of EVENT_STAGES) total[s] += counts[s][i]!;
    inWait = sampled[i] ?? inWait;
    const at = (s: EventStage) => counts[s][i]!;
    points.push({
      start: new Date(start + (i - 1) * width).toISOString(),
      throughput: { recorded: at('recorded'), certified: at('certified'), queued: at('queued'), accepted: at('accepted'), delivered: at('delivered'), failed: at('failed') },
      backlog: { certificate: total.recorded - total.certified, queue: inWait.queue, report: inWait.report },
    });
  }
  return { bucket: w.bucket, from: new Date(start).toISOString(), to: new Date(w.end).toISOString(), facility: w.facility, region: w.region, points };
}
