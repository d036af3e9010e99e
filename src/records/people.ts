/**
 * People: found by their identifier key, created once by the first dose that
 * names them. Reads take no lock: every write to a person is guarded by the
 * `version` read with it (record-dose.ts), so two doses of one person never
 * race — the later writer finds the version moved, reads again and re-judges.
 */
import { randomUUID } from 'node:crypto';
import { Coalescer, isClient, type Db, type Queryable } from '../db/client.ts';
import { nameKey, normalizeName } from '../domain/names.ts';
import { nikRegionCode } from '../domain/nik.ts';
import type { PersonIdentifier, Sex } from '../domain/types.ts';
import type { VaccinationInput } from '../domain/vaccination-input.ts';

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
  /** Bumped by every change to the person or their doses (migration 008): the guard of optimistic writes. */
  version: number;
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
  /** Where it was given: a facility sees a person it gave a dose to (access/scope.ts). */
  facility_code: string;
  /** Recorded under a name that did not match the record, and not yet confirmed (migration 020): gives no scope. */
  held: boolean;
}

/** A person as read (or about to be created), with their live doses in dose-number order. */
export type KnownPerson = PersonRow & { doses: DoseRow[] };

const PERSON_COLUMNS =
  'p.id, p.id_type, p.id_value, p.id_country, p.nik_new, p.name, p.birth_date, p.sex, p.phone, p.phone_status, p.region_code, p.merged_into, p.version';
const DOSES_OF_P = `(SELECT json_agg(json_build_object('id', v.id, 'dose_number', v.dose_number, 'vaccine', v.vaccine, 'date', v.date,
                                      'status', v.status, 'import_id', v.import_id, 'import_line', v.import_line,
                                      'facility_code', v.facility_code, 'held', v.identity_held) ORDER BY v.dose_number)
          FROM vaccinations v WHERE v.person_id = p.id AND v.status <> 'void') AS doses`;

type PersonReadRow = PersonRow & { doses: DoseRow[] | null };
type ReadRow = Partial<PersonReadRow> & { key: string | null; answers?: { scope: string; key: string; hash: string; response: string | null }[] };

// Plans: these statements are prepared once per connection and run their generic plan, which must
// not depend on how many keys come: each key is looked up on its own through the unique index
// (LATERAL … OFFSET 0 keeps the planner from turning the lookups into a join it would size for a
// hundred rows). JSON parameters, not arrays: the planner reads the length of an array parameter
// and would then plan every call anew.
export const PEOPLE_BY_KEY = `SELECT x.* FROM json_array_elements_text($1::json) AS u(key),
       LATERAL (SELECT k.key, ${PERSON_COLUMNS}, ${DOSES_OF_P}
                  FROM person_keys k JOIN people p ON p.id = k.person_id WHERE k.key = u.key OFFSET 0) x`;
const READ_PEOPLE = PEOPLE_BY_KEY;
export const READ_PEOPLE_AND_ANSWERS = `WITH ik AS (
       SELECT coalesce(json_agg(json_build_object('scope', i.scope, 'key', i.key, 'hash', encode(i.request_hash, 'hex'), 'response', i.response)), '[]') AS answers
         FROM json_to_recordset($2::json) AS w(scope text, key text),
              LATERAL (SELECT i.scope, i.key, i.request_hash, i.response FROM idempotency_keys i WHERE i.scope = w.scope AND i.key = w.key OFFSET 0) i)
     SELECT ik.answers, x.* FROM ik LEFT JOIN (${PEOPLE_BY_KEY}) x ON true`;
const PEOPLE_BY_ID = `SELECT ${PERSON_COLUMNS}, ${DOSES_OF_P} FROM people p WHERE p.id = ANY ($1::uuid[])`;

function known(row: PersonReadRow): KnownPerson {
  return {
    id: row.id,
    id_type: row.id_type,
    id_value: row.id_value,
    id_country: row.id_country,
    nik_new: row.nik_new,
    name: row.name,
    birth_date: row.birth_date,
    sex: row.sex,
    phone: row.phone,
    phone_status: row.phone_status,
    region_code: row.region_code,
    merged_into: row.merged_into,
    version: row.version,
    doses: row.doses ?? [],
  };
}

/** The answer stored for an Idempotency-Key, as read with the people (see readPeople). */
export interface StoredAnswer {
  scope: string;
  key: string;
  requestHash: Buffer;
  /** The first answer, as the JSON text sent. */
  response: string | null;
}

/** A merge chain longer than this is a broken record, not a history. */
const MAX_MERGE_DEPTH = 8;

/**
 * Reads the people of some identifier keys with their live doses and their
 * version, without a lock and outside any transaction: a write is guarded by
 * the version read here (record-dose.ts), so a person changed in between is
 * simply read again. A merged record is followed to the one it was merged
 * into. The answers stored for `idempotency` keys come back in the same round
 * trip: a repeated request is answered without evaluating or signing anything.
 */
export async function readPeople(
  q: Queryable,
  keys: readonly string[],
  idempotency: readonly { scope: string; key: string }[] = [],
): Promise<{ people: Map<string, KnownPerson>; answers: StoredAnswer[] }> {
  const found = isClient(q) ? await readQueue(q).submit({ keys, idempotency }) : await fetchPeople(q, [{ keys, idempotency }]);
  const answers = found.answers.map((a) => ({ scope: a.scope, key: a.key, requestHash: Buffer.from(a.hash, 'hex'), response: a.response }));
  const people = new Map<string, KnownPerson>();
  const mine = new Set(keys);
  let merged = new Map<string, string[]>(); // merged into (id) -> keys
  for (const row of found.rows) {
    if (row.key === null || row.key === undefined || !mine.has(row.key)) continue;
    const p = row as PersonReadRow & { key: string };
    if (p.merged_into) merged.set(p.merged_into, [...(merged.get(p.merged_into) ?? []), p.key]);
    else people.set(p.key, known(p));
  }
  for (let depth = 0; merged.size > 0; depth++) {
    if (depth >= MAX_MERGE_DEPTH) throw new Error(`merge chain longer than ${MAX_MERGE_DEPTH} from ${[...merged.values()][0]?.[0]}`);
    const targets = await q.query<PersonReadRow>(PEOPLE_BY_ID, [[...merged.keys()]]);
    const next = new Map<string, string[]>();
    for (const t of targets.rows) {
      const ks = merged.get(t.id) ?? [];
      merged.delete(t.id);
      if (t.merged_into) next.set(t.merged_into, [...(next.get(t.merged_into) ?? []), ...ks]);
      else for (const k of ks) people.set(k, known(t));
    }
    const lost = [...merged.values()][0];
    if (lost) throw new Error(`person ${lost[0]} is merged into a person that does not exist`);
    merged = next;
  }
  return { people, answers };
}

interface PeopleQuery {
  keys: readonly string[];
  idempotency: readonly { scope: string; key: string }[];
}

interface PeopleFound {
  rows: ReadRow[];
  answers: { scope: string; key: string; hash: string; response: string | null }[];
}

/** One statement for the keys and idempotency keys of several reads. */
async function fetchPeople(q: Queryable, queries: readonly PeopleQuery[]): Promise<PeopleFound> {
  const keys = [...new Set(queries.flatMap((x) => x.keys))];
  const idempotency = queries.flatMap((x) => x.idempotency);
  const r =
    idempotency.length === 0
      ? await q.query<ReadRow>(READ_PEOPLE, [JSON.stringify(keys)])
      : await q.query<ReadRow>(READ_PEOPLE_AND_ANSWERS, [JSON.stringify(keys), JSON.stringify(idempotency)]);
  return { rows: r.rows, answers: r.rows[0]?.answers ?? [] };
}

/** Reads in flight at once on one database; the reads of other calls wait and go together (Coalescer). */
const READS_IN_FLIGHT = 1;
/** A read running longer than this no longer holds up the next. */
const READ_STALL_MS = 50;
/** The most keys one merged read looks up. */
const MAX_MERGED_KEYS = 512;
const readQueues = new WeakMap<Db, Coalescer<PeopleQuery, PeopleFound>>();

/**
 * Reads of concurrent calls on the client go together, like their writes
 * (record-dose.ts): one statement answers them all, and each call looks only
 * at its own keys.
 */
function readQueue(db: Db): Coalescer<PeopleQuery, PeopleFound> {
  let queue = readQueues.get(db);
  if (!queue) {
    queue = new Coalescer<PeopleQuery, PeopleFound>(
      { limit: READS_IN_FLIGHT, stallMs: READ_STALL_MS },
      async (batch) => {
        const found = await fetchPeople(db, batch);
        return batch.map(() => found);
      },
      (batch, next) => batch.reduce((n, x) => n + x.keys.length, 0) + next.keys.length <= MAX_MERGED_KEYS,
    );
    readQueues.set(db, queue);
  }
  return queue;
}

/** A person about to be created by the entry that first names them: the row to insert. */
export interface NewPerson {
  key: string;
  person: KnownPerson;
  phoneRaw: string | null;
  nameNorm: string;
  nameKey: string;
}

/** The row of a person not on record yet (its id is chosen here; the write creates it). */
export function newPerson(key: string, input: VaccinationInput['person']): NewPerson {
  const idv = input.identifier;
  const phone = phoneColumns(input.phone);
  return {
    key,
    person: {
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
      version: 0,
      doses: [],
    },
    phoneRaw: phone.raw,
    nameNorm: normalizeName(input.name),
    nameKey: nameKey(input.name),
  };
}

/** The phone columns for a new entry: what to store and its status. */
export function phoneColumns(phone: VaccinationInput['person']['phone']): { phone: string | null; raw: string | null; status: PersonRow['phone_status'] } {
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
