/**
 * lockSchemaKey (db/client.ts): a transaction's advisory lock of the current
 * schema holds back a second holder in the same schema, not one in another
 * schema of the same database (the tests run a schema each in one database:
 * a key for the whole database made their files wait on each other).
 * PostgreSQL only: PGlite has one connection, nothing to wait for.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { POSTGRES_SKIP, openTestDb, type TestDb } from '../helpers/db.ts';
import { lockSchemaKey, SCHEMA_LOCKS, type Db } from '../../src/db/client.ts';

/** One of Dosis's keys; the two test databases are schemas of their own, so nothing else holds it. */
const KEY = SCHEMA_LOCKS.adminToken;

it('no two kinds of work share an advisory lock key', () => {
  const keys = Object.values(SCHEMA_LOCKS);
  assert.equal(new Set(keys).size, keys.length, JSON.stringify(SCHEMA_LOCKS));
});

describe('advisory locks keyed by schema [postgres]', { skip: POSTGRES_SKIP }, () => {
  let a: TestDb;
  let b: TestDb;
  before(async () => {
    a = await openTestDb('postgres', { migrate: false, poolSize: 2 });
    b = await openTestDb('postgres', { migrate: false, poolSize: 2 });
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  /** Takes the lock in `db` while `a` holds it: 'taken', or the error code (55P03: gave up after the lock timeout). */
  const tryWhileAHolds = async (db: Db): Promise<string> => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let taken!: () => void;
    const holding = new Promise<void>((r) => (taken = r));
    const holder = a.db.withTransaction(async (tx) => {
      await lockSchemaKey(tx, KEY);
      taken();
      await held;
    });
    await holding;
    try {
      return await db.withTransaction(async (tx) => {
        await tx.query("SET LOCAL lock_timeout = '300ms'");
        await lockSchemaKey(tx, KEY);
        return 'taken';
      });
    } catch (e) {
      return (e as { code?: string }).code ?? String(e);
    } finally {
      release();
      await holder;
    }
  };

  it('another schema takes the same key at once', async () => {
    assert.equal(await tryWhileAHolds(b.db), 'taken');
  });

  it('the same schema waits for it', async () => {
    assert.equal(await tryWhileAHolds(a.db), '55P03');
  });
});
