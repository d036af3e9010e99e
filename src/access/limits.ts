/**
 * Rate limits that hold under concurrency (issue 15, item 2).
 *
 * A limit counted as "read the count, then insert a row" at READ COMMITTED
 * lets a burst through: sixty requests all read 0 before any of them has
 * inserted. Each limit is therefore checked under a transaction-scoped lock
 * on what it counts (the NIK, the number, the client address), taken before
 * the count: the next request for the same key waits until the first has
 * committed its row, then counts it (READ COMMITTED takes a new snapshot per
 * statement). On PGlite transactions already run one at a time; the lock
 * costs nothing there.
 *
 * Keys are locked in one global order (sorted), so two requests sharing two
 * keys cannot deadlock.
 */
import type { Queryable } from '../db/client.ts';

/** Locks each key until the end of the transaction `tx`; call it before counting. */
export async function lockLimitKeys(tx: Queryable, keys: readonly string[]): Promise<void> {
  for (const key of [...new Set(keys)].sort()) {
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 15))', [`limit:${key}`]);
  }
}
