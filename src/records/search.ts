/**
 * Finding people: by NIK (or other identifier), by phone in any writing, or by
 * name with typos and spelling variants (trigram similarity on the
 * variant-folding name key), optionally narrowed by birth date and region.
 */
import { parseRegionCode, regionCodeIssue } from '../domain/regions.ts';
import type { Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { personScopeSql, seesIdentifiers } from '../access/scope.ts';
import { invalid, issue, type FieldIssue } from '../domain/errors.ts';
import { nameKey, normalizeName } from '../domain/names.ts';
import { normalizePhone } from '../domain/phone.ts';
import { isIsoDate } from '../domain/dates.ts';
import { maskNik, maskPhone } from '../domain/masking.ts';

export interface SearchQuery {
  nik?: string | undefined;
  phone?: string | undefined;
  name?: string | undefined;
  birthDate?: string | undefined;
  region?: string | undefined;
  limit?: number | undefined;
  reveal?: boolean | undefined;
}

export interface PersonSummary {
  id: string;
  identifier: { type: string; value: string; country?: string };
  name: string;
  birthDate: string;
  sex: string | null;
  phone: string | null;
  phoneStatus: string;
  regionCode: string | null;
  doses: number;
  score?: number;
  masked: boolean;
}

/** A person row as search reads it (toSummary's input; records/matches.ts reads the same columns). */
export interface SummaryRow extends Record<string, unknown> {
  id: string;
  id_type: string;
  id_value: string;
  id_country: string | null;
  name: string;
  birth_date: string;
  sex: string | null;
  phone: string | null;
  phone_status: string;
  region_code: string | null;
  doses: number;
  score: number | null;
}

export function toSummary(r: SummaryRow, reveal: boolean): PersonSummary {
  const id = r.id_type === 'passport' ? { type: r.id_type, value: r.id_value, country: r.id_country ?? '' } : { type: r.id_type, value: r.id_value };
  return {
    id: r.id,
    identifier: reveal ? id : { ...id, value: r.id_type === 'passport' ? r.id_value.slice(0, 2) + '****' + r.id_value.slice(-2) : maskNik(r.id_value) },
    name: r.name,
    birthDate: r.birth_date,
    sex: r.sex,
    phone: reveal ? r.phone : maskPhone(r.phone),
    phoneStatus: r.phone_status,
    regionCode: r.region_code,
    doses: r.doses,
    ...(r.score === null ? {} : { score: Math.round(r.score * 1000) / 1000 }),
    masked: !reveal,
  };
}

/** Searches people the caller may see; at least one of nik, phone, name is required. */
export async function searchPeople(db: Queryable, who: Principal, q: SearchQuery): Promise<PersonSummary[]> {
  const problems: FieldIssue[] = [];
  const where: string[] = ['p.merged_into IS NULL'];
  const params: unknown[] = [];
  const add = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  let score = 'NULL::real';
  let order = 'p.name';
  if (!q.nik && !q.phone && !q.name)
    problems.push(issue('nik', 'search_needs_term', 'Give nik, phone or name to search.', 'Isi nik, phone, atau name untuk mencari.'));
  if (q.nik) {
    const nik = q.nik.replace(/\s+/g, '');
    if (!/^\d{16}$/.test(nik)) problems.push(issue('nik', 'nik_format', 'A NIK has 16 digits.', 'NIK terdiri dari 16 angka.'));
    else where.push(`p.id_value = ${add(nik)} AND p.id_type IN ('nik', 'mother-nik')`);
  }
  if (q.phone) {
    const p = normalizePhone(q.phone, 'phone');
    if (!p.ok) problems.push(p.issue);
    else if (p.e164) where.push(`p.phone = ${add(p.e164)}`);
  }
  if (q.name) {
    const key = nameKey(q.name);
    const norm = normalizeName(q.name);
    if (key.length < 2) problems.push(issue('name', 'name_too_short', 'Give at least two letters of the name.', 'Isi minimal dua huruf nama.'));
    else {
      const k = add(key);
      const n = add(norm);
      // Nearest keys first from the GiST index; ties broken by the plain normalised name.
      score = `(1 - (p.name_key <-> ${k}))`;
      where.push(`p.name_key % ${k}`);
      order = `p.name_key <-> ${k}, similarity(p.name_norm, ${n}) DESC, p.name`;
    }
  }
  if (q.birthDate !== undefined) {
    if (!isIsoDate(q.birthDate)) problems.push(issue('birthDate', 'date', 'Birth date as YYYY-MM-DD.', 'Tanggal lahir dengan format YYYY-MM-DD.'));
    else where.push(`p.birth_date = ${add(q.birthDate)}::date`);
  }
  if (q.region !== undefined) {
    const region = parseRegionCode(q.region, { prefix: true });
    if (region === null) problems.push(regionCodeIssue('region'));
    else where.push(`p.region_code LIKE ${add(region)} || '%'`);
  }
  if (problems.length) throw invalid(problems);
  const scope = personScopeSql(who, params.length + 1);
  params.push(...scope.params);
  where.push(scope.sql);
  const limit = Math.min(Math.max(q.limit ?? 20, 1), 100);
  // The trigram operator % uses pg_trgm.similarity_threshold (default 0.3) to pick
  // candidates from the index; the explicit score filter then applies ours.
  const r = await db.query<SummaryRow>(
    `SELECT p.id, p.id_type, p.id_value, p.id_country, p.name, p.birth_date, p.sex, p.phone, p.phone_status, p.region_code,
            (SELECT count(*) FROM vaccinations v WHERE v.person_id = p.id AND v.status <> 'void')::int AS doses,
            ${score} AS score
       FROM people p
      WHERE ${where.join(' AND ')}
      ORDER BY ${order}
      LIMIT ${limit}`,
    params,
  );
  const reveal = seesIdentifiers(who, q.reveal === true);
  return r.rows.map((row) => toSummary(row, reveal));
}
