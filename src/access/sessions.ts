/**
 * Console sessions: a random secret in an HttpOnly cookie (`dosis_session`),
 * stored only as its SHA-256 hash, with a CSRF token the page echoes in
 * `x-csrf-token` on every change (double submit: the token is also in the
 * readable cookie `dosis_csrf`). A session ends when idle for IDLE_MS, at
 * the latest ABSOLUTE_MS after sign-in, at sign-out, and when its account is
 * disabled or given a new password.
 *
 * Sessions are not cached: sign-out and disabling take effect on the next
 * request in every process. `last_seen_at` is written at most once a minute.
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Db, Queryable } from '../db/client.ts';
import { hashToken } from './tokens.ts';
import { staffUser, type AccountRow, type StaffUser } from './accounts.ts';

/** Idle for this long: signed out. Long enough for a quiet hour at a vaccination post. */
export const IDLE_MS = 2 * 60 * 60_000;
/** Signed out this long after sign-in, however busy: one working day. */
export const ABSOLUTE_MS = 12 * 60 * 60_000;
const TOUCH_EVERY_MS = 60_000;

export const SESSION_COOKIE = 'dosis_session';
export const CSRF_COOKIE = 'dosis_csrf';

export interface StaffSession {
  id: string;
  csrfToken: string;
  expiresAt: Date;
  user: StaffUser;
}

/** Opens a session for `accountId`; the secret goes in the cookie and is never stored. */
export async function openSession(db: Queryable, accountId: string, client: { address: string; userAgent: string | undefined }, now: Date): Promise<{ secret: string; csrfToken: string; expiresAt: Date }> {
  const secret = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  const expiresAt = new Date(now.getTime() + ABSOLUTE_MS);
  // Sessions that ended on their own (any past their absolute expiry; this account's idle ones) are dropped here, so the table does not grow.
  await db.query('DELETE FROM staff_sessions WHERE expires_at <= $2 OR (account_id = $1 AND last_seen_at <= $3)', [accountId, now, new Date(now.getTime() - IDLE_MS)]);
  await db.query(
    `INSERT INTO staff_sessions (id, token_hash, account_id, csrf_token, client, user_agent, created_at, last_seen_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)`,
    [randomUUID(), hashToken(secret), accountId, csrfToken, client.address, client.userAgent?.slice(0, 300) ?? null, now, expiresAt],
  );
  return { secret, csrfToken, expiresAt };
}

interface SessionRow extends Record<string, unknown>, Pick<AccountRow, 'username' | 'display_name' | 'role' | 'facility_code' | 'region_code'> {
  session_id: string;
  csrf_token: string;
  expires_at: Date;
  last_seen_at: Date;
  account_id: string;
}

/** The live session of a cookie secret, or null (unknown, expired, signed out, account disabled). */
export async function sessionBySecret(db: Db, secret: string, now: Date): Promise<StaffSession | null> {
  const r = await db.query<SessionRow>(
    `SELECT s.id AS session_id, s.csrf_token, s.expires_at, s.last_seen_at, a.id AS account_id,
            a.username, a.display_name, a.role, a.facility_code, a.region_code
       FROM staff_sessions s JOIN staff_accounts a ON a.id = s.account_id
      WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND a.disabled_at IS NULL`,
    [hashToken(secret), now, new Date(now.getTime() - IDLE_MS)],
  );
  const row = r.rows[0];
  if (!row) return null;
  if (now.getTime() - row.last_seen_at.getTime() > TOUCH_EVERY_MS) await db.query('UPDATE staff_sessions SET last_seen_at = $2 WHERE id = $1', [row.session_id, now]);
  return { id: row.session_id, csrfToken: row.csrf_token, expiresAt: row.expires_at, user: staffUser({ ...row, id: row.account_id }) };
}

/** Ends a session (sign-out). */
export async function endSession(db: Queryable, sessionId: string): Promise<void> {
  await db.query('DELETE FROM staff_sessions WHERE id = $1', [sessionId]);
}

/** True when `given` is the session's CSRF token (constant-time). */
export function csrfMatches(session: StaffSession, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(session.csrfToken);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of cookie `name` in a Cookie header, if any. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
