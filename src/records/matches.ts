/**
 * Likely other records of one person: the same folded name (`name_key`, as
 * search and the duplicate scan fold it) and the same birth date under another
 * identifier — where a dose "missing" from this record usually is (dose 1
 * entered under a mistyped NIK, at another facility). Only records the caller
 * may see are returned (`personScopeSql`), identifiers masked as search masks
 * them for the role, each with its doses and where they were given.
 */
import type { Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { assertPersonInScope, personScopeSql, seesIdentifiers } from '../access/scope.ts';
import { toSummary, type PersonSummary, type SummaryRow } from './search.ts';

export interface MatchDose {
  doseNumber: number;
  date: string;
  vaccine: string;
  status: string;
  facility: { code: string; name: string | null; phone: string | null };
}

export interface LikelyMatch extends PersonSummary {
  doseList: MatchDose[];
}

/** At most this many (oldest first): a name and birth date shared by more people is no lead. */
export const MATCH_LIMIT = 20;

export interface FacilityContact {
  code: string;
  name: string;
  phone: string | null;
}

/**
 * The likely matches of `personId`, and the facilities that recorded this
 * person's own doses (whom to ask about the missing one), with their phone.
 */
export async function likelyMatches(db: Queryable, who: Principal, personId: string): Promise<{ matches: LikelyMatch[]; facilities: FacilityContact[] }> {
  await assertPersonInScope(db, who, personId);
  const scope = personScopeSql(who, 2, 'o');
  const r = await db.query<SummaryRow & { dose_list: MatchDose[] }>(
    `SELECT o.id, o.id_type, o.id_value, o.id_country, o.name, o.birth_date, o.sex, o.phone, o.phone_status, o.region_code, NULL::real AS score,
            (SELECT count(*)::int FROM vaccinations v WHERE v.person_id = o.id AND v.status <> 'void') AS doses,
            coalesce((SELECT json_agg(json_build_object('doseNumber', v.dose_number, 'date', v.date, 'vaccine', v.vaccine, 'status', v.status,
                                                        'facility', json_build_object('code', v.facility_code, 'name', f.name, 'phone', f.phone))
                                      ORDER BY v.date, v.dose_number)
                        FROM vaccinations v LEFT JOIN facilities f ON f.code = v.facility_code WHERE v.person_id = o.id), '[]'::json) AS dose_list
       FROM people p
       JOIN people o ON o.birth_date = p.birth_date AND o.name_key = p.name_key AND o.id <> p.id
      WHERE p.id = $1 AND p.name_key IS NOT NULL AND o.merged_into IS NULL AND ${scope.sql}
      ORDER BY o.created_at, o.id
      LIMIT ${MATCH_LIMIT}`,
    [personId, ...scope.params],
  );
  const own = await db.query<FacilityContact & Record<string, unknown>>(
    `SELECT f.code, f.name, f.phone FROM facilities f
      WHERE f.code IN (SELECT v.facility_code FROM vaccinations v WHERE v.person_id = $1) ORDER BY f.code`,
    [personId],
  );
  const reveal = seesIdentifiers(who, false);
  return { matches: r.rows.map((row) => ({ ...toSummary(row, reveal), doseList: row.dose_list })), facilities: own.rows };
}
