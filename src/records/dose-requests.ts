/**
 * Missing-dose requests (issue 9, item 5). A person whose dose never reached
 * the system files a request in the citizen portal (after the one-time code);
 * it lands on the work list of the facility that gave the dose. The facility
 * enters the dose — through `recordDose`, the one function every entry path
 * uses, so the certificate and its SMS follow as for any dose — or declines
 * with a reason from a fixed list (the person gets an SMS saying why). A
 * request still open after the configured days escalates to the district of
 * the facility's region (`escalateOverdue`, run by a periodic outbox job).
 *
 * Scopes: a facility sees its own requests; a district those of facilities
 * in its region; support and admin all. Out of scope → 404.
 *
 * A dose recorded by any other path (a form, an import) for the same person
 * and dose number settles a waiting request as `entered` (`settleRecorded`,
 * run before every list, read and escalation), so nothing is left open for a
 * dose that is on record.
 */
import { lockLimitKeys } from '../access/limits.ts';
import type { Db, Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { audit } from '../access/audit.ts';
import { AppError, invalid, issue, type FieldIssue } from '../domain/errors.ts';
import { isIsoDate, todayInJakarta } from '../domain/dates.ts';
import { findVaccine } from '../domain/vaccines.ts';
import { PROGRAMME_START, MAX_LOT_LENGTH } from '../domain/vaccination-input.ts';
import { DOSE_REQUEST_STATUSES, DECLINE_REASONS, isDeclineReason, type DoseRequestStatus, type OwnDoseRequest } from '../domain/dose-requests.ts';

export type { OwnDoseRequest };
import { maskIdentifier } from '../domain/masking.ts';
import { enqueue, schedulePeriodic } from '../notify/outbox.ts';
import { recordDose, type DoseAnswer, type RecordDeps } from './record-dose.ts';

/** At most this many requests per person per day: the portal is open to anyone with a code. */
export const REQUESTS_PER_PERSON_PER_DAY = 10;
const MAX_NOTE = 500;
const MAX_DECLINE_TEXT = 300;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A request on a work list: the owner's view plus who asks (identifier masked) and the links. */
export interface DoseRequestItem extends OwnDoseRequest {
  personId: string;
  person: { name: string; birthDate: string; identifier: { type: string; masked: string; country: string | null } };
  escalatedAt: string | null;
  vaccinationId: string | null;
  region: string;
}

interface Row extends Record<string, unknown> {
  person_id: string;
  id: string;
  status: DoseRequestStatus;
  facility_code: string;
  facility_name: string;
  region_code: string;
  vaccine: string;
  dose_number: number;
  date: string;
  lot: string | null;
  note: string | null;
  created_at: Date;
  escalated_at: Date | null;
  decided_at: Date | null;
  decline_reason: string | null;
  decline_text: string | null;
  vaccination_id: string | null;
  name: string;
  birth_date: string;
  id_type: string;
  id_value: string;
  id_country: string | null;
}

const SELECT = `SELECT r.person_id, r.id, r.status, r.facility_code, f.name AS facility_name, f.region_code, r.vaccine, r.dose_number,
                       r.date, r.lot, r.note, r.created_at, r.escalated_at, r.decided_at, r.decline_reason, r.decline_text, r.vaccination_id,
                       p.name, p.birth_date, p.id_type, p.id_value, p.id_country
                  FROM dose_requests r JOIN facilities f ON f.code = r.facility_code JOIN people p ON p.id = r.person_id`;

function own(r: Row): OwnDoseRequest {
  return {
    id: r.id,
    status: r.status,
    facility: { code: r.facility_code, name: r.facility_name },
    vaccine: { code: r.vaccine, name: findVaccine(r.vaccine)?.name ?? r.vaccine },
    doseNumber: r.dose_number,
    date: r.date,
    lot: r.lot,
    note: r.note,
    createdAt: r.created_at.toISOString(),
    decidedAt: r.decided_at?.toISOString() ?? null,
    decline: isDeclineReason(r.decline_reason) ? { reason: r.decline_reason, text: r.decline_text } : null,
  };
}

function item(r: Row): DoseRequestItem {
  return {
    ...own(r),
    personId: r.person_id,
    person: { name: r.name, birthDate: r.birth_date, identifier: { type: r.id_type, masked: maskIdentifier(r.id_type, r.id_value), country: r.id_country } },
    escalatedAt: r.escalated_at?.toISOString() ?? null,
    vaccinationId: r.vaccination_id,
    region: r.region_code,
  };
}

/** The SQL condition on `f` (the request's facility) for the caller; `$n` from `first`. */
function scopeSql(who: Principal, first: number): { sql: string; params: unknown[] } {
  switch (who.role) {
    case 'admin':
    case 'support':
      return { sql: 'true', params: [] };
    case 'facility':
      return { sql: `f.code = $${first}`, params: [who.facilityCode] };
    case 'district':
      return { sql: `f.region_code LIKE $${first} || '%'`, params: [who.regionCode] };
    default:
      return who.role satisfies never;
  }
}

function requestNotFound(id: string): AppError {
  return new AppError('not_found', 'dose_request_not_found', { en: `No dose request ${id}.`, id: `Tidak ada permintaan dosis ${id}.` });
}

function notWaiting(status: DoseRequestStatus): AppError {
  return new AppError(
    'conflict',
    'dose_request_closed',
    { en: `This request is already ${status}.`, id: `Permintaan ini sudah ${status === 'entered' ? 'dicatat' : 'ditolak'}.` },
    { detail: { status } },
  );
}

function str(v: unknown, path: string, max: number, problems: FieldIssue[]): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string' || v.trim().length === 0 || v.length > max || /\p{Cc}/u.test(v)) {
    problems.push(issue(path, 'text', `At most ${max} characters, no control characters.`, `Paling banyak ${max} karakter, tanpa karakter kontrol.`));
    return null;
  }
  return v.trim();
}

interface RequestInput {
  facility: string;
  vaccine: string;
  doseNumber: number;
  date: string;
  lot: string | null;
  note: string | null;
}

/** Validates a portal request body; every problem at once, named by field. */
async function validateRequest(db: Queryable, body: unknown, today: string): Promise<RequestInput> {
  const problems: FieldIssue[] = [];
  const b = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  for (const k of Object.keys(b))
    if (!['facility', 'vaccine', 'doseNumber', 'date', 'lot', 'note'].includes(k)) problems.push(issue(k, 'unknown_field', `Unknown field ${k}.`, `Isian ${k} tidak dikenal.`));
  const date = b.date;
  if (!isIsoDate(date)) problems.push(issue('date', 'date', 'The vaccination date as YYYY-MM-DD.', 'Tanggal vaksinasi dengan format YYYY-MM-DD.'));
  else if (date > today) problems.push(issue('date', 'date_in_future', 'The vaccination date is in the future.', 'Tanggal vaksinasi ada di masa depan.'));
  else if (date < PROGRAMME_START)
    problems.push(issue('date', 'date_before_programme', `The programme began on ${PROGRAMME_START}.`, `Program vaksinasi dimulai ${PROGRAMME_START}.`));
  const vaccine = typeof b.vaccine === 'string' ? findVaccine(b.vaccine.trim()) : undefined;
  if (!vaccine) problems.push(issue('vaccine', 'unknown_vaccine', 'Choose a vaccine from the list.', 'Pilih vaksin dari daftar.'));
  const dose = b.doseNumber;
  if (typeof dose !== 'number' || !Number.isInteger(dose) || dose < 1 || dose > 5)
    problems.push(issue('doseNumber', 'dose_number', 'The dose: a number from 1 to 5.', 'Dosis ke: angka 1 sampai 5.'));
  const lot = str(b.lot, 'lot', MAX_LOT_LENGTH, problems);
  const note = str(b.note, 'note', MAX_NOTE, problems);
  let facility: string | null = null;
  if (typeof b.facility !== 'string' || b.facility.trim() === '' || b.facility.length > 64) {
    problems.push(issue('facility', 'required', 'Choose the facility where you were vaccinated.', 'Pilih faskes tempat Anda divaksinasi.'));
  } else {
    const f = await db.query<{ code: string }>('SELECT code FROM facilities WHERE code = $1', [b.facility.trim().toUpperCase()]);
    if (f.rows[0]) facility = f.rows[0].code;
    else problems.push(issue('facility', 'unknown_facility', `Unknown facility ${b.facility}.`, `Faskes ${b.facility} tidak dikenal.`));
  }
  if (problems.length || !facility || !vaccine) throw invalid(problems);
  return { facility, vaccine: vaccine.code, doseNumber: dose as number, date: date as string, lot, note };
}

/**
 * Requests that a dose recorded meanwhile (by any path) answers: marked
 * `entered` and linked to that dose. Cheap: only waiting requests are looked at.
 */
export async function settleRecorded(db: Queryable): Promise<number> {
  const r = await db.query<{ n: number }>(
    `WITH s AS (
       UPDATE dose_requests r SET status = 'entered', vaccination_id = v.id, decided_at = now(), updated_at = now()
         FROM vaccinations v
        WHERE r.status IN ('open', 'escalated') AND v.person_id = r.person_id AND v.dose_number = r.dose_number AND v.status <> 'void'
        RETURNING r.person_id, r.id, v.id AS vaccination_id),
     a AS (
       INSERT INTO audit_log (actor, action, subject, person_id, detail)
       SELECT 'system', 'dose_request_entered', s.id::text, s.person_id, json_build_object('vaccinationId', s.vaccination_id, 'by', 'dose recorded elsewhere')::jsonb FROM s)
     SELECT count(*)::int AS n FROM s`,
  );
  return r.rows[0]?.n ?? 0;
}

/** Files a request for the person of a portal session. 422 naming the fields; 409 when that dose is on record or already asked for. */
export async function createDoseRequest(db: Db, personId: string, body: unknown, now: Date = new Date()): Promise<OwnDoseRequest> {
  const input = await validateRequest(db, body, todayInJakarta(now));
  const id = await db.withTransaction(async (tx) => {
    // The day's count under a lock on the person: a burst of requests is counted one by one.
    await lockLimitKeys(tx, [`dose-requests:${personId}`]);
    const c = await tx.query<{ today: number; recorded: boolean; waiting: boolean }>(
      `SELECT (SELECT count(*) FROM dose_requests WHERE person_id = $1 AND created_at > now() - interval '1 day')::int AS today,
              EXISTS (SELECT 1 FROM vaccinations WHERE person_id = $1 AND dose_number = $2 AND status <> 'void') AS recorded,
              EXISTS (SELECT 1 FROM dose_requests WHERE person_id = $1 AND dose_number = $2 AND status IN ('open', 'escalated')) AS waiting`,
      [personId, input.doseNumber],
    );
    const x = c.rows[0]!;
    if (x.today >= REQUESTS_PER_PERSON_PER_DAY)
      throw new AppError('rate_limited', 'too_many_dose_requests', { en: 'Too many requests today. Try again tomorrow.', id: 'Terlalu banyak permintaan hari ini. Coba lagi besok.' });
    const field = [issue('doseNumber', x.recorded ? 'dose_on_record' : 'dose_requested', 'see the message', 'lihat pesan')];
    if (x.recorded)
      throw new AppError('conflict', 'dose_on_record', { en: `Dose ${input.doseNumber} is already on record.`, id: `Dosis ${input.doseNumber} sudah tercatat.` }, { fields: field });
    if (x.waiting)
      throw new AppError(
        'conflict',
        'dose_request_waiting',
        { en: `A request for dose ${input.doseNumber} is already waiting.`, id: `Permintaan untuk dosis ${input.doseNumber} sudah menunggu.` },
        { fields: field },
      );
    const r = await tx.query<{ id: string }>(
      `INSERT INTO dose_requests (person_id, id, facility_code, vaccine, dose_number, date, lot, note)
       VALUES ($1, gen_random_uuid(), $2, $3, $4, $5::date, $6, $7) RETURNING id`,
      [personId, input.facility, input.vaccine, input.doseNumber, input.date, input.lot, input.note],
    );
    const rid = r.rows[0]!.id;
    await audit(tx, { actor: `portal:${personId}`, action: 'dose_request_filed', subject: rid, personId, detail: { facility: input.facility, doseNumber: input.doseNumber } });
    return rid;
  });
  const r = await db.query<Row>(`${SELECT} WHERE r.person_id = $1 AND r.id = $2`, [personId, id]);
  return own(r.rows[0]!);
}

/** The requests of the person of a portal session, newest first. */
export async function ownDoseRequests(db: Db, personId: string): Promise<OwnDoseRequest[]> {
  await settleRecorded(db);
  const r = await db.query<Row>(`${SELECT} WHERE r.person_id = $1 ORDER BY r.created_at DESC, r.id LIMIT 100`, [personId]);
  return r.rows.map(own);
}

/** A work list: the caller's requests, oldest first, optionally of one status. */
export async function listDoseRequests(db: Db, who: Principal, q: { status?: string | undefined; limit?: number | undefined }): Promise<DoseRequestItem[]> {
  if (q.status !== undefined && !(DOSE_REQUEST_STATUSES as readonly string[]).includes(q.status))
    throw invalid([issue('status', 'status', `One of ${DOSE_REQUEST_STATUSES.join(', ')}.`, `Salah satu dari ${DOSE_REQUEST_STATUSES.join(', ')}.`)]);
  await settleRecorded(db);
  const scope = scopeSql(who, 3);
  const r = await db.query<Row>(`${SELECT} WHERE ($1::text IS NULL OR r.status = $1) AND ${scope.sql} ORDER BY r.created_at, r.id LIMIT $2`, [
    q.status ?? null,
    q.limit ?? 200,
    ...scope.params,
  ]);
  return r.rows.map(item);
}

async function readInScope(db: Queryable, who: Principal, id: string, lock = false): Promise<Row> {
  if (!UUID.test(id)) throw requestNotFound(id);
  const scope = scopeSql(who, 2);
  const r = await db.query<Row>(`${SELECT} WHERE r.id = $1 AND ${scope.sql}${lock ? ' FOR UPDATE OF r' : ''}`, [id, ...scope.params]);
  if (!r.rows[0]) throw requestNotFound(id);
  return r.rows[0];
}

/** One request in the caller's scope, or 404. */
export async function getDoseRequest(db: Db, who: Principal, id: string): Promise<DoseRequestItem> {
  await settleRecorded(db);
  return item(await readInScope(db, who, id));
}

/**
 * Enters the dose of a request through `recordDose` (certificate and SMS as
 * for any dose), with the request's facility and the person on record; the
 * dose fields default to the request's and may be corrected. The
 * Idempotency-Key `dose-request:<id>` makes a retry (after a crash between
 * the dose and the link) replay the same dose rather than write a second.
 */
export async function enterDoseRequest(deps: RecordDeps, who: Principal, id: string, body: unknown): Promise<{ request: DoseRequestItem; dose: DoseAnswer }> {
  if (who.role === 'support') throw new AppError('forbidden', 'role_cannot_record', { en: 'Support accounts do not record doses.', id: 'Akun dukungan tidak mencatat dosis.' });
  const req = await readInScope(deps.db, who, id);
  if (req.status !== 'open' && req.status !== 'escalated') throw notWaiting(req.status);
  const b = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const problems = Object.keys(b)
    .filter((k) => !['vaccine', 'doseNumber', 'date', 'lot'].includes(k))
    .map((k) => issue(k, 'unknown_field', `Unknown field ${k}; the person and facility come from the request.`, `Isian ${k} tidak dikenal; orang dan faskes diambil dari permintaan.`));
  if (problems.length) throw invalid(problems);
  const p = await deps.db.query<{ id_type: string; id_value: string; id_country: string | null; name: string; birth_date: string; sex: string | null; phone: string | null }>(
    'SELECT id_type, id_value, id_country, name, birth_date, sex, phone FROM people WHERE id = $1',
    [req.person_id],
  );
  const person = p.rows[0]!;
  const dose = {
    person: {
      identifier: { type: person.id_type, value: person.id_value, ...(person.id_country ? { country: person.id_country } : {}) },
      name: person.name,
      birthDate: person.birth_date,
      ...(person.sex ? { sex: person.sex } : {}),
      ...(person.phone ? { phone: person.phone } : {}),
    },
    vaccine: b.vaccine ?? req.vaccine,
    doseNumber: b.doseNumber ?? req.dose_number,
    date: b.date ?? req.date,
    ...((b.lot ?? req.lot) ? { lot: b.lot ?? req.lot } : {}),
    facility: req.facility_code,
  };
  const recorded = await recordDose(deps, { principal: who, body: dose, idempotencyKey: `dose-request:${id}`, source: 'api' });
  const vaccinationId = recorded.body.vaccination.id;
  await deps.db.withTransaction(async (tx) => {
    // A decline that came in while the dose was being recorded loses: the dose is on record. Its
    // SMS job then finds the request no longer declined and sends nothing (unless it ran already).
    const u = await tx.query<{ was: string }>(
      `UPDATE dose_requests r SET status = 'entered', vaccination_id = $3, decided_by = $4, decided_at = now(), updated_at = now()
         FROM (SELECT id, status AS was FROM dose_requests WHERE person_id = $1 AND id = $2 FOR UPDATE) o
        WHERE r.person_id = $1 AND r.id = o.id AND r.status IN ('open', 'escalated', 'declined')
        RETURNING o.was`,
      [req.person_id, id, vaccinationId, UUID.test(who.id) ? who.id : null],
    );
    const was = u.rows[0]?.was;
    if (was)
      await audit(tx, {
        actor: who.id,
        action: 'dose_request_entered',
        subject: id,
        personId: req.person_id,
        detail: { vaccinationId, certificateId: recorded.body.certificate?.id ?? null, ...(was === 'declined' ? { overrodeConcurrentDecline: true } : {}) },
      });
  });
  return { request: item(await readInScope(deps.db, who, id)), dose: recorded.body };
}

/** Declines a request with a reason from the fixed list ("other" needs words); the person is told by SMS. */
export async function declineDoseRequest(db: Db, who: Principal, id: string, body: { reason?: unknown; text?: unknown }): Promise<DoseRequestItem> {
  const problems: FieldIssue[] = [];
  const reason = body.reason;
  if (!isDeclineReason(reason)) problems.push(issue('reason', 'reason', `One of ${DECLINE_REASONS.join(', ')}.`, `Salah satu dari ${DECLINE_REASONS.join(', ')}.`));
  const text = str(body.text, 'text', MAX_DECLINE_TEXT, problems);
  if (reason === 'other' && (text === null || text.length < 3))
    problems.push(issue('text', 'reason_text_required', 'Say why, in 3–300 characters, for "other".', 'Tuliskan alasannya (3–300 karakter) untuk "lainnya".'));
  if (problems.length || !isDeclineReason(reason)) throw invalid(problems);
  if (who.role === 'support') throw new AppError('forbidden', 'role_not_allowed', { en: 'Support accounts do not decide dose requests.', id: 'Akun dukungan tidak memutuskan permintaan dosis.' });
  await db.withTransaction(async (tx) => {
    await settleRecorded(tx); // a dose on record answers the request: it is entered, not declinable
    const r = await readInScope(tx, who, id, true);
    if (r.status !== 'open' && r.status !== 'escalated') throw notWaiting(r.status);
    await tx.query(
      `UPDATE dose_requests SET status = 'declined', decline_reason = $3, decline_text = $4, decided_by = $5, decided_at = now(), updated_at = now()
        WHERE person_id = $1 AND id = $2`,
      [r.person_id, id, reason, text, UUID.test(who.id) ? who.id : null],
    );
    await enqueue(tx, { kind: 'dose_request_notice', payload: { personId: r.person_id, requestId: id }, dedupeKey: `dose_request_declined:${id}`, personId: r.person_id });
    await audit(tx, { actor: who.id, action: 'dose_request_declined', subject: id, personId: r.person_id, detail: { reason, text } });
  });
  return item(await readInScope(db, who, id));
}

/**
 * Escalates requests open longer than `afterDays` at `now` to the district
 * (status `escalated`, audited). Idempotent and safe with two workers: the
 * update takes only rows still `open`, and a row another worker escalated
 * meanwhile no longer matches when its lock is released.
 */
export async function escalateOverdue(db: Queryable, o: { now: Date; afterDays: number }): Promise<number> {
  await settleRecorded(db);
  const r = await db.query<{ n: number }>(
    `WITH e AS (
       UPDATE dose_requests SET status = 'escalated', escalated_at = $1, updated_at = $1
        WHERE status = 'open' AND created_at <= $1::timestamptz - make_interval(days => $2::int)
        RETURNING person_id, id, facility_code, created_at),
     a AS (
       INSERT INTO audit_log (actor, action, subject, person_id, detail)
       SELECT 'system:escalation', 'dose_request_escalated', e.id::text, e.person_id,
              json_build_object('facility', e.facility_code, 'region', f.region_code, 'openSince', e.created_at, 'afterDays', $2::int)::jsonb
         FROM e JOIN facilities f ON f.code = e.facility_code)
     SELECT count(*)::int AS n FROM e`,
    [o.now, o.afterDays],
  );
  return r.rows[0]?.n ?? 0;
}

/**
 * The periodic job: escalate, then schedule the next run at the next slot of
 * `everyMinutes`. The slot is the dedupe key, so two workers (or a job run
 * again after a kill) schedule one next run, not two.
 */
export async function runEscalationJob(db: Db, o: { now: Date; afterDays: number; everyMinutes: number }): Promise<number> {
  const n = await escalateOverdue(db, o);
  await schedulePeriodic(db, 'escalate_dose_requests', { now: o.now, everyMinutes: o.everyMinutes, which: 'next' });
  return n;
}

/** Facilities by name or code for the portal's picker: codes and names only. */
export async function searchFacilities(db: Queryable, q: string, limit = 20): Promise<{ code: string; name: string }[]> {
  const term = q.trim().replace(/[\\%_]/g, (c) => `\\${c}`);
  if (term.length < 2) return [];
  const r = await db.query<{ code: string; name: string }>(
    `SELECT code, name FROM facilities WHERE name ILIKE '%' || $1 || '%' OR code ILIKE $1 || '%' ORDER BY (code ILIKE $1) DESC, name LIMIT $2`,
    [term, limit],
  );
  return r.rows;
}
