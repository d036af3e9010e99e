/**
 * History for the pipeline view, written by SQL (generate_series) at tens of
 * thousands of rows a second: doses spread evenly over a time range, each
 * with its certificate, its `notify` job and its certificate SMS, as
 * recording and the worker would leave them. For the plan test of the
 * pipeline series and for `npm run bench -- stats`; the rows are not signed
 * (nothing here verifies a certificate).
 */
import type { Db } from '../../src/db/client.ts';
import { pipelineEvents } from '../../src/records/pipeline-rollup.ts';

export interface PipelineFill {
  doses: number;
  /** The doses' recorded_at run evenly from `from` to `to`. */
  from: Date;
  to: Date;
  /** Facility codes `${prefix}0001…`, `facilities` of them, in `districts` districts of region 31xxxx (`31` + 4 digits). */
  prefix: string;
  facilities: number;
  districts: number;
  /** Where the dose numbers start (a second fill adds to the first). */
  offset?: number;
}

/** The district of facility number i (1-based): region codes 310001, 310002, … */
export const districtOf = (i: number, districts: number): string => `31${String(1 + ((i - 1) % districts)).padStart(4, '0')}`;

/**
 * Writes the facilities and the history. Of the SMS, 1 in 20 failed (after
 * its last attempt), 1 in 5 of the last half hour still waits for the
 * gateway's report, the rest were delivered; the `notify` jobs of the last
 * five minutes still wait in the queue. Returns the facility codes.
 */
export async function fillPipeline(db: Db, o: PipelineFill): Promise<string[]> {
  const codes = Array.from({ length: o.facilities }, (_, i) => `${o.prefix}${String(i + 1).padStart(4, '0')}`);
  await db.query(
    `INSERT INTO facilities (code, name, region_code)
     SELECT code, 'Puskesmas ' || code, region FROM unnest($1::text[], $2::text[]) AS f(code, region) ON CONFLICT (code) DO NOTHING`,
    [codes, codes.map((_, i) => districtOf(i + 1, o.districts))],
  );
  const offset = o.offset ?? 0;
  // One row per dose i: its times and facility, then a row in each table.
  const doses = `
    SELECT i, md5('p' || i)::uuid AS person_id, md5('v' || i)::uuid AS vaccination_id, md5('c' || i)::uuid AS certificate_id,
           md5('n' || i)::uuid AS notification_id, ($4::text[])[1 + i % array_length($4::text[], 1)] AS facility_code,
           $2::timestamptz + ($3::timestamptz - $2::timestamptz) * ((i - $5::int) / $1::float8) AS at
      FROM generate_series($5::int, $5::int + $1::int - 1) AS i`;
  const params = [o.doses, o.from, o.to, codes, offset];
  await db.query(
    `INSERT INTO vaccinations (person_id, id, dose_number, vaccine, date, facility_code, status, source, recorded_at)
     SELECT person_id, vaccination_id, 1, 'CORONAVAC', (at AT TIME ZONE 'Asia/Jakarta')::date - i % 3, facility_code, 'recorded', 'api', at FROM (${doses}) d`,
    params,
  );
  await db.query(
    `INSERT INTO certificates (person_id, id, vaccination_id, uvci, kid, qr, dn, sd, issued_at, expires_at, status)
     SELECT person_id, certificate_id, vaccination_id, 'URN:UVCI:01:ID:BENCH' || i, 'bench', 'HC1:', 1, 2, at, at + interval '1 year', 'valid' FROM (${doses}) d`,
    params,
  );
  await db.query(
    `INSERT INTO jobs (kind, payload, dedupe_key, status, run_at, attempts, person_id, created_at, updated_at)
     SELECT 'notify', json_build_object('personId', person_id, 'certificateId', certificate_id)::jsonb, 'notify:' || certificate_id,
            CASE WHEN at > $3::timestamptz - interval '5 minutes' THEN 'pending' ELSE 'done' END, at, 1, person_id, at, at + interval '2 seconds'
       FROM (${doses}) d`,
    params,
  );
  await db.query(
    `INSERT INTO notifications (person_id, id, source_key, certificate_id, kind, template, status, attempt, recipient, body, created_at, updated_at, submitted_at, final_at)
     SELECT person_id, notification_id, 'notify:' || certificate_id, certificate_id, 'certificate', 'certificate_issued.id', s.status, 1,
            '+62812' || lpad(i::text, 8, '0'), 'Sertifikat vaksin', at + interval '2 seconds', at + interval '10 seconds', at + interval '3 seconds',
            CASE WHEN s.status = 'submitted' THEN NULL ELSE at + interval '10 seconds' END
       FROM (${doses}) d CROSS JOIN LATERAL (SELECT CASE WHEN i % 20 = 0 THEN 'failed' WHEN i % 5 = 1 AND at > $3::timestamptz - interval '30 minutes' THEN 'submitted' ELSE 'delivered' END AS status) s
      WHERE at <= $3::timestamptz - interval '5 minutes'`,
    params,
  );
  return codes;
}

/** What waits now (notify jobs pending, certificate SMS not final) per facility, state and minute, counted from the rows. */
export const WAITING_FROM_ROWS = `
  SELECT coalesce(d.facility_code, '') AS facility_code, w.state, w.since, count(*)::int8 AS n FROM (
    SELECT j.person_id, CASE WHEN j.payload->>'certificateId' ~* '^[0-9a-f-]{36}$' THEN (j.payload->>'certificateId')::uuid END AS certificate_id,
           'queued' AS state, date_bin(interval '1 minute', j.created_at, timestamptz '2000-01-01 00:00:00Z') AS since
      FROM jobs j WHERE j.kind = 'notify' AND j.status = 'pending'
    UNION ALL
    SELECT n.person_id, n.certificate_id, n.status, date_bin(interval '1 minute', coalesce(n.submitted_at, n.created_at), timestamptz '2000-01-01 00:00:00Z')
      FROM notifications n WHERE n.kind = 'certificate' AND n.final_at IS NULL) w
  LEFT JOIN certificates c ON c.person_id = w.person_id AND c.id = w.certificate_id
  LEFT JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`;

/** The same, from the counts the triggers of migration 038 keep (compacted and not yet). */
export const WAITING_FROM_COUNTS = `
  SELECT facility_code, state, since, sum(n)::int8 AS n FROM (
    SELECT facility_code, state, since, n FROM pipeline_waiting UNION ALL SELECT facility_code, state, since, n FROM pipeline_waiting_changes) x
  GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3`;

/** The pipeline's events per facility, stage and minute from the live minutes on (migration 039), counted from the rows. */
export const LIVE_FROM_ROWS = `
  SELECT e.facility_code, e.stage, date_bin(interval '1 minute', e.at, timestamptz '2000-01-01 00:00:00Z') AS minute, count(*)::int8 AS n,
         round(coalesce(sum(e.days), 0)::numeric, 6) AS days
    FROM (${pipelineEvents('(SELECT live_from FROM pipeline_rollup)', "'infinity'::timestamptz")}) e
   GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`;

/** The same, from the counts the triggers of migration 039 keep (compacted and not yet). */
export const LIVE_FROM_COUNTS = `
  SELECT facility_code, stage, minute, sum(n)::int8 AS n, round(sum(days)::numeric, 6) AS days FROM (
    SELECT facility_code, stage, minute, n, days FROM pipeline_live UNION ALL SELECT facility_code, stage, minute, n, days FROM pipeline_live_changes) x
   WHERE minute >= (SELECT live_from FROM pipeline_rollup)
   GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3`;
