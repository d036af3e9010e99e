/**
 * Facilities (faskes): where doses are given. A facility token records only for
 * its own facility; a district token for facilities in its region; admin for any.
 */
import { parseRegionCode, regionCodeIssue } from '../domain/regions.ts';
import type { Db, Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { AppError, invalid, issue, type FieldIssue } from '../domain/errors.ts';
import { normalizePhone } from '../domain/phone.ts';

export interface Facility {
  code: string;
  name: string;
  regionCode: string;
  phone: string | null;
}

interface FacilityRow extends Record<string, unknown> {
  code: string;
  name: string;
  region_code: string;
  phone: string | null;
}

const toFacility = (r: FacilityRow): Facility => ({ code: r.code, name: r.name, regionCode: r.region_code, phone: r.phone });

/** Validates and creates a facility; 409 when the code exists. */
export async function createFacility(db: Db, body: { code: string; name: string; regionCode: string; phone?: string | undefined }): Promise<Facility> {
  const problems: FieldIssue[] = [];
  const code = body.code.trim().toUpperCase();
  if (!/^[A-Z0-9][A-Z0-9._-]{1,63}$/.test(code))
    problems.push(issue('code', 'facility_code', 'Facility code: 2–64 letters, digits, ".", "_" or "-".', 'Kode faskes: 2–64 huruf, angka, ".", "_" atau "-".'));
  const name = body.name.trim().replace(/\s+/g, ' ');
  if (name.length === 0 || name.length > 200) problems.push(issue('name', 'required', 'Name: 1–200 characters.', 'Nama: 1–200 karakter.'));
  // 12.71.01 or 127101: stored as digits (domain/regions.ts).
  const regionCode = parseRegionCode(body.regionCode);
  if (regionCode === null) problems.push(regionCodeIssue('regionCode'));
  let phone: string | null = null;
  if (body.phone) {
    const p = normalizePhone(body.phone, 'phone');
    if (!p.ok) problems.push(p.issue);
    else phone = p.e164;
  }
  if (problems.length) throw invalid(problems);
  const r = await db.query<FacilityRow>(
    'INSERT INTO facilities (code, name, region_code, phone) VALUES ($1, $2, $3, $4) ON CONFLICT (code) DO NOTHING RETURNING code, name, region_code, phone',
    [code, name, regionCode, phone],
  );
  if (!r.rows[0])
    throw new AppError('conflict', 'facility_exists', { en: `Facility ${code} already exists.`, id: `Faskes ${code} sudah ada.` }, {
      fields: [issue('code', 'facility_exists', 'already exists', 'sudah ada')],
    });
  return toFacility(r.rows[0]);
}

export async function getFacility(db: Queryable, code: string): Promise<Facility | undefined> {
  const r = await db.query<FacilityRow>('SELECT code, name, region_code, phone FROM facilities WHERE code = $1', [code]);
  return r.rows[0] ? toFacility(r.rows[0]) : undefined;
}

export async function listFacilities(db: Queryable): Promise<Facility[]> {
  const r = await db.query<FacilityRow>('SELECT code, name, region_code, phone FROM facilities ORDER BY code');
  return r.rows.map(toFacility);
}

/** True when a region code lies inside a scope (a region is inside itself). */
export function regionWithin(region: string, scope: string): boolean {
  return region.startsWith(scope);
}

/**
 * The facility a dose is recorded for, checked against the caller's scope.
 * A facility token may name no facility (its own is used) or its own.
 */
export async function facilityForEntry(db: Queryable, who: Principal, named: string | null): Promise<Facility> {
  const outOfScope = (code: string) =>
    new AppError('forbidden', 'facility_out_of_scope', {
      en: `You may not record doses for facility ${code}.`,
      id: `Anda tidak berwenang mencatat dosis untuk faskes ${code}.`,
    });
  switch (who.role) {
    case 'facility': {
      const own = who.facilityCode as string;
      if (named !== null && named.toUpperCase() !== own) throw outOfScope(named);
      return { code: own, name: '', regionCode: '', phone: null };
    }
    case 'district':
    case 'admin': {
      if (named === null) throw invalid([issue('facility', 'required', 'Name the facility where the dose was given.', 'Sebutkan faskes tempat dosis diberikan.')]);
      const f = await getFacility(db, named.toUpperCase());
      if (!f) throw invalid([issue('facility', 'unknown_facility', `Unknown facility ${named}.`, `Faskes ${named} tidak dikenal.`)]);
      if (who.role === 'district' && !regionWithin(f.regionCode, who.regionCode as string)) throw outOfScope(f.code);
      return f;
    }
    case 'support':
      throw new AppError('forbidden', 'role_cannot_record', { en: 'Support accounts do not record doses.', id: 'Akun dukungan tidak mencatat dosis.' });
    default:
      return who.role satisfies never;
  }
}
