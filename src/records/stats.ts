/**
 * The pipeline view: how many doses are at each stage (recorded, certified,
 * SMS pending / submitted / delivered / failed / unknown / held), the oldest
 * item waiting at each stage and its age, throughput in the last minute and
 * hour, and the same per facility and region — so a backlog is never silent.
 */
import type { Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';

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
