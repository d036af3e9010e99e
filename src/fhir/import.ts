/**
 * `POST /api/v1/fhir/Bundle`: Immunization resources (with their Patient)
 * recorded through the same path as a single entry: each Immunization becomes
 * the body of `POST /api/v1/vaccinations`, checked by the one validator
 * (records/record-dose validateEntry), and recorded by records/record-dose.
 *
 * - `transaction`: all or nothing (FHIR R4 §3.1.0.11.2). Every entry is mapped
 *   and validated first — any problem is one 422 naming every field of every
 *   entry, nothing written — then all doses are recorded in one database
 *   transaction (recordEntries); a duplicate or conflicting dose rolls the
 *   whole bundle back with 409.
 * - `batch`: each Immunization on its own (recordDose), each with its own
 *   answer; one with an `identifier` is idempotent (its identifier is the
 *   Idempotency-Key), so a batch can be re-sent after a timeout.
 *
 * The patient of an Immunization is a Patient entry of the bundle
 * (`patient.reference` = that entry's fullUrl) or a contained one (`#id`).
 */
import type { Bundle, BundleEntry, Immunization, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type { Principal } from '../access/tokens.ts';
import { AppError, invalid, issue, type FieldIssue } from '../domain/errors.ts';
import { todayInJakarta } from '../domain/dates.ts';
import { vaccineForCoding } from '../domain/vaccine-codes.ts';
import { findVaccine } from '../domain/vaccines.ts';
import { facilityForEntry } from '../records/facilities.ts';
import { recordDose, recordEntries, validateEntry, type PreparedEntry, type RecordDeps } from '../records/record-dose.ts';
import { MOTHER_NIK_SYSTEM, NIK_SYSTEM, PASSPORT_SYSTEM, dosisSystems } from './satusehat.ts';

const MAX_ENTRIES = 500;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The Indonesian calendar date of a FHIR date or dateTime (UTC+7, no daylight saving). */
export function jakartaDate(value: string): string | undefined {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const m = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  if (!m) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : todayInJakarta(new Date(t));
}

function patientName(p: Patient): string | undefined {
  const n = p.name?.[0];
  if (!n) return undefined;
  if (n.text) return n.text;
  const parts = [...(n.given ?? []), n.family ?? ''].filter((s) => s.trim() !== '');
  return parts.length > 0 ? parts.join(' ') : undefined;
}

/** The `POST /api/v1/vaccinations` body an Immunization and its Patient stand for. */
export function doseBodyOf(imm: Immunization, patient: Patient | undefined, at: string, base: string): { body: Record<string, unknown>; issues: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  const person: Record<string, unknown> = {};
  if (!patient) {
    issues.push(issue(`${at}.patient`, 'patient_missing', 'The patient must be a Patient entry of the bundle or a contained Patient.', 'Pasien harus berupa entri Patient dalam bundle atau Patient yang dimuat (contained).'));
  } else {
    const ids = patient.identifier ?? [];
    const nik = ids.find((i) => i.system === NIK_SYSTEM)?.value;
    const mother = ids.find((i) => i.system === MOTHER_NIK_SYSTEM)?.value;
    const passport = ids.find((i) => i.system === PASSPORT_SYSTEM);
    if (nik) person.nik = nik;
    else if (mother) person.identifier = { type: 'mother-nik', value: mother };
    else if (passport?.value) person.identifier = { type: 'passport', value: passport.value, country: passport.assigner?.display ?? passport.assigner?.identifier?.value };
    const name = patientName(patient);
    if (name) person.name = name;
    if (patient.birthDate) person.birthDate = patient.birthDate;
    if (patient.gender === 'male') person.sex = 'M';
    else if (patient.gender === 'female') person.sex = 'F';
    else if (patient.gender) person.sex = patient.gender;
    const phone = patient.telecom?.find((t) => t.system === 'phone' || t.system === 'sms')?.value;
    if (phone) person.phone = phone;
  }
  if (imm.status !== 'completed') {
    issues.push(issue(`${at}.status`, 'immunization_not_completed', `Only completed immunizations are recorded (status is ${String(imm.status)}).`, `Hanya imunisasi yang selesai yang dicatat (status ${String(imm.status)}).`));
  }
  const codings = imm.vaccineCode?.coding ?? [];
  const dosis = dosisSystems(base).vaccine;
  let vaccine: string | undefined = codings.find((c) => c.system === dosis)?.code;
  for (const c of codings) {
    if (vaccine) break;
    if (c.system && c.code) vaccine = vaccineForCoding(c.system, c.code);
  }
  vaccine ??= imm.vaccineCode?.text ?? codings.map((c) => c.display).find((d) => d && findVaccine(d));
  const protocol = imm.protocolApplied?.[0];
  const doseNumber = protocol?.doseNumberPositiveInt ?? (protocol?.doseNumberString && /^\d+$/.test(protocol.doseNumberString) ? Number(protocol.doseNumberString) : undefined);
  let date: string | undefined;
  if (imm.occurrenceDateTime) {
    date = jakartaDate(imm.occurrenceDateTime);
    if (!date) issues.push(issue(`${at}.occurrenceDateTime`, 'date_format', 'occurrenceDateTime must be a date or a dateTime with a time zone.', 'occurrenceDateTime harus tanggal atau dateTime dengan zona waktu.'));
  }
  const facility = imm.performer?.map((p) => p.actor?.identifier?.value).find((v) => v);
  const body: Record<string, unknown> = {
    person,
    ...(vaccine ? { vaccine } : {}),
    ...(doseNumber !== undefined ? { doseNumber } : {}),
    ...(date ? { date } : {}),
    ...(imm.lotNumber ? { lot: imm.lotNumber } : {}),
    ...(facility ? { facility } : {}),
  };
  return { body, issues };
}

interface Mapped {
  index: number;
  body: Record<string, unknown>;
  idempotencyKey?: string;
}

function outcome(e: AppError, lang: 'en' | 'id' = 'en'): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'error',
        code: e.kind === 'conflict' ? 'conflict' : e.kind === 'forbidden' ? 'forbidden' : 'invalid',
        details: { text: e.text[lang], coding: [{ code: e.code }] },
        ...(e.fields.length ? { expression: e.fields.map((f) => f.path) } : {}),
      },
    ],
  };
}

function statusLine(code: number): string {
  const text: Record<number, string> = { 200: 'OK', 201: 'Created', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 422: 'Unprocessable Entity' };
  return `${code} ${text[code] ?? ''}`.trim();
}

/** Imports a transaction or batch Bundle; returns the transaction-response / batch-response Bundle. */
export async function importBundle(deps: RecordDeps, who: Principal, input: unknown): Promise<Bundle> {
  if (!isObject(input) || input.resourceType !== 'Bundle') {
    throw invalid([issue('resourceType', 'not_a_bundle', 'Send a FHIR Bundle.', 'Kirim FHIR Bundle.')]);
  }
  const bundle = input as unknown as Bundle;
  if (bundle.type !== 'transaction' && bundle.type !== 'batch') {
    throw invalid([issue('type', 'bundle_type', 'Bundle.type must be "transaction" or "batch".', 'Bundle.type harus "transaction" atau "batch".')]);
  }
  const entries: BundleEntry[] = Array.isArray(bundle.entry) ? bundle.entry : [];
  if (entries.length === 0 || entries.length > MAX_ENTRIES) {
    throw invalid([issue('entry', 'entry_count', `A bundle holds 1 to ${MAX_ENTRIES} entries.`, `Bundle berisi 1 sampai ${MAX_ENTRIES} entri.`)]);
  }
  const base = deps.publicUrl;
  const now = (deps.now ?? (() => new Date()))();
  const patients = new Map<string, Patient>();
  for (const e of entries) if (e.fullUrl && e.resource?.resourceType === 'Patient') patients.set(e.fullUrl, e.resource);

  const issues: FieldIssue[] = [];
  const mapped: Mapped[] = [];
  entries.forEach((e, index) => {
    const at = `entry[${index}]`;
    const r = e.resource;
    if (!r || r.resourceType === 'Patient') return;
    if (r.resourceType !== 'Immunization') {
      issues.push(issue(`${at}.resource.resourceType`, 'resource_type', `Only Immunization and Patient entries are accepted, not ${r.resourceType}.`, `Hanya entri Immunization dan Patient yang diterima, bukan ${r.resourceType}.`));
      return;
    }
    if (e.request && (e.request.method !== 'POST' || !/^Immunization\/?$/.test(e.request.url ?? ''))) {
      issues.push(issue(`${at}.request`, 'request', 'Immunization entries are created: request {method: POST, url: Immunization}.', 'Entri Immunization dibuat baru: request {method: POST, url: Immunization}.'));
    }
    const ref = r.patient?.reference ?? '';
    const patient = ref.startsWith('#') ? (r.contained?.find((c) => c.resourceType === 'Patient' && `#${c.id ?? ''}` === ref) as Patient | undefined) : patients.get(ref);
    const { body, issues: mapIssues } = doseBodyOf(r, patient, `${at}.resource`, base);
    issues.push(...mapIssues);
    try {
      validateEntry(body, todayInJakarta(now));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      issues.push(...err.fields.map((f) => ({ ...f, path: `${at}.${f.path}` })));
    }
    const id = r.identifier?.find((i) => i.value);
    const key = id ? `fhir:${id.system ?? ''}|${id.value ?? ''}` : undefined;
    mapped.push({ index, body, ...(key && key.length <= 200 ? { idempotencyKey: key } : {}) });
  });
  if (mapped.length === 0 && issues.length === 0) {
    issues.push(issue('entry', 'no_immunization', 'The bundle holds no Immunization.', 'Bundle tidak berisi Immunization.'));
  }

  const responses: BundleEntry[] = entries.map(() => ({ response: { status: '200 OK' } }));
  if (bundle.type === 'transaction') {
    if (issues.length > 0) throw invalid(issues);
    await deps.issuer.ready();
    const prepared: PreparedEntry[] = [];
    for (const m of mapped) {
      const entry = validateEntry(m.body, todayInJakarta(now));
      const facility = await facilityForEntry(deps.db, who, entry.facility);
      prepared.push({ entry, facilityCode: facility.code });
    }
    const outcomes = await deps.db.withTransaction(async (tx) => {
      const out = await recordEntries(tx, deps, { principal: who, source: 'fhir', now }, prepared);
      const failed = out.flatMap((o, i) => (o.kind === 'recorded' ? [] : [{ i, error: o.error }]));
      if (failed.length > 0) {
        throw new AppError(
          'conflict',
          'transaction_failed',
          { en: 'The transaction was not recorded: some doses are already recorded or conflict.', id: 'Transaksi tidak dicatat: sebagian dosis sudah tercatat atau bertentangan.' },
          {
            fields: failed.map((f) => {
              const at = `entry[${mapped[f.i]?.index ?? f.i}]`;
              return { path: at, code: f.error.code, message: f.error.text };
            }),
          },
        );
      }
      return out;
    });
    outcomes.forEach((o, i) => {
      const m = mapped[i];
      if (!m || o.kind !== 'recorded') return;
      responses[m.index] = { response: { status: statusLine(201), location: `Immunization/${o.answer.vaccination.id}` } };
      patientLocation(entries, responses, m.index, o.answer.person.id);
    });
    return { resourceType: 'Bundle', type: 'transaction-response', entry: responses };
  }

  // batch: each entry on its own
  const badEntries = new Set(issues.map((i) => Number(/^entry\[(\d+)\]/.exec(i.path)?.[1] ?? -1)));
  for (const m of mapped) {
    if (badEntries.has(m.index)) {
      const own = issues.filter((i) => i.path.startsWith(`entry[${m.index}]`));
      responses[m.index] = { response: { status: statusLine(422), outcome: outcome(invalid(own)) } };
      continue;
    }
    try {
      const r = await recordDose(deps, { principal: who, body: m.body, idempotencyKey: m.idempotencyKey, source: 'fhir' });
      responses[m.index] = { response: { status: statusLine(r.status), location: `Immunization/${r.body.vaccination.id}` } };
      patientLocation(entries, responses, m.index, r.body.person.id);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      responses[m.index] = { response: { status: statusLine(err.status), outcome: outcome(err) } };
    }
  }
  for (const i of badEntries) {
    if (i >= 0 && !mapped.some((m) => m.index === i)) {
      responses[i] = { response: { status: statusLine(422), outcome: outcome(invalid(issues.filter((x) => x.path.startsWith(`entry[${i}]`)))) } };
    }
  }
  return { resourceType: 'Bundle', type: 'batch-response', entry: responses };
}

/** The Patient entry an Immunization pointed at answers with the person it became. */
function patientLocation(entries: BundleEntry[], responses: BundleEntry[], immIndex: number, personId: string | undefined): void {
  // A caller who may not see the person is not told its id (records/record-dose.ts answerOf).
  if (personId === undefined) return;
  const ref = (entries[immIndex]?.resource as Immunization | undefined)?.patient?.reference;
  const pIndex = entries.findIndex((e) => e.fullUrl !== undefined && e.fullUrl === ref);
  if (pIndex >= 0) responses[pIndex] = { response: { status: statusLine(200), location: `Patient/${personId}` } };
}
