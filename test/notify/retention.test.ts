import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import type { Worker } from '../../src/notify/outbox.ts';
import { enqueue } from '../../src/notify/outbox.ts';
import { KEEP_DELIVERED_EVENTS_DAYS, KEEP_DONE_JOBS_DAYS, pruneNotify } from '../../src/notify/retention.ts';
import { runHousekeeping } from '../../src/notify/service.ts';
import { rollupPipeline } from '../../src/records/pipeline-rollup.ts';
import { personTimeline } from '../../src/records/timeline.ts';

const DAY = 86_400_000;

describeEachBackend('what the outbox and the SMS keep', (t) => {
  let rt: Runtime;
  let worker: Worker;
  let fac: { code: string; token: string };
  const doses: { personId: string; certificateId: string }[] = [];
  let heldPerson = '';
  const count = async (sql: string, params: unknown[] = []) => Number((await t.db.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM ${sql}`, params)).rows[0]?.n);
  const record = async (body: unknown) => {
    const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: body as object });
    assert.equal(res.statusCode, 201, res.body);
    const b = res.json<{ person: { id: string }; certificate: { id: string } }>();
    return { personId: b.person.id, certificateId: b.certificate.id };
  };

  it('starts: five certificate SMS delivered to the sink, one held for want of a phone, one dead job', async () => {
    rt = await testRuntime(t.db);
    worker = rt.deps.notify.worker({ pollMs: 10 });
    fac = await facilityWithToken(t.db);
    for (let i = 0; i < 5; i++) doses.push(await record(doseBody(person({ phone: `0812-3456-71${String(i).padStart(2, '0')}` }))));
    const p: Record<string, unknown> = { ...person() };
    delete p.phone;
    heldPerson = (await record(doseBody(p as ReturnType<typeof person>))).personId;
    assert.equal(await worker.drain(), 6);
    const dead = await enqueue(t.db, { kind: 'recall_notice', payload: { personId: heldPerson, recallId: heldPerson }, dedupeKey: 'recall:dead' });
    await t.db.query("UPDATE jobs SET status = 'dead' WHERE id = $1", [dead]);
    assert.equal(await count("sms_sink"), 5);
    assert.equal(await count("jobs WHERE kind = 'notify' AND status = 'done'"), 6);
    assert.equal(await count("notifications WHERE status = 'delivered'"), 5);
    assert.equal(await count("notification_events"), 5 * 3 + (await count('notification_events WHERE person_id = $1', [heldPerson])));
  });

  it('keeps everything while it is young', async () => {
    const r = await pruneNotify(t.db, new Date(Date.now() + DAY));
    assert.deepEqual(r, { doneJobs: 0, events: 0, compactedSms: 0, sinkMessages: 0, more: false });
  });

  it('keeps the done notify jobs the pipeline rollup has not counted yet', async () => {
    const later = new Date(Date.now() + (KEEP_DELIVERED_EVENTS_DAYS + 1) * DAY);
    const r = await pruneNotify(t.db, later, { batch: 2 });
    assert.equal(await count("jobs WHERE kind = 'notify' AND status = 'done'"), 6, 'the live tail of the pipeline view reads them');
    assert.equal(r.sinkMessages, 5);
    assert.equal(r.compactedSms, 5);
    assert.equal(r.events, 15);
  });

  it('deletes done jobs after their keeping, in batches, and keeps pending and dead ones', async () => {
    const later = new Date(Date.now() + (KEEP_DONE_JOBS_DAYS + 1) * DAY);
    await rollupPipeline(t.db, later);
    const pending = await count("jobs WHERE status = 'pending'");
    const r = await runHousekeeping(t.db, later, { batch: 2 });
    assert.equal(r.doneJobs, 6);
    assert.equal(await count("jobs WHERE status = 'done'"), 0);
    assert.equal(await count("jobs WHERE status = 'pending'"), pending, 'the report timeouts still wait');
    assert.equal(await count("jobs WHERE status = 'dead'"), 1, 'an operator still sees the dead job');
  });

  it('keeps every notification (a delivered one without its link), and the events of the SMS that did not reach its person', async () => {
    assert.equal(await count('notifications'), 6);
    assert.equal(await count("notification_events e JOIN notifications n ON n.person_id = e.person_id AND n.id = e.notification_id WHERE n.status = 'delivered'"), 0);
    assert.ok((await count('notification_events WHERE person_id = $1', [heldPerson])) > 0);
    assert.equal(await count('sms_sink'), 0);
    // The text of a delivered SMS keeps what it said, without the certificate link.
    const bodies = await t.db.query<{ body: string }>("SELECT body FROM notifications WHERE status = 'delivered'");
    assert.equal(bodies.rows.length, 5);
    for (const b of bodies.rows) assert.match(b.body, /^Sertifikat vaksin dosis 1\/2 a\.n\. .+ sudah terbit: \[link\] Jangan bagikan tautan ini\.$/);
    // The timeline still tells that the SMS went, and when.
    const admin = { id: 'test', role: 'admin' as const, facilityCode: null, regionCode: null, label: 'test' };
    const tl = await personTimeline(t.db, admin, doses[0]!.personId);
    const sms = tl.events.filter((e) => e.type === 'sms');
    assert.equal(sms.length, 1);
    assert.equal(sms[0]!.status, 'delivered');
    assert.ok(sms[0]!.finalAt && sms[0]!.submittedAt, JSON.stringify(sms[0]));
    assert.equal(tl.events.filter((e) => e.type.startsWith('sms_')).length, 0);
  });

  it('sends nothing when a notify job for an already-sent certificate runs again after its job was deleted', async () => {
    const d = doses[0]!;
    const again = await enqueue(t.db, { kind: 'notify', payload: d, dedupeKey: `notify:${d.certificateId}`, personId: d.personId });
    assert.notEqual(again, null, 'the job and its dedupe key are gone: a second job can be written');
    assert.equal(await worker.drain(), 1);
    assert.equal(await count('sms_sink'), 0, 'no SMS sent');
    assert.equal(await count('notifications WHERE person_id = $1', [d.personId]), 1, 'the notification row kept the dedupe');
    assert.equal(await count('notification_events WHERE person_id = $1', [d.personId]), 0);
  });

  it('stops at its time budget and says there is more', async () => {
    await t.db.query("UPDATE jobs SET status = 'done' WHERE status = 'pending'");
    const r = await pruneNotify(t.db, new Date(Date.now() + 60 * DAY), { budgetMs: 0 });
    assert.equal(r.more, true);
    assert.equal(r.doneJobs, 0);
  });
});
