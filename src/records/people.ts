/**
 * People: found by their identifier key, created once, locked while a dose is
 * recorded for them so two doses of one person never race.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/client.ts';
import { nameKey, normalizeName } from '../domain/names.ts';
import { nikRegionCode } from '../domain/nik.ts';
import type { PersonIdentifier, Sex } from '../domain/types.ts';
import type { VaccinationInput } from '../domain/vaccination-input.ts';

/**
 * The global lookup key of an identifier. A mother's NIK identifies a child
 * only together with the child's birth date and name (twins differ by name).
 */
export function personKey(id: PersonIdentifier, birthDate: string, name: string): string {
  switch (id.type) {
    case 'nik':
      return `nik:${id.value}`;
    case 'passport':
      return `passport:${id.country}:${id.value.toUpperCase()}`;
    case 'mother-nik':
      return `mother-nik:${id.value}:${birthDate}:${nameKey(name)}`;
    default:
      return id satisfies never;
  }
}

export interface PersonRow extends Record<string, unknown> {
  id: string;
  id_type: PersonIdentifier['type'];
  id_value: string;
  id_country: string | null;
  nik_new: boolean;
  name: string;
  birth_date: string;
  sex: Sex | null;
  phone: string | null;
  phone_status: 'ok' | 'missing' | 'invalid' | 'held';
  region_code: string | null;
  merged_into: string | null;
}

export interface DoseRow extends Record<string, unknown> {
  id: string;
  dose_number: number;
  vaccine: string;
  date: string;
  status: 'recorded' | 'claims_prior_dose' | 'void';
}

export type LockedPerson = PersonRow & { doses: DoseRow[]; created: boolean };

const PERSON_COLUMNS = 'p.id, p.id_type, p.id_value, p.id_country, p.nik_new, p.name, p.birth_date, p.sex, p.phone, p.phone_status, p.region_code, p.merged_into';

/** Reads one person with their live doses and locks the row until the transaction ends. */
async function lockPerson(tx: Queryable, by: 'key' | 'id', value: string): Promise<LockedPerson | undefined> {
  const from = by === 'key' ? 'person_keys k JOIN people p ON p.id = k.person_id WHERE k.key = $1' : 'people p WHERE p.id = $1';
  const r = await tx.query<PersonRow & { doses: DoseRow[] | null }>(
    `SELECT ${PERSON_COLUMNS},
       (SELECT json_agg(json_build_object('id', v.id, 'dose_number', v.dose_number, 'vaccine', v.vaccine,
                                          'date', v.date, 'status', v.status) ORDER BY v.dose_number)
          FROM vaccinations v WHERE v.person_id = p.id AND v.status <> 'void') AS doses
     FROM ${from}
     FOR UPDATE OF p`,
    [value],
  );
  const row = r.rows[0];
  return row ? { ...row, doses: row.doses ?? [], created: false } : undefined;
}

function phoneColumns(phone: VaccinationInput['person']['phone']): { phone: string | null; raw: string | null; status: PersonRow['phone_status'] } {
  switch (phone.status) {
    case 'valid':
      return { phone: phone.e164, raw: null, status: 'ok' };
    case 'missing':
      return { phone: null, raw: null, status: 'missing' };
    case 'invalid':
      return { phone: null, raw: phone.raw, status: 'invalid' };
    default:
      return phone satisfies never;
  }
}

/**
 * Finds the person of an entry (following merges) or creates them, and locks
 * the row. Concurrent first doses of one new person meet at the person_keys
 * primary key: the loser waits for the winner's commit and then finds the row.
 */
export async function findOrCreatePerson(tx: Queryable, input: VaccinationInput['person']): Promise<LockedPerson> {
  const key = personKey(input.identifier, input.birthDate, input.name);
  for (let hop = 0; hop < 2; hop++) {
    const found = await lockPerson(tx, 'key', key);
    if (found && !found.merged_into) return found;
    if (found?.merged_into) {
      const target = await lockPerson(tx, 'id', found.merged_into);
      if (target) return target;
    }
    if (found) break;
    const id = randomUUID();
    const phone = phoneColumns(input.phone);
    const idv = input.identifier;
    const inserted = await tx.query(
      `WITH k AS (INSERT INTO person_keys (key, person_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING person_id)
       INSERT INTO people (id, id_type, id_value, id_country, nik_new, name, birth_date, sex, phone, phone_raw, phone_status, region_code,
                           name_norm, name_key)
       SELECT person_id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 FROM k`,
      [
        key,
        id,
        idv.type,
        idv.value,
        idv.type === 'passport' ? idv.country : null,
        idv.type === 'nik' ? idv.newlyIssued === true : false,
        input.name,
        input.birthDate,
        input.sex,
        phone.phone,
        phone.raw,
        phone.status,
        idv.type === 'passport' ? null : nikRegionCode(idv.value),
        normalizeName(input.name),
        nameKey(input.name),
      ],
    );
    if (inserted.rowCount === 1) {
      return {
        id,
        id_type: idv.type,
        id_value: idv.value,
        id_country: idv.type === 'passport' ? idv.country : null,
        nik_new: idv.type === 'nik' ? idv.newlyIssued === true : false,
        name: input.name,
        birth_date: input.birthDate,
        sex: input.sex,
        phone: phone.phone,
        phone_status: phone.status,
        region_code: idv.type === 'passport' ? null : nikRegionCode(idv.value),
        merged_into: null,
        doses: [],
        created: true,
      };
    }
    // Someone else created the person between our read and insert: read again.
  }
  throw new Error(`person ${key} could not be found or created`);
}

/** The phone columns for a new entry: what to store and its status. */
export { phoneColumns };

/** A masked NIK for people who may not see it whole: first 6 and last 2 digits. */
export function maskNik(nik: string): string {
  return nik.length === 16 ? `${nik.slice(0, 6)}********${nik.slice(14)}` : '****';
}

/** A masked phone: `+62 812-****-7890`. */
export function maskPhone(e164: string | null): string | null {
  if (!e164) return null;
  const m = /^\+62(8\d{2})(\d+)(\d{4})$/.exec(e164);
  if (m) return `+62 ${m[1]}-****-${m[3]}`;
  return e164.slice(0, 4) + '****' + e164.slice(-4);
}
