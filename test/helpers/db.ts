/**
 * Test databases: every database test runs on both backends, PGlite and the
 * real PostgreSQL, each test file in a fresh schema. One PGlite per test
 * process (node --test runs each file in its own process), loaded from a
 * template data directory made once per run by scripts/test.ts.
 *
 * DOSIS_TEST_BACKENDS=pglite,postgres chooses backends; TEST_DATABASE_URL
 * names the server (default postgres://postgres@127.0.0.1:5432/test). When
 * PostgreSQL cannot be reached its suites are skipped with a message, unless
 * DOSIS_REQUIRE_POSTGRES=1 (CI), where that is a failure.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe } from 'node:test';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { type Db, pgliteDb, postgresDb } from '../../src/db/client.ts';
import { createPglite } from '../../src/db/open.ts';
import { migrate } from '../../src/db/migrate.ts';

export type Backend = 'pglite' | 'postgres';
export const BACKENDS = (process.env.DOSIS_TEST_BACKENDS ?? 'pglite,postgres').split(',').map((s) => s.trim()) as Backend[];
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const PGLITE_TEMPLATE = 'test-results/pglite-template.tar';

let lite: Promise<PGlite> | undefined;
function sharedPglite(): Promise<PGlite> {
  lite ??= existsSync(PGLITE_TEMPLATE)
    ? createPglite(undefined, new Blob([readFileSync(PGLITE_TEMPLATE)]))
    : createPglite();
  return lite;
}

let reachable: Promise<string | null> | undefined;
/** Null when PostgreSQL answers, else why not. */
export function postgresProblem(): Promise<string | null> {
  reachable ??= (async () => {
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return null;
    } catch (e) {
      return `PostgreSQL at ${TEST_DATABASE_URL} is not reachable (${(e as Error).message})`;
    } finally {
      await c.end().catch(() => {});
    }
  })();
  return reachable;
}

export interface TestDb {
  db: Db;
  schema: string;
  backend: Backend;
  close(): Promise<void>;
}

/** A fresh, migrated schema on a backend. */
export async function openTestDb(backend: Backend, opts: { poolSize?: number; migrate?: boolean } = {}): Promise<TestDb> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  let db: Db;
  let drop: () => Promise<void>;
  if (backend === 'pglite') {
    const l = await sharedPglite();
    await l.exec(`CREATE SCHEMA ${schema}`);
    db = pgliteDb(l, { schema });
    drop = async () => {
      await l.exec(`DROP SCHEMA ${schema} CASCADE`);
    };
  } else {
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    db = postgresDb({ connectionString: TEST_DATABASE_URL, schema, max: opts.poolSize ?? 8 });
    drop = async () => {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA ${schema} CASCADE`);
      await c.end();
    };
  }
  if (opts.migrate !== false) await migrate(db);
  return {
    db,
    schema,
    backend,
    async close() {
      if (backend === 'postgres') await db.close();
      await drop();
    },
  };
}

/** Why PostgreSQL suites cannot run here (null when they can), found once per test process. */
const PG_PROBLEM = BACKENDS.includes('postgres') ? await postgresProblem() : null;
if (PG_PROBLEM && process.env.DOSIS_REQUIRE_POSTGRES === '1') throw new Error(PG_PROBLEM);

// The shared PGlite keeps the process alive: close it after the file's tests.
after(async () => {
  if (lite) await (await lite).close();
});

/**
 * Declares `body` once per backend, with a fresh migrated schema per backend:
 * `describeEachBackend('records', (t) => { it('…', async () => { t.db … }) })`.
 */
export function describeEachBackend(title: string, body: (t: { readonly db: Db; readonly backend: Backend; readonly schema: string }) => void): void {
  for (const backend of BACKENDS) {
    const skip = backend === 'postgres' && PG_PROBLEM ? `SKIPPED on PostgreSQL: ${PG_PROBLEM}` : false;
    describe(`${title} [${backend}]`, { skip }, () => {
      let t: TestDb | undefined;
      before(async () => {
        t = await openTestDb(backend);
      });
      after(async () => {
        await t?.close();
      });
      const ctx = {
        get db(): Db {
          if (!t) throw new Error('test database not open yet');
          return t.db;
        },
        backend,
        get schema(): string {
          return t?.schema ?? '';
        },
      };
      body(ctx);
    });
  }
}
