/** The append-only audit log: who did what to whom, when. */
import type { Queryable } from '../db/client.ts';

export interface AuditEntry {
  actor: string;
  action: string;
  subject?: string | null;
  personId?: string | null;
  detail?: Record<string, unknown>;
}

/** Appends one entry, inside the caller's transaction so it commits with the change. */
export async function audit(tx: Queryable, e: AuditEntry): Promise<void> {
  await tx.query('INSERT INTO audit_log (actor, action, subject, person_id, detail) VALUES ($1, $2, $3, $4, $5)', [
    e.actor,
    e.action,
    e.subject ?? null,
    e.personId ?? null,
    JSON.stringify(e.detail ?? {}),
  ]);
}
