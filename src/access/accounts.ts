/**
 * Staff accounts: the people who sign in to the console with a username and
 * password. An account carries a role and scope exactly like an API token
 * (facility code or region code), so a signed-in person is the same
 * `Principal` to every route. Passwords are scrypt hashes (passwords.ts).
 *
 * Sign-in answers the same — and takes the same time — for an unknown
 * username, a wrong password, a disabled account and a locked one: each
 * checks one scrypt hash. After MAX_FAILED_ATTEMPTS wrong passwords in a row
 * the account is locked for LOCK_MS (an online guesser gets 5 tries per 15
 * minutes, however many it sends at once); an admin can unlock it at once.
 */
import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../db/client.ts';
import { constraintOf } from '../db/client.ts';
import { AppError, type FieldIssue } from '../domain/errors.ts';
import { checkRoleScope, scopeRegion, type Principal, type Role } from './tokens.ts';
import { dummyHash, hashPassword, needsRehash, signInGate, verifyPassword, type HashGate } from './passwords.ts';

export const MAX_FAILED_ATTEMPTS = 5;
export const LOCK_MS = 15 * 60_000;
export const PASSWORD_MIN_LENGTH = 10;

/** The signed-in person as the console sees them (`ConsoleUser` in web/console/api.ts). */
export interface StaffUser {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  facilityCode: string | null;
  regionCode: string | null;
}

/** An account as admins see it (never the hash). */
export interface Account extends StaffUser {
  disabled: boolean;
  failedAttempts: number;
  lockedUntil: string | null;
  lastSignInAt: string | null;
  createdAt: string;
  createdBy: string | null;
}

export interface NewAccount {
  username: string;
  displayName: string;
  role: Role;
  facility?: string | null;
  region?: string | null;
  password: string;
}

export interface AccountChange {
  displayName?: string;
  disabled?: boolean;
  password?: string;
  /** Clear a lock after too many wrong passwords. */
  unlock?: boolean;
}

export interface AccountRow extends Record<string, unknown> {
  id: string;
  username: string;
  display_name: string;
  role: Role;
  facility_code: string | null;
  region_code: string | null;
  password_hash: string;
  disabled_at: Date | null;
  failed_attempts: number;
  locked_until: Date | null;
  last_sign_in_at: Date | null;
  created_at: Date;
  created_by: string | null;
}

const COLUMNS = 'id, username, display_name, role, facility_code, region_code, password_hash, disabled_at, failed_attempts, locked_until, last_sign_in_at, created_at, created_by';

function toAccount(r: AccountRow): Account {
  return {
    id: r.id,
    username: r.username,
    displayName: r.display_name,
    role: r.role,
    facilityCode: r.facility_code,
    regionCode: r.region_code,
    disabled: r.disabled_at !== null,
    failedAttempts: r.failed_attempts,
    lockedUntil: r.locked_until?.toISOString() ?? null,
    lastSignInAt: r.last_sign_in_at?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
    createdBy: r.created_by,
  };
}

/** The console's view of an account row. */
export function staffUser(r: Pick<AccountRow, 'id' | 'username' | 'display_name' | 'role' | 'facility_code' | 'region_code'>): StaffUser {
  return { id: r.id, username: r.username, displayName: r.display_name, role: r.role, facilityCode: r.facility_code, regionCode: r.region_code };
}

/** The principal of a signed-in account: the same shape as a token's, id = the account id. */
export function staffPrincipal(u: StaffUser): Principal {
  return { id: u.id, role: u.role, facilityCode: u.facilityCode, regionCode: u.regionCode, label: u.username };
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/;

function problem(path: string, code: string, en: string, id: string): FieldIssue {
  return { path, code, message: { en, id } };
}

function passwordIssues(password: string, username: string | null): FieldIssue[] {
  if (password.length < PASSWORD_MIN_LENGTH)
    return [problem('password', 'password_too_short', `at least ${PASSWORD_MIN_LENGTH} characters`, `paling sedikit ${PASSWORD_MIN_LENGTH} karakter`)];
  if (password.length > 200) return [problem('password', 'password_too_long', 'at most 200 characters', 'paling banyak 200 karakter')];
  if (username && password.toLowerCase().includes(username.toLowerCase()))
    return [problem('password', 'password_contains_username', 'must not contain the username', 'tidak boleh memuat nama pengguna')];
  return [];
}

function rejectIf(fields: FieldIssue[]): void {
  if (fields.length === 0) return;
  throw new AppError('invalid', 'validation_failed', { en: `Invalid: ${fields.map((f) => f.path).join(', ')}`, id: `Tidak valid: ${fields.map((f) => f.path).join(', ')}` }, { fields });
}

/** Creates an account; the username must be free whatever its case (409 `username_taken`). */
export async function createAccount(db: Queryable, input: NewAccount, createdBy: string | null): Promise<Account> {
  const fields: FieldIssue[] = [];
  if (!USERNAME.test(input.username))
    fields.push(problem('username', 'invalid_username', '3–64 letters, digits, dots, dashes or underscores, starting with a letter or digit', '3–64 huruf, angka, titik, tanda hubung atau garis bawah, diawali huruf atau angka'));
  if (!input.displayName.trim()) fields.push(problem('displayName', 'required', 'required', 'wajib diisi'));
  fields.push(...passwordIssues(input.password, input.username));
  rejectIf(fields);
  const facility = input.role === 'facility' ? (input.facility?.toUpperCase() ?? null) : null;
  await checkRoleScope(db, { role: input.role, facility, region: input.region ?? null }, 'account');
  const region = input.role === 'district' ? scopeRegion(input.region) : null;
  const hash = await hashPassword(input.password);
  try {
    const r = await db.query<AccountRow>(
      `INSERT INTO staff_accounts (id, username, display_name, role, facility_code, region_code, password_hash, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
      [randomUUID(), input.username, input.displayName.trim(), input.role, facility, region, hash, createdBy],
    );
    return toAccount(r.rows[0]!);
  } catch (e) {
    if (constraintOf(e) === 'staff_accounts_username')
      throw new AppError('conflict', 'username_taken', { en: `The username "${input.username}" is taken.`, id: `Nama pengguna "${input.username}" sudah dipakai.` }, {
        fields: [problem('username', 'username_taken', 'taken', 'sudah dipakai')],
      });
    throw e;
  }
}

/** Every account, by username. */
export async function listAccounts(db: Queryable): Promise<Account[]> {
  const r = await db.query<AccountRow>(`SELECT ${COLUMNS} FROM staff_accounts ORDER BY lower(username)`);
  return r.rows.map(toAccount);
}

/** The account with `id`; 404 when there is none. */
export async function getAccount(db: Queryable, id: string): Promise<Account> {
  const r = await db.query<AccountRow>(`SELECT ${COLUMNS} FROM staff_accounts WHERE id::text = $1`, [id]);
  if (!r.rows[0]) throw new AppError('not_found', 'account_not_found', { en: 'No such account.', id: 'Akun tidak ditemukan.' });
  return toAccount(r.rows[0]);
}

/**
 * Changes an account. Disabling it or setting a new password ends its
 * sessions at once (a lost phone, a staff member who left).
 */
export async function updateAccount(db: Queryable, id: string, change: AccountChange): Promise<Account> {
  const before = await getAccount(db, id);
  const fields: FieldIssue[] = [];
  if (change.displayName !== undefined && !change.displayName.trim()) fields.push(problem('displayName', 'required', 'required', 'wajib diisi'));
  if (change.password !== undefined) fields.push(...passwordIssues(change.password, before.username));
  rejectIf(fields);
  const hash = change.password === undefined ? null : await hashPassword(change.password);
  const r = await db.query<AccountRow>(
    `UPDATE staff_accounts SET
       display_name = coalesce($2, display_name),
       disabled_at = CASE WHEN $3::boolean IS NULL THEN disabled_at WHEN $3 THEN coalesce(disabled_at, now()) ELSE NULL END,
       password_hash = coalesce($4, password_hash),
       failed_attempts = CASE WHEN $5 OR $4 IS NOT NULL THEN 0 ELSE failed_attempts END,
       locked_until = CASE WHEN $5 OR $4 IS NOT NULL THEN NULL ELSE locked_until END,
       updated_at = now()
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [before.id, change.displayName?.trim() ?? null, change.disabled ?? null, hash, change.unlock === true],
  );
  if (change.disabled === true || hash !== null) await db.query('DELETE FROM staff_sessions WHERE account_id = $1', [before.id]);
  return toAccount(r.rows[0]!);
}

/**
 * Checks a username and password. Returns the account's user when they match
 * an enabled, unlocked account, else null — after the same work in every case
 * (one counting statement, one scrypt hash).
 *
 * The attempt is counted BEFORE the hash is compared, in one statement
 * (issue 15, item 2): a burst of guesses each gets its own number, and only
 * the first MAX_FAILED_ATTEMPTS since the last success or lock are compared
 * at all; the one that fails at the limit locks the account. A right password
 * signs in only if no lock was set meanwhile (by guesses counted before it),
 * so forty wrong passwords and the right one sent at once lock the account
 * and the right one is refused. Hashing waits for a slot of `gate` (a full
 * queue is a 429 before anything is counted).
 */
export async function checkCredentials(
  db: Db,
  username: string,
  password: string,
  now: Date,
  gate: HashGate = signInGate,
): Promise<{ user: StaffUser | null; justLocked: boolean }> {
  return gate.run(async () => {
    // A lock that has run out starts a new count; the row lock of this UPDATE orders concurrent attempts.
    const r = await db.query<AccountRow>(
      `UPDATE staff_accounts SET
         failed_attempts = CASE WHEN locked_until IS NOT NULL AND locked_until <= $2 THEN 1 ELSE failed_attempts + 1 END,
         locked_until = CASE WHEN locked_until <= $2 THEN NULL ELSE locked_until END
       WHERE lower(username) = lower($1) RETURNING ${COLUMNS}`,
      [username, now],
    );
    const row = r.rows[0];
    const locked = row?.locked_until != null && row.locked_until > now;
    const compared = row !== undefined && row.disabled_at === null && !locked && row.failed_attempts <= MAX_FAILED_ATTEMPTS;
    // Unknown, disabled, locked or past the limit: the same hash work against a hash nobody matches.
    const ok = await verifyPassword(password, compared ? row.password_hash : dummyHash());
    if (!compared) return { user: null, justLocked: false };
    if (!ok) {
      if (row.failed_attempts < MAX_FAILED_ATTEMPTS) return { user: null, justLocked: false };
      const l = await db.query(
        'UPDATE staff_accounts SET locked_until = $2 WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $3) RETURNING id',
        [row.id, new Date(now.getTime() + LOCK_MS), now],
      );
      return { user: null, justLocked: l.rowCount === 1 };
    }
    const rehash = needsRehash(row.password_hash) ? await hashPassword(password) : null;
    // Refused if guesses counted before this one locked the account while it was being compared.
    const u = await db.query(
      `UPDATE staff_accounts SET failed_attempts = 0, last_sign_in_at = $2, password_hash = coalesce($3, password_hash)
        WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $2) AND disabled_at IS NULL RETURNING id`,
      [row.id, now, rehash],
    );
    return { user: u.rowCount === 1 ? staffUser(row) : null, justLocked: false };
  });
}
