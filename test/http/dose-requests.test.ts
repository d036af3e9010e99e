/**
 * Missing-dose requests end to end (issue 9, "Must show"): portal (one-time
 * code read from the SMS sink → access token) → the facility's work list →
 * the dose entered through the same record path → certificate that verifies
 * → one SMS; the same with a decline → the decline SMS; escalation to the
 * district after the bound with a moved clock (no sleeping), not twice;
 * another facility sees and does nothing (404); bad input names the field
 * and writes nothing; a dose recorded by another path leaves no request open.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor, ADMIN_TOKEN, skipFloorWaits } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import type { Worker } from '../../src/notify/outbox.ts';
import { escalateOverdue } from '../../src/records/dose-requests.ts';
import { schedulePeriodic } from '../../src/notify/outbox.ts';

const DAY = 86_400_000;

describeEachBackend('missing-dose requests: portal → facility work list → dose or decline → SMS', (t) => {
  let rt: Runtime;
  let worker: Worker;
  let facA: { code: string; token: string };
  let facB: { code: string; token: string };
  let districtIn: string;
  let districtOut: string;
  let ip = 0;
  const P = person({ name: 'Siti Rahmawati', sex: 'F', phone: '0812-7777-1234' });
  const P_PHONE = '+6281277771234';
  let access = '';

  const inject = (method: 'GET' | 'POST', url: string, token?: string, payload?: unknown) =>
    rt.app.inject({ method, url, ...(token ? { headers: bearer(token) } : {}), ...(payload === undefined ? {} : { payload: payload as object }) });

  const sinkTo = async (phone: string): Promise<string[]> => {
    const r = await inject('GET', '/api/v1/sms/sink', ADMIN_TOKEN);
    return (r.json().messages as { to: string; text: string }[]).filter((m) => m.to === phone).map((m) => m.text);
  };

  /** The portal's way in: NIK + birth date → code by SMS (read from the sink) → access token. */
  const portalLogin = async (p: { nik: string; birthDate: string }, phone: string): Promise<string> => {
    const start = await rt.app.inject({ method: 'POST', url: '/api/v1/public/lookup', payload: { nik: p.nik, birthDate: p.birthDate }, remoteAddress: `10.9.0.${++ip}` });
    assert.equal(start.statusCode, 202, start.body);
    await worker.drain();
    const code = /\b(\d{6})\b/.exec((await sinkTo(phone)).pop() ?? '')?.[1];
    assert.ok(code, 'a code in the SMS');
    const ok = await rt.app.inject({ method: 'POST', url: `/api/v1/public/lookup/${start.json().requestId}/verify`, payload: { code } });
    assert.equal(ok.statusCode, 200, ok.body);
    return ok.json().accessToken as string;
  };

  const record = async (p: ReturnType<typeof person>, over: Record<string, unknown> = {}) => {
    const r = await inject('POST', '/api/v1/vaccinations', facA.token, doseBody(p, over));
    assert.equal(r.statusCode, 201, r.body);
    return r.json();
  };
  /** A new person with dose 1 at facility A who reports dose 2 there through the portal. */
  const reportsDose2 = async (name: string, phone: string) => {
    const p = person({ name, phone });
    await record(p, { doseNumber: 1, date: '2021-06-10' });
    await worker.drain();
    const token = await portalLogin(p, `+62${phone.replace(/\D/g, '').slice(1)}`);
    const filed = await inject('POST', '/api/v1/public/dose-requests', token, { date: '2021-07-08', facility: facA.code, vaccine: 'CORONAVAC', doseNumber: 2 });
    assert.equal(filed.statusCode, 201, filed.body);
    return { person: p, id: filed.json().id as string };
  };
  const count = async (sql: string, params: unknown[] = []) => (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params)).rows[0]!.n;

  it('starts: a person with dose 1 at facility A, a second facility and districts in and out of its region', async () => {
    rt = await testRuntime(t.db);
    skipFloorWaits(rt);
    worker = rt.deps.notify.worker({ pollMs: 10 });
    facA = await facilityWithToken(t.db, '317101');
    facB = await facilityWithToken(t.db, '327301');
    districtIn = await tokenFor(t.db, 'district', { region: '3171' });
    districtOut = await tokenFor(t.db, 'district', { region: '3273' });
    await record(P, { doseNumber: 1, date: '2021-06-10' });
    await worker.drain();
    access = await portalLogin(P, P_PHONE);
    const api = (await inject('GET', '/openapi.json')).json();
    for (const [path, method] of [
      ['/api/v1/public/dose-requests', 'post'],
      ['/api/v1/public/dose-requests', 'get'],
      ['/api/v1/public/facilities', 'get'],
      ['/api/v1/dose-requests', 'get'],
      ['/api/v1/dose-requests/{id}', 'get'],
      ['/api/v1/dose-requests/{id}/record', 'post'],
      ['/api/v1/dose-requests/{id}/decline', 'post'],
    ] as const)
      assert.ok(api.paths[path]?.[method]?.summary, `${method} ${path} is described in OpenAPI`);
  });

  it('finds facilities by name for the form: codes and names only', async () => {
    const r = await inject('GET', `/api/v1/public/facilities?q=${encodeURIComponent('Puskesmas')}`);
    assert.equal(r.statusCode, 200, r.body);
    const codes = r.json().facilities.map((f: { code: string }) => f.code);
    assert.ok(codes.includes(facA.code));
    assert.deepEqual(Object.keys(r.json().facilities[0]).sort(), ['code', 'name']);
  });

  let entered = '';
  it('a request filed in the portal lands on that facility’s work list; the dose entered there issues a certificate and one SMS', async () => {
    const filed = await inject('POST', '/api/v1/public/dose-requests', access, { date: '2021-07-08', facility: facA.code, vaccine: 'CoronaVac', doseNumber: 2, lot: 'B77' });
    assert.equal(filed.statusCode, 201, filed.body);
    assert.equal(filed.json().status, 'open');
    entered = filed.json().id;
    const mine = await inject('GET', '/api/v1/public/dose-requests', access);
    assert.deepEqual(
      mine.json().requests.map((r: { id: string; status: string }) => [r.id, r.status]),
      [[entered, 'open']],
    );

    const list = await inject('GET', '/api/v1/dose-requests?status=open', facA.token);
    assert.equal(list.statusCode, 200, list.body);
    const onList = list.json().requests.find((r: { id: string }) => r.id === entered);
    assert.ok(onList, 'on facility A’s list');
    assert.equal(onList.person.name, P.name);
    assert.ok(!list.body.includes(P.nik), 'the NIK is masked on the work list');
    assert.equal(onList.lot, 'B77');

    const before = (await sinkTo(P_PHONE)).length;
    const rec = await inject('POST', `/api/v1/dose-requests/${entered}/record`, facA.token, { lot: 'B78' });
    assert.equal(rec.statusCode, 201, rec.body);
    const { request, dose } = rec.json();
    assert.equal(request.status, 'entered');
    assert.equal(request.vaccinationId, dose.vaccination.id);
    assert.equal(dose.vaccination.doseNumber, 2);
    assert.equal(dose.vaccination.date, '2021-07-08');
    assert.equal(dose.vaccination.lot, 'B78', 'the edited lot');
    assert.equal(dose.vaccination.facility, facA.code);
    const verified = await inject('POST', '/api/v1/verify', undefined, { qr: dose.certificate.qr });
    assert.equal(verified.json().valid, true, verified.body);

    await worker.drain();
    const sms = (await sinkTo(P_PHONE)).slice(before);
    assert.equal(sms.length, 1, `exactly one SMS: ${JSON.stringify(sms)}`);
    assert.match(sms[0]!, /^Sertifikat vaksin dosis 2\/2 a\.n\. Siti R\. sudah terbit: https:\/\/dosis\.test\/c\//);

    const again = await inject('POST', `/api/v1/dose-requests/${entered}/record`, facA.token, {});
    assert.equal(again.statusCode, 409, 'entered once');
    const portal = await inject('GET', '/api/v1/public/certificates', access);
    assert.equal(portal.json().certificates.length, 2, 'the person sees the new certificate');
    assert.equal((await inject('GET', '/api/v1/public/dose-requests', access)).json().requests[0].status, 'entered');
    assert.equal(await count("audit_log WHERE action = 'dose_request_entered' AND subject = $1", [entered]), 1);
  });

  let declined = '';
  it('a declined request sends one SMS saying why', async () => {
    const filed = await inject('POST', '/api/v1/public/dose-requests', access, { date: '2022-03-01', facility: facA.code, vaccine: 'CORONAVAC', doseNumber: 3 });
    assert.equal(filed.statusCode, 201, filed.body);
    declined = filed.json().id;
    const before = (await sinkTo(P_PHONE)).length;
    const d = await inject('POST', `/api/v1/dose-requests/${declined}/decline`, facA.token, { reason: 'no_record_at_facility' });
    assert.equal(d.statusCode, 200, d.body);
    assert.equal(d.json().status, 'declined');
    assert.deepEqual(d.json().decline, { reason: 'no_record_at_facility', text: null });
    await worker.drain();
    const sms = (await sinkTo(P_PHONE)).slice(before);
    assert.equal(sms.length, 1, JSON.stringify(sms));
    assert.match(sms[0]!, /^Laporan dosis 3 tgl 1 Maret 2022 a\.n\. Siti R\. tidak dicatat oleh Puskesmas \d+: faskes tidak punya catatan vaksinasi ini\./);
    const again = await inject('POST', `/api/v1/dose-requests/${declined}/decline`, facA.token, { reason: 'other', text: 'again' });
    assert.equal(again.statusCode, 409);
    await worker.drain();
    assert.equal((await sinkTo(P_PHONE)).length, before + 1, 'no second SMS');
    const mine = (await inject('GET', '/api/v1/public/dose-requests', access)).json().requests;
    assert.equal(mine.find((r: { id: string }) => r.id === declined).status, 'declined');
    assert.equal(await count("notifications WHERE kind = 'dose_request' AND status <> 'held'"), 1);
  });

  it('another facility, or a district outside the region, neither sees nor acts on the requests (404)', async () => {
    const filed = await inject('POST', '/api/v1/public/dose-requests', access, { date: '2022-09-01', facility: facA.code, vaccine: 'CORONAVAC', doseNumber: 4 });
    assert.equal(filed.statusCode, 201, filed.body);
    const id = filed.json().id as string;
    for (const token of [facB.token, districtOut]) {
      const list = await inject('GET', '/api/v1/dose-requests', token);
      assert.equal(list.statusCode, 200);
      assert.ok(!list.body.includes(id) && !list.body.includes(entered), 'not on their list');
      assert.equal((await inject('GET', `/api/v1/dose-requests/${id}`, token)).statusCode, 404);
      assert.equal((await inject('POST', `/api/v1/dose-requests/${id}/record`, token, {})).statusCode, 404);
      assert.equal((await inject('POST', `/api/v1/dose-requests/${id}/decline`, token, { reason: 'wrong_facility' })).statusCode, 404);
    }
    assert.equal((await t.db.query<{ status: string }>('SELECT status FROM dose_requests WHERE id = $1', [id])).rows[0]!.status, 'open');
    assert.ok((await inject('GET', '/api/v1/dose-requests', districtIn)).body.includes(id), 'the district of the region sees it');
  });

  it('bad input is a 4xx naming the field, and writes nothing', async () => {
    const requests = await count('dose_requests');
    const vaccinations = await count('vaccinations');
    const bad = await inject('POST', '/api/v1/public/dose-requests', access, { date: '2099-01-01', facility: 'NO-SUCH', vaccine: 'Snake oil', doseNumber: 9, lot: 'x'.repeat(80), colour: 'red' });
    assert.equal(bad.statusCode, 422, bad.body);
    assert.deepEqual(bad.json().error.fields.map((f: { path: string }) => f.path).sort(), ['colour', 'date', 'doseNumber', 'facility', 'lot', 'vaccine']);
    const noSession = await inject('POST', '/api/v1/public/dose-requests', undefined, { date: '2021-07-08', facility: facA.code, vaccine: 'CORONAVAC', doseNumber: 5 });
    assert.equal(noSession.statusCode, 401);
    const onRecord = await inject('POST', '/api/v1/public/dose-requests', access, { date: '2021-06-10', facility: facA.code, vaccine: 'CORONAVAC', doseNumber: 1 });
    assert.equal(onRecord.statusCode, 409);
    assert.equal(onRecord.json().error.fields[0].path, 'doseNumber');
    const twice = await inject('POST', '/api/v1/public/dose-requests', access, { date: '2022-09-01', facility: facA.code, vaccine: 'CORONAVAC', doseNumber: 4 });
    assert.equal(twice.statusCode, 409, 'dose 4 is already waiting');

    const waiting = (await t.db.query<{ id: string }>("SELECT id FROM dose_requests WHERE status = 'open' AND dose_number = 4")).rows[0]!.id;
    const noReason = await inject('POST', `/api/v1/dose-requests/${waiting}/decline`, facA.token, { reason: 'bored' });
    assert.equal(noReason.statusCode, 422);
    assert.equal(noReason.json().error.fields[0].path, 'reason');
    const otherNoText = await inject('POST', `/api/v1/dose-requests/${waiting}/decline`, facA.token, { reason: 'other' });
    assert.equal(otherNoText.statusCode, 422);
    assert.equal(otherNoText.json().error.fields[0].path, 'text');
    const badDate = await inject('POST', `/api/v1/dose-requests/${waiting}/record`, facA.token, { date: '2021-02-30' });
    assert.equal(badDate.statusCode, 422, badDate.body);
    assert.equal(badDate.json().error.fields[0].path, 'date');
    const otherPerson = await inject('POST', `/api/v1/dose-requests/${waiting}/record`, facA.token, { person: { nik: '3171010101010001' } });
    assert.equal(otherPerson.statusCode, 422);
    assert.equal(otherPerson.json().error.fields[0].path, 'person');
    assert.equal(await count('dose_requests'), requests);
    assert.equal(await count('vaccinations'), vaccinations);
    assert.equal((await t.db.query<{ status: string }>('SELECT status FROM dose_requests WHERE id = $1', [waiting])).rows[0]!.status, 'open');
  });

  it('a request open past the bound escalates to the district, once, through the periodic job (clock moved, no sleep)', async () => {
    const { id } = await reportsDose2('Rudi Hartono', '0812-7777-5678');

    // Two days on: nothing is overdue yet.
    assert.equal(await escalateOverdue(t.db, { now: new Date(Date.now() + 2 * DAY), afterDays: 3 }), 0);
    assert.ok(!(await inject('GET', '/api/v1/dose-requests?status=escalated', districtIn)).body.includes(id));

    // Three days and an hour on, the worker's periodic job escalates what is overdue.
    const later = new Date(Date.now() + 3 * DAY + 3_600_000);
    await schedulePeriodic(t.db, 'escalate_dose_requests', { now: new Date(), everyMinutes: 60, which: 'current' });
    const w = rt.deps.notify.worker({ pollMs: 10, now: () => later });
    await w.drain();
    const escalated = await inject('GET', '/api/v1/dose-requests?status=escalated', districtIn);
    const item = escalated.json().requests.find((r: { id: string }) => r.id === id);
    assert.ok(item, `escalated, on the district's list: ${escalated.body.slice(0, 300)}`);
    assert.equal(item.escalatedAt, later.toISOString());
    assert.ok(!(await inject('GET', '/api/v1/dose-requests?status=escalated', districtOut)).body.includes(id), 'not another district’s');
    assert.ok((await inject('GET', `/api/v1/dose-requests/${id}`, facA.token)).json().status === 'escalated', 'the facility still sees it');
    // The job scheduled its next run; running everything again (two workers at once, too) escalates nothing twice.
    assert.equal(await count("jobs WHERE kind = 'escalate_dose_requests' AND status = 'pending' AND run_at > now()"), 1);
    assert.deepEqual(await Promise.all([escalateOverdue(t.db, { now: later, afterDays: 3 }), escalateOverdue(t.db, { now: later, afterDays: 3 })]), [0, 0]);
    // Two workers escalating one new overdue request at the same moment: one of them does.
    const { id: other } = await reportsDose2('Tono Wibowo', '0812-7777-3456');
    const both = await Promise.all([escalateOverdue(t.db, { now: later, afterDays: 3 }), escalateOverdue(t.db, { now: later, afterDays: 3 })]);
    assert.equal(both[0] + both[1], 1, `one escalation between them: ${both.join(', ')}`);
    assert.equal(await count("audit_log WHERE action = 'dose_request_escalated' AND subject = $1", [other]), 1);
    await rt.deps.notify.worker({ pollMs: 10, now: () => later }).drain();
    assert.equal(await count("audit_log WHERE action = 'dose_request_escalated' AND subject = $1", [id]), 1);

    // The district may enter it.
    const rec = await inject('POST', `/api/v1/dose-requests/${id}/record`, districtIn, {});
    assert.equal(rec.statusCode, 201, rec.body);
    assert.equal(rec.json().request.status, 'entered');
  });

  it('a dose recorded by another path leaves no request open for it (and it is never escalated)', async () => {
    const { person: Q, id } = await reportsDose2('Dewi Lestari', '0812-7777-9012');
    const dose = await record(Q, { doseNumber: 2, date: '2021-07-08' });
    const open = await inject('GET', '/api/v1/dose-requests?status=open', facA.token);
    assert.ok(!open.body.includes(id), 'not on the open list');
    const one = (await inject('GET', `/api/v1/dose-requests/${id}`, facA.token)).json();
    assert.equal(one.status, 'entered');
    assert.equal(one.vaccinationId, dose.vaccination.id);
    const decline = await inject('POST', `/api/v1/dose-requests/${id}/decline`, facA.token, { reason: 'no_record_at_facility' });
    assert.equal(decline.statusCode, 409, 'a request whose dose is on record cannot be declined');
    await escalateOverdue(t.db, { now: new Date(Date.now() + 10 * DAY), afterDays: 3 });
    assert.equal((await t.db.query<{ status: string }>('SELECT status FROM dose_requests WHERE id = $1', [id])).rows[0]!.status, 'entered');
  });

  it('stops', async () => {
    await worker.stop();
    await rt.app.close();
  });
});
