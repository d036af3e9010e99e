/**
 * What waits now, counted as it changes (migration 038, records/stats.ts):
 * after a mix of doses recorded, SMS sent, reports, a void, retries, a
 * transaction rolled back and (PostgreSQL) a session killed in the middle of
 * one, the pipeline view's waiting counts and oldest minutes equal a count of
 * the waiting rows themselves, for admin, district and facility, before and
 * after the rollup compacts the changes. And the triggers' statements are
 * primary-key probes on large tables without statistics (PostgreSQL plans,
 * logged by auto_explain from inside the triggers).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { describeEachBackend, postgresOnly, TEST_DATABASE_URL } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor, ADMIN_TOKEN } from '../helpers/app.ts';
import { fillPipeline, LIVE_FROM_COUNTS, LIVE_FROM_ROWS, WAITING_FROM_COUNTS, WAITING_FROM_ROWS } from '../helpers/pipeline.ts';
import { compactWaiting, rollupPipeline } from '../../src/records/pipeline-rollup.ts';
import { pipelineStats, statsStatements, tailRange } from '../../src/records/stats.ts';
import { parseKannelReport } from '../../src/notify/gateways.ts';
import type { Db } from '../../src/db/client.ts';
import type { Principal } from '../../src/access/tokens.ts';
import type { Runtime } from '../../src/runtime.ts';

const principal = (over: Partial<Principal>): Principal => ({ id: 'waiting-test', role: 'admin', facilityCode: null, regionCode: null, label: 'test', ...over });

/** What waits, counted from the rows themselves (the pipeline view's query before migration 038), within a scope. */
async function fromRows(db: Db, facilities: string[] | null): Promise<Record<string, { n: number; oldest: string }>> {
  const r = await db.query<{ state: string; n: number; oldest: Date }>(
    `WITH w AS (
       SELECT 'queued' AS state, j.created_at AS at, d.facility_code
         FROM jobs j LEFT JOIN certificates c ON c.person_id = j.person_id AND c.id = (j.payload->>'certificateId')::uuid
         LEFT JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
        WHERE j.kind = 'notify' AND j.status = 'pending'
       UNION ALL
       SELECT n.status, coalesce(n.submitted_at, n.created_at), d.facility_code
         FROM notifications n LEFT JOIN certificates c ON c.person_id = n.person_id AND c.id = n.certificate_id
         LEFT JOIN vaccinations d ON d.person_id = c.person_id AND d.id = c.vaccination_id
        WHERE n.kind = 'certificate' AND n.final_at IS NULL)
     SELECT state, count(*)::int8 AS n, date_trunc('minute', min(at)) AS oldest FROM w
      WHERE $1::text[] IS NULL OR facility_code = ANY ($1::text[]) GROUP BY 1`,
    [facilities],
  );
  return Object.fromEntries(r.rows.map((x) => [x.state, { n: Number(x.n), oldest: x.oldest.toISOString() }]));
}

/** What waits, as the pipeline view reads it (its `waiting` statement, on one snapshot). */
async function fromCounts(db: Db, who: Principal): Promise<Record<string, { n: number; oldest: string }>> {
  const st = statsStatements(who, tailRange(null, null)).waiting;
  const r = await db.query<{ status: string; n: number; oldest: Date }>(st.sql, st.params);
  return Object.fromEntries(r.rows.map((x) => [x.status, { n: Number(x.n), oldest: x.oldest.toISOString() }]));
}

describeEachBackend('pipeline view: what waits, counted as it changes', (t) => {
  let rt: Runtime;

  it('equals a count of the waiting rows after records, sends, reports, a void, retries, a rollback and a killed session', async () => {
    rt = await testRuntime(t.db, { SMS_REPORT_TIMEOUT_SECONDS: '60', SMS_UNKNOWN_RESEND_AFTER_SECONDS: '3600', SMS_MAX_ATTEMPTS: '4' });
    const a = await facilityWithToken(t.db, '317101');
    const b = await facilityWithToken(t.db, '327301');
    const c = await facilityWithToken(t.db, '327302');
    const district = await tokenFor(t.db, 'district', { region: '3273' });
    const scopes: [Principal, string[] | null][] = [
      [principal({}), null],
      [principal({ role: 'district', regionCode: '3273' }), [b.code, c.code]],
      [principal({ role: 'facility', facilityCode: a.code }), [a.code]],
      [principal({ role: 'facility', facilityCode: c.code }), [c.code]],
    ];
    const check = async (when: string) => {
      // Per facility, state and minute; then as the view reads them, per scope.
      assert.deepEqual((await t.db.query(WAITING_FROM_COUNTS)).rows, (await t.db.query(WAITING_FROM_ROWS)).rows, when);
      // The pipeline's events per facility, stage and minute (migration 039), likewise.
      assert.deepEqual((await t.db.query(LIVE_FROM_COUNTS)).rows, (await t.db.query(LIVE_FROM_ROWS)).rows, `${when}: events`);
      for (const [who, facilities] of scopes) {
        assert.deepEqual(await fromCounts(t.db, who), await fromRows(t.db, facilities), `${when}: ${who.role} ${who.facilityCode ?? who.regionCode ?? ''}`);
      }
      // And once the rollup has moved the changes into their minutes.
      await compactWaiting(t.db);
      const left = await t.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM pipeline_waiting_changes');
      assert.equal(Number(left.rows[0]!.n), 0, 'compacted');
      const zero = await t.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM pipeline_waiting WHERE n <= 0');
      assert.equal(Number(zero.rows[0]!.n), 0, 'no minute where nothing waits, none below zero');
      assert.deepEqual((await t.db.query(LIVE_FROM_COUNTS)).rows, (await t.db.query(LIVE_FROM_ROWS)).rows, `${when}, compacted: events`);
      assert.equal(Number((await t.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM pipeline_live_changes')).rows[0]!.n), 0, 'events compacted');
      for (const [who, facilities] of scopes) {
        assert.deepEqual(await fromCounts(t.db, who), await fromRows(t.db, facilities), `${when}, compacted: ${who.role} ${who.facilityCode ?? who.regionCode ?? ''}`);
      }
    };
    const record = async (fac: { token: string }, noPhone = false) => {
      const p = person();
      const payload = noPhone ? { ...doseBody(p), person: { ...p, phone: undefined } } : doseBody(p);
      const r = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload });
      assert.equal(r.statusCode, 201, r.body);
      return r.json<{ person: { id: string }; vaccination: { id: string }; certificate: { id: string } }>();
    };

    // Doses, one without a usable phone (held): their SMS queued, then sent and delivered by the sink.
    for (const fac of [a, b, a, c, b, a]) await record(fac);
    await record(b, true);
    await check('recorded, queued');
    await rt.deps.notify.worker({ pollMs: 10 }).drain();
    await check('sent and delivered');

    // More doses whose SMS wait in the queue; one of them voided.
    const queued = [];
    for (const fac of [a, b, c, c]) queued.push(await record(fac));
    const v = await rt.app.inject({
      method: 'POST',
      url: `/api/v1/vaccinations/${queued[2]!.vaccination.id}/void`,
      headers: bearer(ADMIN_TOKEN),
      payload: { reason: 'entered for the wrong person' },
    });
    assert.equal(v.statusCode, 200, v.body);
    await check('queued, one voided');

    // SMS in flight: three delivered ones sent again (accepted, no report yet), one accepted two hours ago and never
    // answered, one created and never sent (a worker killed mid-send).
    const sent = await t.db.query<{ person_id: string; id: string }>(
      "SELECT person_id, id FROM notifications WHERE kind = 'certificate' AND status = 'delivered' ORDER BY created_at, id LIMIT 5",
    );
    const [s1, s2, s3, s4, s5] = sent.rows.map((x) => [x.person_id, x.id]);
    for (const s of [s1, s2, s3]) await t.db.query("UPDATE notifications SET status = 'submitted', submitted_at = now(), final_at = NULL, attempt = attempt + 1 WHERE person_id = $1 AND id = $2", s);
    await t.db.query("UPDATE notifications SET status = 'submitted', submitted_at = now() - interval '2 hours', updated_at = now() - interval '2 hours', final_at = NULL WHERE person_id = $1 AND id = $2", s4);
    await t.db.query("UPDATE notifications SET status = 'pending', submitted_at = NULL, updated_at = now() - interval '2 hours', final_at = NULL WHERE person_id = $1 AND id = $2", s5);
    await check('in flight');

    // Reports: one delivered, one failed for good (a permanent error), one failed for a while (retried).
    const attempt = async (s: string[]) => (await t.db.query<{ attempt: number }>('SELECT attempt FROM notifications WHERE person_id = $1 AND id = $2', s)).rows[0]!.attempt;
    const report = async (s: string[], d: string, rc: string) => {
      const r = await rt.deps.notify.notifier.applyOutcome(s[0]!, s[1]!, await attempt(s), parseKannelReport({ d, rc }), `d=${d}`);
      assert.ok(r, 'applied');
    };
    await report(s1!, '1', 'id:1 stat:DELIVRD err:000');
    await report(s2!, '2', 'id:2 stat:UNDELIV err:001');
    await report(s3!, '2', 'id:3 stat:UNDELIV err:034');
    await check('reports');

    // The sweep: the one never answered times out (unknown), the one never sent is retried.
    await rt.deps.notify.notifier.sweep();
    await check('swept');
    // The worker sends the queue and the retries.
    await rt.deps.notify.worker({ pollMs: 10 }).drain();
    await check('sent again');

    // A transaction that changed what waits and did not commit: nothing of it counted.
    const queuedOne = await record(a);
    await assert.rejects(
      t.db.withTransaction(async (tx) => {
        await tx.query("UPDATE jobs SET status = 'done' WHERE kind = 'notify' AND status = 'pending'");
        await tx.query("UPDATE notifications SET status = 'submitted', final_at = NULL, submitted_at = now() WHERE kind = 'certificate' AND status = 'delivered'");
        throw new Error('rolled back');
      }),
      /rolled back/,
    );
    await check('rolled back');

    if (t.backend === 'postgres') {
      // A session killed in the middle of its transaction (as by a crash of its process): nothing of it counted.
      const c1 = new pg.Client({ connectionString: TEST_DATABASE_URL });
      c1.on('error', () => {});
      await c1.connect();
      await c1.query(`SET search_path TO ${t.schema}`);
      const pid = (await c1.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await c1.query('BEGIN');
      await c1.query("UPDATE jobs SET status = 'done' WHERE kind = 'notify' AND status = 'pending'");
      await c1.query(
        `INSERT INTO jobs (kind, payload, dedupe_key, person_id) SELECT 'notify', json_build_object('personId', person_id, 'certificateId', id)::jsonb, 'again:' || id, person_id FROM certificates`,
      );
      await c1.query("UPDATE notifications SET status = 'pending', final_at = NULL WHERE kind = 'certificate'");
      await t.db.query('SELECT pg_terminate_backend($1)', [pid]);
      await assert.rejects(c1.query('COMMIT'));
      await c1.end().catch(() => {});
      await check('session killed');
    }

    // The whole view: the queue and the SMS in flight as counted from the rows.
    const view = await pipelineStats(t.db, principal({}));
    const rows = await fromRows(t.db, null);
    const stage = (name: string) => view.stages.find((s) => s.stage === name);
    assert.equal(stage('sms_queued')?.count, rows.queued?.n ?? 0);
    assert.equal(stage('sms_queued')?.oldestWaitingAt ?? null, rows.queued?.oldest ?? null);
    assert.ok((rows.queued?.n ?? 0) >= 1, `the dose just recorded waits (${queuedOne.person.id})`);
    const states = Object.keys(rows).filter((s) => s !== 'queued');
    assert.ok(states.length > 0, 'some SMS are not final');
    for (const s of states) assert.equal(stage(`sms_${s}`)?.oldestWaitingAt, rows[s]!.oldest, s);
    // The district's view through HTTP.
    const d = await rt.app.inject({ method: 'GET', url: '/api/v1/stats/pipeline', headers: bearer(district) });
    assert.equal(d.statusCode, 200, d.body);
    await rollupPipeline(t.db);
    await check('rolled up');
    await rt.app.close();
  });

  it('counts an update of many rows in one statement exactly as the rows it changed (SMS: a statement trigger, migration 045)', async () => {
    const rt2 = await testRuntime(t.db);
    const a = await facilityWithToken(t.db, '317101');
    const b = await facilityWithToken(t.db, '327301');
    const doses: { person: { id: string }; certificate: { id: string } }[] = [];
    for (const fac of [a, b, a, b, a]) {
      const r = await rt2.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(person()) });
      assert.equal(r.statusCode, 201, r.body);
      doses.push(r.json());
    }
    const changes = async () =>
      Number((await t.db.query<{ n: number }>('SELECT (SELECT count(*) FROM pipeline_waiting_changes) + (SELECT count(*) FROM pipeline_live_changes) AS n')).rows[0]!.n);
    /** The counts, per facility, state (stage) and minute, equal the rows'; returns the waiting SMS and the delivered ones counted. */
    const check = async (when: string) => {
      assert.deepEqual((await t.db.query(WAITING_FROM_COUNTS)).rows, (await t.db.query(WAITING_FROM_ROWS)).rows, when);
      assert.deepEqual((await t.db.query(LIVE_FROM_COUNTS)).rows, (await t.db.query(LIVE_FROM_ROWS)).rows, `${when}: events`);
      const n = async (sql: string) => Number((await t.db.query<{ n: number | null }>(sql)).rows[0]!.n ?? 0);
      return {
        queued: await n("SELECT sum(n) AS n FROM (SELECT state, n FROM pipeline_waiting UNION ALL SELECT state, n FROM pipeline_waiting_changes) x WHERE state = 'queued'"),
        submitted: await n("SELECT sum(n) AS n FROM (SELECT state, n FROM pipeline_waiting UNION ALL SELECT state, n FROM pipeline_waiting_changes) x WHERE state = 'submitted'"),
        delivered: await n("SELECT sum(n) AS n FROM (SELECT stage, n FROM pipeline_live UNION ALL SELECT stage, n FROM pipeline_live_changes) x WHERE stage = 'delivered'"),
      };
    };
    const jobs = (await t.db.query<{ id: number }>(
      "SELECT id FROM jobs WHERE kind = 'notify' AND person_id = ANY($1::uuid[]) ORDER BY id",
      [doses.map((d) => d.person.id)],
    )).rows.map((j) => j.id);
    assert.equal(jobs.length, 5);
    await t.db.query("UPDATE jobs SET status = 'dead' WHERE id = $1", [jobs[0]]);
    const before = await check('one job dead');
    // The worker's claim: an update of every row that changes nothing counted adds nothing.
    const idle = await changes();
    await t.db.query("UPDATE jobs SET locked_by = 'test', locked_until = now() + interval '1 minute', attempts = attempts + 1, updated_at = now() WHERE id = ANY($1::int8[])", [jobs]);
    await t.db.query("UPDATE jobs SET locked_by = NULL, locked_until = NULL WHERE id = ANY($1::int8[])", [jobs]);
    assert.equal(await changes(), idle, 'a claim and its release add no change');
    // Two jobs done and the dead one replayed, in one statement.
    await t.db.query(
      `UPDATE jobs SET status = CASE WHEN id = $1 THEN 'pending' ELSE 'done' END, updated_at = now() WHERE id = ANY($2::int8[])`,
      [jobs[0], jobs.slice(0, 3)],
    );
    const jobsChanged = await check('two jobs done and one replayed in one statement');
    assert.equal(jobsChanged.queued, before.queued - 2 + 1);
    // Three SMS, accepted by the gateway in one statement, then delivered in one statement beside one whose update
    // changes nothing counted.
    const sms = doses.slice(0, 4).map((d) => [d.person.id, d.certificate.id, randomUUID()] as const);
    await t.db.query(
      `INSERT INTO notifications (person_id, id, source_key, certificate_id, kind, template, status, attempt, recipient)
       SELECT p, i, 'multi:' || i, c, 'certificate', 'certificate_issued', 'pending', 1, '+628120000000' FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS x(p, c, i)`,
      [sms.map((s) => s[0]), sms.map((s) => s[1]), sms.map((s) => s[2])],
    );
    await t.db.query("UPDATE notifications SET status = 'submitted', submitted_at = now() WHERE id = ANY($1::uuid[])", [sms.map((s) => s[2])]);
    const accepted = await check('four SMS accepted in one statement');
    assert.equal(accepted.submitted, before.submitted + 4);
    await t.db.query(
      `UPDATE notifications SET status = CASE WHEN id = $1 THEN status ELSE 'delivered' END, final_at = CASE WHEN id = $1 THEN final_at ELSE now() END,
              report_bits = report_bits | 1, updated_at = now() WHERE id = ANY($2::uuid[])`,
      [sms[3]![2], sms.map((s) => s[2])],
    );
    const delivered = await check('three SMS delivered in one statement');
    assert.equal(delivered.submitted, accepted.submitted - 3);
    assert.equal(delivered.delivered, accepted.delivered + 3);
    // Sent again, all four in one statement: the three delivered ones wait again, their deliveries no longer count.
    await t.db.query("UPDATE notifications SET status = 'submitted', final_at = NULL, submitted_at = now() + interval '2 minutes' WHERE id = ANY($1::uuid[])", [sms.map((s) => s[2])]);
    const again = await check('four SMS sent again in one statement');
    assert.equal(again.submitted, accepted.submitted);
    assert.equal(again.delivered, accepted.delivered);
    await compactWaiting(t.db);
    assert.deepEqual((await t.db.query(WAITING_FROM_COUNTS)).rows, (await t.db.query(WAITING_FROM_ROWS)).rows, 'compacted');
    await rt2.app.close();
  });

  postgresOnly(t.backend)('changes what waits by primary-key probes from inside the triggers, on large tables without statistics (plans logged by auto_explain)', async () => {
    for (const table of ['vaccinations', 'certificates', 'jobs', 'notifications']) await t.db.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
    const now = new Date();
    await fillPipeline(t.db, { doses: 30_000, from: new Date(now.getTime() - 30 * 86_400_000), to: now, prefix: 'WAIT', facilities: 20, districts: 4 });
    const stats = await t.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM pg_stats WHERE schemaname = current_schema() AND tablename IN ('certificates', 'vaccinations')");
    for (const analyzed of [false, true]) {
      if (analyzed) await t.db.query('ANALYZE vaccinations, certificates, jobs, notifications');
      else assert.equal(Number(stats.rows[0]!.n), 0, 'never analyzed');
      // A new session: the triggers' statements are planned in it for the first time.
      const s = new pg.Client({ connectionString: TEST_DATABASE_URL });
      const notices: string[] = [];
      s.on('notice', (m) => notices.push(m.message ?? ''));
      await s.connect();
      try {
        await s.query(`SET search_path TO ${t.schema}`);
        await s.query("LOAD 'auto_explain'");
        await s.query('SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET auto_explain.log_level = notice');
        // First a statement of many rows (an import batch of 2,000 jobs), then one row each: the plans made first are kept.
        await s.query(
          `INSERT INTO jobs (kind, payload, dedupe_key, person_id)
           SELECT 'notify', json_build_object('personId', person_id, 'certificateId', id)::jsonb, 'plan:${analyzed}:' || id, person_id FROM certificates LIMIT 2000`,
        );
        const one = (await s.query<{ id: string }>(`SELECT id FROM jobs WHERE dedupe_key LIKE 'plan:${analyzed}:%' LIMIT 1`)).rows[0]!.id;
        await s.query(`UPDATE jobs SET status = 'done' WHERE dedupe_key LIKE 'plan:${analyzed}:%' AND id <> $1`, [one]);
        await s.query("UPDATE jobs SET status = 'done' WHERE id = $1", [one]);
        await s.query(
          `INSERT INTO jobs (kind, payload, dedupe_key, person_id)
           SELECT 'notify', json_build_object('personId', person_id, 'certificateId', id)::jsonb, 'plan1:${analyzed}:' || id, person_id FROM certificates LIMIT 1`,
        );
        await s.query(`DELETE FROM jobs WHERE dedupe_key LIKE 'plan%:${analyzed}:%' AND status = 'pending'`);
        // The SMS update trigger's statements planned first for 2,000 rows (then one): still a hash join of the two
        // versions, and probes.
        await s.query(`WITH x AS (SELECT person_id, id FROM notifications WHERE status = 'delivered' LIMIT 2000)
                       UPDATE notifications n SET status = 'submitted', final_at = NULL FROM x WHERE n.person_id = x.person_id AND n.id = x.id`);
        const sms = (await s.query<{ person_id: string; id: string }>("SELECT person_id, id FROM notifications WHERE status = 'delivered' LIMIT 1")).rows[0]!;
        await s.query("UPDATE notifications SET status = 'submitted', final_at = NULL WHERE person_id = $1 AND id = $2", [sms.person_id, sms.id]);
        await s.query("UPDATE notifications SET status = 'delivered', final_at = now() WHERE person_id = $1 AND id = $2", [sms.person_id, sms.id]);
        await s.query(
          `INSERT INTO notifications (person_id, id, source_key, certificate_id, kind, template, status)
           SELECT person_id, $1::uuid, 'plan:' || $1::text, id, 'certificate', 'certificate_issued', 'pending' FROM certificates LIMIT 1`,
          [randomUUID()],
        );
      } finally {
        await s.end();
      }
      // The triggers' statements: the inserts and deletes (from their transition tables), the lookup of a facility by
      // the row trigger of jobs and by the statement trigger of SMS updates — probes — and the latter's join of each
      // row's old and new versions, a hash join of the two.
      const inTriggers = notices.filter((n) => /FROM pipeline_(new|old)\b|FROM unnest\(changed\)|FROM certificates c JOIN vaccinations d/.test(n));
      const what = `${analyzed ? 'analyzed' : 'no statistics'}:\n${inTriggers.join('\n---\n')}`;
      const joins = inTriggers.filter((n) => /FROM pipeline_old o JOIN pipeline_new n ON n\.id = o\.id/.test(n));
      const probes = inTriggers.filter((n) => !joins.includes(n));
      assert.ok(probes.length >= 7, `the triggers ran their statements (${probes.length}) ${what}`);
      // Three updates of SMS, each a join and a lookup.
      assert.ok(joins.length >= 3 && probes.filter((n) => /FROM unnest\(changed\)/.test(n)).length >= 3, `the update trigger ran its statements ${what}`);
      for (const plan of probes) {
        assert.match(plan, /Index Scan using certificates_pkey on certificates/, what);
        assert.match(plan, /Index Scan using vaccinations_pkey on vaccinations/, what);
        assert.doesNotMatch(plan, /Seq Scan on (certificates|vaccinations|jobs|notifications)|Bitmap|Hash Join|Merge Join|JIT/, what);
      }
      for (const plan of joins) {
        assert.match(plan, /Hash Join[^\n]*\n\s*Hash Cond: \(o\.id = n\.id\)/, what);
        assert.doesNotMatch(plan, /Nested Loop|Merge Join|JIT|on (certificates|vaccinations|jobs|notifications)\b/, what);
      }
    }
    // What waits still agrees with the rows.
    assert.deepEqual((await t.db.query(WAITING_FROM_COUNTS)).rows, (await t.db.query(WAITING_FROM_ROWS)).rows);
    assert.deepEqual(await fromCounts(t.db, principal({})), await fromRows(t.db, null));
    assert.deepEqual(await fromCounts(t.db, principal({ role: 'district', regionCode: '310002' })), await fromRows(t.db, (await t.db.query<{ code: string }>("SELECT code FROM facilities WHERE region_code = '310002'")).rows.map((f) => f.code)));
  });
});
