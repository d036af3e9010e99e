/**
 * Record a dose: the one function every entry path uses (API, form, import,
 * FHIR, offline sync). In one transaction: validate → find or create the
 * person and lock the row → check the dose against earlier ones → insert the
 * vaccination → sign its certificate → insert the outbox job that will send
 * the SMS → commit. The answer carries the certificate: there is no queue
 * between a dose and its certificate.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { hashLinkToken, linkTokenFor } from '../access/links.ts';
import { AppError, invalid } from '../domain/errors.ts';
import type { FieldIssue } from '../domain/errors.ts';
import { doseRole, evaluateDose, nextDoseDue } from '../domain/doses.ts';
import { todayInJakarta, validateVaccinationInput, type VaccinationInput } from '../domain/vaccination-input.ts';
import { vaccineByCode } from '../domain/vaccines.ts';
import type { Issuer } from '../certificates/issuer.ts';
import { findOrCreatePerson, type LockedPerson, phoneColumns } from './people.ts';
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

  return deps.db.withTransaction(async (tx) => {
    if (req.idempotencyKey !== undefined && hash) {
      const replay = await claimIdempotencyKey(tx, facility.code, req.idempotencyKey, hash);
      if (replay) return { status: 200, body: replay };
    }
    const person = await findOrCreatePerson(tx, entry.person);
    const answer = await insertDose(tx, deps, req, entry, person, facility.code, now);
    if (req.idempotencyKey !== undefined) {
      await tx.query('UPDATE idempotency_keys SET status_code = 201, response = $3, person_id = $4 WHERE scope = $1 AND key = $2', [
        facility.code,
        req.idempotencyKey,
        JSON.stringify(answer),
        person.id,
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

function duplicateError(person: LockedPerson, existingId: string, doseNumber: number, date: string): AppError {
  return new AppError(
    'conflict',
    'dose_already_recorded',
    {
      en: `Dose ${doseNumber} of this person on ${date} is already recorded (vaccination ${existingId}).`,
      id: `Dosis ${doseNumber} orang ini pada ${date} sudah tercatat (vaksinasi ${existingId}).`,
    },
    { detail: { personId: person.id, vaccinationId: existingId } },
  );
}

async function insertDose(
  tx: Queryable,
  deps: RecordDeps,
  req: RecordRequest,
  entry: VaccinationInput,
  person: LockedPerson,
  facilityCode: string,
  now: Date,
): Promise<DoseAnswer> {
  const existing = person.doses.map((d) => ({ doseNumber: d.dose_number, date: d.date, vaccine: d.vaccine, status: d.status }));
  const evaluation = evaluateDose(existing, { doseNumber: entry.doseNumber, date: entry.date, vaccine: entry.vaccine });
  if (evaluation.outcome === 'duplicate') {
    const row = person.doses.find((d) => d.dose_number === entry.doseNumber);
    throw duplicateError(person, row?.id ?? '?', entry.doseNumber, entry.date);
  }
  if (evaluation.outcome === 'conflict') {
    const row = person.doses.find((d) => d.dose_number === evaluation.existing.doseNumber && d.date === evaluation.existing.date);
    throw new AppError('conflict', evaluation.reason, evaluation.message, {
      detail: { personId: person.id, vaccinationId: row?.id ?? null },
      fields: [{ path: 'doseNumber', code: evaluation.reason, message: evaluation.message }],
    });
  }
  const vaccine = vaccineByCode(entry.vaccine);
  const firstDose = person.doses.find((d) => d.dose_number === 1);
  const primary = firstDose ? vaccineByCode(firstDose.vaccine) : vaccine;
  const role = doseRole(vaccine, entry.doseNumber, entry.date, primary);
  const status = evaluation.outcome === 'claims_prior_dose' ? 'claims_prior_dose' : 'recorded';
  const vaccinationId = randomUUID();
  const cert = deps.issuer.issue({
    name: person.name,
    birthDate: person.birth_date,
    vaccine,
    dn: role.dn,
    sd: role.sd,
    date: entry.date,
    issuedAt: now,
  });
  const linkToken = linkTokenFor(deps.linkSecret, cert.id);

  // A new valid phone number replaces the one on record (audited); an empty or
  // unusable one never overwrites a good number.
  const phone = phoneColumns(entry.person.phone);
  const phoneChange = !person.created && phone.phone !== null && phone.phone !== person.phone;
  const phoneStatus = phoneChange ? 'ok' : person.phone_status;
  const currentPhone = phoneChange ? phone.phone : person.phone;
  const needsPhoneCase = currentPhone === null;
  const actor = req.principal.id;

  // All writes in one statement: one round trip on the hot path.
  await tx.query(
    `WITH vac AS (
       INSERT INTO vaccinations (person_id, id, dose_number, vaccine, date, lot, facility_code, status, source, import_id,
                                 recorded_by, recorded_at, idempotency_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)),
     cert AS (
       INSERT INTO certificates (person_id, id, vaccination_id, uvci, kid, qr, dn, sd, issued_at, expires_at, status)
       VALUES ($1, $14, $2, $15, $16, $17, $18, $19, $12, $20, 'valid')),
     uv AS (INSERT INTO certificate_uvcis (uvci, person_id, certificate_id) VALUES ($15, $1, $14)),
     link AS (INSERT INTO link_tokens (token_hash, person_id, certificate_id) VALUES ($21, $1, $14)),
     job AS (
       INSERT INTO jobs (kind, payload, dedupe_key, person_id)
       VALUES ('notify', json_build_object('personId', $1::uuid, 'certificateId', $14::uuid)::jsonb, 'notify:' || $14, $1)),
     claim AS (
       INSERT INTO cases (person_id, id, kind, facility_code, region_code, subject_id, detail)
       SELECT $1, gen_random_uuid(), 'claims_prior_dose', $7, $22, $2, $23::jsonb WHERE $23::jsonb IS NOT NULL),
     phonecase AS (
       INSERT INTO cases (person_id, id, kind, facility_code, region_code, subject_id, detail)
       SELECT $1, gen_random_uuid(), 'invalid_phone', $7, $22, $2, $24::jsonb
       WHERE $24::jsonb IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM cases WHERE person_id = $1 AND kind = 'invalid_phone' AND status = 'open')),
     ph AS (
       UPDATE people SET phone = $25, phone_status = $26, updated_at = $12 WHERE id = $1 AND $27::boolean),
     au AS (
       INSERT INTO audit_log (at, actor, action, subject, person_id, detail)
       SELECT $12, $11::text, 'phone_changed', $2::text, $1, json_build_object('from', $28::text, 'to', $25::text)::jsonb WHERE $27::boolean)
     SELECT 1`,
    [
      person.id, // 1
      vaccinationId,
      entry.doseNumber,
      entry.vaccine,
      entry.date, // 5
      entry.lot,
      facilityCode,
      status,
      req.source,
      req.importId ?? null, // 10
      actor,
      now,
      req.idempotencyKey ?? null,
      cert.id,
      cert.uvci, // 15
      cert.kid,
      cert.qr,
      role.dn,
      role.sd,
      cert.expiresAt, // 20
      hashLinkToken(linkToken),
      person.region_code,
      evaluation.outcome === 'claims_prior_dose' ? JSON.stringify({ missing: evaluation.missing, doseNumber: entry.doseNumber }) : null,
      needsPhoneCase ? JSON.stringify({ phoneStatus: phone.status, raw: phone.raw, issue: phoneIssueOf(entry) }) : null,
      currentPhone, // 25
      phoneStatus,
      phoneChange,
      person.phone,
    ],
  );

  const next = nextDoseDue({ doseNumber: entry.doseNumber, date: entry.date, vaccine, primary });
  const idv = entry.person.identifier;
  return {
    vaccination: {
      id: vaccinationId,
      status,
      doseNumber: entry.doseNumber,
      vaccine: entry.vaccine,
      date: entry.date,
      lot: entry.lot,
      facility: facilityCode,
      recordedAt: now.toISOString(),
      role: role.role,
      ...(evaluation.outcome === 'claims_prior_dose' ? { missingPriorDoses: evaluation.missing } : {}),
    },
    person: {
      id: person.id,
      identifier: { type: idv.type, value: idv.value, ...(idv.type === 'passport' ? { country: idv.country } : {}) },
      name: person.name,
      birthDate: person.birth_date,
      sex: person.sex,
      phone: currentPhone,
      phoneStatus,
      created: person.created,
    },
    certificate: {
      id: cert.id,
      uvci: cert.uvci,
      qr: cert.qr,
      link: `${deps.publicUrl}/c/${linkToken}`,
      kid: cert.kid,
      dn: role.dn,
      sd: role.sd,
      issuedAt: cert.issuedAt.toISOString(),
      expiresAt: cert.expiresAt.toISOString(),
    },
    nextDose: next,
    warnings: [...evaluation.warnings, ...phoneWarnings(entry)],
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
