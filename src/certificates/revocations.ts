/**
 * The revocation list offline verifiers check against: certificates Dosis
 * revoked or replaced (a voided dose, a merged record, a corrected name),
 * each as the first 16 bytes of the SHA-256 of its UVCI (hc1-web.ts
 * uvciRevocationHash computes the same in the browser). The list names no
 * certificate and no person.
 *
 * Built from the database at most once per CACHE_MS per process: revocations
 * are rare, and a verifier refreshes its copy when it is online.
 */

import { createHash } from 'node:crypto';
import type { Queryable } from '../db/client.ts';

const CACHE_MS = 60_000;

let cache: { db: Queryable; at: number; hashes: string[]; generatedAt: Date } | undefined;

/** The hash of a UVCI as the revocation list carries it. */
export function uvciHash(uvci: string): string {
  return createHash('sha256').update(uvci).digest().subarray(0, 16).toString('base64');
}

/** The current revocation list. */
export async function revokedUvciHashes(db: Queryable, now: Date): Promise<{ hashes: string[]; generatedAt: Date }> {
  if (cache && cache.db === db && now.getTime() - cache.at < CACHE_MS && now.getTime() >= cache.at) return cache;
  const r = await db.query<{ uvci: string }>("SELECT uvci FROM certificates WHERE status <> 'valid' ORDER BY uvci");
  cache = { db, at: now.getTime(), hashes: r.rows.map((row) => uvciHash(row.uvci)), generatedAt: now };
  return cache;
}

/** Forget the cached list (after revoking in this process, and in tests). */
export function forgetRevocations(): void {
  cache = undefined;
}
