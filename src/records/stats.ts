/**
 * The pipeline view: how many doses are at each stage (recorded, certified,
 * SMS pending / submitted / delivered / failed / unknown / held), the oldest
 * item waiting at each stage and its age, throughput in the last minute and
 * hour, and the same per facility and region — so a backlog is never silent.
 */
import type { Db, Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { invalid, issue, type FieldIssue } from '../domain/errors.ts';

export interface StageFigures {
  stage: string;
  count: number;
  oldestWaitingAt: string | null;
  oldestWaitingSeconds: number | null;
  lastMinute: number;
  lastHour: number;
}

export async function pipelineStats(db: Queryable, who: Principal): Promise<{ stages: StageFigures[]; facilities: Record<string, unknown>[]; generatedAt: string }> {
  const region = who.role === 'district' ? who.regionCode : null;
  const facility = who.role === 'facility' ? who.facilityCode : null;
  const params = [region, facility];
  // Doses and certificates in scope: by the recording facility's region or the facility itself.
  const vScope = `v.facility_code IN (SELECT code FROM facilities f WHERE ($1::text IS NULL OR f.region_code LIKE $1 || '%') AND ($2::text IS NULL OR f.code = $2))`;
  const stages = await db.query<{ stage: string; count: number; oldest: Date | null; last_minute: number; last_hour: number }>(
    `SELECT 'recorded' AS stage, count(*)::int8 AS count, NULL::timestamptz AS oldest,
            count(*) FILTER (WHERE v.recorded_at > now() - interval '1 minute')::int8 AS last_minute,
            count(*) FILTER (WHERE v.recorded_at > now() - interval '1 hour')::int8 AS last_hour
       FROM vaccinations v WHERE v.status <> 'void' AND ${vScope}
     UNION ALL
     SELECT 'certified', count(*)::int8, NULL,
            count(*) FILTER (WHERE c.issued_at > now() - interval '1 minute')::int8,
            count(*) FILTER (WHERE c.issued_at > now() - interval '1 hour')::int8
       FROM certificates c JOIN vaccinations v ON v.person_id = c.person_id AND v.id = c.vaccination_id
      WHERE c.status = 'valid' AND ${vScope}
     UNION ALL
     SELECT 'sms_queued', count(*)::int8, min(j.created_at), 0, 0
       FROM jobs j WHERE j.kind = 'notify' AND j.status = 'pending'
        AND ($1::text IS NULL AND $2::text IS NULL OR EXISTS (SELECT 1 FROM vaccinations v WHERE v.person_id = j.person_id AND ${vScope}))
     UNION ALL
     SELECT 'sms_' || n.status, count(*)::int8,
            min(n.created_at) FILTER (WHERE n.final_at IS NULL),
            count(*) FILTER (WHERE coalesce(n.final_at, n.submitted_at, n.created_at) > now() - interval '1 minute')::int8,
            count(*) FILTER (WHERE coalesce(n.final_at, n.submitted_at, n.created_at) > now() - interval '1 hour')::int8
       FROM notifications n
      WHERE n.kind = 'certificate'
        AND ($1::text IS NULL AND $2::text IS NULL OR EXISTS (SELECT 1 FROM vaccinations v WHERE v.person_id = n.person_id AND ${vScope}))
      GROUP BY n.status`,
    params,
  );
  const now = Date.now();
  const perFacility = await db.query<Record<string, unknown>>(
    `SELECT v.facility_code AS facility, f.region_code AS "regionCode",
            count(*)::int8 AS recorded,
            count(*) FILTER (WHERE v.recorded_at > now() - interval '1 hour')::int8 AS "recordedLastHour",
            count(*) FILTER (WHERE v.status = 'claims_prior_dose')::int8 AS "claimsPriorDose",
            max(v.recorded_at) AS "lastRecordedAt",
            avg(extract(epoch FROM v.recorded_at - v.date::timestamp))::float8 / 86400 AS "averageDaysToEntry"
       FROM vaccinations v JOIN facilities f ON f.code = v.facility_code
      WHERE v.status <> 'void' AND ${vScope}
      GROUP BY v.facility_code, f.region_code ORDER BY v.facility_code LIMIT 1000`,
    params,
  );
  return {
    stages: stages.rows.map((s) => ({
      stage: s.stage,
      count: s.count,
      oldestWaitingAt: s.oldest ? s.oldest.toISOString() : null,
      oldestWaitingSeconds: s.oldest ? Math.round((now - s.oldest.getTime()) / 1000) : null,
      lastMinute: s.last_minute,
      lastHour: s.last_hour,
    })),
    facilities: perFacility.rows,
    generatedAt: new Date(now).toISOString(),
  };
}

export const SERIES_BUCKETS = { hour: 3600, day: 86_400 } as const;
export type SeriesBucket = keyof typeof SERIES_BUCKETS;
/** Most buckets one answer holds (a month of hours, more than a year of days). */
export const MAX_SERIES_POINTS = 750;

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

const EVENT_STAGES = ['recorded', 'certified', 'queued', 'dequeued', 'accepted', 'reported', 'delivered', 'failed'] as const;
type EventStage = (typeof EVENT_STAGES)[number];

/**
 * Throughput and backlog per stage over time, rebuilt from the timestamps the
 * rows carry (no separate metrics table to fall out of step):
 * - recorded: a live dose's `recorded_at`; certified: its first certificate's `issued_at`;
 * - queued: a `notify` job's `created_at`, leaving the queue at its `updated_at` once done or dead;
 * - accepted: a certificate SMS's `submitted_at`; delivered / failed: its `final_at` by status;
 *   it waits for a report from `submitted_at` until `final_at`.
 * A backlog is what entered a stage by the end of a bucket minus what left it,
 * counted from the beginning of time, so waiting items from before `from` count.
 * Rows as they are now: a dose voided later drops out of every bucket. Scope as
 * the pipeline view: by the recording facility (its region), intersected with
 * the `facility` and `region` asked for. Buckets are UTC, aligned to their width.
 */
export async function pipelineSeries(db: Db, who: Principal, q: SeriesQuery, now = new Date()): Promise<PipelineSeries> {
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
  const region = q.region ?? null;
  if (region !== null && !/^\d{2,10}$/.test(region)) problems.push(issue('region', 'region_code', 'Region code: 2–10 digits.', 'Kode wilayah: 2–10 angka.'));
  const facility = q.facility ? q.facility.toUpperCase() : null;
  const start = Math.floor(fromMs / width) * width;
  const end = Math.ceil(toMs / width) * width;
  const n = (end - start) / width;
  if (!Number.isNaN(n) && n <= 0) problems.push(issue('to', 'range', 'to must be later than from.', 'to harus sesudah from.'));
  if (n > MAX_SERIES_POINTS)
    problems.push(issue('from', 'range_too_long', `At most ${MAX_SERIES_POINTS} buckets: narrow from–to or use bucket=day.`, `Paling banyak ${MAX_SERIES_POINTS} bucket: persempit from–to atau pakai bucket=day.`));
  if (problems.length) throw invalid(problems);

  // $3/$4: the caller's scope; $5/$6: the filter asked for. Unscoped, unfiltered SMS skip the join to their dose.
  const params = [new Date(start), new Date(end), who.role === 'district' ? who.regionCode : null, who.role === 'facility' ? who.facilityCode : null, region, facility, width / 1000];
  const inScope = `IN (SELECT f.code FROM facilities f WHERE ($3::text IS NULL OR f.region_code LIKE $3 || '%') AND ($4::text IS NULL OR f.code = $4)
                                                        AND ($5::text IS NULL OR f.region_code LIKE $5 || '%') AND ($6::text IS NULL OR f.code = $6))`;
  // SMS and jobs name a certificate, not a facility: with a scope or filter they are kept when their
  // certificate's dose is in it (one list of certificates, hashed once per use); without, nothing is joined.
  const open = `($3::text IS NULL AND $4::text IS NULL AND $5::text IS NULL AND $6::text IS NULL)`;
  const certInScope = (personId: string, certId: string) => `(${open} OR (${personId}, ${certId}) IN (SELECT person_id, id FROM scoped_certs))`;
  // The bucket an instant falls in (NULL: before the window, counted for the backlogs only).
  const bucketOf = (col: string) => `CASE WHEN ${col} < $1 THEN NULL ELSE date_bin(make_interval(secs => $7::int), ${col}, $1) END`;
  const r = await db.withTransaction(async (tx) => {
    // A plan this size crosses jit_above_cost, and compiling it took longer (1.4 s) than running it.
    await tx.query('SET LOCAL jit = off');
    return tx.query<{ stage: EventStage; at: Date | null; n: number }>(
      `WITH scoped_certs AS MATERIALIZED (
         SELECT c.person_id, c.id FROM certificates c JOIN vaccinations v ON v.person_id = c.person_id AND v.id = c.vaccination_id
          WHERE NOT ${open} AND v.facility_code ${inScope})
       SELECT 'recorded' AS stage, ${bucketOf('v.recorded_at')} AS at, count(*)::int8 AS n FROM vaccinations v
        WHERE v.status <> 'void' AND v.recorded_at < $2 AND v.facility_code ${inScope} GROUP BY 2
       UNION ALL
       SELECT 'certified', ${bucketOf('fc.first')}, count(*)::int8
         FROM (SELECT person_id, vaccination_id, min(issued_at) AS first FROM certificates WHERE issued_at < $2 GROUP BY 1, 2) fc
         JOIN vaccinations v ON v.person_id = fc.person_id AND v.id = fc.vaccination_id
        WHERE v.status <> 'void' AND v.facility_code ${inScope} GROUP BY 2
       UNION ALL
       SELECT e.stage, ${bucketOf('e.at')}, count(*)::int8 FROM jobs j
        CROSS JOIN LATERAL (VALUES ('queued', j.created_at), ('dequeued', CASE WHEN j.status <> 'pending' THEN j.updated_at END)) e(stage, at)
        WHERE j.kind = 'notify' AND e.at < $2 AND ${certInScope('j.person_id', "(j.payload->>'certificateId')::uuid")}
        GROUP BY 1, 2
       UNION ALL
       -- One pass over the SMS: accepted; reported (a final state after the gateway accepted it); delivered or failed.
       SELECT e.stage, ${bucketOf('e.at')}, count(*)::int8 FROM notifications n
        CROSS JOIN LATERAL (VALUES ('accepted', n.submitted_at),
                                   ('reported', CASE WHEN n.submitted_at IS NOT NULL THEN n.final_at END),
                                   (CASE WHEN n.status = 'delivered' THEN 'delivered' ELSE 'failed' END,
                                    CASE WHEN n.status IN ('delivered', 'failed', 'expired') THEN n.final_at END)) e(stage, at)
        WHERE n.kind = 'certificate' AND e.at < $2 AND ${certInScope('n.person_id', 'n.certificate_id')}
        GROUP BY 1, 2`,
      params,
    );
  });
  // Per stage: the count before `from` (index 0) and per bucket (1..n).
  const counts = Object.fromEntries(EVENT_STAGES.map((s) => [s, new Array<number>(n + 1).fill(0)])) as Record<EventStage, number[]>;
  for (const row of r.rows) {
    const slot = counts[row.stage];
    const i = row.at === null ? 0 : 1 + Math.round((row.at.getTime() - start) / width);
    if (slot) slot[Math.min(Math.max(i, 0), n)]! += Number(row.n);
  }
  const total = Object.fromEntries(EVENT_STAGES.map((s) => [s, counts[s][0]!])) as Record<EventStage, number>;
  const points: SeriesPoint[] = [];
  for (let i = 1; i <= n; i++) {
    for (const s of EVENT_STAGES) total[s] += counts[s][i]!;
    const at = (s: EventStage) => counts[s][i]!;
    points.push({
      start: new Date(start + (i - 1) * width).toISOString(),
      throughput: { recorded: at('recorded'), certified: at('certified'), queued: at('queued'), accepted: at('accepted'), delivered: at('delivered'), failed: at('failed') },
      backlog: { certificate: total.recorded - total.certified, queue: total.queued - total.dequeued, report: total.accepted - total.reported },
    });
  }
  return { bucket, from: new Date(start).toISOString(), to: new Date(end).toISOString(), facility, region, points };
}
