/**
 * Forward-only numbered SQL migrations (`migrations/NNN_name.sql`), one
 * transaction each. Two processes starting at once are safe: each migration
 * runs under an advisory lock (per schema, tried and polled: see locked()) and
 * re-checks whether it was applied after taking the lock.
 *
 * A migration whose first line is `-- dosis:no-transaction` runs outside any
 * transaction instead, one statement at a time (statements end with `;` at the
 * end of a line), so that it can build an index on a large table with
 * `CREATE INDEX CONCURRENTLY` — writes go on while it builds, where a build in
 * a transaction blocks every insert and update of the table until it ends. Such
 * a migration must be safe to run again from its start after a crash:
 * - `CREATE INDEX CONCURRENTLY IF NOT EXISTS name …`: an index of that name left
 *   INVALID by a build that was interrupted is dropped (concurrently) and built
 *   again; a valid one is kept;
 * - a statement after a line `-- dosis:batch` is a backfill of one batch
 *   (e.g. `UPDATE … WHERE id IN (SELECT … LIMIT 10000)`): it runs again until
 *   it changes no row, each batch committed on its own.
 * It runs under the same advisory lock, held by its session. On PGlite (one connection, no concurrent writers) CONCURRENTLY is
 * dropped from the statements and the build is an ordinary one; so it is on a
 * database being created (no migration applied when this run began): its
 * tables are new and nobody writes to them yet, and a concurrent build would
 * only wait for every transaction open in the whole database (in the tests, a
 * schema each in one database: a scratch schema's migration waited up to
 * minutes behind other files' long transactions).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Db, type Queryable, SCHEMA_LOCKS, tryLockSchemaKey } from './client.ts';

const DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
const LOCK_KEY = SCHEMA_LOCKS.migrations;
const NO_TRANSACTION = /^--\s*dosis:no-transaction\b/;
const BATCH = /^--\s*dosis:batch\b/m;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The migrations shipped with this build, in order. */
export function loadMigrations(): Migration[] {
  return readdirSync(DIR)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f.slice(4, -4), sql: readFileSync(DIR + f, 'utf8') }));
}

/** Applies every migration not yet applied; returns the versions it applied. */
export async function migrate(db: Db, migrations = loadMigrations()): Promise<number[]> {
  await locked(db, async (tx) => {
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  });
  const before = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
  const fresh = Number(before.rows[0]?.n ?? 0) === 0;
  const applied: number[] = [];
  for (const m of migrations) {
    const did = NO_TRANSACTION.test(m.sql)
      ? await runOutsideTransaction(db, m, fresh)
      : await locked(db, async (tx) => {
          const seen = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
          if (seen.rowCount > 0) return false;
          await tx.exec(m.sql);
          await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          return true;
        });
    if (did) applied.push(m.version);
  }
  return applied;
}

const POLL_MS = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` in a transaction holding the migration lock of this schema. The
 * lock is tried, and the transaction ended and begun again while another
 * process holds it: a migrator waiting inside a statement holds a snapshot,
 * which a CREATE INDEX CONCURRENTLY of the lock's holder waits for — a
 * deadlock (seen in the tests: PostgreSQL broke it by failing the build).
 * Keyed by schema: tests migrate a schema each in one database.
 */
async function locked<T>(db: Db, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  for (;;) {
    const r = await db.withTransaction(async (tx) => {
      if (!(await tryLockSchemaKey(tx, LOCK_KEY))) return { busy: true as const };
      return { busy: false as const, value: await fn(tx) };
    });
    if (!r.busy) return r.value;
    await sleep(POLL_MS);
  }
}

/** The statements of a no-transaction migration, each with whether it is a batch to repeat. */
export function splitStatements(sql: string): { sql: string; batch: boolean }[] {
  return sql
    .split(/;[ \t]*(?:\r?\n|$)/)
    .map((chunk) => ({ batch: BATCH.test(chunk), sql: chunk.replace(/^\s*--.*$/gm, '').trim() }))
    .filter((s) => s.sql !== '');
}

const CREATE_INDEX = /^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+([a-z_][a-z0-9_]*)\s/i;

async function runOutsideTransaction(db: Db, m: Migration, fresh: boolean): Promise<boolean> {
  const concurrently = db.kind === 'postgres' && !fresh;
  return db.withSession(async (s) => {
    if (db.kind === 'postgres') {
      // Polled, not waited for inside a statement: see locked().
      while (!(await s.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext(current_schema())) AS ok', [LOCK_KEY])).rows[0]?.ok) {
        await sleep(POLL_MS);
      }
    }
    try {
      // A concurrent build on a large table takes minutes: no statement timeout for this session (RESET below).
      if (db.kind === 'postgres') await s.exec('SET statement_timeout = 0');
      const seen = await s.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (seen.rowCount > 0) return false;
      for (const st of splitStatements(m.sql)) {
        const sql = concurrently ? st.sql : st.sql.replace(/\bCONCURRENTLY\s+/gi, '');
        const index = CREATE_INDEX.exec(st.sql)?.[1];
        if (index) await dropInvalidIndex(s, index, concurrently);
        if (st.batch) while ((await s.query(sql)).rowCount > 0);
        else await s.exec(sql);
      }
      await s.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    } finally {
      if (db.kind === 'postgres') {
        await s.exec('RESET statement_timeout');
        await s.query('SELECT pg_advisory_unlock($1, hashtext(current_schema()))', [LOCK_KEY]);
      }
    }
  });
}

/** An index left INVALID by a concurrent build that did not finish (crash, cancel) is dropped, to be built again. */
async function dropInvalidIndex(s: Queryable, name: string, concurrently: boolean): Promise<void> {
  const r = await s.query<{ valid: boolean }>(
    `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`,
    [name],
  );
  if (r.rows[0] && !r.rows[0].valid) await s.exec(`DROP INDEX ${concurrently ? 'CONCURRENTLY ' : ''}IF EXISTS ${name}`);
}
