/**
 * Settling what a dose recorded by identifier could not settle by itself
 * (issue 15, item 1): anyone with a facility token can send a dose for a NIK
 * they read somewhere, so a dose never takes over the record it names.
 *
 * - `name_mismatch`: the name sent did not match the record (domain/names.ts
 *   `sameName`). The dose was recorded, held: its certificate `held`, no SMS,
 *   no reminder, and no scope for the facility that sent it. Someone who knows
 *   the person — a facility that gave them a dose before, the district of
 *   their region, support, admin (`assertPersonInScope`, where a held dose
 *   counts for nothing) — confirms it is them (`confirm`): the certificate
 *   becomes valid and its SMS and reminder go to the number on record. Or it
 *   is not them (`wrong_person`: the facility that recorded it, or anyone who
 *   may confirm): the dose is voided, its certificate revoked, and the
 *   facility enters it again under the right identifier.
 * - `phone_change`: a number other than the one on record came with a dose.
 *   The number on record stays until the new one is proven: a code sent to it
 *   and entered by the facility that recorded the dose (once its dose is not
 *   held), or a confirmation on the work list by someone who knew the person
 *   before (a facility that gave them another dose, the district, support,
 *   admin). Then `correctPhone` changes it — audited, and the old number told.
 *   Anyone who may confirm may also reject (the number stays as it is).
 *
 * Every settlement is audited and happens in one transaction with its effects.
 */
import type { Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { audit } from '../access/audit.ts';
import { assertPersonInScope } from '../access/scope.ts';
import { AppError, invalid, issue } from '../domain/errors.ts';
import { enqueueCodeSms, type CodeCheck } from '../notify/codes.ts';
import { enqueue } from '../notify/outbox.ts';
import { queueNew } from '../satusehat/sync.ts';
import { correctPhone, voidVaccination, type OpsDeps } from './operations.ts';
import { maskPhone } from '../domain/masking.ts';

export const PHONE_CHANGE_CODE_PURPOSE = 'phone_change';
/** Codes one phone change may send: enough for a slow SMS, not a way to spam a number. */
export const PHONE_CHANGE_CODES = 3;

export interface IdentityDeps extends OpsDeps {
  /** notify's code check (codes.ts `checkCode` with the secret). */
  checkCode(requestId: string, code: string, purpose?: string): Promise<CodeCheck>;
}

interface CaseRow extends Record<string, unknown> {
  person_id: string;
  id: string;
  kind: string;
  status: string;
  subject_id: string | null;
  detail: Record<string, unknown>;
}

/**
 * `who`, acting with the system's reach for an operation this module already
 * allowed them (the rules above are narrower, or wider, than the operation's
 * own: a district may void a dose it found to be someone else's). The actor
 * recorded in the audit stays `who.id`.
 */
const asSystem = (who: Principal): Principal => ({ ...who, role: 'admin', facilityCode: null, regionCode: null });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const caseNotFound = (id: string): AppError => new AppError('not_found', 'case_not_found', { en: `No case ${id}.`, id: `Tidak ada kasus ${id}.` });
const caseClosed = (): AppError => new AppError('conflict', 'case_closed', { en: 'This case is already closed.', id: 'Kasus ini sudah ditutup.' });

/** Locks a case (404 unknown); the caller checks who may act on it before `expectOpen` says anything more about it. */
async function lockCase(tx: Queryable, caseId: string): Promise<CaseRow> {
  if (!UUID.test(caseId)) throw caseNotFound(caseId);
  const r = await tx.query<CaseRow>('SELECT person_id, id, kind, status, subject_id, detail FROM cases WHERE id = $1 FOR UPDATE', [caseId]);
  const row = r.rows[0];
  if (!row) throw caseNotFound(caseId);
  return row;
}

/** 422 for a case of another kind, 409 for a closed one. */
function expectOpen(row: CaseRow, kind: 'name_mismatch' | 'phone_change'): void {
  if (row.kind !== kind)
    throw invalid([issue('case', 'wrong_case_kind', `This action settles ${kind} cases, not ${row.kind}.`, `Tindakan ini untuk kasus ${kind}, bukan ${row.kind}.`)]);
  if (row.status !== 'open') throw caseClosed();
}

function noteOf(note: unknown): string {
  if (typeof note !== 'string' || note.trim().length < 3 || note.length > 500)
    throw invalid([issue('note', 'note_required', 'Say how you know (3–500 characters).', 'Jelaskan dasar keputusan (3–500 karakter).')]);
  return note.trim();
}

/**
 * Settles a `name_mismatch` case. `confirm`: the dose is the person's — the
 * certificate is released and its SMS (and the next-dose reminder, if still
 * ahead) queued to the number on record. `wrong_person`: the dose is voided
 * (its certificate, never sent, revoked) and the case dismissed.
 */
export async function settleNameMismatch(
  deps: OpsDeps,
  who: Principal,
  caseId: string,
  action: { kind: 'confirm'; note: unknown } | { kind: 'wrong_person'; note: unknown },
): Promise<{ caseId: string; status: 'resolved' | 'dismissed' }> {
  const note = noteOf(action.note);
  if (action.kind === 'wrong_person') {
    const row = await lockCase(deps.db, caseId);
    // The facility that recorded the dose may take it back; otherwise whoever may confirm decides.
    if (!(who.role === 'facility' && who.facilityCode === row.detail.recordedBy)) await assertPersonInScope(deps.db, who, row.person_id);
    expectOpen(row, 'name_mismatch');
    if (row.subject_id === null) throw caseNotFound(caseId);
    // Voiding revokes the held certificate and dismisses the open cases about the dose (this one and its phone change).
    await voidVaccination(deps, asSystem(who), row.subject_id, `identity mismatch: ${note}`);
    await audit(deps.db, { actor: who.id, action: 'identity_rejected', subject: caseId, personId: row.person_id, detail: { vaccinationId: row.subject_id, note } });
    return { caseId, status: 'dismissed' };
  }
  const now = (deps.now ?? (() => new Date()))();
  await deps.db.withTransaction(async (tx) => {
    const row = await lockCase(tx, caseId);
    await assertPersonInScope(tx, who, row.person_id);
    expectOpen(row, 'name_mismatch');
    const certificateId = typeof row.detail.certificateId === 'string' ? row.detail.certificateId : null;
    await tx.query('UPDATE vaccinations SET identity_held = false WHERE person_id = $1 AND id = $2', [row.person_id, row.subject_id]);
    // The person's version moves: a dose being judged meanwhile sees the new scope.
    await tx.query('UPDATE people SET updated_at = $2 WHERE id = $1', [row.person_id, now]);
    const released = await tx.query<{ id: string }>("UPDATE certificates SET status = 'valid' WHERE person_id = $1 AND id = $2 AND status = 'held' RETURNING id", [
      row.person_id,
      certificateId,
    ]);
    if (released.rows[0])
      await enqueue(tx, { kind: 'notify', payload: { personId: row.person_id, certificateId: released.rows[0].id }, dedupeKey: `notify:${released.rows[0].id}`, personId: row.person_id });
    const reminder = row.detail.reminder as { personId: string; doseNumber: number; vaccine: string; due: string } | null | undefined;
    const at = typeof row.detail.reminderAt === 'string' ? new Date(row.detail.reminderAt) : null;
    if (reminder && at && at > now)
      await enqueue(tx, { kind: 'reminder', payload: reminder, dedupeKey: `reminder:${row.person_id}:${reminder.doseNumber}`, runAt: at, personId: row.person_id });
    // Its hand-off to SATUSEHAT waited for the name too.
    if (row.subject_id) await queueNew(tx, [{ personId: row.person_id, vaccinationId: row.subject_id }]);
    await tx.query("UPDATE cases SET status = 'resolved', resolved_at = $3, resolved_by = $4, notes = $5 WHERE person_id = $1 AND id = $2", [
      row.person_id,
      caseId,
      now,
      who.id,
      `confirmed: ${note}`,
    ]);
    await audit(tx, { actor: who.id, action: 'identity_confirmed', subject: caseId, personId: row.person_id, detail: { vaccinationId: row.subject_id, certificateId, note } });
  });
  return { caseId, status: 'resolved' };
}

/** The dose that asked for a phone change is still held (its name not confirmed): nothing about the number moves until it is. */
async function assertDoseNotHeld(tx: Queryable, row: CaseRow): Promise<void> {
  const r = await tx.query<{ held: boolean }>('SELECT identity_held AS held FROM vaccinations WHERE person_id = $1 AND id = $2', [row.person_id, row.subject_id]);
  if (r.rows[0]?.held)
    throw new AppError('conflict', 'identity_pending', {
      en: 'The dose that brought this number is waiting for its name to be confirmed; settle that case first.',
      id: 'Dosis yang membawa nomor ini menunggu konfirmasi nama; selesaikan kasus itu dulu.',
    });
}

function newPhoneOf(row: CaseRow): string {
  const p = row.detail.newPhone;
  if (typeof p !== 'string') throw new Error(`phone change ${row.id} has no number`);
  return p;
}

/**
 * Sends a one-time code to the number a phone change asks for; the facility
 * that recorded the dose enters it (`verifyPhoneChange`) while the person is
 * there. At most PHONE_CHANGE_CODES per change. Answers the number masked.
 */
export async function sendPhoneChangeCode(deps: OpsDeps, who: Principal, caseId: string): Promise<{ requestId: string; phoneHint: string }> {
  return deps.db.withTransaction(async (tx) => {
    const row = await lockCase(tx, caseId);
    await assertRequester(tx, who, row);
    expectOpen(row, 'phone_change');
    await assertDoseNotHeld(tx, row);
    const sent = Array.isArray(row.detail.codes) ? (row.detail.codes as string[]) : [];
    if (sent.length >= PHONE_CHANGE_CODES)
      throw new AppError('rate_limited', 'too_many_codes', {
        en: `At most ${PHONE_CHANGE_CODES} codes per phone change; ask the district or support to confirm it.`,
        id: `Paling banyak ${PHONE_CHANGE_CODES} kode per ganti nomor; minta dinas atau tim dukungan mengonfirmasi.`,
      });
    const phone = newPhoneOf(row);
    const q = await enqueueCodeSms(tx, { personId: null, phone, purpose: PHONE_CHANGE_CODE_PURPOSE });
    await tx.query("UPDATE cases SET detail = detail || jsonb_build_object('codes', $3::jsonb) WHERE person_id = $1 AND id = $2", [
      row.person_id,
      row.id,
      JSON.stringify([...sent, q.requestId]),
    ]);
    await audit(tx, { actor: who.id, action: 'phone_change_code_sent', subject: row.id, personId: row.person_id, detail: { requestId: q.requestId } });
    return { requestId: q.requestId, phoneHint: maskPhone(phone) ?? '' };
  });
}

/** The facility that asked for the change (by recording the dose), or anyone who may confirm it. */
async function assertRequester(tx: Queryable, who: Principal, row: CaseRow): Promise<void> {
  if (who.role === 'facility' && who.facilityCode === row.detail.requestedBy) return;
  await assertMayConfirm(tx, who, row);
}

/**
 * Who may confirm a phone change on the work list: someone who knew the
 * person before it — a facility that gave them a dose (not held) other than
 * the one that brought the number, the district of their region, support and
 * admin. Others get 404, as for a person out of scope.
 */
async function assertMayConfirm(tx: Queryable, who: Principal, row: CaseRow): Promise<void> {
  await assertPersonInScope(tx, who, row.person_id);
  if (who.role !== 'facility') return;
  const r = await tx.query(
    "SELECT 1 FROM vaccinations WHERE person_id = $1 AND facility_code = $2 AND id <> $3 AND status <> 'void' AND NOT identity_held LIMIT 1",
    [row.person_id, who.facilityCode, row.subject_id],
  );
  if (r.rowCount === 0) throw caseNotFound(row.id);
}

/** Applies a proven change: correctPhone (audited, the old number told), and every open change to the same number resolved. */
async function applyPhoneChange(deps: OpsDeps, who: Principal, tx: Queryable, row: CaseRow, by: 'code' | 'work_list'): Promise<{ caseId: string; status: 'resolved'; phone: string }> {
  const phone = newPhoneOf(row);
  const now = (deps.now ?? (() => new Date()))();
  await correctPhone(deps, asSystem(who), row.person_id, phone, tx);
  await tx.query(
    `UPDATE cases SET status = 'resolved', resolved_at = $3, resolved_by = $4, notes = $5
      WHERE person_id = $1 AND kind = 'phone_change' AND status = 'open' AND (id = $2 OR detail->>'newPhone' = $6)`,
    [row.person_id, row.id, now, who.id, `confirmed by ${by === 'code' ? 'code' : 'work list'}`, phone],
  );
  await audit(tx, { actor: who.id, action: 'phone_change_confirmed', subject: row.id, personId: row.person_id, detail: { by, to: phone } });
  return { caseId: row.id, status: 'resolved', phone };
}

/** The code sent to the new number, entered by the facility: right → the number changes; wrong → 400 (tries counted by codes.ts). */
export async function verifyPhoneChange(deps: IdentityDeps, who: Principal, caseId: string, code: unknown): Promise<{ caseId: string; status: 'resolved'; phone: string }> {
  const typed = typeof code === 'string' ? code.replace(/\s/g, '') : '';
  if (!/^\d{6}$/.test(typed)) throw invalid([issue('code', 'code_format', 'The code has 6 digits.', 'Kode terdiri dari 6 angka.')]);
  const first = await deps.db.withTransaction(async (tx) => {
    const row = await lockCase(tx, caseId);
    await assertRequester(tx, who, row);
    expectOpen(row, 'phone_change');
    await assertDoseNotHeld(tx, row);
    return row;
  });
  const codes = Array.isArray(first.detail.codes) ? (first.detail.codes as string[]) : [];
  const last = codes[codes.length - 1];
  if (last === undefined)
    throw new AppError('conflict', 'no_code_sent', { en: 'Send a code to the new number first.', id: 'Kirim kode ke nomor baru lebih dulu.' });
  const check = await deps.checkCode(last, typed, PHONE_CHANGE_CODE_PURPOSE);
  if (!check.ok)
    throw new AppError(
      check.reason === 'wrong' ? 'bad_request' : 'gone',
      check.reason === 'wrong' ? 'code_invalid' : 'code_expired',
      check.reason === 'wrong'
        ? { en: 'The code is wrong.', id: 'Kode salah.' }
        : { en: 'This code is no longer valid; send a new one.', id: 'Kode ini sudah tidak berlaku; kirim kode baru.' },
      { fields: [issue('code', check.reason === 'wrong' ? 'code_invalid' : 'code_expired', 'code', 'kode')] },
    );
  return deps.db.withTransaction(async (tx) => {
    const row = await lockCase(tx, caseId);
    expectOpen(row, 'phone_change');
    return applyPhoneChange(deps, who, tx, row, 'code');
  });
}

/** Confirms a phone change on the work list (see assertMayConfirm): the number changes. */
export async function confirmPhoneChange(deps: OpsDeps, who: Principal, caseId: string): Promise<{ caseId: string; status: 'resolved'; phone: string }> {
  await deps.issuer.ready();
  return deps.db.withTransaction(async (tx) => {
    const row = await lockCase(tx, caseId);
    await assertMayConfirm(tx, who, row);
    expectOpen(row, 'phone_change');
    await assertDoseNotHeld(tx, row);
    return applyPhoneChange(deps, who, tx, row, 'work_list');
  });
}

/** Rejects a phone change: the number on record stays; audited. */
export async function rejectPhoneChange(deps: OpsDeps, who: Principal, caseId: string, note: unknown): Promise<{ caseId: string; status: 'dismissed' }> {
  const why = noteOf(note);
  const now = (deps.now ?? (() => new Date()))();
  return deps.db.withTransaction(async (tx) => {
    const row = await lockCase(tx, caseId);
    await assertRequester(tx, who, row);
    expectOpen(row, 'phone_change');
    await tx.query("UPDATE cases SET status = 'dismissed', resolved_at = $3, resolved_by = $4, notes = $5 WHERE person_id = $1 AND id = $2", [
      row.person_id,
      row.id,
      now,
      who.id,
      `rejected: ${why}`,
    ]);
    await audit(tx, { actor: who.id, action: 'phone_change_rejected', subject: row.id, personId: row.person_id, detail: { note: why } });
    return { caseId: row.id, status: 'dismissed' as const };
  });
}
