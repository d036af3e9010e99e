/** Work lists: the cases people must look at, filtered by kind, status and region, within the caller's scope. */
import type { Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { invalid, issue, type FieldIssue } from '../domain/errors.ts';
import { seesIdentifiers } from '../access/scope.ts';
import { maskPhonesIn } from './people.ts';

export const CASE_KINDS = ['claims_prior_dose', 'possible_duplicate', 'invalid_phone', 'unreachable', 'suspicious_phone', 'name_mismatch', 'phone_change', 'satusehat_rejected', 'satusehat_patient_not_found'] as const;
export type CaseKind = (typeof CASE_KINDS)[number];
export const CASE_STATUSES = ['open', 'resolved', 'dismissed'] as const;

export interface CaseView {
  id: string;
  kind: string;
  status: string;
  personId: string;
  personName: string;
  facility: string | null;
  regionCode: string | null;
  subjectId: string | null;
  detail: Record<string, unknown>;
  notes: string | null;
  openedAt: string;
  resolvedAt: string | null;
}

interface Row extends Record<string, unknown> {
  id: string;
  kind: string;
  status: string;
  person_id: string;
  name: string;
  facility_code: string | null;
  region_code: string | null;
  subject_id: string | null;
  detail: Record<string, unknown>;
  notes: string | null;
  opened_at: Date;
  resolved_at: Date | null;
}

export interface CaseQuery {
  kind?: string | undefined;
  status?: string | undefined;
  region?: string | undefined;
  facility?: string | undefined;
  limit?: number | undefined;
  before?: string | undefined;
}

/** Lists cases, oldest open first, paged by `before` (an opened_at cursor). */
export async function listCases(db: Queryable, who: Principal, q: CaseQuery): Promise<{ cases: CaseView[]; next: string | null }> {
  const problems: FieldIssue[] = [];
  const params: unknown[] = [];
  const add = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  const where: string[] = [];
  if (q.kind !== undefined) {
    if (!(CASE_KINDS as readonly string[]).includes(q.kind)) problems.push(issue('kind', 'unknown_kind', `kind is one of ${CASE_KINDS.join(', ')}`, `kind salah satu dari ${CASE_KINDS.join(', ')}`));
    else where.push(`c.kind = ${add(q.kind)}`);
  }
  const status = q.status ?? 'open';
  if (!(CASE_STATUSES as readonly string[]).includes(status)) problems.push(issue('status', 'unknown_status', 'status is open, resolved or dismissed', 'status: open, resolved, atau dismissed'));
  else where.push(`c.status = ${add(status)}`);
  if (q.region !== undefined) {
    if (!/^\d{2,10}$/.test(q.region)) problems.push(issue('region', 'region_code', 'Region code: 2–10 digits.', 'Kode wilayah: 2–10 angka.'));
    else where.push(`c.region_code LIKE ${add(q.region)} || '%'`);
  }
  if (q.facility !== undefined) where.push(`c.facility_code = ${add(q.facility.toUpperCase())}`);
  if (q.before !== undefined) {
    const d = new Date(q.before);
    if (Number.isNaN(d.getTime())) problems.push(issue('before', 'cursor', 'before: the `next` value of the previous page.', 'before: nilai `next` dari halaman sebelumnya.'));
    else where.push(`c.opened_at > ${add(d)}`);
  }
  if (problems.length) throw invalid(problems);
  switch (who.role) {
    case 'facility':
      where.push(`c.facility_code = ${add(who.facilityCode)}`);
      break;
    case 'district': {
      const r = add(who.regionCode);
      where.push(`(c.region_code LIKE ${r} || '%' OR c.facility_code IN (SELECT code FROM facilities WHERE region_code LIKE ${r} || '%'))`);
      break;
    }
    case 'support':
    case 'admin':
      break;
    default:
      return who.role satisfies never;
  }
  const limit = Math.min(Math.max(q.limit ?? 50, 1), 500);
  const r = await db.query<Row>(
    `SELECT c.id, c.kind, c.status, c.person_id, p.name, c.facility_code, c.region_code, c.subject_id, c.detail, c.notes, c.opened_at, c.resolved_at
       FROM cases c JOIN people p ON p.id = c.person_id
      WHERE ${where.join(' AND ')}
      ORDER BY c.opened_at, c.id
      LIMIT ${limit + 1}`,
    params,
  );
  const rows = r.rows.slice(0, limit);
  // Phone numbers in a case (a suspicious number, a number asked for) as search shows them to this role.
  const reveal = seesIdentifiers(who, false);
  return {
    cases: rows.map((c) => ({
      id: c.id,
      kind: c.kind,
      status: c.status,
      personId: c.person_id,
      personName: c.name,
      facility: c.facility_code,
      regionCode: c.region_code,
      subjectId: c.subject_id,
      detail: reveal ? c.detail : maskPhonesIn(c.detail),
      notes: c.notes,
      openedAt: c.opened_at.toISOString(),
      resolvedAt: c.resolved_at ? c.resolved_at.toISOString() : null,
    })),
    next: r.rows.length > limit ? (rows[rows.length - 1]?.opened_at.toISOString() ?? null) : null,
  };
}

/**
 * The periodic scan for possible duplicates: the same folded name and birth
 * date under different identifiers. Opens one case per pair not yet seen
 * (on the newer record), returns how many it opened.
 */
export async function scanPossibleDuplicates(db: Queryable): Promise<number> {
  const r = await db.query(
    `INSERT INTO cases (person_id, id, kind, facility_code, region_code, subject_id, detail)
     SELECT b.id, gen_random_uuid(), 'possible_duplicate', NULL, b.region_code, a.id,
            json_build_object('otherPersonId', a.id, 'otherName', a.name, 'birthDate', b.birth_date)::jsonb
       FROM people a
       JOIN people b ON b.birth_date = a.birth_date AND b.name_key = a.name_key AND b.id <> a.id
                    AND (b.created_at, b.id) > (a.created_at, a.id)
      WHERE a.merged_into IS NULL AND b.merged_into IS NULL AND a.name_key IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.kind = 'possible_duplicate' AND
                        ((c.person_id = b.id AND c.subject_id = a.id) OR (c.person_id = a.id AND c.subject_id = b.id)))`,
  );
  return r.rowCount;
}
