/** The work-list action of the hand-off: "send again" a dose SATUSEHAT rejected or could not match, once corrected. */
import type { Db } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { audit } from '../access/audit.ts';
import { assertPersonInScope } from '../access/scope.ts';
import { AppError, invalid, issue } from '../domain/errors.ts';
import { caseNotFound } from '../records/operations.ts';
import { requeueSync } from './sync.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const SYNC_CASE_KINDS = ['satusehat_rejected', 'satusehat_patient_not_found'] as const;

/**
 * Sends the dose of a `satusehat_rejected` or `satusehat_patient_not_found` case again: the case is
 * resolved, the dose waits again and a job goes (a new rejection opens a new case). Who sees the person.
 */
export async function sendAgain(deps: { db: Db; now?: () => Date }, who: Principal, caseId: string): Promise<{ caseId: string; status: 'resolved'; vaccinationId: string }> {
  if (!UUID.test(caseId)) throw caseNotFound(caseId);
  const now = (deps.now ?? (() => new Date()))();
  return deps.db.withTransaction(async (tx) => {
    const c = await tx.query<{ person_id: string; kind: string; status: string; subject_id: string | null }>(
      'SELECT person_id, kind, status, subject_id FROM cases WHERE id = $1 FOR UPDATE',
      [caseId],
    );
    const row = c.rows[0];
    if (!row || !row.subject_id) throw caseNotFound(caseId);
    await assertPersonInScope(tx, who, row.person_id);
    if (!(SYNC_CASE_KINDS as readonly string[]).includes(row.kind))
      throw invalid([issue('case', 'wrong_case_kind', `This action sends a dose to SATUSEHAT again, not for ${row.kind} cases.`, `Tindakan ini mengirim ulang dosis ke SATUSEHAT, bukan untuk kasus ${row.kind}.`)]);
    if (row.status !== 'open') throw new AppError('conflict', 'case_closed', { en: 'This case is already closed.', id: 'Kasus ini sudah ditutup.' });
    await tx.query("UPDATE cases SET status = 'resolved', resolved_at = $3, resolved_by = $4, notes = 'sent to SATUSEHAT again' WHERE person_id = $1 AND id = $2", [
      row.person_id,
      caseId,
      now,
      who.id,
    ]);
    await requeueSync(tx, row.subject_id, `again:${caseId}`);
    await audit(tx, { actor: who.id, action: 'satusehat_sent_again', subject: row.subject_id, personId: row.person_id, detail: { caseId } });
    return { caseId, status: 'resolved' as const, vaccinationId: row.subject_id };
  });
}
