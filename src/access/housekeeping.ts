/**
 * Housekeeping: deletes what the public side of Dosis keeps only for a while —
 * rows that hold personal data someone typed (possibly about someone else)
 * or rate-limit traces, once nothing can use them any more. Run hourly by the
 * worker as the periodic outbox job `housekeeping`, and by `dosis worker`.
 *
 * - Phone corrections never proven with their code (`unverified`): the NIK,
 *   birth date, name and number someone entered, after the code expired and
 *   the day-long rate-limit windows that count them have passed.
 * - One-time code requests (`otp_requests`): the number a code went to, once
 *   the code has expired and those windows have passed. Filed corrections and
 *   missing-dose requests keep what they need in their own rows.
 * - Portal lookups (rate-limit traces, a hash of the NIK) after their windows.
 * - Expired portal sessions.
 *
 * Records of doses, people, certificates, notifications, decided requests and
 * the audit log are never touched here.
 */
import type { Db } from '../db/client.ts';

/** How long unproven requests, spent codes and lookup traces are kept: past every rate-limit window (the longest is a day). */
export const KEEP_UNPROVEN_DAYS = 2;

export interface HousekeepingCounts {
  unverifiedCorrections: number;
  codeRequests: number;
  portalLookups: number;
  portalSessions: number;
}

/** Deletes what is past keeping at `now`; returns how many rows of each kind went. */
export async function housekeep(db: Db, now: Date): Promise<HousekeepingCounts> {
  const before = new Date(now.getTime() - KEEP_UNPROVEN_DAYS * 86_400_000);
  const r = await db.query<{ corrections: number; codes: number; lookups: number; sessions: number }>(
    `WITH c AS (DELETE FROM phone_corrections WHERE status = 'unverified' AND created_at < $1 RETURNING 1),
          o AS (DELETE FROM otp_requests WHERE expires_at < $1 RETURNING 1),
          l AS (DELETE FROM portal_lookups WHERE at < $1 RETURNING 1),
          s AS (DELETE FROM portal_sessions WHERE expires_at < $2 RETURNING 1)
     SELECT (SELECT count(*) FROM c)::int AS corrections, (SELECT count(*) FROM o)::int AS codes,
            (SELECT count(*) FROM l)::int AS lookups, (SELECT count(*) FROM s)::int AS sessions`,
    [before, now],
  );
  const row = r.rows[0];
  return {
    unverifiedCorrections: row?.corrections ?? 0,
    codeRequests: row?.codes ?? 0,
    portalLookups: row?.lookups ?? 0,
    portalSessions: row?.sessions ?? 0,
  };
}
