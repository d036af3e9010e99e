/**
 * The worker's batch statements keep index plans on a table of notifications
 * the worker grew and nothing analyzed (issue 20, item 4): the notify batch's
 * read, the notifications insert (with the supersede of older open SMS of the
 * same certificates) and the deliveries of a batch the gateway delivered at
 * once. Each joins up to a few hundred rows given as arrays to tables of
 * millions; run as the worker runs them (withIndexProbes), as the generic
 * plan of a prepared statement (what `pg` runs from the sixth call on) and as
 * a custom one. Without those settings the planner read every notification
 * for each batch (a hash join over a sequential scan: 300 ms a batch at
 * 200,000 notifications, growing with the day) — checked here too, so that
 * the test would fail if the settings stopped being applied or needed.
 * PostgreSQL only: PGlite runs the same planner.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { POSTGRES_SKIP, openTestDb, type TestDb } from '../helpers/db.ts';
import { withIndexProbes, type Queryable } from '../../src/db/client.ts';
import { CREATE_SENDING_SQL, DELIVERED_AT_ONCE_SQL, NOTIFY_BATCH_ROWS } from '../../src/notify/notifier.ts';

const NOTIFICATIONS = 100_000;
const BATCH = 100;

/** SQL literal of a test value (arrays as PostgreSQL array literals of the test's own values). */
const literal = (v: unknown): string =>
  Array.isArray(v) ? `'{${v.map((x) => `"${String(x)}"`).join(',')}}'` : typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`;

describe('the worker batch statements plans on 100,000 notifications without statistics [postgres]', { skip: POSTGRES_SKIP }, () => {
  let t: TestDb;
  const ids = (n: number) => Array.from({ length: n }, () => randomUUID());
  const statements: [string, string, unknown[]][] = [
    ['notify batch', NOTIFY_BATCH_ROWS, [ids(BATCH), ids(BATCH), ids(BATCH).map((x) => `certificate:${x}`), 4]],
    [
      'notifications insert',
      CREATE_SENDING_SQL,
      [ids(BATCH), ids(BATCH), ids(BATCH), ids(BATCH), ...['certificate', '+6281234567890', 'certificate', 'body', 'gsm7'].map((v) => Array(BATCH).fill(v)), Array(BATCH).fill(1), 'a'],
    ],
    ['deliveries', DELIVERED_AT_ONCE_SQL, [ids(BATCH), ids(BATCH), Array(BATCH).fill(1), Array(BATCH).fill('a'), ids(BATCH), Array(BATCH).fill('ok')]],
  ];

  /** The plan of a statement as prepared, generic or custom, in one transaction rolled back. */
  const plan = async (tx: Queryable, sql: string, params: unknown[], mode: 'force_generic_plan' | 'force_custom_plan'): Promise<string> => {
    await tx.exec(`SET LOCAL plan_cache_mode = ${mode}; PREPARE plan_probe AS ${sql}`);
    try {
      const r = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE plan_probe(${params.map(literal).join(', ')})`);
      return r.rows.map((x) => x['QUERY PLAN']).join('\n');
    } finally {
      await tx.exec('DEALLOCATE plan_probe');
    }
  };

  before(async () => {
    t = await openTestDb('postgres');
    // One-time code SMS: the same table and indexes, without the pipeline triggers' per-row work for certificate SMS.
    await t.db.query(
      `INSERT INTO notifications (person_id, id, source_key, certificate_id, kind, recipient, template, body, encoding, parts, status, attempt, route, submitted_at, final_at)
       SELECT gen_random_uuid(), gen_random_uuid(), 'code:' || i, NULL, 'code', '+6281234567890', 'code', 'body', 'gsm7', 1,
              'delivered', 1, 'a', now(), now()
         FROM generate_series(1, $1::int) i`,
      [NOTIFICATIONS],
    );
    const analyzed = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = 'notifications' AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)");
    assert.equal(analyzed.rows[0]!.n, 0, 'no statistics on the notifications');
  });
  after(async () => {
    await t?.close();
  });

  for (const [name, sql, params] of statements) {
    it(`${name}: index probes of the notifications, generic and custom`, async () => {
      for (const mode of ['force_generic_plan', 'force_custom_plan'] as const) {
        const p = await withIndexProbes(t.db, async (tx) => {
          const out = await plan(tx, sql, params, mode);
          await tx.exec('ROLLBACK; BEGIN');
          return out;
        });
        assert.doesNotMatch(p, /Seq Scan on notifications|Hash Join|Merge Join|Hash Right Join|Hash Left Join/, `${name} (${mode}):\n${p}`);
        assert.match(p, /Index (Only )?Scan[^\n]* on notifications/, `${name} (${mode}):\n${p}`);
      }
    });
  }

  it('without the settings, the insert is planned with a sequential scan of every notification (what the settings prevent)', async () => {
    const p = await t.db.withTransaction(async (tx) => {
      const out = await plan(tx, CREATE_SENDING_SQL, statements[1]![2], 'force_custom_plan');
      await tx.exec('ROLLBACK; BEGIN');
      return out;
    });
    assert.match(p, /Seq Scan on notifications/, p);
  });
});
