/**
 * Record a dose: the one function every entry path uses (API, form, import,
 * FHIR, offline sync). In one transaction: validate → find or create the
 * person and lock the row → check the dose against earlier ones → insert the
 * vaccination → sign its certificate → insert the outbox job that will send
 * the SMS → commit. The answer carries the certificate: there is no queue
 * between a dose and its certificate.
 *
 * `recordEntries` does the part inside the transaction for N validated
 * entries at once (a bulk import records hundreds per transaction); a single
 * entry is N = 1 of the same code and the same SQL, so an imported row and a
 * typed one are judged and written identically.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { hashLinkToken, linkTokenFor } from '../access/links.ts';
import { AppError, invalid } from '../domain/errors.ts';
import type { FieldIssue } from '../domain/errors.ts';
import { doseRole, evaluateDose, nextDoseDue, type DoseRole } from '../domain/doses.ts';
import { todayInJakarta, validateVaccinationInput, type VaccinationInput } from '../domain/vaccination-input.ts';
import { vaccineByCode, type Vaccine } from '../domain/vaccines.ts';
import type { IssueInput, IssuedCertificate, Issuer } from '../certificates/issuer.ts';
import { findOrCreatePeople, type LockedPerson, personKey, phoneColumns } from './people.ts';
import { facilityForEntry } from './facilities.ts';

export type EntrySource = 'api' | 'import' | 'form' | 'fhir' | 'offline';

export interface RecordDeps {
  db: Db;
  issuer: Issuer;
  linkSecret: Buffer;
  publicUrl: string;
  now?: () => Date;
}

export interface RecordRequest {
  principal: Principal;
  body: unknown;
  idempotencyKey?: string | undefined;
  source: EntrySource;
  importId?: string;
  /** Bulk imports record a dose even when the phone is unusable (it goes on the work list). */
  invalidPhone?: 'reject' | 'flag';
}

/** The answer of a recorded dose (the API's JSON body). */
export interface DoseAnswer {
  vaccination: {
    id: string;
    status: 'recorded' | 'claims_prior_dose';
    doseNumber: number;
    vaccine: string;
    date: string;
    lot: string | null;
    facility: string;
    recordedAt: string;
    role: 'primary' | 'booster';
    missingPriorDoses?: number[];
  };
  person: {
    id: string;
    identifier: { type: string; value: string; country?: string };
    name: string;
    birthDate: string;
    sex: string | null;
    phone: string | null;
    phoneStatus: string;
    created: boolean;
  };
  certificate: {
    id: string;
    uvci: string;
    qr: string;
    link: string;
    kid: string;
    dn: number;
    sd: number;
    issuedAt: string;
    expiresAt: string;
  };
  nextDose: { doseNumber: number; due: string; role: string } | null;
  warnings: { path: string; code: string; message: { en: string; id: string } }[];
}

export interface RecordResult {
  status: 200 | 201;
  body: DoseAnswer;
}

const MAX_IDEMPOTENCY_KEY = 200;

/** Validates a request body into an entry, or throws a 422 naming every bad field. */
export function validateEntry(body: unknown, today: string, invalidPhone: 'reject' | 'flag' = 'reject'): VaccinationInput {
  const v = validateVaccinationInput(body, { today, invalidPhone });
  if (!v.ok) throw invalid(v.issues);
  return v.value;
}

function requestHash(body: unknown): Buffer {
  return createHash('sha256').update(JSON.stringify(body)).digest();
}

/** Records one dose; see the module comment. */
export async function recordDose(deps: RecordDeps, req: RecordRequest): Promise<RecordResult> {
  const now = (deps.now ?? (() => new Date()))();
  const entry = validateEntry(req.body, todayInJakarta(now), req.invalidPhone);
  if (req.idempotencyKey !== undefined && (req.idempotencyKey.length === 0 || req.idempotencyKey.length > MAX_IDEMPOTENCY_KEY)) {
    throw new AppError('bad_request', 'bad_idempotency_key', {
      en: `Idempotency-Key must have 1 to ${MAX_IDEMPOTENCY_KEY} characters.`,
      id: `Idempotency-Key harus 1 sampai ${MAX_IDEMPOTENCY_KEY} karakter.`,
    });
  }
  const facility = await facilityForEntry(deps.db, req.principal, entry.facility);
  await deps.issuer.ready();
  const hash = req.idempotencyKey === undefined ? undefined : requestHash(req.body);
  const ctx: EntryContext = {
    principal: req.principal,
    source: req.source,
    now,
    ...(req.importId === undefined ? {} : { importId: req.importId }),
  };

  return deps.db.withTransaction(async (tx) => {
    if (req.idempotencyKey !== undefined && hash) {
      const replay = await claimIdempotencyKey(tx, facility.code, req.idempotencyKey, hash);
      if (replay) return { status: 200, body: replay };
    }
    const [outcome] = await recordEntries(tx, deps, ctx, [
      { entry, facilityCode: facility.code, ...(req.idempotencyKey === undefined ? {} : { idempotencyKey: req.idempotencyKey }) },
    ]);
    if (!outcome) throw new Error('recordEntries returned no outcome');
    if (outcome.kind !== 'recorded') throw outcome.error;
    const answer = outcome.answer;
    if (req.idempotencyKey !== undefined) {
      await tx.query('UPDATE idempotency_keys SET status_code = 201, response = $3, person_id = $4 WHERE scope = $1 AND key = $2', [
        facility.code,
        req.idempotencyKey,
        JSON.stringify(answer),
        answer.person.id,
      ]);
    }
    return { status: 201, body: answer };
  });
}

/**
 * Claims an idempotency key for this transaction, or returns the answer stored
 * for it. A concurrent request with the same key waits at the primary key until
 * the first commits (then replays it) or rolls back (then proceeds itself).
 */
async function claimIdempotencyKey(tx: Queryable, scope: string, key: string, hash: Buffer): Promise<DoseAnswer | undefined> {
  const claimed = await tx.query(
    'INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1',
    [scope, key, hash],
  );
  if (claimed.rowCount === 1) return undefined;
  const r = await tx.query<{ request_hash: Uint8Array; response: DoseAnswer | null }>(
    'SELECT request_hash, response FROM idempotency_keys WHERE scope = $1 AND key = $2',
    [scope, key],
  );
  const row = r.rows[0];
  if (!row || !row.response) throw new Error('idempotency key claimed but holds no answer');
  if (!Buffer.from(row.request_hash).equals(hash)) {
    throw new AppError('conflict', 'idempotency_key_reused', {
      en: 'This Idempotency-Key was already used for a different request; use a new key for a new dose.',
      id: 'Idempotency-Key ini sudah dipakai untuk permintaan lain; gunakan kunci baru untuk dosis baru.',
    });
  }
  return row.response;
}

function duplicateError(personId: string, existingId: string, doseNumber: number, date: string): AppError {
  return new AppError(
    'conflict',
    'dose_already_recorded',
    {
      en: `Dose ${doseNumber} of this person on ${date} is already recorded (vaccination ${existingId}).`,
      id: `Dosis ${doseNumber} orang ini pada ${date} sudah tercatat (vaksinasi ${existingId}).`,
    },
    { detail: { personId, vaccinationId: existingId } },
  );
}

/** Who records, from where, and when: the same for every entry of one call. */
export interface EntryContext {
  principal: Principal;
  source: EntrySource;
  now: Date;
  importId?: string;
  /**
   * Signs the certificates of the entries being recorded; by default the
   * issuer in this thread. Imports sign on worker threads so the event loop
   * that serves single entries is never busy with a batch.
   */
  sign?: (inputs: IssueInput[]) => Promise<SignedCertificate[]>;
  /** Called once every person of the call is locked (an import then starts its next batch). */
  onLocked?: () => void;
}

/** A signed certificate, with its SMS link token when the signer made it too (linkTokenFor). */
export type SignedCertificate = IssuedCertificate & { linkToken?: string };

/** One validated entry, with the facility it was checked against (facilityForEntry). */
export interface PreparedEntry {
  entry: VaccinationInput;
  facilityCode: string;
  idempotencyKey?: string;
  /** The line of the import file the entry came from. */
  importLine?: number;
}

/** What became of one entry. Duplicates and conflicts are answers, not failures: the other entries go on. */
export type EntryOutcome =
  | { kind: 'recorded'; answer: DoseAnswer }
  | {
      kind: 'duplicate';
      /** 409 dose_already_recorded, as a single entry would answer. */
      error: AppError;
      existing: { vaccinationId: string; importId: string | null; importLine: number | null };
    }
  | { kind: 'conflict'; error: AppError };

/** A dose that passed the rules and is about to be written. */
interface Planned {
  index: number;
  prepared: PreparedEntry;
  person: LockedPerson;
  created: boolean;
  vaccinationId: string;
  status: 'recorded' | 'claims_prior_dose';
  role: DoseRole;
  /** The product that started the person's series (for the next dose due). */
  primary: Vaccine;
  missing: number[] | null;
  warnings: FieldIssue[];
  currentPhone: string | null;
  phoneStatus: LockedPerson['phone_status'];
  phoneCase: Record<string, unknown> | null;
  issue: IssueInput;
}

/**
 * Records validated entries inside the caller's transaction: locks (or
 * creates) their people, checks each dose against the person's doses —
 * including those recorded earlier in the same call, in entry order — signs a
 * certificate per accepted dose, and writes every row in one statement.
 * Returns one outcome per entry, in order.
 */
export async function recordEntries(tx: Queryable, deps: RecordDeps, ctx: EntryContext, entries: readonly PreparedEntry[]): Promise<EntryOutcome[]> {
  const people = await findOrCreatePeople(
    tx,
    entries.map((e) => e.entry.person),
  );
  ctx.onLocked?.();
  // A person's state as the entries of this call change it (doses added, phone replaced).
  const state = new Map<string, { person: LockedPerson; created: boolean; phoneCaseQueued: boolean }>();
  const outcomes: (EntryOutcome | undefined)[] = [];
  const planned: Planned[] = [];
  const phoneUpdates = new Map<string, { phone: string | null; status: LockedPerson['phone_status'] }>();
  const audits: { personId: string; subject: string; from: string | null; to: string | null }[] = [];

  for (const [index, prepared] of entries.entries()) {
    const { entry } = prepared;
    const key = personKey(entry.person.identifier, entry.person.birthDate, entry.person.name);
    const found = people.get(key);
    if (!found) throw new Error(`no person for ${key}`);
    let st = state.get(found.id);
    if (!st) {
      st = { person: { ...found, doses: [...found.doses] }, created: found.created, phoneCaseQueued: false };
      state.set(found.id, st);
    }
    const person = st.person;
    const existing = person.doses.map((d) => ({ doseNumber: d.dose_number, date: d.date, vaccine: d.vaccine, status: d.status }));
    const evaluation = evaluateDose(existing, { doseNumber: entry.doseNumber, date: entry.date, vaccine: entry.vaccine });
    if (evaluation.outcome === 'duplicate') {
      const row = person.doses.find((d) => d.dose_number === entry.doseNumber && d.date === entry.date);
      outcomes[index] = {
        kind: 'duplicate',
        error: duplicateError(person.id, row?.id ?? '?', entry.doseNumber, entry.date),
        existing: { vaccinationId: row?.id ?? '?', importId: row?.import_id ?? null, importLine: row?.import_line ?? null },
      };
      continue;
    }
    if (evaluation.outcome === 'conflict') {
      const row = person.doses.find((d) => d.dose_number === evaluation.existing.doseNumber && d.date === evaluation.existing.date);
      outcomes[index] = {
        kind: 'conflict',
        error: new AppError('conflict', evaluation.reason, evaluation.message, {
          detail: { personId: person.id, vaccinationId: row?.id ?? null },
          fields: [{ path: 'doseNumber', code: evaluation.reason, message: evaluation.message }],
        }),
      };
      continue;
    }
    const vaccine = vaccineByCode(entry.vaccine);
    const firstDose = person.doses.find((d) => d.dose_number === 1);
    const primary = firstDose ? vaccineByCode(firstDose.vaccine) : vaccine;
    const role = doseRole(vaccine, entry.doseNumber, entry.date, primary);
    const status = evaluation.outcome === 'claims_prior_dose' ? 'claims_prior_dose' : 'recorded';
    const vaccinationId = randomUUID();

    // A new valid phone number replaces the one on record (audited); an empty or
    // unusable one never overwrites a good number.
    const phone = phoneColumns(entry.person.phone);
    const phoneChange = !st.created && phone.phone !== null && phone.phone !== person.phone;
    const phoneStatus = phoneChange ? 'ok' : person.phone_status;
    const currentPhone = phoneChange ? phone.phone : person.phone;
    // One open work-list case per person: the SQL skips people who have one, this skips a second entry of the same call.
    const phoneCase =
      currentPhone === null && !st.phoneCaseQueued ? { phoneStatus: phone.status, raw: phone.raw, issue: phoneIssueOf(entry) } : null;
    if (phoneCase) st.phoneCaseQueued = true;
    if (phoneChange) {
      audits.push({ personId: person.id, subject: vaccinationId, from: person.phone, to: currentPhone });
      phoneUpdates.set(person.id, { phone: currentPhone, status: phoneStatus });
    }

    planned.push({
      index,
      prepared,
      person: { ...person, doses: [], created: st.created },
      created: st.created,
      vaccinationId,
      status,
      role,
      primary,
      missing: evaluation.outcome === 'claims_prior_dose' ? evaluation.missing : null,
      warnings: evaluation.warnings,
      currentPhone,
      phoneStatus,
      phoneCase,
      issue: { name: person.name, birthDate: person.birth_date, vaccine, dn: role.dn, sd: role.sd, date: entry.date, issuedAt: ctx.now },
    });
    // Later entries of this call see this dose and this phone.
    person.doses.push({
      id: vaccinationId,
      dose_number: entry.doseNumber,
      vaccine: entry.vaccine,
      date: entry.date,
      status,
      import_id: ctx.importId ?? null,
      import_line: prepared.importLine ?? null,
    });
    person.doses.sort((a, b) => a.dose_number - b.dose_number);
    person.phone = currentPhone;
    person.phone_status = phoneStatus;
    st.created = false;
  }

  if (planned.length > 0) {
    const inputs = planned.map((p) => p.issue);
    const certs = ctx.sign ? await ctx.sign(inputs) : inputs.map((i) => deps.issuer.issue(i));
    if (certs.length !== planned.length) throw new Error(`signer returned ${certs.length} certificates for ${planned.length} doses`);
    const links = certs.map((c) => (c as SignedCertificate).linkToken ?? linkTokenFor(deps.linkSecret, c.id));
    await writeDoses(tx, ctx, planned, certs, links, phoneUpdates, audits);
    for (const [i, p] of planned.entries()) {
      outcomes[p.index] = { kind: 'recorded', answer: answerOf(deps, p, certs[i] as IssuedCertificate, links[i] as string) };
    }
  }
  return outcomes.map((o) => {
    if (!o) throw new Error('an entry has no outcome');
    return o;
  });
}

/** Writes the planned doses and everything that follows from them: one statement, one round trip. */
async function writeDoses(
  tx: Queryable,
  ctx: EntryContext,
  planned: Planned[],
  certs: IssuedCertificate[],
  links: string[],
  phoneUpdates: Map<string, { phone: string | null; status: string }>,
  audits: { personId: string; subject: string; from: string | null; to: string | null }[],
): Promise<void> {
  // One JSON parameter for the rows: serialising it is native and cheap, where
  // arrays of long strings (the signed QR texts) cost the driver more than the signing.
  const rows = planned.map((p, i) => {
    const c = certs[i] as IssuedCertificate;
    return {
      person_id: p.person.id,
      id: p.vaccinationId,
      dose_number: p.prepared.entry.doseNumber,
      vaccine: p.prepared.entry.vaccine,
      date: p.prepared.entry.date,
      lot: p.prepared.entry.lot,
      facility_code: p.prepared.facilityCode,
      status: p.status,
      import_line: p.prepared.importLine ?? null,
      idempotency_key: p.prepared.idempotencyKey ?? null,
      cert_id: c.id,
      uvci: c.uvci,
      kid: c.kid,
      qr: c.qr,
      dn: p.role.dn,
      sd: p.role.sd,
      expires_at: c.expiresAt.toISOString(),
      link_hash: hashLinkToken(links[i] as string).toString('hex'),
      region_code: p.person.region_code,
      claim: p.missing ? { missing: p.missing, doseNumber: p.prepared.entry.doseNumber } : null,
      phone_case: p.phoneCase,
    };
  });
  await tx.query(
    `WITH d AS (
       SELECT * FROM json_to_recordset($1::json)
         AS d(person_id uuid, id uuid, dose_number int, vaccine text, date date, lot text, facility_code text, status text, import_line int,
              idempotency_key text, cert_id uuid, uvci text, kid text, qr text, dn int, sd int, expires_at timestamptz,
              link_hash text, region_code text, claim jsonb, phone_case jsonb)),
     vac AS (
       INSERT INTO vaccinations (person_id, id, dose_number, vaccine, date, lot, facility_code, status, source, import_id, import_line,
                                 recorded_by, recorded_at, idempotency_key)
       SELECT person_id, id, dose_number, vaccine, date, lot, facility_code, status, $2, $3::uuid, import_line,
              $4::uuid, $5::timestamptz, idempotency_key FROM d),
     cert AS (
       INSERT INTO certificates (person_id, id, vaccination_id, uvci, kid, qr, dn, sd, issued_at, expires_at, status)
       SELECT person_id, cert_id, id, uvci, kid, qr, dn, sd, $5::timestamptz, expires_at, 'valid' FROM d),
     uv AS (INSERT INTO certificate_uvcis (uvci, person_id, certificate_id) SELECT uvci, person_id, cert_id FROM d),
     link AS (INSERT INTO link_tokens (token_hash, person_id, certificate_id) SELECT decode(link_hash, 'hex'), person_id, cert_id FROM d),
     job AS (
       INSERT INTO jobs (kind, payload, dedupe_key, person_id)
       SELECT 'notify', json_build_object('personId', person_id, 'certificateId', cert_id)::jsonb, 'notify:' || cert_id::text, person_id FROM d),
     claim AS (
       INSERT INTO cases (person_id, id, kind, facility_code, region_code, subject_id, detail)
       SELECT person_id, gen_random_uuid(), 'claims_prior_dose', facility_code, region_code, id, claim FROM d WHERE claim IS NOT NULL),
     phonecase AS (
       INSERT INTO cases (person_id, id, kind, facility_code, region_code, subject_id, detail)
       SELECT person_id, gen_random_uuid(), 'invalid_phone', facility_code, region_code, id, phone_case FROM d
        WHERE phone_case IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.person_id = d.person_id AND c.kind = 'invalid_phone' AND c.status = 'open')),
     ph AS (
       UPDATE people p SET phone = u.phone, phone_status = u.phone_status, updated_at = $5::timestamptz
         FROM json_to_recordset($6::json) AS u(id uuid, phone text, phone_status text) WHERE p.id = u.id),
     au AS (
       INSERT INTO audit_log (at, actor, action, subject, person_id, detail)
       SELECT $5::timestamptz, $4::text, 'phone_changed', a.subject, a.person_id, json_build_object('from', a.from_phone, 'to', a.to_phone)::jsonb
         FROM json_to_recordset($7::json) AS a(person_id uuid, subject text, from_phone text, to_phone text))
     SELECT 1`,
    [
      JSON.stringify(rows),
      ctx.source,
      ctx.importId ?? null,
      ctx.principal.id,
      ctx.now,
      JSON.stringify([...phoneUpdates].map(([id, u]) => ({ id, phone: u.phone, phone_status: u.status }))),
      JSON.stringify(audits.map((a) => ({ person_id: a.personId, subject: a.subject, from_phone: a.from, to_phone: a.to }))),
    ],
  );
}

function answerOf(deps: RecordDeps, p: Planned, cert: IssuedCertificate, linkToken: string): DoseAnswer {
  const entry = p.prepared.entry;
  const next = nextDoseDue({ doseNumber: entry.doseNumber, date: entry.date, vaccine: vaccineByCode(entry.vaccine), primary: p.primary });
  const idv = entry.person.identifier;
  return {
    vaccination: {
      id: p.vaccinationId,
      status: p.status,
      doseNumber: entry.doseNumber,
      vaccine: entry.vaccine,
      date: entry.date,
      lot: entry.lot,
      facility: p.prepared.facilityCode,
      recordedAt: cert.issuedAt.toISOString(),
      role: p.role.role,
      ...(p.missing ? { missingPriorDoses: p.missing } : {}),
    },
    person: {
      id: p.person.id,
      identifier: { type: idv.type, value: idv.value, ...(idv.type === 'passport' ? { country: idv.country } : {}) },
      name: p.person.name,
      birthDate: p.person.birth_date,
      sex: p.person.sex,
      phone: p.currentPhone,
      phoneStatus: p.phoneStatus,
      created: p.created,
    },
    certificate: {
      id: cert.id,
      uvci: cert.uvci,
      qr: cert.qr,
      link: `${deps.publicUrl}/c/${linkToken}`,
      kid: cert.kid,
      dn: p.role.dn,
      sd: p.role.sd,
      issuedAt: cert.issuedAt.toISOString(),
      expiresAt: cert.expiresAt.toISOString(),
    },
    nextDose: next,
    warnings: [...p.warnings, ...phoneWarnings(entry)],
  };
}

function phoneIssueOf(entry: VaccinationInput): FieldIssue | null {
  return entry.person.phone.status === 'invalid' ? entry.person.phone.issue : null;
}

function phoneWarnings(entry: VaccinationInput): FieldIssue[] {
  const p = entry.person.phone;
  if (p.status === 'missing')
    return [
      {
        path: 'person.phone',
        code: 'phone_missing',
        message: {
          en: 'No phone number: the dose is recorded, but no SMS can be sent; the person is on the work list.',
          id: 'Tidak ada nomor HP: dosis tercatat, tetapi SMS tidak dapat dikirim; orang ini masuk daftar kerja.',
        },
      },
    ];
  if (p.status === 'invalid') return [p.issue];
  return [];
}
