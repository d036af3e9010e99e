/**
 * The fixes operators make from the work lists, each one action, audited, in
 * one transaction, re-issuing certificates and SMS where the result changes:
 * void a mistaken dose, merge two records of one person, confirm or link a
 * dose that claims an earlier one, correct a phone number.
 */
import type { Db, Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { audit } from '../access/audit.ts';
import { assertPersonInScope, personNotFound } from '../access/scope.ts';
import { AppError, invalid, issue } from '../domain/errors.ts';
import { normalizePhone } from '../domain/phone.ts';
import { enqueue } from '../notify/outbox.ts';
import { requeueSync } from '../satusehat/sync.ts';
import { reissueCertificates, type CertifyDeps, type LiveDose } from './certify.ts';

export interface OpsDeps extends CertifyDeps {
  db: Db;
  now?: () => Date;
}

const clock = (d: OpsDeps) => (d.now ?? (() => new Date()))();

interface VacRow extends Record<string, unknown> {
  person_id: string;
  id: string;
  dose_number: number;
  vaccine: string;
  date: string;
  status: string;
  facility_code: string;
}

function vaccinationNotFound(id: string): AppError {
  return new AppError('not_found', 'vaccination_not_found', { en: `No vaccination ${id}.`, id: `Tidak ada vaksinasi ${id}.` });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function lockVaccination(tx: Queryable, id: string): Promise<VacRow> {
  if (!UUID.test(id)) throw vaccinationNotFound(id);
  const r = await tx.query<VacRow>(
    'SELECT person_id, id, dose_number, vaccine, date, status, facility_code FROM vaccinations WHERE id = $1 FOR UPDATE',
    [id],
  );
  if (!r.rows[0]) throw vaccinationNotFound(id);
  return r.rows[0];
}

function reasonOf(reason: unknown): string {
  if (typeof reason !== 'string' || reason.trim().length < 3 || reason.length > 500)
    throw invalid([issue('reason', 'reason_required', 'Give a reason (3–500 characters).', 'Isi alasan (3–500 karakter).')]);
  return reason.trim();
}

/**
 * Voids a mistaken dose: the vaccination is kept (status void, with the
 * reason), its certificate revoked so verifiers reject it. The recording
 * facility may void its own entries; support and admin any.
 */
export async function voidVaccination(deps: OpsDeps, who: Principal, vaccinationId: string, reasonIn: unknown): Promise<{ vaccinationId: string; revoked: string[] }> {
  const reason = reasonOf(reasonIn);
  if (who.role === 'district') throw new AppError('forbidden', 'role_not_allowed', { en: 'Districts cannot void doses.', id: 'Dinas tidak dapat membatalkan dosis.' });
  const now = clock(deps);
  return deps.db.withTransaction(async (tx) => {
    const v = await lockVaccination(tx, vaccinationId);
    if (who.role === 'facility' && v.facility_code !== who.facilityCode) throw vaccinationNotFound(vaccinationId);
    if (v.status === 'void')
      throw new AppError('conflict', 'already_void', { en: 'This dose is already void.', id: 'Dosis ini sudah dibatalkan.' });
    await tx.query("UPDATE vaccinations SET status = 'void', void_reason = $3 WHERE person_id = $1 AND id = $2", [v.person_id, v.id, reason]);
    const revoked = await tx.query<{ id: string }>(
      "UPDATE certificates SET status = 'revoked', status_reason = 'dose_voided', status_at = $3 WHERE person_id = $1 AND vaccination_id = $2 AND status IN ('valid', 'held') RETURNING id",
      [v.person_id, v.id, now],
    );
    await tx.query("UPDATE cases SET status = 'dismissed', resolved_at = $3, resolved_by = $4, notes = 'dose voided' WHERE person_id = $1 AND subject_id = $2 AND status = 'open'", [
      v.person_id,
      v.id,
      now,
      who.id,
    ]);
    // SATUSEHAT retracts it (entered-in-error) when it was handed over or queued.
    await requeueSync(tx, v.id, 'void');
    await audit(tx, { actor: who.id, action: 'vaccination_voided', subject: v.id, personId: v.person_id, detail: { reason, revoked: revoked.rows.map((r) => r.id) } });
    return { vaccinationId: v.id, revoked: revoked.rows.map((r) => r.id) };
  });
}

interface PersonLockRow extends Record<string, unknown> {
  id: string;
  name: string;
  birth_date: string;
  merged_into: string | null;
  id_type: string;
}

async function lockPeople(tx: Queryable, ids: string[]): Promise<Map<string, PersonLockRow>> {
  // Always lock in id order: two merges of the same pair cannot deadlock.
  const r = await tx.query<PersonLockRow>('SELECT id, name, birth_date, merged_into, id_type FROM people WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [ids]);
  return new Map(r.rows.map((p) => [p.id, p]));
}

export interface MergeResult {
  personId: string;
  mergedFrom: string;
  doses: { id: string; doseNumber: number; status: string }[];
  certificates: string[];
  superseded: number;
}

/**
 * Merges `fromId` into `intoId`: doses, certificates, cases, notifications and
 * identifier keys move to the surviving record; dose numbers are recomputed
 * by date; every certificate of the survivor is re-issued (superseding the
 * old ones) and one SMS with the new link is queued.
 */
export async function mergePeople(deps: OpsDeps, who: Principal, intoId: string, fromId: string): Promise<MergeResult> {
  if (who.role !== 'support' && who.role !== 'admin')
    throw new AppError('forbidden', 'role_not_allowed', { en: 'Only support and admin merge records.', id: 'Hanya dukungan dan admin yang dapat menggabungkan data.' });
  if (!UUID.test(intoId)) throw personNotFound(intoId);
  if (!UUID.test(fromId)) throw personNotFound(fromId);
  if (intoId === fromId) throw invalid([issue('from', 'same_person', 'A record cannot be merged into itself.', 'Data tidak dapat digabung dengan dirinya sendiri.')]);
  const now = clock(deps);
  await deps.issuer.ready();
  return deps.db.withTransaction(async (tx) => {
    const people = await lockPeople(tx, [intoId, fromId]);
    const into = people.get(intoId);
    const from = people.get(fromId);
    if (!into || into.merged_into) throw personNotFound(intoId);
    if (!from || from.merged_into) throw personNotFound(fromId);
    // Move everything that belongs to the person: every table about a person carries
    // person_id (DESIGN.md), so rows move by update. The audit log is append-only and
    // keeps its history under the old id (the timeline follows merged_into).
    for (const table of await personTables(tx)) {
      await tx.query(`UPDATE ${table} SET person_id = $1 WHERE person_id = $2`, [intoId, fromId]);
    }
    await tx.query('UPDATE people SET merged_into = $1, updated_at = $3 WHERE id = $2', [intoId, fromId, now]);

    const doses = await renumberDoses(tx, intoId);
    const certificates = await reissueCertificates(tx, deps, into, doses, now, `merged:${fromId}`);
    const superseded = await tx.query<{ n: number }>(
      "SELECT count(*)::int8 AS n FROM certificates WHERE person_id = $1 AND status = 'superseded' AND status_reason = $2",
      [intoId, `merged:${fromId}`],
    );
    // Cases the merge answers: the survivor's claims are settled when its doses now run 1..n.
    await tx.query(
      `UPDATE cases SET status = 'resolved', resolved_at = $2, resolved_by = $3, notes = coalesce(notes || E'\\n', '') || 'merged'
        WHERE person_id = $1 AND status = 'open' AND kind IN ('claims_prior_dose', 'possible_duplicate')`,
      [intoId, now, who.id],
    );
    const last = certificates[certificates.length - 1];
    if (last) await enqueue(tx, { kind: 'notify', payload: { personId: intoId, certificateId: last }, dedupeKey: `notify:${last}`, personId: intoId });
    // Renumbered doses: SATUSEHAT's records follow (each dose queued before is sent again).
    for (const d of await tx.query<{ vaccination_id: string }>('SELECT vaccination_id FROM satusehat_sync WHERE person_id = $1', [intoId]).then((r) => r.rows)) {
      await requeueSync(tx, d.vaccination_id, `merge:${fromId}`);
    }
    await audit(tx, { actor: who.id, action: 'people_merged', subject: intoId, personId: intoId, detail: { from: fromId, certificates, doses } });
    await audit(tx, { actor: who.id, action: 'merged_into', subject: fromId, personId: fromId, detail: { into: intoId } });
    return { personId: intoId, mergedFrom: fromId, doses: doses.map((d) => ({ id: d.id, doseNumber: d.dose_number, status: 'recorded' })), certificates, superseded: superseded.rows[0]?.n ?? 0 };
  });
}

/** The tables with a person_id column, but the append-only audit log. */
async function personTables(tx: Queryable): Promise<string[]> {
  const r = await tx.query<{ table_name: string }>(
    `SELECT c.table_name FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
      WHERE c.table_schema = current_schema() AND c.column_name = 'person_id' AND c.table_name <> 'audit_log'
      ORDER BY c.table_name`,
  );
  return r.rows.map((t) => `"${t.table_name}"`);
}

/**
 * Renumbers a person's live doses 1..n by date and marks them recorded (the
 * chain is complete by construction). The partial unique index on
 * (person_id, dose_number) ignores void rows, so rows step aside as void first.
 */
async function renumberDoses(tx: Queryable, personId: string): Promise<LiveDose[]> {
  const r = await tx.query<LiveDose & { status: string }>(
    "SELECT id, dose_number, vaccine, date, status FROM vaccinations WHERE person_id = $1 AND status <> 'void' ORDER BY date, dose_number, recorded_at",
    [personId],
  );
  const doses = r.rows.map((d, i) => ({ id: d.id, dose_number: i + 1, vaccine: d.vaccine, date: d.date }));
  if (doses.length > 9) throw new AppError('conflict', 'too_many_doses', { en: 'The merged record would have more than 9 doses.', id: 'Data gabungan akan memiliki lebih dari 9 dosis.' });
  const ids = doses.map((d) => d.id);
  await tx.query("UPDATE vaccinations SET status = 'void' WHERE person_id = $1 AND id = ANY($2::uuid[])", [personId, ids]);
  await tx.query(
    `UPDATE vaccinations v SET dose_number = n.dose_number, status = 'recorded'
       FROM unnest($2::uuid[], $3::int[]) AS n(id, dose_number)
      WHERE v.person_id = $1 AND v.id = n.id`,
    [personId, ids, doses.map((d) => d.dose_number)],
  );
  return doses;
}

/**
 * Settles a claims_prior_dose case: `confirm` accepts the facility's evidence
 * (the dose stays as recorded, status recorded); `link` merges the record
 * holding the earlier dose into this person.
 */
export async function settleClaim(
  deps: OpsDeps,
  who: Principal,
  caseId: string,
  action: { kind: 'confirm'; evidence: string } | { kind: 'link'; personId: string },
): Promise<{ caseId: string; status: string; merge?: MergeResult }> {
  if (!UUID.test(caseId)) throw caseNotFound(caseId);
  const c = await deps.db.query<{ person_id: string; kind: string; status: string; subject_id: string | null }>(
    'SELECT person_id, kind, status, subject_id FROM cases WHERE id = $1',
    [caseId],
  );
  const row = c.rows[0];
  if (!row) throw caseNotFound(caseId);
  await assertPersonInScope(deps.db, who, row.person_id);
  if (row.kind !== 'claims_prior_dose')
    throw invalid([issue('case', 'wrong_case_kind', `This action settles claims_prior_dose cases, not ${row.kind}.`, `Tindakan ini untuk kasus claims_prior_dose, bukan ${row.kind}.`)]);
  if (row.status !== 'open') throw new AppError('conflict', 'case_closed', { en: 'This case is already closed.', id: 'Kasus ini sudah ditutup.' });
  if (action.kind === 'link') {
    const merge = await mergePeople(deps, who, row.person_id, action.personId);
    return { caseId, status: 'resolved', merge };
  }
  const evidence = reasonOf(action.evidence);
  const now = clock(deps);
  await deps.db.withTransaction(async (tx) => {
    await tx.query("UPDATE vaccinations SET status = 'recorded' WHERE person_id = $1 AND id = $2 AND status = 'claims_prior_dose'", [row.person_id, row.subject_id]);
    await tx.query("UPDATE cases SET status = 'resolved', resolved_at = $3, resolved_by = $4, notes = $5 WHERE person_id = $1 AND id = $2", [
      row.person_id,
      caseId,
      now,
      who.id,
      `confirmed: ${evidence}`,
    ]);
    await audit(tx, { actor: who.id, action: 'prior_dose_confirmed', subject: caseId, personId: row.person_id, detail: { evidence, vaccinationId: row.subject_id } });
  });
  return { caseId, status: 'resolved' };
}

export function caseNotFound(id: string): AppError {
  return new AppError('not_found', 'case_not_found', { en: `No case ${id}.`, id: `Tidak ada kasus ${id}.` });
}

/**
 * Corrects a person's phone number: audited, open phone cases resolved, the
 * SMS of every certificate not yet delivered queued again to the new number,
 * and the number replaced told that it was (`phone_replaced_notice`).
 * Inside the caller's transaction when `inTx` is given (an approved phone
 * correction request commits with its decision).
 */
export async function correctPhone(
  deps: OpsDeps,
  who: Principal,
  personId: string,
  phoneIn: unknown,
  inTx?: Queryable,
): Promise<{ personId: string; phone: string; resent: string[] }> {
  await assertPersonInScope(inTx ?? deps.db, who, personId);
  const p = normalizePhone(phoneIn, 'phone');
  if (!p.ok) throw invalid([p.issue]);
  if (!p.e164) throw invalid([issue('phone', 'required', 'Give the new phone number.', 'Isi nomor HP yang baru.')]);
  const phone = p.e164;
  const now = clock(deps);
  const run = <T>(fn: (tx: Queryable) => Promise<T>): Promise<T> => (inTx ? fn(inTx) : deps.db.withTransaction(fn));
  return run(async (tx) => {
    const people = await lockPeople(tx, [personId]);
    const person = people.get(personId);
    if (!person || person.merged_into) throw personNotFound(personId);
    const old = await tx.query<{ phone: string | null }>('SELECT phone FROM people WHERE id = $1', [personId]);
    await tx.query("UPDATE people SET phone = $2, phone_status = 'ok', phone_raw = NULL, updated_at = $3 WHERE id = $1", [personId, phone, now]);
    await tx.query(
      "UPDATE cases SET status = 'resolved', resolved_at = $2, resolved_by = $3, notes = 'phone corrected' WHERE person_id = $1 AND status = 'open' AND kind IN ('invalid_phone', 'unreachable', 'suspicious_phone')",
      [personId, now, who.id],
    );
    // Certificates whose SMS never reached the person: valid ones with no delivered notification.
    const pending = await tx.query<{ id: string }>(
      `SELECT c.id FROM certificates c
        WHERE c.person_id = $1 AND c.status = 'valid'
          AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.person_id = c.person_id AND n.certificate_id = c.id AND n.status = 'delivered')
        ORDER BY c.issued_at`,
      [personId],
    );
    const resent: string[] = [];
    for (const c of pending.rows) {
      const id = await enqueue(tx, { kind: 'notify', payload: { personId, certificateId: c.id }, dedupeKey: `notify:${c.id}:phone:${now.getTime()}`, personId });
      if (id !== null) resent.push(c.id);
    }
    // The number replaced is told, once per change (no name, no link): a change its owner did not
    // ask for (a takeover by NIK, a wrong approval) is then not silent.
    const from = old.rows[0]?.phone ?? null;
    if (from !== null && from !== phone)
      await enqueue(tx, { kind: 'phone_replaced_notice', payload: { personId, phone: from }, dedupeKey: `phone_replaced:${personId}:${now.getTime()}`, personId });
    await audit(tx, { actor: who.id, action: 'phone_corrected', subject: personId, personId, detail: { from, to: phone, resent } });
    return { personId, phone, resent };
  });
}
