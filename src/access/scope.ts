/**
 * Who may see which person — the one place record scopes are decided:
 * - facility: people it has recorded a dose for (not a dose held because its
 *   name did not match the record: that gives no scope until confirmed);
 * - district: people registered in its region (NIK region) or vaccinated at a
 *   facility in its region;
 * - support, admin: everyone.
 * Routes about a person either filter with `personScopeSql` or check one person
 * with `assertPersonInScope`; out-of-scope answers are 404, so they do not
 * reveal that the person exists.
 */
import type { Queryable } from '../db/client.ts';
import { AppError } from '../domain/errors.ts';
import type { Principal } from './tokens.ts';

export interface ScopeSql {
  sql: string;
  params: unknown[];
}

/** A SQL condition on person alias `p` for the caller; `$n` numbered from `first`. */
export function personScopeSql(who: Principal, first: number, alias = 'p'): ScopeSql {
  switch (who.role) {
    case 'admin':
    case 'support':
      return { sql: 'true', params: [] };
    case 'facility':
      return {
        sql: `EXISTS (SELECT 1 FROM vaccinations sv WHERE sv.person_id = ${alias}.id AND sv.facility_code = $${first} AND NOT sv.identity_held)`,
        params: [who.facilityCode],
      };
    case 'district':
      return {
        sql: `(${alias}.region_code LIKE $${first} || '%' OR EXISTS (
                SELECT 1 FROM vaccinations sv JOIN facilities sf ON sf.code = sv.facility_code
                WHERE sv.person_id = ${alias}.id AND NOT sv.identity_held AND sf.region_code LIKE $${first} || '%'))`,
        params: [who.regionCode],
      };
    default:
      return who.role satisfies never;
  }
}

export function personNotFound(id: string): AppError {
  return new AppError('not_found', 'person_not_found', { en: `No person ${id}.`, id: `Tidak ada orang dengan id ${id}.` });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `id` can be a person's id (a UUID): anything else is answered 404 without a query. */
export function isPersonId(id: string): boolean {
  return UUID.test(id);
}

/** Throws 404 unless the person exists and the caller may see them. */
export async function assertPersonInScope(db: Queryable, who: Principal, personId: string): Promise<void> {
  if (!isPersonId(personId)) throw personNotFound(personId);
  const scope = personScopeSql(who, 2);
  const r = await db.query(`SELECT 1 FROM people p WHERE p.id = $1 AND ${scope.sql}`, [personId, ...scope.params]);
  if (r.rowCount === 0) throw personNotFound(personId);
}

/** Whether the caller sees identifiers and phone numbers whole (else masked). */
export function seesIdentifiers(who: Principal, reveal: boolean): boolean {
  switch (who.role) {
    case 'admin':
    case 'facility': // only people it vaccinated itself
      return true;
    case 'support': // the help desk sees them when it asks to, and that is audited
      return reveal;
    case 'district':
      return false;
    default:
      return who.role satisfies never;
  }
}
