/**
 * The report-timeout sweep (issue 20.5: one periodic job, not an
 * `sms_timeout` job per SMS) and the missing-report policy (issue 16.3), on
 * rows set up by hand: each case of `Notifier.sweep`, and its plan on a table
 * of 500,000 ended SMS before any ANALYZE (PostgreSQL).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describeEachBackend, postgresOnly } from '../helpers/db.ts';
import { testRuntime } from '../helpers/app.ts';
import type { Db } from '../../src/db/client.ts';
import { SWEEP_TIMED_OUT } from '../../src/notify/notifier.ts';
import { notificationsOf } from '../../src/notify/queries.ts';

/** A notification in a state, last changed `ageS` seconds ago. */
async function sms(db: Db, o: { status: string; ageS: number; bits?: number; attempt?: number; nextAttempt?: boolean; resent?: boolean }): Promise<{ personId: string; id: string }> {
  const personId = randomUUID();
  const id = randomUUID();
  await db.query(
    `INSERT INTO notifications (person_id, id, source_key, kind, recipient, template, body, encoding, parts, status, attempt, route, report_bits,
                                updated_at, submitted_at, next_attempt_at, unknown_resent)
     VALUES ($1, $2, 'k', 'certificate', '+6281200000000', 'certificate_issued', 'hello', 'gsm7', 1, $3, $4, 'primary', $5,
             now() - make_interval(secs => $6), now() - make_interval(secs => $6), CASE WHEN $7::boolean THEN now() + interval '1 hour' END, $8)`,
    [personId, id, o.status, o.attempt ?? 1, o.bits ?? 0, o.ageS, o.nextAttempt ?? false, o.resent ?? false],
  );
  return { personId, id };
}

describeEachBackend('SMS report-timeout sweep', (t) => {
  it('applies the missing-report policy: unknown but not resent; one resend after the long wait if never acknowledged; never twice', async () => {
    const rt = await testRuntime(t.db, { SMS_REPORT_TIMEOUT_SECONDS: '60', SMS_UNKNOWN_RESEND_AFTER_SECONDS: '3600', SMS_MAX_ATTEMPTS: '4' });
    const fresh = await sms(t.db, { status: 'submitted', ageS: 10, bits: 8 });
    const acked = await sms(t.db, { status: 'submitted', ageS: 120, bits: 8 });
    const queued = await sms(t.db, { status: 'submitted', ageS: 120 });
    const killed = await sms(t.db, { status: 'pending', ageS: 120 });
    const waiting = await sms(t.db, { status: 'pending', ageS: 120, nextAttempt: true }); // waits for its gateway
    const longAcked = await sms(t.db, { status: 'unknown', ageS: 7200, bits: 8 });
    const longSilent = await sms(t.db, { status: 'unknown', ageS: 7200 });
    const resentOnce = await sms(t.db, { status: 'unknown', ageS: 7200, attempt: 2, resent: true });
    const r = await rt.deps.notify.notifier.sweep(2); // two rows per statement: the loop must go on
    assert.deepEqual(r, { timedOut: 2, neverAnswered: 1, resent: 1, finalUnknown: 2 });
    const of = async (x: { personId: string }) => (await notificationsOf(t.db, x.personId))[0]!;
    const jobs = async (x: { id: string }) =>
      (await t.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM jobs WHERE kind = 'sms_send' AND payload->>'notificationId' = $1", [x.id])).rows[0]!.n;

    assert.equal((await of(fresh)).status, 'submitted', 'not yet past its timeout');
    for (const x of [acked, queued]) {
      const n = await of(x);
      assert.deepEqual([n.status, n.finalAt, Number(await jobs(x))], ['unknown', null, 0], 'unknown at the timeout, not resent');
      assert.match(n.events.find((e) => e.type === 'timeout')?.raw ?? '', x === acked ? /acknowledged by the SMSC/ : /not yet acknowledged/);
    }
    const k = await of(killed);
    assert.equal(k.status, 'unknown');
    assert.equal(Number(await jobs(killed)), 1, 'never answered (a kill mid-send): retried');
    assert.equal((await of(waiting)).status, 'pending', 'a message waiting for its gateway is not timed out');
    const la = await of(longAcked);
    assert.ok(la.finalAt, 'acknowledged and silent for long: final');
    assert.equal(Number(await jobs(longAcked)), 0, 'and never resent');
    assert.match(la.events.find((e) => e.type === 'gave_up')?.raw ?? '', /acknowledged by the SMSC/);
    assert.equal(Number(await jobs(longSilent)), 1, 'never acknowledged: one resend');
    assert.equal((await t.db.query<{ unknown_resent: boolean }>('SELECT unknown_resent FROM notifications WHERE id = $1', [longSilent.id])).rows[0]!.unknown_resent, true);
    assert.ok((await of(resentOnce)).finalAt, 'resent once already: final, not again');
    assert.equal(Number(await jobs(resentOnce)), 0);
    const cases = await t.db.query("SELECT 1 FROM cases WHERE kind = 'unreachable'");
    assert.equal(cases.rowCount, 0, 'a missing report never puts anyone on the unreachable list');
    assert.deepEqual(await rt.deps.notify.notifier.sweep(), { timedOut: 0, neverAnswered: 0, resent: 0, finalUnknown: 0 }, 'a second sweep finds nothing');
    await rt.app.close();
  });

  postgresOnly(t.backend)('reads only the SMS in flight, through their partial index, however many have ended (500,000, no statistics; plans are checked on PostgreSQL)', async () => {
    await t.db.query('ALTER TABLE notifications SET (autovacuum_enabled = false)'); // no statistics, not even from autoanalyze
    await t.db.query(
      `INSERT INTO notifications (person_id, id, source_key, kind, template, status, attempt, final_at, updated_at, delivered_attempt)
       SELECT gen_random_uuid(), gen_random_uuid(), 'k', 'certificate', 'certificate_issued', 'delivered', 1, now(), now() - make_interval(secs => g), 1
         FROM generate_series(1, 500000) g`,
    );
    for (let i = 0; i < 20; i++) await sms(t.db, { status: 'submitted', ageS: 120 });
    const plan = (await t.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${SWEEP_TIMED_OUT}`, [60, 500])).rows.map((r) => r['QUERY PLAN']).join('\n');
    assert.match(plan, /Index Scan using notifications_in_flight on notifications/, plan);
    assert.doesNotMatch(plan, /Seq Scan on notifications/, plan);
  });
});
