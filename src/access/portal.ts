/**
 * The citizen's certificate lookup. Knowing a NIK and birth date is not enough
 * (the 2021 leak: the President's NIK was public): the answer sends a one-time
 * code to the phone on record and names only a masked number. It is the same,
 * in content and in timing, whether or not anyone matches: a non-match gets a
 * request id and a stable made-up masked number, and every failure of the
 * code step reads alike. Lookups are rate-limited per NIK and per client
 * address. A right code opens a short session for that one person.
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as pause } from 'node:timers/promises';
import type { Db } from '../db/client.ts';
import { AppError, invalid, issue, type FieldIssue } from '../domain/errors.ts';
import { isIsoDate } from '../domain/dates.ts';
import { createUnsentCodeRequest, enqueueCodeSms, type CodeCheck } from '../notify/codes.ts';
import { namedIdentity } from './identity.ts';
import { lockLimitKeys } from './limits.ts';

export const LOOKUPS_PER_NIK_PER_HOUR = 3;
export const LOOKUPS_PER_CLIENT_PER_10_MIN = 10;
export const SESSION_MINUTES = 30;
/** Every lookup answer takes at least this long, so a match (which queues an SMS) does not answer slower. */
export const LOOKUP_FLOOR_MS = 400;

/**
 * Starts an answer's floor; the function returned waits out what is left of
 * LOOKUP_FLOOR_MS. Measured on the monotonic clock, and the timer taken again
 * when it fires early: Date.now's whole milliseconds and a timer that fires up
 * to a millisecond early by it had made the floor 399.9 ms. `sleep` set (the
 * tests that are not about the floor skip it) is called once with what is left.
 */
export function answerFloor(sleep?: (ms: number) => Promise<void>): () => Promise<void> {
  const started = performance.now();
  const left = () => LOOKUP_FLOOR_MS - (performance.now() - started);
  return async () => {
    if (sleep) {
      if (left() > 0) await sleep(left());
      return;
    }
    for (let ms = left(); ms > 0; ms = left()) await pause(Math.ceil(ms));
  };
}

export interface PortalDeps {
  db: Db;
  /** Secret for the made-up hints of non-matches (stable per NIK + birth date). */
  secret: Buffer;
  checkCode(requestId: string, code: string, purpose?: string): Promise<CodeCheck>;
  /** How the floor is waited out (answerFloor): a timer unless set. */
  sleep?: (ms: number) => Promise<void>;
}

const sha = (s: string) => createHash('sha256').update(s).digest();

function rateLimited(): AppError {
  return new AppError('rate_limited', 'too_many_lookups', {
    en: 'Too many lookups. Try again later.',
    id: 'Terlalu banyak pencarian. Coba lagi nanti.',
  });
}

/**
 * The hint a lookup answers with: the last three digits of a number and
 * nothing else, in one fixed shape (`****-****-*890`) whatever the number's
 * country, prefix or length. Anything more (a prefix, a country code, a
 * length) would tell a real number from an invented one (issue 15, item 4).
 */
export function phoneHint(lastThree: string): string {
  return `****-****-*${lastThree}`;
}

/** The last three digits of a real number. */
function realHint(e164: string): string {
  return phoneHint(e164.replace(/\D/g, '').slice(-3).padStart(3, '0'));
}

/** Three digits that look like a real number's, the same for the same identity and birth date (an HMAC: nobody can predict them). */
function madeUpHint(secret: Buffer, identity: string, birthDate: string): string {
  const h = createHmac('sha256', secret).update(`portal-hint:${identity}:${birthDate}`).digest();
  return phoneHint(String(h.readUInt32BE(0) % 1000).padStart(3, '0'));
}

/** What a lookup names: a NIK, or for someone without one a passport or (a child) the mother's NIK with the child's name. */
export interface LookupInput {
  nik?: unknown;
  identifier?: unknown;
  /** The child's full name, with a mother's NIK (it tells her children apart). */
  name?: unknown;
  birthDate: unknown;
  client: string;
}

/** The person key a lookup names, what its rate limit counts, and its made-up hint's seed; throws a 422 naming every bad field. */
function lookupKey(input: LookupInput): { key: string; identity: string; hintOf: string; birthDate: string } {
  const problems: FieldIssue[] = [];
  const bd = isIsoDate(input.birthDate) ? input.birthDate : null;
  if (bd === null) problems.push(issue('birthDate', 'date', 'Birth date as YYYY-MM-DD.', 'Tanggal lahir dengan format YYYY-MM-DD.'));
  const named = namedIdentity(input, bd, typeof input.name === 'string' ? input.name.trim() : '', problems);
  if (!named || bd === null) throw invalid(problems);
  // A NIK's made-up hint is keyed by its digits alone, as before identifiers came: a NIK's hint never changes.
  return { key: named.key, identity: named.identity, hintOf: named.identifier.type === 'nik' ? named.identifier.value : named.identity, birthDate: bd };
}

/** Starts a lookup; always 202-shaped: `{requestId, phoneHint}`. */
export async function startLookup(deps: PortalDeps, input: LookupInput): Promise<{ requestId: string; phoneHint: string }> {
  const floor = answerFloor(deps.sleep);
  const { key, identity, hintOf, birthDate: bd } = lookupKey(input);
  // The rate limit of a NIK keeps its hash of old (`nik:<digits>`): limits counted before this change still apply.
  const nikHash = sha(identity);

  const result = await deps.db.withTransaction(async (tx) => {
    // Counted under a lock on what is counted: a burst for one NIK is counted one by one (limits.ts).
    await lockLimitKeys(tx, [`lookup-nik:${nikHash.toString('hex')}`, `lookup-client:${input.client}`]);
    const counts = await tx.query<{ per_nik: number; per_client: number }>(
      `SELECT (SELECT count(*) FROM portal_lookups WHERE nik_hash = $1 AND at > now() - interval '1 hour')::int8 AS per_nik,
              (SELECT count(*) FROM portal_lookups WHERE client = $2 AND at > now() - interval '10 minutes')::int8 AS per_client`,
      [nikHash, input.client],
    );
    const c = counts.rows[0]!;
    if (c.per_nik >= LOOKUPS_PER_NIK_PER_HOUR || c.per_client >= LOOKUPS_PER_CLIENT_PER_10_MIN) return 'limited' as const;
    await tx.query('INSERT INTO portal_lookups (nik_hash, client) VALUES ($1, $2)', [nikHash, input.client]);
    const p = await tx.query<{ id: string; phone: string }>(
      `SELECT p.id, p.phone FROM person_keys k JOIN people p ON p.id = k.person_id
        WHERE k.key = $1 AND p.birth_date = $2::date AND p.merged_into IS NULL AND p.phone IS NOT NULL`,
      [key, bd],
    );
    const person = p.rows[0];
    // Nobody: a request without SMS, whose wrong tries count down as a real one's (codes.ts createUnsentCodeRequest).
    const nobody = async () => ({ requestId: await createUnsentCodeRequest(tx, 'lookup', randomUUID()), phoneHint: madeUpHint(deps.secret, hintOf, bd) });
    if (!person) return nobody();
    try {
      const q = await enqueueCodeSms(tx, { personId: person.id, phone: person.phone, purpose: 'lookup' });
      return { requestId: q.requestId, phoneHint: realHint(q.phone) };
    } catch (e) {
      // A number on record that cannot take an SMS (checked before any SQL): answer as for nobody, not with a telling 422.
      if (e instanceof AppError && e.kind === 'invalid') return nobody();
      throw e;
    }
  });
  // The same floor for every answer, a limited one included.
  await floor();
  if (result === 'limited') throw rateLimited();
  return result;
}

/**
 * Checks the code. A wrong code that still leaves tries answers `code_wrong`
 * with the tries left (`detail.remainingTries`): the same code request goes on
 * working, no new lookup needed. Every other failure (unknown request,
 * expired, used, too many) reads the same, `code_invalid`: start again. A
 * lookup that matched nobody counts its tries the same way, so neither answer
 * tells whether anyone matched.
 */
export async function verifyLookup(deps: PortalDeps, requestId: string, code: unknown): Promise<{ accessToken: string; expiresAt: string }> {
  if (typeof code !== 'string' || !/^\d{4,8}$/.test(code)) {
    throw invalid([issue('code', 'code_format', 'The code is the 6 digits in the SMS.', 'Kode adalah 6 angka di SMS.')]);
  }
  const r = await deps.checkCode(requestId, code, 'lookup');
  if (!r.ok && r.reason === 'wrong') throw wrongCode(r.remaining);
  if (!r.ok || !r.personId) {
    throw new AppError(
      'invalid',
      'code_invalid',
      { en: 'The code is wrong or no longer valid. Start a new lookup to get a new code.', id: 'Kode salah atau sudah tidak berlaku. Mulai pencarian baru untuk mendapat kode baru.' },
      { fields: [issue('code', 'code_invalid', 'wrong or expired code', 'kode salah atau kedaluwarsa')] },
    );
  }
  const token = randomBytes(32).toString('base64url');
  const expires = await deps.db.query<{ expires_at: Date }>(
    `INSERT INTO portal_sessions (token_hash, person_id, expires_at) VALUES ($1, $2, now() + make_interval(mins => $3::int)) RETURNING expires_at`,
    [sha(`portal:${token}`), r.personId, SESSION_MINUTES],
  );
  return { accessToken: token, expiresAt: expires.rows[0]!.expires_at.toISOString() };
}

/** A wrong code with `remaining` tries left on the same request. */
function wrongCode(remaining: number): AppError {
  const text = { en: `Wrong code — try again (${remaining} ${remaining === 1 ? 'try' : 'tries'} left).`, id: `Kode salah — coba lagi (sisa ${remaining} kali).` };
  return new AppError('invalid', 'code_wrong', text, { fields: [issue('code', 'code_wrong', text.en, text.id)], detail: { remainingTries: remaining } });
}

/** The person a portal access token opens, or a 401. */
export async function personOfSession(db: Db, authorization: string | undefined): Promise<string> {
  const m = /^Bearer\s+([A-Za-z0-9_-]{20,100})$/i.exec(authorization ?? '');
  const r = m ? await db.query<{ person_id: string }>('SELECT person_id FROM portal_sessions WHERE token_hash = $1 AND expires_at > now()', [sha(`portal:${m[1]}`)]) : undefined;
  const id = r?.rows[0]?.person_id;
  if (!id)
    throw new AppError('unauthorized', 'portal_session_required', {
      en: 'Open your certificates with the code sent to your phone (the session lasts 30 minutes).',
      id: 'Buka sertifikat Anda dengan kode yang dikirim ke HP Anda (sesi berlaku 30 menit).',
    });
  return id;
}
