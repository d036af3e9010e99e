/**
 * `npm run bench -- claim`: the worker's claim on a jobs table of a record
 * day (default 1 M rows: 700 k done, 280 k certificate SMS waiting, 20 k
 * reminders weeks ahead), before any ANALYZE and after one, on PostgreSQL:
 * the plan and the time of a claim of 25 (custom and generic plans), for the claim before lanes (every
 * kind in run_at order from `jobs_due`, migration 001) and for the lane claim
 * (`jobs_lane_due`, migrations 030–031), and what a code job waits behind.
 */
import { parseArgs } from 'node:util';
import { createScratchDatabase } from '../test/helpers/server.ts';
import { fillJobs } from '../test/helpers/jobs.ts';
import { openDb } from '../src/db/open.ts';
import { migrate } from '../src/db/migrate.ts';
import type { Db, Queryable } from '../src/db/client.ts';
import { CLAIM_SQL, enqueue } from '../src/notify/outbox.ts';
import { JOB_KINDS } from '../src/notify/jobs.ts';

const { values: opts } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '20' },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  console.log(`npm run bench -- claim [--rows N (default 1000000)] [--runs N claims timed per case (default 20)]`);
  process.exit(0);
}
const rows = Number(opts.rows);
const runs = Number(opts.runs);

/** The claim before lanes (notify/outbox.ts until migration 030). */
const OLD_CLAIM = `WITH due AS (
       SELECT id FROM jobs
        WHERE status = 'pending' AND run_at <= now() AND (locked_until IS NULL OR locked_until < now())
          AND kind = ANY($3::text[])
        ORDER BY run_at, id
        LIMIT $2
        FOR UPDATE SKIP LOCKED)
     UPDATE jobs j
        SET locked_by = $1, locked_until = now() + make_interval(secs => $4::float8 / 1000),
            attempts = j.attempts + 1, updated_at = now()
       FROM due WHERE j.id = due.id
     RETURNING j.id, j.kind, j.payload, j.attempts, j.max_attempts, j.person_id, j.run_at, j.dedupe_key`;

interface Case {
  label: string;
  sql: string;
  params: unknown[];
  /** Run inside the measuring transaction first (the old schema's index). */
  setup?: string;
}

/** `$n` parameters as SQL literals, for EXECUTE of the prepared claim. */
function literal(v: unknown): string {
  if (v === null) return 'NULL';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `ARRAY[${v.map(literal).join(', ')}]::text[]`;
  if (typeof v !== 'string') throw new Error(`no literal for ${typeof v}`);
  return `'${v.replace(/'/g, "''")}'`;
}

/**
 * The plan (EXPLAIN ANALYZE) and the time of the claim, with the plan made for
 * its values (custom) and the one `pg` may settle on for a statement prepared
 * by name after five runs (generic: the LIMIT a parameter of unknown value).
 */
async function measure(db: Db, c: Case, generic: boolean): Promise<void> {
  const types = c.sql === OLD_CLAIM ? '(text, int, text[], float8)' : '(text, int, text, float8, text[])';
  const call = `EXECUTE claim_bench(${c.params.map(literal).join(', ')})`;
  // Each claim in a transaction rolled back: every run claims the same head of the queue.
  const once = async (tx: Queryable, explain: boolean) => {
    if (c.setup) await tx.exec(c.setup);
    await tx.exec(`PREPARE claim_bench${types} AS ${c.sql}`);
    await tx.exec(`SET LOCAL plan_cache_mode = ${generic ? 'force_generic_plan' : 'force_custom_plan'}`);
    try {
      if (explain) {
        const r = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${call}`);
        return r.rows.map((x) => x['QUERY PLAN']);
      }
      const t0 = performance.now();
      await tx.query(call);
      return performance.now() - t0;
    } finally {
      await tx.exec('DEALLOCATE claim_bench'); // a prepared statement outlives the rollback
    }
  };
  const rollback = async <T>(f: (tx: Queryable) => Promise<T>): Promise<T> => {
    let out: T | undefined;
    await db
      .withTransaction(async (tx) => {
        out = await f(tx);
        throw new RollbackSignal();
      })
      .catch((e: unknown) => {
        if (!(e instanceof RollbackSignal)) throw e;
      });
    return out as T;
  };
  const plan = (await rollback((tx) => once(tx, true))) as string[];
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push((await rollback((tx) => once(tx, false))) as number);
  times.sort((a, b) => a - b);
  console.log(`\n${c.label}, ${generic ? 'generic' : 'custom'} plan: claim of 25 p50 ${times[Math.floor(runs / 2)]!.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms`);
  for (const l of plan) console.log(`    ${l}`);
}

class RollbackSignal extends Error {}

const scratch = await createScratchDatabase('dosis_bench_claim');
const db = await openDb({ databaseUrl: scratch.url, dataDir: '.', poolSize: 2 });
try {
  await migrate(db);
  await db.query('ALTER TABLE jobs SET (autovacuum_enabled = false)');
  const done = Math.round(rows * 0.7);
  const backlog = Math.round(rows * 0.28);
  const t0 = performance.now();
  await fillJobs(db, { done, backlog, future: rows - done - backlog });
  const codeId = await enqueue(db, { kind: 'code_sms', payload: { requestId: '00000000-0000-4000-8000-000000000001' }, dedupeKey: 'otp:bench' });
  await enqueue(db, { kind: 'housekeeping', payload: {}, dedupeKey: 'housekeeping:bench' });
  console.log(`claim: ${rows.toLocaleString('en')} jobs (${done.toLocaleString('en')} done, ${backlog.toLocaleString('en')} certificate SMS due, ${(rows - done - backlog).toLocaleString('en')} reminders ahead) written in ${((performance.now() - t0) / 1000).toFixed(1)} s, not analyzed`);
  const stats = await db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM pg_stats WHERE tablename = 'jobs' AND schemaname = current_schema()");
  console.log(`statistics of jobs: ${stats.rows[0]?.n} columns`);

  const old: Case = {
    label: 'before lanes (one queue, jobs_due)',
    setup: 'DROP INDEX jobs_lane_due; CREATE INDEX jobs_due ON jobs (run_at) WHERE status = \'pending\'',
    sql: OLD_CLAIM,
    params: ['bench', 25, JOB_KINDS, 60_000],
  };
  const lane = (l: string): Case => ({ label: `lanes: the ${l} lane (jobs_lane_due)`, sql: CLAIM_SQL, params: ['bench', 25, l, 60_000, null] });
  for (const analyzed of [false, true]) {
    if (analyzed) {
      await db.query('ANALYZE jobs');
      console.log('\n---- after ANALYZE jobs ----');
    }
    for (const generic of [false, true]) {
      await measure(db, old, generic);
      await measure(db, lane('code'), generic);
      await measure(db, lane('certificate'), generic);
    }
  }
  const pos = await db.query<{ n: number }>(
    "SELECT count(*)::int8 AS n FROM jobs WHERE status = 'pending' AND run_at <= now() AND (run_at, id) < (SELECT run_at, id FROM jobs WHERE id = $1)",
    [codeId],
  );
  console.log(`\nin one queue, the code job waits behind ${Number(pos.rows[0]?.n).toLocaleString('en')} due jobs; in its lane, behind none`);
} finally {
  await db.close();
  await scratch.drop();
}
