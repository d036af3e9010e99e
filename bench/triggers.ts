/**
 * `npm run bench -- triggers`: the statements of the worker's certificate SMS
 * drain, batches of 100, on tables of a record day (default 1 M doses, each
 * with its certificate, `notify` job and — but the last 10 %, whose jobs
 * wait — its SMS, never analyzed unless `--analyze`): the claim of 100 jobs,
 * the insert of their 100 notifications with events (and the superseding of
 * older SMS of their certificates), the deliveries recorded in one update
 * (the sink's `deliveredAtOnce`), the jobs marked done. With the pipeline
 * triggers of migrations 038–039, the insert's superseding and the
 * deliveries' read as they were ("before"), and with migration 045's statement-level update trigger of SMS,
 * the superseding by primary-key probes and the deliveries read by primary
 * key ("after"): two schemas filled alike,
 * their batches taken in turns, or with `--same-rows` one schema, measured
 * before and after migrating it. Each batch runs in a transaction (the commit
 * is not timed). Prints per statement the server process's CPU time (from
 * /proc: the machine is shared, and wall time mostly waiting for a CPU) and
 * the wall time, p50 and mean, and from one EXPLAIN ANALYZE of each the time
 * in triggers. Runs in schemas of its own on TEST_DATABASE_URL (or
 * BENCH_DATABASE_URL), on the same machine as the server.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { postgresDb, type Db, type Queryable } from '../src/db/client.ts';
import { loadMigrations, migrate } from '../src/db/migrate.ts';
import { CLAIM_SQL, complete } from '../src/notify/outbox.ts';
import { CREATE_SENDING_SQL, DELIVERED_AT_ONCE_SQL } from '../src/notify/notifier.ts';
import { fillPipeline } from '../test/helpers/pipeline.ts';
import { BENCH_DATABASE_URL } from './lib/database.ts';

const { values } = parseArgs({
  options: {
    doses: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '40' },
    batch: { type: 'string', default: '100' },
    analyze: { type: 'boolean', default: false },
    'same-rows': { type: 'boolean', default: false },
    churn: { type: 'string', default: '0' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('npm run bench -- triggers [--doses 1000000] [--rounds 40] [--batch 100] [--analyze (ANALYZE the tables after filling)] [--same-rows (one fill, the batches before and after migration 045 on it, one after the other)] [--churn N (N SMS through pending to delivered after the vacuum: the entries of SMS in flight since the last vacuum)]');
  process.exit(0);
}
const DOSES = Number(values.doses);
const ROUNDS = Number(values.rounds);
const BATCH = Number(values.batch);
const URL = BENCH_DATABASE_URL;
const BEFORE = 43; // the last migration before 045's triggers on this branch

type Step = 'claim' | 'insert' | 'deliver' | 'done';
const STEPS: Step[] = ['claim', 'insert', 'deliver', 'done'];
/** The superseding of older SMS in that insert before this branch: a join of `notifications` with the new rows (notifier.ts SUPERSEDE_MANY). */
const BEFORE_SENDING_SQL = CREATE_SENDING_SQL.replace(
  /older AS \([\s\S]*?sup AS \([\s\S]*?RETURNING/,
  `sup AS (
         UPDATE notifications o SET status = 'cancelled', hold_reason = 'superseded', final_at = now(), next_attempt_at = NULL, updated_at = now()
           FROM n
          WHERE o.person_id = n.person_id AND o.certificate_id = n.certificate_id AND o.source_key <> n.source_key
            AND o.status <> 'delivered' AND (o.final_at IS NULL OR o.status = 'held')
          RETURNING`,
);
if (BEFORE_SENDING_SQL === CREATE_SENDING_SQL) throw new Error('SUPERSEDE_MANY changed: update BEFORE_SENDING_SQL');
/** The deliveries before this branch: "final_at IS NULL" as such, which let the planner read notifications_in_flight. */
const BEFORE_DELIVERED_SQL = DELIVERED_AT_ONCE_SQL.replace("coalesce(x.final_at, 'infinity') = 'infinity'", 'x.final_at IS NULL');
if (BEFORE_DELIVERED_SQL === DELIVERED_AT_ONCE_SQL) throw new Error('DELIVERED_AT_ONCE_SQL changed: update BEFORE_DELIVERED_SQL');
const BODY = 'Sertifikat vaksin COVID-19 dosis 1 untuk ORANG BENCH telah terbit. Unduh: https://dosis.example/c/0123456789abcdef0123456789abcdef';

/** CPU time of a server process so far, in ms (Linux: /proc/<pid>/schedstat, ns on a CPU): wall time on a shared, loaded machine is mostly waiting. */
function cpuMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

interface Timing {
  wall: number;
  cpu: number;
}

/** One batch as the worker runs it; `explain` runs each statement under EXPLAIN ANALYZE instead and returns its plan's trigger lines. */
async function batch(db: Queryable, worker: string, explain: boolean, sql: { sending: string; delivered: string }): Promise<{ ms: Record<Step, Timing>; plans: Record<Step, string[]> }> {
  const ms = {} as Record<Step, Timing>;
  const plans = {} as Record<Step, string[]>;
  const pid = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const timed = async <T>(step: Step, f: () => Promise<T>): Promise<T> => {
    const c0 = cpuMs(pid);
    const t0 = performance.now();
    const r = await f();
    ms[step] = { wall: performance.now() - t0, cpu: cpuMs(pid) - c0 };
    return r;
  };
  const run = async (step: Step, sql: string, params: unknown[]) => {
    const r = await timed(step, () => db.query<Record<string, unknown>>(explain ? `EXPLAIN (ANALYZE, BUFFERS) ${sql}` : sql, params));
    if (explain) plans[step] = r.rows.map((x) => String(x['QUERY PLAN'])).filter((l) => /^(Trigger|Execution Time|Planning Time)/.test(l));
    return r.rows;
  };
  await run('claim', CLAIM_SQL, [worker, BATCH, 'certificate', 60_000, ['notify']]);
  const jobs = (await db.query<{ id: number; person_id: string; cid: string; dedupe_key: string }>(
    "SELECT id, person_id, payload->>'certificateId' AS cid, dedupe_key FROM jobs WHERE locked_by = $1 AND status = 'pending' ORDER BY id",
    [worker],
  )).rows;
  if (jobs.length !== BATCH) throw new Error(`claimed ${jobs.length} jobs, not ${BATCH}: the backlog ran out`);
  const ids = jobs.map(() => randomUUID());
  await run('insert', sql.sending, [
    jobs.map((j) => j.person_id),
    ids,
    jobs.map((j) => j.dedupe_key),
    jobs.map((j) => j.cid),
    jobs.map(() => 'certificate'),
    jobs.map((_, i) => `+62813${String(i).padStart(8, '0')}`),
    jobs.map(() => 'certificate_issued.id'),
    jobs.map(() => BODY),
    jobs.map(() => 'gsm7'),
    jobs.map(() => 1),
    'sink',
  ]);
  await run('deliver', sql.delivered, [
    jobs.map((j) => j.person_id),
    ids,
    jobs.map(() => 1),
    jobs.map(() => 'sink'),
    ids.map((id) => `sink:${id}`),
    jobs.map(() => 'sink: accepted'),
  ]);
  if (explain) {
    await run('done', `UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, last_error = NULL, updated_at = now()
      WHERE id = ANY($1::int8[]) AND status = 'pending'`, [jobs.map((j) => j.id)]);
  } else {
    await timed('done', () => complete(db, jobs.map((j) => j.id)));
  }
  return { ms, plans };
}

interface Side {
  label: string;
  db: Db;
  times: Record<Step, Timing[]>;
  sql: { sending: string; delivered: string };
}

/** The two schemas' batches taken in turns (the same load on both on a shared machine), each in a transaction (the commit not timed). */
async function measure(sides: Side[]): Promise<void> {
  const inTransaction = (side: Side, name: string, explain: boolean) => side.db.withTransaction((tx) => batch(tx, name, explain, side.sql));
  for (let i = 0; i < 5; i++) for (const side of sides) await inTransaction(side, `${side.label}-warm`, false); // plans made, caches warm
  for (let i = 0; i < ROUNDS; i++) {
    for (const side of i % 2 ? [...sides].reverse() : sides) {
      const { ms } = await inTransaction(side, `round-${i}`, false);
      for (const s of STEPS) side.times[s].push(ms[s]);
    }
  }
  for (const side of sides) {
    const { plans } = await inTransaction(side, 'explain', true);
    console.log(`\n${side.label}: ms per statement of a batch of ${BATCH} (${ROUNDS} batches; EXPLAIN ANALYZE of one)`);
    for (const s of STEPS) {
      const p50 = (k: keyof Timing) => side.times[s].map((x) => x[k]).sort((a, b) => a - b)[Math.floor(side.times[s].length / 2)]!;
      const mean = (k: keyof Timing) => side.times[s].reduce((a, x) => a + x[k], 0) / side.times[s].length;
      console.log(`  ${s.padEnd(8)} server CPU p50 ${p50('cpu').toFixed(2).padStart(7)} mean ${mean('cpu').toFixed(2).padStart(7)}   wall p50 ${p50('wall').toFixed(2).padStart(7)} mean ${mean('wall').toFixed(2).padStart(7)}`);
      for (const l of plans[s]) console.log(`      ${l}`);
    }
  }
}

/** A schema of its own migrated to `upTo`, filled. */
async function prepare(schema: string, label: string, upTo: number): Promise<void> {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  const fill = postgresDb({ connectionString: URL, schema, max: 1, statementTimeoutMs: 3_600_000 });
  try {
    await migrate(fill, migrations.filter((m) => m.version <= upTo));
    for (const table of ['vaccinations', 'certificates', 'jobs', 'notifications', 'notification_events']) await fill.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
    const t0 = performance.now();
    // The last 5 minutes of 50 (10 %) are jobs still waiting, without SMS: the backlog the batches drain.
    await fillPipeline(fill, { doses: DOSES, from: new Date(now.getTime() - 50 * 60_000), to: now, prefix: 'TRG', facilities: 200, districts: 10 });
    await fill.query("INSERT INTO notification_events (person_id, notification_id, attempt, type, route, status, raw) SELECT person_id, id, 1, 'created', 'sink', 'pending', body FROM notifications");
    await fill.query('VACUUM (FREEZE) jobs, notifications, notification_events'); // visibility maps set, hint bits written
    if (values.analyze) await fill.query('ANALYZE');
    // SMS sent since the last vacuum: each left an entry in notifications_in_flight while it was pending, dead once delivered.
    for (let left = Number(values.churn); left > 0; left -= 10_000) {
      await fill.query(
        `WITH s AS (SELECT person_id, id FROM notifications WHERE status = 'delivered' AND report_bits = 0 LIMIT $1)
         UPDATE notifications x SET status = 'pending', final_at = NULL, report_bits = 2 FROM s WHERE x.person_id = s.person_id AND x.id = s.id`, [Math.min(left, 10_000)]);
      await fill.query("UPDATE notifications SET status = 'delivered', final_at = now() WHERE status = 'pending' AND report_bits = 2");
    }
    const counts = (await fill.query<{ t: string; n: number }>(
      "SELECT 'jobs pending' AS t, count(*)::int8 AS n FROM jobs WHERE status = 'pending' UNION ALL SELECT 'notifications', count(*) FROM notifications",
    )).rows.map((r) => `${Number(r.n).toLocaleString('en')} ${r.t}`);
    console.log(`${label}: ${DOSES.toLocaleString('en')} doses written in ${((performance.now() - t0) / 1000).toFixed(0)} s: ${counts.join(', ')}; ${values.analyze ? 'analyzed' : 'no statistics'}`);
  } finally {
    await fill.close();
  }
}

const side = (label: string, schema: string, before: boolean): Side => ({
  label,
  db: postgresDb({ connectionString: URL, schema, max: 1 }),
  times: { claim: [], insert: [], deliver: [], done: [] },
  sql: before ? { sending: BEFORE_SENDING_SQL, delivered: BEFORE_DELIVERED_SQL } : { sending: CREATE_SENDING_SQL, delivered: DELIVERED_AT_ONCE_SQL },
});

const admin = new pg.Client({ connectionString: URL });
await admin.connect();
const migrations = loadMigrations();
const now = new Date();
const schemas = [`bench_triggers_${process.pid}_0`, `bench_triggers_${process.pid}_1`];
const sides: Side[] = [];
const beforeLabel = `before (migrations to ${BEFORE})`;
const afterLabel = `after (migrations to ${migrations.at(-1)!.version})`;
try {
  if (values['same-rows']) {
    // One fill: the batches before, then migrated, the batches after (taken one after the other: compare server CPU).
    await prepare(schemas[0]!, beforeLabel, BEFORE);
    sides.push(side(beforeLabel, schemas[0]!, true));
    await measure([sides[0]!]);
    const up = postgresDb({ connectionString: URL, schema: schemas[0]!, max: 1 });
    console.log(`\nmigrated: ${(await migrate(up, migrations)).join(', ')}`);
    await up.close();
    sides.push(side(afterLabel, schemas[0]!, false));
    await measure([sides[1]!]);
  } else {
    await prepare(schemas[0]!, beforeLabel, BEFORE);
    await prepare(schemas[1]!, afterLabel, Infinity);
    sides.push(side(beforeLabel, schemas[0]!, true), side(afterLabel, schemas[1]!, false));
    await measure(sides);
  }
} finally {
  for (const s of sides) await s.db.close();
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
}
