/**
 * Every SMS path through a real Kannel (bearerbox + smsbox) and our SMPP
 * simulator: delivered; undeliverable; rejected at submit; expired; no report
 * ever; slow report (within and beyond the report timeout); throttled;
 * rejected at submit for a gateway reason (the attempt not spent);
 * duplicate and out-of-order reports; Kannel down (connection refused) and
 * SMSC down (`3: Queued`). Each must end in the right state, with the right
 * events and retries.
 *
 * The scenarios of one route configuration run at once (each on its own
 * phone number), so the file takes about as long as its slowest scenario.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend, BACKENDS } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor } from '../helpers/app.ts';
import { SmppSimulator, type Behaviour } from '../helpers/smpp-sim.ts';
import { freePort, kannelSkip, startKannel, type KannelRig } from '../helpers/kannel.ts';
import type { Db } from '../../src/db/client.ts';
import type { Runtime } from '../../src/runtime.ts';
import { schedulePeriodic, type Worker } from '../../src/notify/outbox.ts';
import { notificationsOf, smsStats, type NotificationView } from '../../src/notify/queries.ts';
import { reportSignature } from '../../src/notify/gateways.ts';
import { loadReportSecret } from '../../src/notify/service.ts';

const skip = kannelSkip();
const REPORT_TIMEOUT_S = 5;

let sim: SmppSimulator;
let rig: KannelRig;
before(async () => {
  if (skip) return;
  sim = await new SmppSimulator().start();
  const downPort = await freePort(); // nothing listens: Kannel's SMSC "DOWN" never comes online
  rig = await startKannel({ smscs: [{ id: 'SIM', port: sim.port }, { id: 'DOWN', port: downPort, onlyWhenForced: true, waitOnline: false }] });
});
after(async () => {
  await rig?.stop();
  await sim?.stop();
});

/** A runtime whose SMS go through Kannel, listening for delivery reports. */
async function kannelRuntime(db: Db, env: Record<string, string>): Promise<{ rt: Runtime; worker: Worker }> {
  const port = await freePort();
  const rt = await testRuntime(db, {
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    SMS_GATEWAY: 'kannel',
    KANNEL_URL: rig.sendsmsUrl,
    KANNEL_USER: rig.user,
    KANNEL_PASSWORD: rig.password,
    KANNEL_FALLBACK_URL: rig.sendsmsUrl,
    SMS_FALLBACK_AFTER: '1',
    SMS_MAX_ATTEMPTS: '2',
    SMS_RETRY_BASE_MS: '200',
    SMS_RETRY_MAX_MS: '400',
    SMS_REPORT_TIMEOUT_SECONDS: String(REPORT_TIMEOUT_S),
    SMS_SEND_TIMEOUT_MS: '3000',
    SMS_SWEEP_SECONDS: '1',
    SMS_UNKNOWN_RESEND_AFTER_SECONDS: '6',
    SMS_GATEWAY_PROBE_MS: '200',
    ...env,
  });
  await rt.app.listen({ port, host: '127.0.0.1' });
  await schedulePeriodic(db, 'sms_sweep', { now: new Date(), everyMinutes: 1 / 60, which: 'current' }); // SMS_SWEEP_SECONDS 1
  return { rt, worker: rt.deps.notify.worker({ pollMs: 20, concurrency: 16 }) };
}

/** The person's notification once final (and `also` holds of it, when given). */
async function finalOf(db: Db, personId: string, deadlineMs = 40_000, also: (n: NotificationView) => boolean = () => true): Promise<NotificationView> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const [n] = await notificationsOf(db, personId);
    // A delivery report can be processed before the worker has stored the gateway's answers of
    // its batch (one statement after every send of the batch returned): final means both are in.
    const answered = (a: number) => n!.events.some((e) => e.attempt === a && (e.type === 'submitted' || e.type === 'send_failed'));
    if (n?.finalAt && Array.from({ length: n.attempt }, (_, i) => i + 1).every(answered) && also(n)) return n;
    if (Date.now() > until) throw new Error(`notification of ${personId} not final after ${deadlineMs} ms: ${JSON.stringify(n, null, 1)}\n${rig.logs()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const types = (n: NotificationView, attempt?: number) => n.events.filter((e) => attempt === undefined || e.attempt === attempt).map((e) => e.type);
const reports = (n: NotificationView, attempt: number) => n.events.filter((e) => e.type === 'report' && e.attempt === attempt).map((e) => e.reportBits);

describeEachBackend('SMS through a real Kannel', (t) => {
  if (skip) {
    it(skip, { skip });
    return;
  }
  const b = BACKENDS.indexOf(t.backend);
  let seq = 0;
  /** A fresh number per scenario and backend, told to the simulator. */
  const number = (behaviour: Behaviour) => {
    const local = `08129${b}${String(++seq).padStart(6, '0')}`;
    sim.behave(`62${local.slice(1)}`, behaviour);
    return { local, e164: `+62${local.slice(1)}` };
  };
  let fac: { code: string; token: string };
  const record = async (rt: Runtime, p: ReturnType<typeof person>) => {
    const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p) });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ person: { id: string }; certificate: { link: string } }>();
  };
  const openCases = async (personId: string) =>
    (await t.db.query<{ kind: string }>("SELECT kind FROM cases WHERE person_id = $1 AND status = 'open' ORDER BY kind", [personId])).rows.map((r) => r.kind);

  it('ends every scenario of the main route in the right state, with the right events and retries', async () => {
    const { rt, worker } = await kannelRuntime(t.db, {});
    fac = await facilityWithToken(t.db);
    const s = {
      delivered: number({ kind: 'deliver' }),
      undeliverable: number({ kind: 'undeliv', err: '027' }),
      unknownNumber: number({ kind: 'undeliv' }),
      expiredOnce: number({ kind: 'expire', times: 1 }),
      rejected: number({ kind: 'reject' }),
      silent: number({ kind: 'silent' }),
      slow: number({ kind: 'slow', delayMs: 2000 }),
      slowerThanTimeout: number({ kind: 'slow', delayMs: (REPORT_TIMEOUT_S + 2) * 1000 }),
      throttled: number({ kind: 'throttle', times: 1 }),
      // 0x0A, our sender id refused: the SMSC's reason, not the number's (twice = SMS_MAX_ATTEMPTS here).
      senderRefused: number({ kind: 'reject', status: 0x0a, times: 2 }),
      unicode: number({ kind: 'deliver' }),
    };
    const ids: Record<string, string> = {};
    for (const [name, n] of Object.entries(s)) {
      const who = person({ phone: n.local, ...(name === 'unicode' ? { name: '王小明' } : {}) });
      ids[name] = (await record(rt, who)).person.id;
    }
    worker.start();
    try {
      // Delivered: smsbox calls its two report URLs (8, accepted; 1, delivered) on connections of their own,
      // so on a loaded machine the 8 can reach us after the 1 has made the notification final: wait for it too.
      const acceptedToo = (n: NotificationView) => reports(n, 1).includes(8);
      const got = Object.fromEntries(
        await Promise.all(Object.entries(ids).map(async ([name, id]) => [name, await finalOf(t.db, id, 40_000, name === 'delivered' ? acceptedToo : undefined)] as const)),
      );

      // Delivered: one attempt; Kannel's "accepted by SMSC" (8) and "delivered" (1) both stored; the SMSC id kept.
      const d = got.delivered!;
      assert.equal(d.status, 'delivered');
      assert.equal(d.attempt, 1);
      assert.equal(d.route, 'primary');
      assert.deepEqual(reports(d, 1).sort(), [1, 8]);
      assert.match(d.gatewayRef ?? '', /^\d+$/);
      assert.ok(types(d).includes('submitted'));
      assert.match(d.events.find((e) => e.type === 'submitted')?.raw ?? '', /^202 0: Accepted for delivery/);
      assert.equal(sim.submitsTo(s.delivered.e164).length, 1);

      // Undeliverable for now (err:027, absent subscriber: temporary): failed on the primary, retried on the fallback, failed again → unreachable work list.
      const u = got.undeliverable!;
      assert.equal(u.status, 'failed');
      assert.equal(u.attempt, 2);
      assert.equal(u.route, 'fallback');
      assert.ok(types(u, 1).includes('retry_scheduled'));
      assert.ok(types(u, 2).includes('gave_up'));
      assert.ok(reports(u, 1).includes(2) && reports(u, 2).includes(2));
      assert.match(u.lastError ?? '', /stat:UNDELIV err:027/);
      assert.equal(sim.submitsTo(s.undeliverable.e164).length, 2);
      assert.deepEqual(await openCases(ids.undeliverable!), ['unreachable']);

      // One timeline request explains it: the dose, the certificate, the SMS text, every gateway answer and the failure reports.
      const support = await tokenFor(t.db, 'support');
      const tl = (await rt.app.inject({ method: 'GET', url: `/api/v1/people/${ids.undeliverable}/timeline?reveal=true`, headers: { authorization: `Bearer ${support}` } })).json();
      const tlTypes = tl.events.map((ev: { type: string }) => ev.type);
      for (const type of ['dose_recorded', 'certificate_issued', 'sms', 'sms_submitted', 'sms_report', 'sms_gave_up', 'case_opened'])
        assert.ok(tlTypes.includes(type), `${type} in the timeline: ${tlTypes.join()}`);
      const sms = tl.events.find((ev: { type: string }) => ev.type === 'sms');
      assert.match(sms.text, /https:\/\/|http:\/\//);
      assert.ok(tl.events.some((ev: { type: string; raw?: string }) => ev.type === 'sms_report' && /stat:UNDELIV/.test(ev.raw ?? '')));
      assert.ok(tl.events.some((ev: { type: string; raw?: string }) => ev.type === 'sms_submitted' && /Accepted for delivery/.test(ev.raw ?? '')));
      assert.equal(tl.doses[0].state, 'sms_failed');

      // Unknown subscriber (err:001): permanent, not retried; the unreachable case opens at once.
      const un = got.unknownNumber!;
      assert.equal(un.status, 'failed');
      assert.equal(un.attempt, 1);
      assert.equal(sim.submitsTo(s.unknownNumber.e164).length, 1);
      assert.match(un.events.find((x) => x.type === 'gave_up')?.raw ?? '', /permanent error, not retried/);
      assert.deepEqual(await openCases(ids.unknownNumber!), ['unreachable']);

      // Expired (34 = failed|intermediate) once, then delivered by the retry on the fallback route.
      const e = got.expiredOnce!;
      assert.equal(e.status, 'delivered');
      assert.equal(e.attempt, 2);
      assert.equal(e.route, 'fallback');
      assert.ok(reports(e, 1).includes(34));
      assert.deepEqual(e.events.filter((x) => x.attempt === 1 && x.type === 'report' && x.reportBits === 34).map((x) => x.status), ['expired']);
      assert.deepEqual(await openCases(ids.expiredOnce!), []);

      // Rejected at submit with 0x0B (invalid destination address): permanent, one attempt → unreachable.
      const r = got.rejected!;
      assert.equal(r.status, 'failed');
      assert.equal(r.attempt, 1);
      assert.equal(sim.submitsTo(s.rejected.e164).length, 1);
      assert.match(r.lastError ?? '', /rejected \(0x0000000b\)/);
      assert.deepEqual(reports(r, 1), [16]);
      assert.deepEqual(await openCases(ids.rejected!), ['unreachable']);

      // No final report ever, but the SMSC acknowledged it (8): unknown at the timeout (counted), never
      // resent (it may well have arrived), final after the long wait, and not on the unreachable list.
      const si = got.silent!;
      assert.equal(si.status, 'unknown');
      assert.equal(si.attempt, 1);
      assert.deepEqual(si.acknowledgedAttempts, [1]);
      assert.equal(types(si).filter((x) => x === 'timeout').length, 1);
      assert.match(si.events.find((x) => x.type === 'gave_up')?.raw ?? '', /acknowledged by the SMSC/);
      assert.equal(sim.submitsTo(s.silent.e164).length, 1);
      assert.deepEqual(await openCases(ids.silent!), []);
      assert.ok((await smsStats(t.db)).timedOut >= 1);

      // Slow report within the timeout: delivered, no retry.
      const sl = got.slow!;
      assert.equal(sl.status, 'delivered');
      assert.equal(sl.attempt, 1);
      assert.ok(!types(sl).includes('timeout'));

      // Slower than the timeout: unknown, retried, then the late report of attempt 1 delivers (forward, never back).
      const sx = got.slowerThanTimeout!;
      assert.equal(sx.status, 'delivered');
      assert.ok(types(sx, 1).includes('timeout'));
      assert.ok(sx.events.some((x) => x.attempt === 1 && x.type === 'report' && x.reportBits === 1 && x.applied));

      // Throttled: Kannel resends by itself; Dosis made one attempt.
      const th = got.throttled!;
      assert.equal(th.status, 'delivered');
      assert.equal(th.attempt, 1);
      assert.deepEqual(sim.submitsTo(s.throttled.e164).map((x) => x.status), [0x58, 0]);

      // Rejected twice for a gateway reason (our sender id): the same attempt is sent again, not spent; delivered at attempt 1.
      const sr = got.senderRefused!;
      assert.equal(sr.status, 'delivered');
      assert.equal(sr.attempt, 1);
      assert.equal(sr.route, 'primary');
      assert.deepEqual(sim.submitsTo(s.senderRefused.e164).map((x) => x.status), [0x0a, 0x0a, 0]);
      assert.equal(types(sr, 1).filter((x) => x === 'gateway_wait').length, 2);
      assert.ok(!types(sr).includes('retry_scheduled'), 'no attempt spent');
      assert.deepEqual(await openCases(ids.senderRefused!), []);

      // Non-GSM text goes as UCS-2 and arrives intact.
      const uni = got.unicode!;
      assert.equal(uni.status, 'delivered');
      const parts = sim.submitsTo(s.unicode.e164);
      assert.equal(parts.length, 2, 'a UCS-2 text of this length takes two parts');
      assert.deepEqual(parts.map((p) => p.dataCoding), [8, 8]);
      assert.match(parts[0]?.text ?? '', /^Sertifikat vaksin dosis 1\/2 a\.n\. 王小明 sudah terbit: http/);
    } finally {
      await worker.stop();
      await rt.app.close();
    }
  });

  it('stores duplicate and out-of-order reports without moving a notification backwards', async () => {
    const { rt } = await kannelRuntime(t.db, {});
    try {
      const secret = await loadReportSecret(t.db);
      const personId = (await t.db.query<{ person_id: string }>("SELECT person_id FROM notifications WHERE status = 'delivered' AND attempt = 1 LIMIT 1")).rows[0]!.person_id;
      const [n] = await notificationsOf(t.db, personId);
      // Replay exactly what Kannel sent (the stored raw query) with its signature.
      const replay = async (bits: number) => {
        const raw = n!.events.find((e) => e.type === 'report' && e.reportBits === bits)!.raw!;
        const q = new URLSearchParams(raw.split('&').map((kv): [string, string] => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
        q.set('s', reportSignature(secret, personId, n!.id, 1));
        return rt.app.inject({ method: 'GET', url: `/api/v1/sms/reports?${q.toString()}` });
      };
      const dup = await replay(1);
      assert.equal(dup.statusCode, 200, dup.body);
      assert.deepEqual(dup.json(), { notificationId: n!.id, status: 'delivered', applied: false });
      const late8 = await replay(8); // "accepted by SMSC" after "delivered"
      assert.deepEqual(late8.json(), { notificationId: n!.id, status: 'delivered', applied: false });
      const [after] = await notificationsOf(t.db, personId);
      assert.equal(after!.status, 'delivered');
      assert.equal(after!.events.length, n!.events.length + 2, 'both stored');
      assert.deepEqual(after!.events.slice(-2).map((e) => e.applied), [false, false]);

      // A delivered report for attempt 1 of a message attempt 2 delivered: the person got it twice. Stored, not
      // applied, counted once (dosis_sms_duplicates_total), and shown: "also delivered: attempt 1".
      const twice = (await t.db.query<{ person_id: string; id: string }>("SELECT person_id, id FROM notifications WHERE status = 'delivered' AND delivered_attempt = 2 LIMIT 1")).rows[0]!;
      const late1 = () =>
        rt.app.inject({
          method: 'GET',
          url: `/api/v1/sms/reports?p=${twice.person_id}&n=${twice.id}&a=1&r=primary&s=${reportSignature(secret, twice.person_id, twice.id, 1)}&d=1&f=77&rc=stat%3ADELIVRD`,
        });
      assert.deepEqual((await late1()).json(), { notificationId: twice.id, status: 'delivered', applied: false });
      await late1(); // Kannel repeating that report is not another copy
      const metrics = (await rt.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /dosis_sms_duplicates_total\{route="primary"\} 1\n/);
      const [view] = await notificationsOf(t.db, twice.person_id);
      assert.deepEqual([view!.deliveredAttempt, view!.alsoDelivered, view!.acknowledgedAttempts], [2, [1], [1, 2]]);
      const support = await tokenFor(t.db, 'support');
      const tl = (await rt.app.inject({ method: 'GET', url: `/api/v1/people/${twice.person_id}/timeline`, headers: { authorization: `Bearer ${support}` } })).json<{
        events: { type: string; alsoDelivered?: unknown; acknowledgedAttempts?: unknown; attempt?: number; acknowledgedBySmsc?: boolean }[];
      }>();
      const smsEvent = tl.events.find((e) => e.type === 'sms');
      assert.deepEqual([smsEvent?.alsoDelivered, smsEvent?.acknowledgedAttempts], [[1], [1, 2]]);
      assert.equal(tl.events.filter((e) => e.type === 'sms_report' && e.alsoDelivered === true).length, 2, 'both late reports marked');
      assert.ok(tl.events.some((e) => e.type === 'sms_report' && e.attempt === 2 && e.acknowledgedBySmsc === true));

      // A failure report for an attempt that a retry already superseded changes nothing and schedules nothing.
      const failed = (await t.db.query<{ person_id: string; id: string }>("SELECT person_id, id FROM notifications WHERE status = 'failed' AND attempt = 2 LIMIT 1")).rows[0]!;
      const jobsBefore = (await t.db.query("SELECT 1 FROM jobs WHERE kind = 'sms_send'")).rowCount;
      const stale = await rt.app.inject({
        method: 'GET',
        url: `/api/v1/sms/reports?p=${failed.person_id}&n=${failed.id}&a=1&s=${reportSignature(secret, failed.person_id, failed.id, 1)}&d=2&f=1&rc=stat%3AUNDELIV`,
      });
      assert.equal(stale.json().applied, false);
      assert.equal((await t.db.query("SELECT 1 FROM jobs WHERE kind = 'sms_send'")).rowCount, jobsBefore);
    } finally {
      await rt.app.close();
    }
  });

  it('falls back when Kannel is down (connection refused), without spending the attempt', async () => {
    const closed = await freePort();
    const { rt, worker } = await kannelRuntime(t.db, { KANNEL_URL: `http://127.0.0.1:${closed}/cgi-bin/sendsms` });
    try {
      const n = number({ kind: 'deliver' });
      const id = (await record(rt, person({ phone: n.local }))).person.id;
      worker.start();
      const got = await finalOf(t.db, id);
      assert.equal(got.status, 'delivered');
      assert.equal(got.attempt, 1, 'a gateway outage spends no attempt');
      assert.equal(got.route, 'fallback');
      const waited = got.events.find((e) => e.type === 'gateway_wait');
      assert.equal(waited?.attempt, 1);
      assert.match(waited?.raw ?? '', /ECONNREFUSED/);
      assert.ok(!got.events.some((e) => e.type === 'send_failed'));
      assert.equal(sim.submitsTo(n.e164).length, 1);
      await rt.deps.notify.health.flush();
      const primary = (await smsStats(t.db)).routes.find((r) => r.route === 'primary');
      assert.equal(primary?.state, 'open', 'the primary route is paused');
      const metrics = await rt.app.inject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, /dosis_sms_route_state\{route="primary",state="open"\} 1/);
    } finally {
      await worker.stop();
      await rt.app.close();
    }
  });

  it('takes "3: Queued for later delivery" (SMSC down) as accepted: unknown at the timeout, resent once only after the long wait', async () => {
    const { rt, worker } = await kannelRuntime(t.db, { KANNEL_SMSC: 'DOWN' });
    try {
      const n = number({ kind: 'deliver' });
      const id = (await record(rt, person({ phone: n.local }))).person.id;
      worker.start();
      const got = await finalOf(t.db, id);
      assert.equal(got.status, 'delivered');
      assert.equal(got.attempt, 2);
      assert.equal(got.route, 'fallback');
      const queued = got.events.find((e) => e.type === 'submitted' && e.attempt === 1);
      assert.equal(queued?.raw, '202 3: Queued for later delivery');
      assert.equal(queued?.status, 'submitted');
      assert.ok(!got.events.some((e) => e.type === 'send_failed'));
      assert.deepEqual(got.acknowledgedAttempts, [2], 'attempt 1 never reached an SMSC');
      assert.ok(types(got, 1).includes('timeout'));
    } finally {
      await worker.stop();
      await rt.app.close();
    }
  });
});
