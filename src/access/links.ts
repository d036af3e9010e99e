/**
 * The certificate link in the SMS, `/c/<token>`. The token is an HMAC of the
 * certificate id under a secret kept in the database: unguessable, and any
 * worker can rebuild it to render the SMS without the token being stored
 * (only its SHA-256 is, for lookup).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Db } from '../db/client.ts';

/** The link token of a certificate: 128 bits of HMAC-SHA-256, base64url. */
export function linkTokenFor(secret: Buffer, certificateId: string): string {
  return createHmac('sha256', secret).update(certificateId).digest().subarray(0, 16).toString('base64url');
}

export function hashLinkToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Reads the link secret, creating it on first start. */
export async function loadLinkSecret(db: Db): Promise<Buffer> {
  await db.query("INSERT INTO settings (key, value) VALUES ('link_secret', $1) ON CONFLICT (key) DO NOTHING", [
    randomBytes(32).toString('base64'),
  ]);
  const r = await db.query<{ value: string }>("SELECT value FROM settings WHERE key = 'link_secret'");
  return Buffer.from(r.rows[0]!.value, 'base64');
}
