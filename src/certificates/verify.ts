/**
 * Server-side verification: the HC1 checks of hc1.ts against Dosis's trust
 * list, plus revocation — a certificate Dosis revoked or superseded (voided
 * dose, merged record, recalled lot) is reported as revoked.
 */
import type { Db } from '../db/client.ts';
import { trustedKeys } from './issuer.ts';
import { REASON_MESSAGES, verifyHc1, type Hc1Verification } from './hc1.ts';
import type { TrustedKey } from './trust.ts';

const TRUST_CACHE_MS = 30_000;
let cache: { db: Db; at: number; keys: TrustedKey[] } | undefined;

async function keysOf(db: Db): Promise<TrustedKey[]> {
  if (cache && cache.db === db && Date.now() - cache.at < TRUST_CACHE_MS) return cache.keys;
  const keys = await trustedKeys(db);
  cache = { db, at: Date.now(), keys };
  return keys;
}

/** Forget the cached trust list (after a key rotation in this process). */
export function forgetTrustList(): void {
  cache = undefined;
}

/** Verifies an HC1 text as a verifier anywhere would, plus Dosis's own revocations. */
export async function verifyCertificate(db: Db, qr: string, now: Date): Promise<Hc1Verification> {
  let result = verifyHc1(qr.trim(), { trustList: await keysOf(db), now });
  if (result.reason === 'unknown_kid') {
    // A key rotated by another process since the cache was filled.
    forgetTrustList();
    result = verifyHc1(qr.trim(), { trustList: await keysOf(db), now });
  }
  const uvci = result.payload?.v?.[0]?.ci;
  if ((result.valid || result.reason === 'expired') && uvci) {
    const r = await db.query<{ status: string }>(
      `SELECT c.status FROM certificate_uvcis u JOIN certificates c ON c.person_id = u.person_id AND c.id = u.certificate_id WHERE u.uvci = $1`,
      [uvci],
    );
    const status = r.rows[0]?.status;
    if (status === 'revoked' || status === 'superseded') {
      const { payload: _p, ...rest } = result;
      return { ...rest, valid: false, reason: 'revoked', message: REASON_MESSAGES.revoked, ...(result.payload ? { payload: result.payload } : {}) };
    }
  }
  return result;
}
