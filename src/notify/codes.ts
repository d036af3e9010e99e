/**
 * One-time codes by SMS (for the citizen portal: certificate lookup by NIK +
 * birth date, a phone change, a missing-dose request).
 *
 * Decision: the code is stored nowhere. A request is a row of `otp_requests`
 * (who, which number, what for, until when, wrong tries); its code is
 * `HMAC-SHA-256(otp secret, "dosis-otp:" + request id)` cut to 6 digits,
 * derived when the SMS is rendered and again when a code is checked. So the
 * outbox job holds only the request id, and the notification row stores the
 * text with the code masked (a retry derives it again). Reading the database
 * alone gives no code, provided the secret is kept outside it
 * (`DOSIS_OTP_SECRET`); without it a secret is generated once into
 * `settings`, which is only as safe as the database (as for the report secret).
 *
 * Compared with the alternatives: a stored hash of a random code would need the
 * code itself kept somewhere until the SMS is sent (the job, or encrypted:
 * another key to keep anyway); a derived code needs one secret and no
 * plaintext at rest. The local sink gateway does store the sent text (it is
 * the development stand-in for a phone); Kannel's own logs are its operator's
 * to protect.
 *
 * A code works once, for `ttlMinutes` (default 10), and after 5 wrong tries
 * the request is spent. Rate limits per number and per person belong to the
 * caller (the portal), which sees the request counts in `otp_requests`.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Db, Queryable } from '../db/client.ts';
import { normalizePhone } from '../domain/phone.ts';
import { invalid, issue, type FieldIssue } from '../domain/errors.ts';
import { enqueue } from './outbox.ts';

export const CODE_DIGITS = 6;
export const CODE_TTL_MINUTES = 10;
export const CODE_MAX_TRIES = 5;
const PURPOSE = /^[a-z][a-z_]{0,39}$/;

/** The code of a request: 6 digits from HMAC(secret, id). */
export function codeFor(secret: Buffer, requestId: string): string {
  const mac = createHmac('sha256', secret).update(`dosis-otp:${requestId.toLowerCase()}`).digest();
  return (mac.readBigUInt64BE(0) % 10n ** BigInt(CODE_DIGITS)).toString().padStart(CODE_DIGITS, '0');
}

/** The secret codes derive from: DOSIS_OTP_SECRET, else generated once into `settings` (every process reads the same). */
export async function loadOtpSecret(db: Db, configured?: string): Promise<Buffer> {
  if (configured) return Buffer.from(configured, 'utf8');
  await db.query("INSERT INTO settings (key, value) VALUES ('otp_secret', $1) ON CONFLICT (key) DO NOTHING", [randomBytes(32).toString('base64')]);
  const r = await db.query<{ value: string }>("SELECT value FROM settings WHERE key = 'otp_secret'");
  return Buffer.from(r.rows[0]!.value, 'base64');
}

export interface CodeSmsRequest {
  /** The person the code is for; null when the number is not tied to a person (yet). */
  personId: string | null;
  /** Where the code goes, as typed or E.164 (normalised here; must be able to receive SMS). */
  phone: string;
  /** What the code is for (`lookup`, `phone_change`, …): checked again by `checkCode`. */
  purpose: string;
  ttlMinutes?: number;
}

export interface CodeSmsQueued {
  requestId: string;
  phone: string;
  expiresAt: Date;
}

/**
 * Creates a one-time-code request and queues its SMS, in the caller's
 * transaction. The job's payload is `{requestId}`; the code is derived when
 * the SMS is rendered. Throws a 422-style AppError for a phone that cannot
 * receive SMS or a bad purpose.
 */
export async function enqueueCodeSms(tx: Queryable, r: CodeSmsRequest): Promise<CodeSmsQueued> {
  const problems: FieldIssue[] = [];
  const p = normalizePhone(r.phone, 'phone');
  if (!p.ok) problems.push(p.issue);
  else if (!p.e164) problems.push(issue('phone', 'required', 'Give a mobile number.', 'Isi nomor HP.'));
  if (!PURPOSE.test(r.purpose)) problems.push(issue('purpose', 'purpose_invalid', 'purpose: lower-case letters and _.', 'purpose: huruf kecil dan _.'));
  const ttl = r.ttlMinutes ?? CODE_TTL_MINUTES;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 60) problems.push(issue('ttlMinutes', 'ttl_invalid', 'ttlMinutes: 1–60.', 'ttlMinutes: 1–60.'));
  if (problems.length > 0 || !p.ok || !p.e164) throw invalid(problems);
  const requestId = randomUUID();
  const ins = await tx.query<{ expires_at: Date }>(
    `INSERT INTO otp_requests (id, person_id, phone, purpose, expires_at, max_attempts)
     VALUES ($1, $2, $3, $4, now() + make_interval(mins => $5::int), $6) RETURNING expires_at`,
    [requestId, r.personId, p.e164, r.purpose, ttl, CODE_MAX_TRIES],
  );
  // A code is useless once expired: a job that cannot run in time should not keep retrying for hours.
  await enqueue(tx, { kind: 'code_sms', payload: { requestId }, dedupeKey: `otp:${requestId}`, personId: r.personId, maxAttempts: 3 });
  return { requestId, phone: p.e164, expiresAt: ins.rows[0]!.expires_at };
}

/**
 * A request no code is sent for, in the caller's transaction: the portal's
 * answer to a lookup that matches nobody. Its wrong tries are counted like a
 * real request's, so "wrong code, N tries left" reads the same whether or not
 * anyone matched. No phone (''), no person, no SMS; housekeeping deletes it
 * when it expires, as any request.
 */
export async function createUnsentCodeRequest(tx: Queryable, purpose: string, requestId: string = randomUUID()): Promise<string> {
  await tx.query(
    `INSERT INTO otp_requests (id, person_id, phone, purpose, expires_at, max_attempts)
     VALUES ($1, NULL, '', $2, now() + make_interval(mins => $3::int), $4)`,
    [requestId, purpose, CODE_TTL_MINUTES, CODE_MAX_TRIES],
  );
  return requestId;
}

export interface OtpRequestRow extends Record<string, unknown> {
  id: string;
  person_id: string | null;
  phone: string;
  purpose: string;
  expires_at: Date;
  consumed_at: Date | null;
  attempts: number;
  max_attempts: number;
}

/** A request as stored, and whether a code for it may still be sent and entered. */
export async function otpRequest(db: Queryable, id: string): Promise<(OtpRequestRow & { usable: boolean }) | undefined> {
  const r = await db.query<OtpRequestRow & { usable: boolean }>(
    `SELECT id, person_id, phone, purpose, expires_at, consumed_at, attempts, max_attempts,
            (consumed_at IS NULL AND expires_at > now() AND attempts < max_attempts) AS usable
       FROM otp_requests WHERE id = $1`,
    [id],
  );
  return r.rows[0];
}

/** The notification's person: the request's person, else the request id itself (a number without a person). */
export function codeNotificationPerson(req: Pick<OtpRequestRow, 'id' | 'person_id'>): string {
  return req.person_id ?? req.id;
}

/** The SMS text with the code masked, as stored in `notifications.body`. */
export function maskCode(text: string, code: string): string {
  return text.split(code).join('*'.repeat(code.length));
}

export type CodeCheck =
  | { ok: true; personId: string | null; phone: string; purpose: string }
  | { ok: false; reason: 'wrong'; /** Wrong tries the request still takes (at least 1). */ remaining: number }
  | { ok: false; reason: 'unknown' | 'expired' | 'used' | 'too_many' | 'wrong_purpose' };

/**
 * Checks a code entered for a request: right → the request is consumed (a
 * code works once) and the caller learns whom and which number it proves;
 * wrong → one try counted (after `max_attempts` the request is spent).
 */
export async function checkCode(db: Db, secret: Buffer, requestId: string, code: string, purpose?: string): Promise<CodeCheck> {
  if (!/^[0-9a-f-]{36}$/i.test(requestId)) return { ok: false, reason: 'unknown' };
  return db.withTransaction(async (tx) => {
    const r = await tx.query<OtpRequestRow & { expired: boolean }>(
      `SELECT id, person_id, phone, purpose, expires_at, consumed_at, attempts, max_attempts, expires_at <= now() AS expired
         FROM otp_requests WHERE id = $1 FOR UPDATE`,
      [requestId],
    );
    const row = r.rows[0];
    if (!row) return { ok: false, reason: 'unknown' };
    if (purpose !== undefined && row.purpose !== purpose) return { ok: false, reason: 'wrong_purpose' };
    if (row.consumed_at) return { ok: false, reason: 'used' };
    if (row.expired) return { ok: false, reason: 'expired' };
    if (row.attempts >= row.max_attempts) return { ok: false, reason: 'too_many' };
    const want = Buffer.from(codeFor(secret, row.id));
    const got = Buffer.from(code.replace(/\s/g, ''));
    if (got.length === want.length && timingSafeEqual(got, want)) {
      await tx.query('UPDATE otp_requests SET consumed_at = now() WHERE id = $1', [row.id]);
      return { ok: true, personId: row.person_id, phone: row.phone, purpose: row.purpose };
    }
    // Counted on the row locked above: concurrent wrong tries are counted one by one, never past max_attempts.
    await tx.query('UPDATE otp_requests SET attempts = attempts + 1 WHERE id = $1', [row.id]);
    const remaining = row.max_attempts - (row.attempts + 1);
    return remaining > 0 ? { ok: false, reason: 'wrong', remaining } : { ok: false, reason: 'too_many' };
  });
}
