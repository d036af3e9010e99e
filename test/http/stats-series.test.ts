/**
 * GET /api/v1/stats/series: throughput and backlog per stage over time, per
 * facility and region, within the caller's scope — checked against the rows
 * in the database, on both backends.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor, ADMIN_TOKEN } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import type { PipelineSeries } from '../../src/records/stats.ts';
import { FINAL_AFTER_MS, ROLLUP_MARGIN_MS, rollupPipeline } from '../../src/records/pipeline-rollup.ts';

const HOUR = 3_600_000;

describeEachBackend('pipeline series', (t) => {
  let rt: Runtime;
  let a: { code: string; token: string };
  let b: { code: string; token: string };
  const hourStart = Math.floor(Date.now() / HOUR) * HOUR;
  const window = `from=${new Date(hourStart - 5 * HOUR).toISOString()}&to=${new Date(hourStart + HOUR).toISOString()}`;

  const series = async (token: string, query = ''): Promise<PipelineSeries> => {
    const r = await rt.app.inject({ method: 'GET', url: `/api/v1/stats/series?${window}${query}`, headers: bearer(token) });
    assert.equal(r.statusCode, 200, r.body);
    return r.json();
  };
  const sum = (s: PipelineSeries, stage: keyof PipelineSeries['points'][number]['throughput']) => s.points.reduce((n, p) => n + p.throughput[stage], 0);
  const last = (s: PipelineSeries) => s.points.at(-1)!.backlog;

  it('counts each stage per hour, with the SMS queue as a backlog until the worker runs', async () => {
    rt = await testRuntime(t.db);
    a = await facilityWithToken(t.db, '317101');
    b = await facilityWithToken(t.db, '327301');
    for (const fac of [a, a, a, b]) {
      const r = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(person()) });
      assert.equal(r.statusCode, 201, r.body);
    }
    const before = await series(ADMIN_TOKEN);
    assert.equal(before.points.length, 6);
    assert.equal(before.points.at(-1)!.start, new Date(hourStart).toISOString());
    assert.deepEqual(before.points.at(-1)!.throughput, { recorded: 4, certified: 4, queued: 4, accepted: 0, delivered: 0, failed: 0 });
    assert.deepEqual(last(before), { certificate: 0, queue: 4, report: 0 });

    await rt.deps.notify.worker({ pollMs: 10 }).drain();
    const after = await series(ADMIN_TOKEN);
    const sms = await t.db.query<{ submitted: number; delivered: number; reported: number }>(
      `SELECT count(*) FILTER (WHERE submitted_at IS NOT NULL)::int AS submitted, count(*) FILTER (WHERE status = 'delivered')::int AS delivered,
              count(*) FILTER (WHERE submitted_at IS NOT NULL AND final_at IS NOT NULL)::int AS reported
         FROM notifications WHERE kind = 'certificate'`,
    );
    const db = sms.rows[0]!;
    assert.equal(db.submitted, 4, 'the sink accepted every SMS');
    assert.equal(sum(after, 'accepted'), db.submitted);
    assert.equal(sum(after, 'delivered'), db.delivered);
    assert.deepEqual(last(after), { certificate: 0, queue: 0, report: db.submitted - db.reported });
  });

  it('keeps each facility and region to itself, and the caller to their scope', async () => {
    assert.equal(sum(await series(ADMIN_TOKEN, `&facility=${a.code}`), 'recorded'), 3);
    assert.equal(sum(await series(ADMIN_TOKEN, '&region=3273'), 'recorded'), 1);
    assert.equal(sum(await series(a.token), 'recorded'), 3, 'a facility sees its own doses');
    assert.equal(sum(await series(a.token, `&facility=${b.code}`), 'recorded'), 0, 'and nothing of another facility when it asks');
    const district = await tokenFor(t.db, 'district', { region: '3273' });
    assert.equal(sum(await series(district), 'recorded'), 1);
    assert.equal(sum(await series(district, '&region=3171'), 'recorded'), 0);
    assert.equal(sum(await series(district), 'delivered'), sum(await series(ADMIN_TOKEN, '&region=3273'), 'delivered'));
  });

  it('shows a dose waiting for its certificate across the hours it waited, counting waits from before the window', async () => {
    const r = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(b.token), payload: doseBody(person()) });
    const id = r.json().vaccination.id as string;
    // Recorded 8 hours ago (before the window), certified 2 hours ago.
    await t.db.query(`UPDATE vaccinations SET recorded_at = $2 WHERE id = $1`, [id, new Date(hourStart - 8 * HOUR + 60_000)]);
    await t.db.query(`UPDATE certificates SET issued_at = $2 WHERE vaccination_id = $1`, [id, new Date(hourStart - 2 * HOUR + 60_000)]);
    const s = await series(ADMIN_TOKEN, `&facility=${b.code}`);
    assert.deepEqual(s.points.map((p) => p.backlog.certificate), [1, 1, 1, 0, 0, 0]);
    assert.deepEqual(s.points.map((p) => p.throughput.certified), [0, 0, 0, 1, 0, 1]);
    assert.equal(sum(s, 'recorded'), 1, 'the dose recorded before the window is not counted in it');
    // Once those hours are rolled up (the worker's job), the answer is the same, read from the rollup.
    const rolled = await rollupPipeline(t.db, new Date(hourStart));
    const until = rolled.doneUntil?.getTime() ?? 0;
    assert.ok(until <= hourStart - ROLLUP_MARGIN_MS && until >= hourStart - FINAL_AFTER_MS, `rolled up to a few seconds before ${new Date(hourStart).toISOString()}`);
    assert.ok(rolled.events >= 2, 'the back-dated dose and certificate are rolled up');
    assert.deepEqual(await series(ADMIN_TOKEN, `&facility=${b.code}`), s);
  });

  it('keeps a past hour’s SMS backlogs as the rollup sampled them, and carries them over hours no rollup ran in', async () => {
    const backlogs = async (token: string, query = '') => (await series(token, query)).points.map((p) => [p.backlog.queue, p.backlog.report]);
    // Now: the SMS job of b's dose above waits in the queue (no worker ran since); no rollup ran in a past hour of the window.
    assert.deepEqual(await backlogs(ADMIN_TOKEN), [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [1, 0]]);
    // Three hours ago the worker's rollup ran, and sampled what waited.
    await rollupPipeline(t.db, new Date(hourStart - 3 * HOUR + 20 * 60_000));
    // Then the rows change: one of a's SMS is sent again and waits for its report; a new dose at a queues its SMS.
    const sms = await t.db.query<{ person_id: string; id: string }>(
      `SELECT n.person_id, n.id FROM notifications n JOIN vaccinations v ON v.person_id = n.person_id
        WHERE v.facility_code = $1 AND n.kind = 'certificate' AND n.status = 'delivered' LIMIT 1`,
      [a.code],
    );
    const one = [sms.rows[0]!.person_id, sms.rows[0]!.id];
    await t.db.query("UPDATE notifications SET status = 'submitted', submitted_at = now(), final_at = NULL WHERE person_id = $1 AND id = $2", one);
    const r = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(a.token), payload: doseBody(person()) });
    assert.equal(r.statusCode, 201, r.body);
    // The sampled hour keeps what waited then, the hours after it with no sample carry it (the worker was down), now follows the rows.
    assert.deepEqual(await backlogs(ADMIN_TOKEN), [[0, 0], [0, 0], [1, 0], [1, 0], [1, 0], [2, 1]]);
    // The last hour's rollup samples again; then the worker sends the queue and the SMS's report comes.
    await rollupPipeline(t.db, new Date(hourStart - HOUR + 59 * 60_000));
    await rt.deps.notify.worker({ pollMs: 10 }).drain();
    await t.db.query("UPDATE notifications SET status = 'delivered', final_at = now() WHERE person_id = $1 AND id = $2", one);
    assert.deepEqual(await backlogs(ADMIN_TOKEN), [[0, 0], [0, 0], [1, 0], [1, 0], [2, 1], [0, 0]]);
    // Per facility and district, each its own.
    assert.deepEqual(await backlogs(ADMIN_TOKEN, `&facility=${a.code}`), [[0, 0], [0, 0], [0, 0], [0, 0], [1, 1], [0, 0]]);
    assert.deepEqual(await backlogs(ADMIN_TOKEN, `&facility=${b.code}`), [[0, 0], [0, 0], [1, 0], [1, 0], [1, 0], [0, 0]]);
    assert.deepEqual(await backlogs(await tokenFor(t.db, 'district', { region: '3273' })), [[0, 0], [0, 0], [1, 0], [1, 0], [1, 0], [0, 0]]);
    // A window starting after the sample of three hours ago starts from it (its first hour had no sample).
    const later = await rt.app.inject({
      method: 'GET',
      url: `/api/v1/stats/series?from=${new Date(hourStart - 2 * HOUR).toISOString()}&to=${new Date(hourStart + HOUR).toISOString()}`,
      headers: bearer(ADMIN_TOKEN),
    });
    assert.deepEqual(later.json<PipelineSeries>().points.map((p) => [p.backlog.queue, p.backlog.report]), [[1, 0], [2, 1], [0, 0]]);
    // By day: today is now; the days before had no sample.
    const day = await rt.app.inject({ method: 'GET', url: '/api/v1/stats/series?bucket=day', headers: bearer(ADMIN_TOKEN) });
    const days = day.json<PipelineSeries>().points;
    assert.deepEqual(days.at(-1)!.backlog, { certificate: 0, queue: 0, report: 0 });
  });

  it('groups by day, and refuses a bad bucket, an empty range or too many buckets, naming the field', async () => {
    const r = await rt.app.inject({ method: 'GET', url: '/api/v1/stats/series?bucket=day', headers: bearer(ADMIN_TOKEN) });
    const day: PipelineSeries = r.json();
    assert.equal(day.points.length, 30, 'the last 30 days by default');
    assert.equal(day.points.at(-1)!.start, new Date(Math.floor(Date.now() / (24 * HOUR)) * 24 * HOUR).toISOString());
    assert.equal(sum(day, 'recorded'), 6);
    const bad = async (query: string, field: string) => {
      const r = await rt.app.inject({ method: 'GET', url: `/api/v1/stats/series?${query}`, headers: bearer(ADMIN_TOKEN) });
      assert.equal(r.statusCode, 422, r.body);
      assert.deepEqual(r.json().error.fields.map((f: { path: string }) => f.path), [field]);
    };
    await bad('bucket=week', 'bucket');
    await bad('from=yesterday', 'from');
    await bad('from=2021-06-10T00:00:00Z&to=2021-06-09T00:00:00Z', 'to');
    await bad('from=2020-01-01T00:00:00Z&to=2021-01-01T00:00:00Z&bucket=hour', 'from');
    await bad('region=31x', 'region');
  });

  it('stops', async () => {
    await rt.app.close();
  });
});
