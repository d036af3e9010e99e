/**
 * The pipeline rollup (records/pipeline-rollup.ts): rolling hours up changes
 * what the pipeline view and its series cost, never their figures; it is
 * idempotent and safe to run from two workers at once; the worker runs it as
 * a periodic job; and on PostgreSQL, once history is rolled up, a day's
 * series reads the source tables only by time range and primary key.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend, postgresOnly } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor, ADMIN_TOKEN } from '../helpers/app.ts';
import { fillPipeline, WAITING_FROM_ROWS } from '../helpers/pipeline.ts';
import { FINAL_AFTER_MS, MAX_SERIES_POINTS, ROLLUP_LIVE_SQL, ROLLUP_MARGIN_MS, ROLLUP_SETTINGS, rollupPipeline, sampleWaiting, startPipelineRollup } from '../../src/records/pipeline-rollup.ts';
import { PLAN_SETTINGS, pipelineStats, seriesStatements, seriesWindow, statsStatements, tailRange, type Statement, type TailRange } from '../../src/records/stats.ts';
import { PIPELINE_ROLLUP_EVERY_MINUTES, schedulePeriodicJobs } from '../../src/notify/service.ts';
import type { Db } from '../../src/db/client.ts';
import type { Principal } from '../../src/access/tokens.ts';
import type { Runtime } from '../../src/runtime.ts';

const HOUR = 3_600_000;
const periodic = { doseRequests: { escalateAfterDays: 3, checkEveryMinutes: 60 } };

/** Moves everything of a person's doses `hours` back in time: dose, certificate, its notify job and SMS. */
async function backdate(db: Db, personId: string, hours: number): Promise<void> {
  const by = [personId, hours];
  await db.query(`UPDATE vaccinations SET recorded_at = recorded_at - $2 * interval '1 hour' WHERE person_id = $1`, by);
  await db.query(`UPDATE certificates SET issued_at = issued_at - $2 * interval '1 hour' WHERE person_id = $1`, by);
  await db.query(`UPDATE jobs SET created_at = created_at - $2 * interval '1 hour', updated_at = updated_at - $2 * interval '1 hour' WHERE person_id = $1 AND kind = 'notify'`, by);
  await db.query(
    `UPDATE notifications SET created_at = created_at - $2 * interval '1 hour', submitted_at = submitted_at - $2 * interval '1 hour', final_at = final_at - $2 * interval '1 hour'
      WHERE person_id = $1`,
    by,
  );
}

/** What the rollup holds, in a stable order. */
async function rolledUp(db: Db): Promise<unknown[]> {
  const hours = await db.query('SELECT * FROM pipeline_hours ORDER BY facility_code, hour');
  const totals = await db.query('SELECT * FROM pipeline_totals ORDER BY facility_code');
  const minutes = await db.query('SELECT * FROM pipeline_minutes ORDER BY facility_code, minute');
  return [hours.rows, totals.rows, minutes.rows];
}

async function resetRollup(db: Db): Promise<void> {
  await db.query('DELETE FROM pipeline_hours');
  await db.query('DELETE FROM pipeline_totals');
  await db.query('DELETE FROM pipeline_minutes');
  await db.query('UPDATE pipeline_rollup SET done_until = NULL, final_until = NULL');
}

describeEachBackend('pipeline rollup', (t) => {
  // Declared on PostgreSQL only: PGlite runs one transaction at a time, and plans are PostgreSQL's.
  const onPostgres = postgresOnly(t.backend);
  let rt: Runtime;
  let a: { code: string; token: string };
  let b: { code: string; token: string };
  let district: string;
  // A fixed window, so that the answers compared are for the same hours whenever they are asked.
  const hourStart = Math.floor(Date.now() / HOUR) * HOUR;
  const from = new Date(hourStart - 12 * HOUR).toISOString();
  const to = new Date(hourStart + HOUR).toISOString();

  const get = async <T>(token: string, url: string): Promise<T> => {
    const r = await rt.app.inject({ method: 'GET', url, headers: bearer(token) });
    assert.equal(r.statusCode, 200, r.body);
    return r.json();
  };
  /** Every answer the rollup must not change: series for several scopes, filters and buckets, and the pipeline view. */
  const answers = async () => {
    const series = [
      [ADMIN_TOKEN, `from=${from}&to=${to}`],
      [ADMIN_TOKEN, `from=${from}&to=${to}&facility=${a.code}`],
      [ADMIN_TOKEN, `from=${from}&to=${to}&region=3273`],
      [a.token, `from=${from}&to=${to}`],
      [district, `from=${from}&to=${to}`],
      [ADMIN_TOKEN, `from=${new Date(hourStart - 3 * HOUR).toISOString()}&to=${new Date(hourStart - HOUR).toISOString()}`],
      [ADMIN_TOKEN, `bucket=day&from=${new Date(hourStart - 2 * 86_400_000).toISOString()}&to=${to}`],
    ] as const;
    const out: unknown[] = [];
    for (const [token, q] of series) out.push(await get(token, `/api/v1/stats/series?${q}`));
    for (const token of [ADMIN_TOKEN, district, a.token]) {
      // Ages and the time of the answer move with the clock; the rest must not. The last minute and
      // hour are counted to the minute once rolled up (per-minute counts): checked on their own below.
      const p = await get<{ stages: Record<string, unknown>[]; facilities: Record<string, unknown>[]; generatedAt?: string }>(token, '/api/v1/stats/pipeline');
      delete p.generatedAt;
      for (const s of p.stages) {
        delete s.oldestWaitingSeconds;
        delete s.lastMinute;
        delete s.lastHour;
      }
      for (const f of p.facilities) delete f.recordedLastHour;
      out.push(p);
    }
    return out;
  };

  it('gives the same series and pipeline view before and after the hours are rolled up', async () => {
    rt = await testRuntime(t.db);
    a = await facilityWithToken(t.db, '317101');
    b = await facilityWithToken(t.db, '327301');
    district = await tokenFor(t.db, 'district', { region: '3273' });
    // Doses spread over the last 9 hours, their SMS sent by the worker; one with no usable phone (held).
    const people: { id: string; hours: number }[] = [];
    for (const [i, fac] of [a, a, b, a, b, a, a, b].entries()) {
      const p = person();
      const payload = i === 3 ? { ...doseBody(p), person: { ...p, phone: undefined } } : doseBody(p);
      const r = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload });
      assert.equal(r.statusCode, 201, r.body);
      people.push({ id: r.json().person.id as string, hours: [2, 3, 3, 4, 5, 7, 9, 2][i]! });
    }
    await rt.deps.notify.worker({ pollMs: 10 }).drain();
    // One SMS ended expired, one failed; then two more doses whose SMS still wait in the queue.
    await t.db.query(`UPDATE notifications SET status = 'expired' WHERE person_id = $1`, [people[1]!.id]);
    await t.db.query(`UPDATE notifications SET status = 'failed' WHERE person_id = $1`, [people[4]!.id]);
    for (const p of people) await backdate(t.db, p.id, p.hours);
    for (const fac of [a, b]) {
      const r = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(person()) });
      assert.equal(r.statusCode, 201, r.body);
    }
    const held = await t.db.query<{ status: string }>(`SELECT status FROM notifications WHERE person_id = $1`, [people[3]!.id]);
    assert.deepEqual(held.rows.map((n) => n.status), ['held'], 'the dose without a usable phone has a held SMS');

    const lastHour = async () => {
      const p = await get<{ stages: { stage: string; lastHour: number }[] }>(ADMIN_TOKEN, '/api/v1/stats/pipeline');
      return Object.fromEntries(p.stages.map((s) => [s.stage, s.lastHour]));
    };
    const before = await answers();
    const beforeLastHour = await lastHour();
    // Up to a few seconds ago: the two doses just recorded are rolled up too (unless they are younger than the margin).
    const r = await rollupPipeline(t.db, new Date(Date.now() + ROLLUP_MARGIN_MS));
    assert.equal(r.ran, true);
    assert.ok(r.hours >= 6, `hours of both facilities rolled up (${r.hours})`);
    assert.ok(r.doneUntil !== null && r.doneUntil.getTime() <= Date.now() && r.doneUntil.getTime() > Date.now() - FINAL_AFTER_MS, `rolled up to ${r.doneUntil?.toISOString()}`);
    const after = await answers();
    assert.deepEqual(after, before);
    assert.deepEqual(await lastHour(), beforeLastHour, 'the last hour from per-minute counts, as from the tail');
    assert.equal(beforeLastHour.recorded, 2);

    // The figures are the rows: 10 doses, 8 SMS sent of which 1 held, 1 expired, 1 failed; 2 waiting in the queue.
    const [all] = before as [{ points: { throughput: Record<string, number>; backlog: Record<string, number> }[] }];
    const sum = (k: string) => all.points.reduce((n, p) => n + p.throughput[k]!, 0);
    assert.deepEqual([sum('recorded'), sum('certified'), sum('queued'), sum('delivered'), sum('failed')], [10, 10, 10, 5, 2]);
    assert.deepEqual(all.points.at(-1)!.backlog, { certificate: 0, queue: 2, report: 0 });
    const view = before[7] as { stages: { stage: string; count: number }[]; facilities: { facility: string; recorded: number }[] };
    assert.deepEqual(Object.fromEntries(view.stages.map((s) => [s.stage, s.count])), {
      recorded: 10,
      certified: 10,
      sms_queued: 2,
      sms_delivered: 5,
      sms_failed: 1,
      sms_expired: 1,
      sms_held: 1,
    });
    assert.deepEqual(view.facilities.map((f) => [f.facility, f.recorded]), [[a.code, 6], [b.code, 4]].sort());
  });

  it('keeps the SMS backlogs right when a wait ends and begins again after its hour was rolled up', async () => {
    const backlog = async () => {
      const s = await get<{ points: { backlog: Record<string, number> }[] }>(ADMIN_TOKEN, `/api/v1/stats/series?from=${from}&to=${to}`);
      return s.points.at(-1)!.backlog;
    };
    assert.deepEqual(await backlog(), { certificate: 0, queue: 2, report: 0 });
    // A delivered SMS whose hour is rolled up is sent again: accepted ten minutes ago, no report yet…
    const sms = await t.db.query<{ person_id: string; id: string }>(
      "SELECT person_id, id FROM notifications WHERE kind = 'certificate' AND status = 'delivered' AND submitted_at < (SELECT done_until FROM pipeline_rollup) LIMIT 1",
    );
    const one = [sms.rows[0]!.person_id, sms.rows[0]!.id];
    await t.db.query("UPDATE notifications SET status = 'submitted', submitted_at = now() - interval '10 minutes', final_at = NULL WHERE person_id = $1 AND id = $2", one);
    assert.deepEqual(await backlog(), { certificate: 0, queue: 2, report: 1 }, 'it waits for its report');
    // …then delivered: nothing waits for a report any more (counted from events, the rolled-up acceptance would stay).
    await t.db.query("UPDATE notifications SET status = 'delivered', final_at = now() WHERE person_id = $1 AND id = $2", one);
    assert.deepEqual(await backlog(), { certificate: 0, queue: 2, report: 0 });
    // A notify job that died in a rolled-up hour is replayed: in the queue again, then done.
    const job = await t.db.query<{ id: number }>(
      "SELECT id FROM jobs WHERE kind = 'notify' AND status = 'done' AND updated_at < (SELECT done_until FROM pipeline_rollup) LIMIT 1",
    );
    const jobId = [job.rows[0]!.id];
    await t.db.query("UPDATE jobs SET status = 'pending', updated_at = now() WHERE id = $1", jobId);
    assert.deepEqual(await backlog(), { certificate: 0, queue: 3, report: 0 }, 'the replayed job waits in the queue');
    await t.db.query("UPDATE jobs SET status = 'done', updated_at = now() WHERE id = $1", jobId);
    assert.deepEqual(await backlog(), { certificate: 0, queue: 2, report: 0 });
    // What this test changed is in the tail: roll the same rows up again from scratch for the tests below.
    await resetRollup(t.db);
    await rollupPipeline(t.db, new Date());
  });

  it('adds nothing when run again, and counts once when two run at the same time', async () => {
    const once = await rolledUp(t.db);
    const again = await rollupPipeline(t.db, new Date());
    assert.deepEqual([again.hours, again.events], [0, 0]);
    assert.deepEqual(await rolledUp(t.db), once, 'a second rollup changes nothing');

    await resetRollup(t.db);
    const now = new Date();
    const runs = await Promise.all([rollupPipeline(t.db, now), rollupPipeline(t.db, now)]);
    assert.deepEqual(await rolledUp(t.db), once, 'two rollups at once count each event once');
    assert.equal(runs.reduce((n, r) => n + r.events, 0), runs.find((r) => r.events > 0)?.events, 'one of them rolled up, the other added nothing');
  });

  it('samples what waits into the gauge of its hour, exactly, and keeps old hours to the last of their day', async () => {
    await t.db.exec('DELETE FROM pipeline_waiting_hours; DELETE FROM pipeline_waiting_samples');
    /** What waits per facility from the rows: the SMS queue, and SMS waiting for a report (submitted or unknown). */
    const fromRows = async () => {
      const by = new Map<string, { facility_code: string; queue: number; report: number }>();
      for (const r of (await t.db.query<{ facility_code: string; state: string; n: number }>(WAITING_FROM_ROWS)).rows) {
        const f = by.get(r.facility_code) ?? { facility_code: r.facility_code, queue: 0, report: 0 };
        if (r.state === 'queued') f.queue += Number(r.n);
        if (r.state === 'submitted' || r.state === 'unknown') f.report += Number(r.n);
        by.set(r.facility_code, f);
      }
      return [...by.values()].filter((f) => f.queue || f.report).sort((x, y) => (x.facility_code < y.facility_code ? -1 : 1));
    };
    const gauge = async (hour: number) =>
      (await t.db.query<{ facility_code: string; queue: number; report: number }>('SELECT facility_code, queue::int, report::int FROM pipeline_waiting_hours WHERE hour = $1 ORDER BY 1', [new Date(hour)])).rows;
    const sample = (at: number) => t.db.withTransaction((tx) => sampleWaiting(tx, new Date(at)));
    // The rollup samples into the hour of its clock.
    const at = new Date();
    const hour = Math.floor(at.getTime() / HOUR) * HOUR;
    await rollupPipeline(t.db, at);
    const before = await fromRows();
    assert.ok(before.some((f) => f.queue > 0), 'the two SMS of the first test still wait in the queue');
    assert.deepEqual(await gauge(hour), before);
    // An SMS waits for its report, the queue is sent: the hour's rows follow, a facility with nothing waiting has none.
    const sms = await t.db.query<{ person_id: string; id: string }>("SELECT person_id, id FROM notifications WHERE kind = 'certificate' AND status = 'delivered' LIMIT 1");
    await t.db.query("UPDATE notifications SET status = 'submitted', final_at = NULL WHERE person_id = $1 AND id = $2", [sms.rows[0]!.person_id, sms.rows[0]!.id]);
    const queued = await t.db.query<{ id: number }>("UPDATE jobs SET status = 'done' WHERE kind = 'notify' AND status = 'pending' RETURNING id");
    await sample(hour + 31 * 60_000);
    const after = await fromRows();
    assert.deepEqual(after.map((f) => [f.queue, f.report]), [[0, 1]]);
    assert.deepEqual(await gauge(hour), after);
    await t.db.query("UPDATE notifications SET status = 'delivered', final_at = now() WHERE person_id = $1 AND id = $2", [sms.rows[0]!.person_id, sms.rows[0]!.id]);
    await t.db.query("UPDATE jobs SET status = 'pending' WHERE id = ANY($1::int8[])", [queued.rows.map((j) => j.id)]);

    // Hours older than the longest hourly series keep only the last sampled hour of their UTC day; samples
    // older than the longest daily series go, with their rows. Done at an hour's first sample.
    const next = hour + HOUR;
    const old = Array.from({ length: 60 }, (_, i) => next - (MAX_SERIES_POINTS + 50 - i) * HOUR).concat([next - (MAX_SERIES_POINTS + 1) * 24 * HOUR]);
    await t.db.query("INSERT INTO pipeline_waiting_samples (hour, sampled_at) SELECT h, h FROM unnest($1::timestamptz[]) h", [old.map((h) => new Date(h))]);
    await t.db.query("INSERT INTO pipeline_waiting_hours (hour, facility_code, queue, report) SELECT h, $2, 5, 1 FROM unnest($1::timestamptz[]) h", [old.map((h) => new Date(h)), a.code]);
    await sample(next + 60_000);
    const DAY = 24 * HOUR;
    const thinBefore = next - MAX_SERIES_POINTS * HOUR;
    const lastOfDay = new Map<number, number>();
    for (const h of [...old.slice(0, 60), hour, next]) lastOfDay.set(Math.floor(h / DAY), Math.max(h, lastOfDay.get(Math.floor(h / DAY)) ?? h));
    const expected = [...old.slice(0, 60).filter((h) => h >= thinBefore || lastOfDay.get(Math.floor(h / DAY)) === h), hour, next].sort((x, y) => x - y);
    const kept = await t.db.query<{ hour: Date }>('SELECT hour FROM pipeline_waiting_samples ORDER BY hour');
    assert.deepEqual(kept.rows.map((r) => r.hour.getTime()), expected);
    const rows = await t.db.query<{ hour: Date }>('SELECT DISTINCT hour FROM pipeline_waiting_hours WHERE facility_code = $1 AND queue = 5 ORDER BY hour', [a.code]);
    assert.deepEqual(rows.rows.map((r) => r.hour.getTime()), expected.filter((h) => h < hour), 'the rows of the samples that went went with them');
    await t.db.exec('DELETE FROM pipeline_waiting_hours; DELETE FROM pipeline_waiting_samples');
  });

  onPostgres('leaves the hours to a rollup that holds the lock', async () => {
    await resetRollup(t.db);
    const r = await t.db.withTransaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(720302, hashtext(current_schema()))");
      return rollupPipeline(t.db, new Date());
    });
    assert.deepEqual(r, { ran: false, doneUntil: null, hours: 0, events: 0 });
    assert.deepEqual(await rolledUp(t.db), [[], [], []]);
  });

  it('runs as the worker’s periodic job, which schedules its next run', async () => {
    await resetRollup(t.db);
    const now = new Date();
    await schedulePeriodicJobs(t.db, periodic, now);
    await rt.deps.notify.worker({ pollMs: 10, now: () => now }).drain();
    const done = await t.db.query<{ done_until: Date }>('SELECT done_until FROM pipeline_rollup');
    const until = done.rows[0]!.done_until.getTime();
    // Up to the margin before its clock, or the start of a transaction still running then (other tests share the database).
    assert.ok(until <= now.getTime() - ROLLUP_MARGIN_MS && until >= now.getTime() - FINAL_AFTER_MS, 'rolled up to a few seconds ago');
    assert.ok((await rolledUp(t.db)).every((rows) => (rows as unknown[]).length > 0));
    const slot = PIPELINE_ROLLUP_EVERY_MINUTES * 60_000;
    const next = await t.db.query<{ run_at: Date }>("SELECT run_at FROM jobs WHERE kind = 'pipeline_rollup' AND status = 'pending'");
    assert.deepEqual(next.rows.map((j) => j.run_at.getTime()), [(Math.floor(now.getTime() / slot) + 1) * slot]);
    await rt.app.close();
  });

  onPostgres('reads a day of series and the pipeline view by time range, partial index and primary key once history is rolled up (PostgreSQL plans)', async () => {
    await resetRollup(t.db);
    const now = new Date();
    // A month of history, enough pages that reading all of a table costs more than the last hour's rows.
    await fillPipeline(t.db, { doses: 30_000, from: new Date(now.getTime() - 30 * 86_400_000), to: now, prefix: 'PLAN', facilities: 20, districts: 4 });
    await rollupPipeline(t.db, now);
    await t.db.query('ANALYZE facilities, vaccinations, certificates, jobs, notifications, pipeline_hours, pipeline_totals');
    const doneUntil = (await t.db.query<{ done_until: Date }>('SELECT done_until FROM pipeline_rollup')).rows[0]!.done_until;
    // The tail from the live minutes (migration 039), as every request reads it once the rollup has passed
    // live_from (the migration's minute); and from the source tables, as after a rollup reset to nothing.
    const live = tailRange(doneUntil, doneUntil);
    assert.equal(live.source, false, 'the rollup ends on a minute boundary');
    const source: TailRange = { from: doneUntil, live: null, source: true };
    const plan = async (s: Statement) => (await t.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${s.sql}`, s.params)).rows.map((r) => r['QUERY PLAN']).join('\n');
    const admin: Principal = { id: 'plan', role: 'admin', facilityCode: null, regionCode: null, label: 'plan' };
    const scopes: Principal[] = [admin, { ...admin, role: 'district', regionCode: '310001' }, { ...admin, role: 'facility', facilityCode: 'PLAN0001' }];
    const uses: Record<string, string[]> = {
      'series tail': ['pipeline_live', 'pipeline_live_changes'],
      'series source tail': ['vaccinations_recorded_at', 'certificates_issued_at', 'jobs_created_at', 'notifications_certificate_submitted', 'notifications_certificate_final'],
      // The SMS backlogs: the hourly gauge (migration 044) by primary key, and what waits now by its counts (038).
      'series backlog': ['pipeline_waiting_samples_pkey', 'pipeline_waiting_hours_pkey'],
      'series now': ['pipeline_waiting', 'pipeline_waiting_changes'],
      'view tail': ['pipeline_live', 'pipeline_live_changes'],
      'view source tail': ['vaccinations_recorded_at', 'certificates_issued_at', 'jobs_created_at', 'notifications_certificate_submitted', 'notifications_certificate_final'],
      // What waits now: its counts per minute (migration 038), never the waiting jobs and SMS themselves.
      'view waiting': ['pipeline_waiting', 'pipeline_waiting_changes'],
    };
    for (const who of scopes) {
      const statements = {
        ...Object.fromEntries(Object.entries(seriesStatements(who, seriesWindow({}, now), live)).map(([k, s]) => [`series ${k}`, s])),
        ...Object.fromEntries(Object.entries(statsStatements(who, live)).map(([k, s]) => [`view ${k}`, s])),
        'series source tail': seriesStatements(who, seriesWindow({}, now), source).tail,
        'view source tail': statsStatements(who, source).tail,
      };
      for (const [name, s] of Object.entries(statements)) {
        const p = await plan(s);
        assert.equal(/Seq Scan on (vaccinations|certificates|jobs|notifications|pipeline_hours)\b/.exec(p), null, `${who.role} ${name} reads a whole table:\n${p}`);
        for (const index of uses[name] ?? []) assert.match(p, new RegExp(`\\b${index}\\b`), `${who.role} ${name} uses ${index}:\n${p}`);
        if (name === 'series tail' || name === 'view tail') assert.doesNotMatch(p, / on (jobs|notifications|certificates|vaccinations)\b/, `${who.role} ${name} reads no source table:\n${p}`);
        if (name === 'series backlog' || name === 'series now') assert.doesNotMatch(p, / on (jobs|notifications|certificates|vaccinations)\b/, `${who.role} ${name} reads no waiting row:\n${p}`);
        if (name === 'view waiting') assert.doesNotMatch(p, / on (jobs|notifications|certificates|vaccinations)\b/, `${who.role} ${name} reads no waiting row:\n${p}`);
      }
    }
  });

  onPostgres('reads what waits in a scope by primary key, facility by facility (PostgreSQL plans)', async () => {
    // What waits on a record day: 500 facilities with an SMS backlog begun in each of the last 64 minutes, without statistics.
    await t.db.exec('ALTER TABLE pipeline_waiting SET (autovacuum_enabled = false)');
    await t.db.query(
      `INSERT INTO pipeline_waiting (facility_code, state, since, n)
       SELECT 'WAIT' || lpad(f::text, 4, '0'), s, date_trunc('minute', now()) - m * interval '1 minute', 3
         FROM generate_series(1, 500) f, unnest(ARRAY['queued', 'submitted']) s, generate_series(0, 63) m`,
    );
    try {
      const admin: Principal = { id: 'plan', role: 'admin', facilityCode: null, regionCode: null, label: 'plan' };
      for (const who of [{ ...admin, role: 'district', regionCode: '310001' }, { ...admin, role: 'facility', facilityCode: 'PLAN0001' }] as Principal[]) {
        const statements = { 'view waiting': statsStatements(who, tailRange(null, null)).waiting, 'series now': seriesStatements(who, seriesWindow({}), tailRange(null, null)).now };
        for (const [name, s] of Object.entries(statements)) {
          const p = await t.db.withTransaction(async (tx) => {
            await tx.query(PLAN_SETTINGS);
            return (await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${s.sql}`, s.params)).rows.map((r) => r['QUERY PLAN']).join('\n');
          });
          // The filter inside each branch of the union: its facilities probed (facility first), not every facility's minutes joined.
          assert.match(p, /pipeline_waiting_pkey[^\n]*\n\s*Index Cond: \(facility_code = (f\w*\.code|'PLAN0001'::text)\)/, `${who.role} ${name}: by primary key:\n${p}`);
        }
      }
    } finally {
      await t.db.exec("DELETE FROM pipeline_waiting WHERE facility_code LIKE 'WAIT%'; ALTER TABLE pipeline_waiting RESET (autovacuum_enabled)");
    }
  });

  onPostgres('folds the live minutes through their index and reads no source table (PostgreSQL plans)', async () => {
    // The live minutes a rollup that stopped for a day would find (200,000), without statistics; the fold of one minute.
    await t.db.exec('ALTER TABLE pipeline_live SET (autovacuum_enabled = false)');
    const until = (await t.db.query<{ done_until: Date }>('SELECT done_until FROM pipeline_rollup')).rows[0]!.done_until;
    await t.db.query(
      `INSERT INTO pipeline_live (facility_code, stage, minute, n, days, last)
       SELECT 'FOLD' || lpad(f::text, 4, '0'), 'recorded', $1::timestamptz + m * interval '1 minute', 1, 1, $1::timestamptz + m * interval '1 minute'
         FROM generate_series(1, 140) f, generate_series(1, 1440) m`,
      [until],
    );
    try {
      const p = await t.db.withTransaction(async (tx) => {
        await tx.query(ROLLUP_SETTINGS);
        const params = [until, new Date(until.getTime() + 60_000), new Date(until.getTime() - 2 * HOUR), until];
        return (await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${ROLLUP_LIVE_SQL}`, params)).rows.map((r) => r['QUERY PLAN']).join('\n');
      });
      assert.match(p, /pipeline_live_minute/, `the live minutes by their index:\n${p}`);
      assert.doesNotMatch(p, /Seq Scan on pipeline_live\b/, `reads every live minute:\n${p}`);
      assert.doesNotMatch(p, / on (vaccinations|certificates|jobs|notifications)\b/, `reads a source table:\n${p}`);
    } finally {
      await t.db.exec("DELETE FROM pipeline_live WHERE facility_code LIKE 'FOLD%'; ALTER TABLE pipeline_live RESET (autovacuum_enabled)");
    }
  });

  onPostgres('reads the series’ SMS backlogs from the gauge by primary key, with and without statistics (PostgreSQL plans)', async () => {
    // A month of hourly samples of 500 facilities with a backlog: what a record month could leave (375,000 rows).
    await t.db.exec(`DELETE FROM pipeline_waiting_hours; DELETE FROM pipeline_waiting_samples;
                     ALTER TABLE pipeline_waiting_hours SET (autovacuum_enabled = false); ALTER TABLE pipeline_waiting_samples SET (autovacuum_enabled = false)`);
    await t.db.query(
      `INSERT INTO pipeline_waiting_samples (hour, sampled_at)
       SELECT h, h + interval '59 minutes' FROM generate_series(date_trunc('hour', now()) - interval '749 hours', date_trunc('hour', now()), interval '1 hour') h`,
    );
    await t.db.query(
      `INSERT INTO pipeline_waiting_hours (hour, facility_code, queue, report)
       SELECT s.hour, f.code, 1000, 100 FROM pipeline_waiting_samples s,
              (SELECT code FROM facilities UNION SELECT 'GAUGE' || lpad(g::text, 4, '0') FROM generate_series(1, 500 - (SELECT count(*)::int FROM facilities)) g) f`,
    );
    const now = new Date();
    const explain = (s: Statement, settings: boolean) =>
      t.db.withTransaction(async (tx) => {
        if (settings) await tx.query(PLAN_SETTINGS);
        return (await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${s.sql}`, s.params)).rows.map((r) => r['QUERY PLAN']).join('\n');
      });
    const admin: Principal = { id: 'plan', role: 'admin', facilityCode: null, regionCode: null, label: 'plan' };
    const scopes: Principal[] = [admin, { ...admin, role: 'district', regionCode: '310001' }, { ...admin, role: 'facility', facilityCode: 'PLAN0001' }];
    const check = async (when: string) => {
      for (const who of scopes) {
        for (const q of [{}, { bucket: 'day' }]) {
          const s = seriesStatements(who, seriesWindow(q, now), tailRange(null, null)).backlog;
          // As a request runs it (its settings), and as the planner would pick alone: never the whole gauge.
          for (const settings of [true, false]) {
            const p = await explain(s, settings);
            assert.doesNotMatch(p, /Seq Scan on pipeline_waiting_hours\b/, `${when}, ${who.role}, ${settings ? 'request settings' : 'planner alone'}: reads the whole gauge:\n${p}`);
            assert.match(p, /pipeline_waiting_hours_pkey/, `${when}, ${who.role}: the gauge by primary key:\n${p}`);
            if (settings) assert.match(p, /pipeline_waiting_samples_pkey/, `${when}, ${who.role}: the samples by primary key:\n${p}`);
          }
        }
      }
    };
    await check('without statistics');
    await t.db.query('ANALYZE pipeline_waiting_hours, pipeline_waiting_samples');
    await check('with statistics');
    await t.db.exec(`DELETE FROM pipeline_waiting_hours; DELETE FROM pipeline_waiting_samples;
                     ALTER TABLE pipeline_waiting_hours RESET (autovacuum_enabled); ALTER TABLE pipeline_waiting_samples RESET (autovacuum_enabled)`);
  });

  it('counts a row committed after its time was rolled up once its hour is counted again', async () => {
    await resetRollup(t.db);
    const admin: Principal = { id: 'late', role: 'admin', facilityCode: null, regionCode: null, label: 'late' };
    const recorded = async () => (await pipelineStats(t.db, admin)).stages.find((s) => s.stage === 'recorded')!.count;
    const now = Date.now();
    await rollupPipeline(t.db, new Date(now));
    const counted = await recorded();
    // A dose stamped half an hour ago that commits only now (as a batch signed long before its transaction would).
    const p = await t.db.query<{ person_id: string; facility_code: string }>('SELECT person_id, facility_code FROM vaccinations LIMIT 1');
    await t.db.query(
      `INSERT INTO vaccinations (person_id, id, dose_number, vaccine, date, facility_code, status, source, recorded_at)
       VALUES ($1, gen_random_uuid(), 7, 'CORONAVAC', '2021-07-01', $2, 'recorded', 'api', now() - interval '30 minutes')`,
      [p.rows[0]!.person_id, p.rows[0]!.facility_code],
    );
    assert.equal(await recorded(), counted, 'before its hour is counted again, the rollup has passed it');
    // Its hour becomes final an hour after it ended; the runs after that count final hours again, one each.
    let corrected = 0;
    for (let i = 0; i < 6 && corrected === 0; i++) corrected = (await rollupPipeline(t.db, new Date(now + 2 * HOUR + i * 1000))).corrected ?? 0;
    assert.equal(corrected, 1);
    assert.equal(await recorded(), counted + 1);
    await resetRollup(t.db);
  });

  it('folds the live minutes into the hours exactly as it would count the same events from the source tables', async () => {
    await resetRollup(t.db);
    const real = Date.now();
    const at = (minutes: number) => new Date(real + minutes * 60_000);
    // Doses, certificates, jobs and SMS of the next half hour (after live_from: the triggers count them in live minutes).
    // The first run counts the source tables up to live_from and folds the live minutes after it; the second only folds.
    await fillPipeline(t.db, { doses: 300, from: at(1), to: at(25), prefix: 'FOLD', facilities: 6, districts: 2, offset: 100_000 });
    const first = await rollupPipeline(t.db, at(90));
    assert.ok(first.doneUntil !== null && first.doneUntil.getTime() > at(25).getTime(), `rolled up past the first half hour (${first.doneUntil?.toISOString()})`);
    // More after that: and, before the next run, SMS that end otherwise later and jobs deleted (-1s in the live minutes).
    await fillPipeline(t.db, { doses: 300, from: at(100), to: at(130), prefix: 'FOLD', facilities: 6, districts: 2, offset: 100_300 });
    await t.db.query("UPDATE notifications SET status = 'expired', final_at = final_at + interval '1 minute' WHERE kind = 'certificate' AND submitted_at >= $1 AND status = 'delivered' AND right(recipient, 1) = '7'", [at(100)]);
    await t.db.query("DELETE FROM jobs WHERE kind = 'notify' AND created_at >= $1 AND id % 11 = 0", [at(100)]);
    // An hour past the last events: a transaction of another test running meanwhile holds a run back at most that far.
    const now = at(200);
    const folded = await rollupPipeline(t.db, now);
    assert.ok(folded.events > 0 && folded.doneUntil !== null && folded.doneUntil.getTime() > at(130).getTime(), `folded the live minutes (${folded.events} events)`);
    const left = await t.db.query<{ n: number }>('SELECT (SELECT count(*) FROM pipeline_live WHERE minute < $1) + (SELECT count(*) FROM pipeline_live_changes WHERE minute < $1) AS n', [folded.doneUntil]);
    assert.equal(Number(left.rows[0]!.n), 0, 'the live minutes folded are deleted');
    // entry_days to a millionth of a day: a sum of per-minute sums differs from one sum in the last bits (and
    // rounding both could still part them, when the true sum lies on a rounding boundary: CI saw .957188 against
    // .957187), so apart from the rest, within a tolerance.
    const split = (tables: unknown[]) => {
      const days: number[] = [];
      const rest = tables.map((rows) =>
        (rows as Record<string, unknown>[]).map(({ entry_days, ...r }) => {
          if (entry_days !== undefined) days.push(Number(entry_days));
          return r;
        }),
      );
      return { days, rest };
    };
    const fromLive = split(await rolledUp(t.db));
    await resetRollup(t.db);
    const counted = await rollupPipeline(t.db, now);
    assert.ok(counted.doneUntil !== null && counted.doneUntil.getTime() > at(130).getTime(), 'the same events');
    const fromSource = split(await rolledUp(t.db));
    assert.deepEqual(fromLive.rest, fromSource.rest);
    assert.equal(fromLive.days.length, fromSource.days.length);
    fromLive.days.forEach((d, i) => assert.ok(Math.abs(d - fromSource.days[i]!) < 1e-6, `entry_days ${d} against ${fromSource.days[i]} (row ${i})`));
  });

  it('runs every few seconds on a timer of its own in a worker process', async () => {
    await resetRollup(t.db);
    const timer = startPipelineRollup(t.db, { everyMs: 10 });
    try {
      const deadline = Date.now() + 30_000;
      let until: Date | null = null;
      while (until === null && Date.now() < deadline) {
        until = (await t.db.query<{ done_until: Date | null }>('SELECT done_until FROM pipeline_rollup')).rows[0]!.done_until;
        if (until === null) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(until !== null, 'rolled up without any outbox job');
    } finally {
      await timer.stop();
    }
  });
});
