/**
 * The migration runner's steps outside a transaction (migrate.ts, issue 20):
 * an index on a large table built CONCURRENTLY while writes go on, a build
 * left INVALID by a crash built again, batched backfills, and the same files
 * on PGlite (CONCURRENTLY dropped).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import pg from 'pg';
import { describeEachBackend, openTestDb, postgresOnly, TEST_DATABASE_URL } from '../helpers/db.ts';
import { loadMigrations, migrate, splitStatements, type Migration } from '../../src/db/migrate.ts';
import { hc1OfStored, storedHc1 } from '../../src/certificates/hc1.ts';
import { certificateFixture } from '../certificates/fixtures.ts';

const PIPELINE_INDEXES = [
  'vaccinations_recorded_at', 'certificates_issued_at', 'jobs_created_at',
  'notifications_certificate_submitted', 'notifications_certificate_final',
  'people_id_value',
];
/** Built by 032 for the series' reading of the waiting rows, dropped by 044 (the series reads a gauge). */
const DROPPED_BY_044 = ['jobs_notify_waiting', 'jobs_notify_left', 'notifications_certificate_open'];

describeEachBackend('migrations outside a transaction', (t) => {
  const indexes = async (names: string[]) =>
    (
      await t.db.query<{ name: string; valid: boolean }>(
        `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1::text[]) ORDER BY 1`,
        [names],
      )
    ).rows;

  it('builds the pipeline indexes of migration 032 (no longer in 019), valid, and records 032 as applied', async () => {
    const found = await indexes(PIPELINE_INDEXES);
    assert.deepEqual(found.map((r) => r.name), [...PIPELINE_INDEXES].sort());
    assert.ok(found.every((r) => r.valid));
    const m019 = loadMigrations().find((m) => m.version === 19);
    assert.ok(m019 && !/CREATE INDEX\s+vaccinations_recorded_at/i.test(m019.sql), '019 builds no index on a source table');
    const applied = await t.db.query('SELECT 1 FROM schema_migrations WHERE version = 32');
    assert.equal(applied.rowCount, 1);
    assert.deepEqual(await indexes(DROPPED_BY_044), [], '044 dropped the indexes only the series read');
  });

  it('runs a batched backfill until a batch changes nothing, then a second run finds it applied', async () => {
    await t.db.exec('CREATE TABLE backfill_t (id int PRIMARY KEY, v int); INSERT INTO backfill_t SELECT g, NULL FROM generate_series(1, 2500) g');
    const m: Migration = {
      version: 9001,
      name: 'backfill_t',
      sql: `-- dosis:no-transaction
-- dosis:batch
UPDATE backfill_t SET v = id * 2 WHERE id IN (SELECT id FROM backfill_t WHERE v IS NULL LIMIT 1000);
CREATE INDEX CONCURRENTLY IF NOT EXISTS backfill_t_v ON backfill_t (v);
`,
    };
    assert.deepEqual(splitStatements(m.sql).map((s) => s.batch), [true, false]);
    assert.deepEqual(await migrate(t.db, [m]), [9001]);
    const left = await t.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM backfill_t WHERE v IS DISTINCT FROM id * 2');
    assert.equal(left.rows[0]?.n, 0);
    assert.deepEqual(await indexes(['backfill_t_v']), [{ name: 'backfill_t_v', valid: true }]);
    assert.deepEqual(await migrate(t.db, [m]), []);
  });

  it('043 moves the HC1 text of certificates written before 042 to its bytes, in batches, and the text comes back byte for byte', async () => {
    const f = await certificateFixture();
    // Texts of both lengths Base45 makes (a last pair of characters, or none): names of different lengths.
    const texts = Array.from({ length: 40 }, (_, i) => f.sign({ payload: { ...f.payload, nam: { ...f.payload.nam, fn: 'X'.repeat(i + 1), fnt: 'X'.repeat(i + 1) } } }));
    assert.ok(texts.some((x) => (x.length - 4) % 3 === 2) && texts.some((x) => (x.length - 4) % 3 === 0));
    for (const x of texts) assert.equal(hc1OfStored({ hc1: storedHc1(x) }), x);
    // Not Base45 (a lower-case letter), and a triplet above 65535 (':::'): they keep their text.
    const kept = ['HC1:6BFa', 'HC1:6BF:::'];
    const insert = `INSERT INTO certificates (person_id, id, vaccination_id, uvci, kid, qr, dn, sd, issued_at, expires_at, status)
                    SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'URN:UVCI:01:ID:' || x.n, 'kid', x.qr, 1, 2, now(), now() + interval '1 year', 'valid'
                      FROM unnest($1::text[]) WITH ORDINALITY AS x(qr, n)`;
    await t.db.query(insert, [[...texts, ...kept]]);
    await t.db.exec('DELETE FROM schema_migrations WHERE version = 43');
    const m043 = loadMigrations().find((m) => m.version === 43)!;
    assert.deepEqual(await migrate(t.db, [m043]), [43]);
    const rows = await t.db.query<{ uvci: string; qr: string | null; hc1: Uint8Array | null }>(
      "SELECT uvci, qr, hc1 FROM certificates WHERE uvci LIKE 'URN:UVCI:01:ID:%' ORDER BY length(uvci), uvci",
    );
    assert.equal(rows.rows.length, texts.length + kept.length);
    rows.rows.forEach((r, i) => {
      if (i < texts.length) {
        assert.equal(r.qr, null);
        assert.equal(Buffer.from(r.hc1!).length, storedHc1(texts[i]!).length);
      } else assert.equal(r.hc1, null);
      assert.equal(hc1OfStored(r), [...texts, ...kept][i]);
    });
    // Gone: the backfill's index and function.
    assert.deepEqual(await indexes(['certificates_hc1_backfill']), []);
    const fn = await t.db.query("SELECT 1 FROM pg_proc WHERE proname = 'dosis_base45_decode_043'");
    assert.equal(fn.rowCount, 0);
    await t.db.exec("DELETE FROM certificates WHERE uvci LIKE 'URN:UVCI:01:ID:%'");
  });

  // PostgreSQL only: PGlite builds no index concurrently, so nothing is left half-built.
  postgresOnly(t.backend)('after a crash mid-build, a second run drops the INVALID index and builds it again', async () => {
    const m032 = loadMigrations().find((m) => m.version === 32)!;
    // What an interrupted CREATE INDEX CONCURRENTLY leaves: the index, marked invalid, and 032 not recorded.
    await t.db.exec(`UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'notifications_certificate_submitted'::regclass;
                     DELETE FROM schema_migrations WHERE version = 32`);
    assert.deepEqual(await indexes(['notifications_certificate_submitted']), [{ name: 'notifications_certificate_submitted', valid: false }]);
    assert.deepEqual(await migrate(t.db, [m032]), [32]);
    assert.deepEqual(await indexes(['notifications_certificate_submitted']), [{ name: 'notifications_certificate_submitted', valid: true }]);
  });

  // PostgreSQL only: PGlite builds no index concurrently.
  postgresOnly(t.backend)('creates a new database without waiting for transactions open elsewhere in it (no concurrent build on new tables)', async () => {
    // A transaction holding a snapshot (repeatable read), left open in another session of the same database:
    // a CREATE INDEX CONCURRENTLY anywhere in the database waits for it to end, so a fresh schema's migration
    // would hang here until it does.
    const other = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await other.connect();
    try {
      await other.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await other.query('SELECT txid_current()');
      const fresh = await openTestDb('postgres');
      try {
        const found = await fresh.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
        assert.equal(found.rows[0]?.n, loadMigrations().length);
      } finally {
        await fresh.close();
      }
      // Still open: the migration did not wait for it.
      assert.equal((await other.query<{ s: string }>('SELECT pg_current_xact_id_if_assigned()::text AS s')).rows[0]?.s !== null, true);
    } finally {
      await other.query('ROLLBACK').catch(() => {});
      await other.end();
    }
  });

  // PostgreSQL only: PGlite has one connection, so no writer can run beside the build.
  postgresOnly(t.backend)('builds an index on a table of a million rows while rows are being written to it', async () => {
    await t.db.exec(`CREATE TABLE big (id bigserial PRIMARY KEY, v int NOT NULL);
                     INSERT INTO big (v) SELECT g % 100000 FROM generate_series(1, 1000000) g`);
    const m: Migration = { version: 9002, name: 'big_v', sql: '-- dosis:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS big_v ON big (v);\n' };
    // The writer: one row at a time; counts the rows it committed while the build was in progress.
    let building = true;
    let duringBuild = 0;
    let written = 0;
    const writer = (async () => {
      while (building) {
        const r = await t.db.query<{ in_progress: boolean }>(
          `WITH w AS (INSERT INTO big (v) VALUES (-1) RETURNING id)
           SELECT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.relid = 'big'::regclass) AS in_progress FROM w`,
        );
        written++;
        if (r.rows[0]?.in_progress) duringBuild++;
      }
    })();
    try {
      assert.deepEqual(await migrate(t.db, [m]), [9002]);
    } finally {
      building = false;
      await writer;
    }
    assert.ok(duringBuild > 0, `rows written while the index was being built: ${duringBuild} of ${written}`);
    assert.deepEqual(await indexes(['big_v']), [{ name: 'big_v', valid: true }]);
    // The index holds the rows written during the build: counted through it, as through the table.
    const viaIndex = await t.db.withTransaction(async (tx) => {
      await tx.exec('SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off');
      return (await tx.query<{ n: number }>('SELECT count(*)::int8 AS n FROM big WHERE v = -1')).rows[0]?.n;
    });
    assert.equal(viaIndex, written);
  });
});
