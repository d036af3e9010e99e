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
  /** The import that recorded the dose, and its line there (a bulk import tells a repeated row from an earlier upload). */
  import_id: string | null;
  import_line: number | null;
}

export type LockedPerson = PersonRow & { doses: DoseRow[]; created: boolean };

const PERSON_COLUMNS = 'p.id, p.id_type, p.id_value, p.id_country, p.nik_new, p.name, p.birth_date, p.sex, p.phone, p.phone_status, p.region_code, p.merged_into';
const DOSES_OF_P = `(SELECT json_agg(json_build_object('id', v.id, 'dose_number', v.dose_number, 'vaccine', v.vaccine, 'date', v.date,
                                      'status', v.status, 'import_id', v.import_id, 'import_line', v.import_line) ORDER BY v.dose_number)
          FROM vaccinations v WHERE v.person_id = p.id AND v.status <> 'void') AS doses`;

type LockedRow = PersonRow & { doses: DoseRow[] | null; key?: string };

/**
 * Reads people with their live doses and locks their rows until the transaction
 * ends. Rows are locked in id order, so two transactions locking overlapping
 * sets wait for each other instead of deadlocking.
 */
async function lockPeople(tx: Queryable, by: 'key' | 'id', values: string[]): Promise<LockedRow[]> {
  const sql =
    by === 'key'
      ? `SELECT k.key, ${PERSON_COLUMNS}, ${DOSES_OF_P}
           FROM person_keys k JOIN people p ON p.id = k.person_id WHERE k.key = ANY($1::text[]) ORDER BY p.id FOR UPDATE OF p`
      : `SELECT ${PERSON_COLUMNS}, ${DOSES_OF_P} FROM people p WHERE p.id = ANY($1::uuid[]) ORDER BY p.id FOR UPDATE OF p`;
  return (await tx.query<LockedRow>(sql, [values])).rows;
}

function locked(row: LockedRow): LockedPerson {
  const { key: _key, doses, ...person } = row;
  return { ...person, doses: doses ?? [], created: false };
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
 * Finds the person of each entry (following merges) or creates them, and locks
 * the rows: the map is keyed by personKey. Entries naming the same person share
 * one row (the first entry creates it). Concurrent first doses of one new person
 * meet at the person_keys primary key: the loser waits for the winner's commit
 * and then finds the row. Three round trips at most in the common case: lock
 * the known, create the new, and (rarely) read what another transaction created.
 */
export async function findOrCreatePeople(tx: Queryable, inputs: readonly VaccinationInput['person'][]): Promise<Map<string, LockedPerson>> {
  const wanted = new Map<string, VaccinationInput['person']>();
  for (const input of inputs) {
    const key = personKey(input.identifier, input.birthDate, input.name);
    if (!wanted.has(key)) wanted.set(key, input);
  }
  const out = new Map<string, LockedPerson>();
  let missing = [...wanted.keys()];
  for (let round = 0; round < 2 && missing.length > 0; round++) {
    const rows = await lockPeople(tx, 'key', missing);
    const merged = new Map<string, string[]>(); // target id -> keys
    for (const row of rows) {
      const key = row.key as string;
      if (!row.merged_into) out.set(key, locked(row));
      else merged.set(row.merged_into, [...(merged.get(row.merged_into) ?? []), key]);
    }
    if (merged.size > 0) {
      for (const target of await lockPeople(tx, 'id', [...merged.keys()])) {
        for (const key of merged.get(target.id) ?? []) out.set(key, locked(target));
      }
      for (const keys of merged.values()) for (const key of keys) if (!out.has(key)) throw new Error(`person ${key} is merged into a person that does not exist`);
    }
    missing = missing.filter((k) => !out.has(k));
    if (missing.length === 0) break;
    const created = await createPeople(tx, missing.map((key) => ({ key, input: wanted.get(key) as VaccinationInput['person'] })));
    for (const [key, person] of created) out.set(key, person);
    // Keys another transaction created between our read and insert: read them again.
    missing = missing.filter((k) => !out.has(k));
  }
  if (missing.length > 0) throw new Error(`person ${missing[0]} could not be found or created`);
  return out;
}

/** Inserts new people (one statement); returns those this transaction created. */
async function createPeople(tx: Queryable, items: { key: string; input: VaccinationInput['person'] }[]): Promise<Map<string, LockedPerson>> {
  const rows = items.map(({ key, input }) => {
    const idv = input.identifier;
    const phone = phoneColumns(input.phone);
    const person: LockedPerson = {
      id: randomUUID(),
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
    return { key, person, raw: phone.raw };
  });
  // Keys in sorted order: two transactions creating overlapping sets wait, never deadlock.
  rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const r = await tx.query<{ key: string }>(
    `WITH n AS (
       SELECT * FROM json_to_recordset($1::json)
         AS n(key text, id uuid, id_type text, id_value text, id_country text, nik_new boolean, name text, birth_date date, sex text,
              phone text, phone_raw text, phone_status text, region_code text, name_norm text, name_key text, ord int)),
     k AS (INSERT INTO person_keys (key, person_id) SELECT key, id FROM n ORDER BY ord ON CONFLICT DO NOTHING RETURNING key, person_id),
     p AS (
       INSERT INTO people (id, id_type, id_value, id_country, nik_new, name, birth_date, sex, phone, phone_raw, phone_status, region_code,
                           name_norm, name_key)
       SELECT n.id, n.id_type, n.id_value, n.id_country, n.nik_new, n.name, n.birth_date, n.sex, n.phone, n.phone_raw, n.phone_status,
              n.region_code, n.name_norm, n.name_key
         FROM n JOIN k ON k.person_id = n.id)
     SELECT key FROM k`,
    [
      JSON.stringify(
        rows.map((x, ord) => ({
          ord,
          key: x.key,
          id: x.person.id,
          id_type: x.person.id_type,
          id_value: x.person.id_value,
          id_country: x.person.id_country,
          nik_new: x.person.nik_new,
          name: x.person.name,
          birth_date: x.person.birth_date,
          sex: x.person.sex,
          phone: x.person.phone,
          phone_raw: x.raw,
          phone_status: x.person.phone_status,
          region_code: x.person.region_code,
          name_norm: normalizeName(x.person.name),
          name_key: nameKey(x.person.name),
        })),
      ),
    ],
  );
  const mine = new Set(r.rows.map((x) => x.key));
  return new Map(rows.filter((x) => mine.has(x.key)).map((x) => [x.key, x.person]));
}

/** Finds or creates one person and locks the row (findOrCreatePeople with one entry). */
export async function findOrCreatePerson(tx: Queryable, input: VaccinationInput['person']): Promise<LockedPerson> {
  const people = await findOrCreatePeople(tx, [input]);
  const found = people.get(personKey(input.identifier, input.birthDate, input.name));
  if (!found) throw new Error('findOrCreatePeople returned no person');
  return found;
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
