/**
 * Staff accounts made straight in the database with a cheap scrypt hash
 * (N = 2^10: ~2 ms of CPU a comparison instead of ~95 ms at the production
 * cost), for tests that only need many wrong-password sign-ins to use up a
 * count, such as an address's failures. A wrong password against one of them
 * is a failure like any other; the tests about the hash itself (its cost, its
 * queue, the race of a burst against one account) keep production hashes.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/db/client.ts';
import { hashPassword } from '../../src/access/passwords.ts';

export const CHEAP_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };

/** `n` support accounts `<prefix>-<i>` with one cheap hash of `password`; their usernames. */
export async function cheapAccounts(db: Db, prefix: string, n: number, password = 'sandi-yang-benar-123'): Promise<string[]> {
  const hash = await hashPassword(password, CHEAP_SCRYPT);
  const names = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  for (const username of names)
    await db.query(`INSERT INTO staff_accounts (id, username, display_name, role, password_hash) VALUES ($1, $2, $3, 'support', $4)`, [randomUUID(), username, username, hash]);
  return names;
}
