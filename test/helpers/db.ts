/**
 * Test databases: every database test runs on both backends, PGlite and the
 * real PostgreSQL, each test file in a fresh schema. One PGlite per test
 * process (node --test runs each file in its own process), loaded from a
 * template data directory made once per run by scripts/test.ts.
 *
 * DOSIS_TEST_BACKENDS=pglite,postgres chooses backends; TEST_DATABASE_URL
 * names the server (default postgres://postgres@127.0.0.1:5432/test). When
 * PostgreSQL is among the backends and cannot be reached (after trying for
 * 30 s), the test file fails: nothing is skipped in silence (services.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { type Db, pgliteDb, postgresDb } from '../../src/db/client.ts';
import { createPglite } from '../../src/db/open.ts';
import { migrate } from '../../src/db/migrate.ts';
import { MIGRATED_SCHEMA, migratedTemplatePath } from './pglite-template.ts';

import { BACKENDS, PGLITE_LEFT_OUT, PGLITE_TEMPLATE, POSTGRES_LEFT_OUT, TEST_DATABASE_URL, postgresProblem, type Backend } from './services.ts';

export { BACKENDS, PGLITE_TEMPLATE, TEST_DATABASE_URL, type Backend };
/** The skip of a test that runs on PGlite only: false, or the reason the user left PGlite out. */
export const PGLITE_SKIP: string | false = PGLITE_LEFT_OUT;

let lite: Promise<PGlite> | undefined;
/** The migrated schema of the template this process's PGlite was loaded from, until a test takes it (pglite-template.ts). */
let spareSchema: string | undefined;
function sharedPglite(): Promise<PGlite> {
  if (!lite) {
    const migrated = migratedTemplatePath();
    if (existsSync(migrated)) spareSchema = MIGRATED_SCHEMA;
    const template = spareSchema ? migrated : PGLITE_TEMPLATE;
    lite = existsSync(template) ? createPglite(undefined, new Blob([readFileSync(template)])) : createPglite();
  }
  return lite;
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
    // The template's migrated schema, once, when a migrated schema is asked for; migrate() below then finds every version applied.
    const spare = opts.migrate !== false ? spareSchema : undefined;
    spareSchema = spare ? undefined : spareSchema;
    await l.exec(spare ? `ALTER SCHEMA ${spare} RENAME TO ${schema}` : `CREATE SCHEMA ${schema}`);
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

if (!POSTGRES_LEFT_OUT) {
  const problem = await postgresProblem();
  if (problem) throw new Error(`${problem}; set DOSIS_TEST_BACKENDS=pglite to leave PostgreSQL out`);
}
/**
 * The skip of a test that runs on PostgreSQL only: false, or the reason the
 * user left PostgreSQL out. (PostgreSQL among the backends and unreachable
 * fails the file above instead.)
 */
export const POSTGRES_SKIP: string | false = POSTGRES_LEFT_OUT;

// The shared PGlite keeps the process alive: close it after the file's tests (a group's: scripts/test-groups.ts).
// PGlite's close waits for the transaction in progress: one that never ends fails here, saying so.
const CLOSE_WITHIN_MS = 20_000;
after(async () => {
  if (!lite) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`The test PGlite did not close within ${CLOSE_WITHIN_MS / 1000} s: a transaction of a test is still open (something it started was not stopped)`)),
      CLOSE_WITHIN_MS,
    );
  });
  try {
    await Promise.race([(await lite).close(), late]);
  } finally {
    clearTimeout(timer);
  }
});

/**
 * `it` for a test that is about PostgreSQL only (its plans, transactions
 * running side by side): declared in the PostgreSQL suite of
 * describeEachBackend, not declared at all on PGlite, so that nothing shows
 * as skipped. `postgresOnly(t.backend)('…', async () => {…})`.
 */
export function postgresOnly(backend: Backend): (name: string, fn: () => Promise<void>) => void {
  return (name, fn) => {
    if (backend === 'postgres') it(name, fn);
  };
}

/**
 * Declares `body` once per backend, with a fresh migrated schema per backend:
 * `describeEachBackend('records', (t) => { it('…', async () => { t.db … }) })`.
 */
export function describeEachBackend(title: string, body: (t: { readonly db: Db; readonly backend: Backend; readonly schema: string }) => void): void {
  for (const backend of BACKENDS) {
    describe(`${title} [${backend}]`, () => {
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
