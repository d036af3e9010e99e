import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend, postgresOnly } from '../helpers/db.ts';
import { fillJobs } from '../helpers/jobs.ts';
import { testRuntime } from '../helpers/app.ts';
import type { Db } from '../../src/db/client.ts';
import type { Runtime } from '../../src/runtime.ts';
import { CLAIM_SQL, schedulePeriodic } from '../../src/notify/outbox.ts';
import { schedulePeriodicJobs } from '../../src/notify/service.ts';
import { VACUUM_MIN_DEAD } from '../../src/notify/vacuum.ts';
import { parseConfig } from '../../src/config.ts';

/** More jobs than the threshold needs: each leaves two dead row versions (claimed, then done), as the worker's do. */
const CHURN = Math.ceil(VACUUM_MIN_DEAD * 0.75);

interface TableStats {
  dead: number;
  vacuums: number;
}
async function jobsStats(db: Db): Promise<TableStats> {
  const r = await db.query<{ dead: number; vacuums: number }>(
    "SELECT n_dead_tup::int8 AS dead, vacuum_count::int8 AS vacuums FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = 'jobs'",
  );
  return { dead: Number(r.rows[0]?.dead ?? 0), vacuums: Number(r.rows[0]?.vacuums ?? 0) };
}

/** `CHURN` certificate-SMS jobs claimed and done, as the worker leaves them; waits (with a deadline) until the statistics count their dead versions. */
async function churn(db: Db): Promise<void> {
  await fillJobs(db, { done: 0, backlog: CHURN, future: 0 });
  await db.query("UPDATE jobs SET locked_by = 'test', locked_until = now() + interval '1 minute', attempts = attempts + 1, updated_at = now() WHERE status = 'pending' AND kind = 'notify'");
  await db.query("UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, updated_at = now() WHERE status = 'pending' AND kind = 'notify'");
  // A backend hands its counts to the statistics within a second or so of its transaction's end (PostgreSQL 15+).
  const until = Date.now() + 30_000;
  while ((await jobsStats(db)).dead < VACUUM_MIN_DEAD) {
    if (Date.now() > until) throw new Error(`the statistics never counted the dead jobs: ${JSON.stringify(await jobsStats(db))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether another session of this database holds a snapshot (its xmin) that keeps dead row versions from being removed. */
async function olderSnapshots(db: Db): Promise<boolean> {
  const r = await db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_xmin IS NOT NULL AND pid <> pg_backend_pid()');
  return Number(r.rows[0]?.n) > 0;
}

const waitingVacuums = (db: Db) => db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM jobs WHERE kind = 'queue_vacuum' AND status = 'pending'").then((r) => Number(r.rows[0]?.n));

describeEachBackend('the queue vacuums its own tables', (t) => {
  let rt: Runtime;
  const config = parseConfig({});
  const pgIt = postgresOnly(t.backend);

  it('starts; the periodic job is scheduled only when DOSIS_QUEUE_VACUUM is on (the default)', async () => {
    rt = await testRuntime(t.db);
    assert.equal(config.worker.queueVacuum, true);
    const off = parseConfig({ DOSIS_QUEUE_VACUUM: 'false' });
    assert.equal(off.worker.queueVacuum, false);
    await schedulePeriodicJobs(t.db, off);
    assert.equal(await waitingVacuums(t.db), 0);
    await schedulePeriodicJobs(t.db, config);
    assert.equal(await waitingVacuums(t.db), 1);
    // Its run comes with the others: nothing to vacuum yet, the next one scheduled.
    const logged: string[] = [];
    await rt.deps.notify.worker({ log: (m) => logged.push(m) }).drain();
    assert.deepEqual(logged, []);
    const next = await t.db.query<{ run_at: Date }>("SELECT run_at FROM jobs WHERE kind = 'queue_vacuum' AND status = 'pending'");
    assert.equal(next.rows.length, 1);
    assert.ok(next.rows[0]!.run_at.getTime() > Date.now(), 'the next run is at the next minute');
  });

  pgIt('after enough job churn, the periodic job VACUUMs jobs (its dead row versions go) and says so', async () => {
    // Only the run scheduled below: the one the first test left for the next minute is due too when this test
    // starts a minute later (a loaded CI machine), and with a snapshot of another test still holding the dead
    // versions it vacuumed a second time.
    await t.db.query("DELETE FROM jobs WHERE kind = 'queue_vacuum'");
    await churn(t.db);
    const before = await jobsStats(t.db);
    await schedulePeriodic(t.db, 'queue_vacuum', { now: new Date(Date.now() - 3_600_000), everyMinutes: 1, which: 'current' });
    const logged: string[] = [];
    await rt.deps.notify.worker({ log: (m) => logged.push(m) }).drain();
    const after = await jobsStats(t.db);
    assert.equal(after.vacuums, before.vacuums + 1, JSON.stringify({ before, after }));
    // The dead versions go unless a snapshot older than them is still open in this database (other tests share it).
    if (!(await olderSnapshots(t.db))) assert.ok(after.dead < before.dead / 10, JSON.stringify({ before, after }));
    const last = await t.db.query<{ at: Date | null }>("SELECT last_vacuum AS at FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = 'jobs'");
    assert.ok(last.rows[0]?.at, 'last_vacuum is set');
    assert.equal(logged.length, 1, JSON.stringify(logged));
    assert.match(logged[0]!, /^vacuumed jobs \(\d+ dead row versions, \d+ ms\)$/);
  });

  pgIt('turned off (DOSIS_QUEUE_VACUUM=false), a run already scheduled vacuums nothing and schedules no next one', async () => {
    await t.db.query("DELETE FROM jobs WHERE kind = 'queue_vacuum'");
    await churn(t.db);
    const before = await jobsStats(t.db);
    await schedulePeriodic(t.db, 'queue_vacuum', { now: new Date(Date.now() - 3_600_000), everyMinutes: 1, which: 'current' });
    await rt.deps.notify.worker({ queueVacuum: false }).drain();
    const after = await jobsStats(t.db);
    assert.equal(after.vacuums, before.vacuums);
    assert.ok(after.dead >= before.dead, JSON.stringify({ before, after }));
    assert.equal(await waitingVacuums(t.db), 0);
  });

  pgIt('with many dead entries in jobs_lane_due, before and after ANALYZE, the claim still reads the head of that index', async () => {
    // The state the test before left: thousands of dead versions of claimed and done jobs, not vacuumed; a backlog behind them.
    await fillJobs(t.db, { done: 0, backlog: 2_000, future: 0 });
    for (const analyzed of [false, true]) {
      if (analyzed) await t.db.exec('ANALYZE jobs');
      const plan = await t.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${CLAIM_SQL}`, ['plan-test', 100, 'certificate', 60_000, null]);
      const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
      // The choice of the due jobs (the claimed rows are then updated by primary key, however the planner likes).
      const due = text.slice(0, text.indexOf('InitPlan'));
      assert.match(due, /Limit\s+.*\n.*LockRows.*\n.*Index Scan using jobs_lane_due on jobs/, text);
      assert.doesNotMatch(due, /Sort|Bitmap|Seq Scan/, text);
    }
  });

  it('stops', async () => {
    await rt.app.close();
  });
});
