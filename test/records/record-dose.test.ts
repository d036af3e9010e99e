import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';

async function count(rt: Runtime, table: string): Promise<number> {
  const r = await rt.db.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM ${table}`);
  return r.rows[0]!.n;
}

describeEachBackend('record a dose', (t) => {
  let rt: Runtime;
  let fac: { code: string; token: string };
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: { ...bearer(fac.token), ...headers }, payload: body as object });

  it('starts', async () => {
    rt = await testRuntime(t.db);
    fac = await facilityWithToken(t.db);
  });

  it('records a dose and answers with a certificate that verifies', async () => {
    const res = await post(doseBody());
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.equal(body.vaccination.status, 'recorded');
    assert.match(body.certificate.uvci, /^URN:UVCI:01:ID:[A-Z0-9]+#[0-9A-Z/:]$/);
    assert.match(body.certificate.qr, /^HC1:/);
    assert.match(body.certificate.link, /^https:\/\/dosis\.test\/c\/[A-Za-z0-9_-]{22}$/);
    const v = await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr: body.certificate.qr } });
    assert.equal(v.statusCode, 200);
    assert.equal(v.json().valid, true, v.body);
    assert.equal(v.json().payload.v[0].ci, body.certificate.uvci);
    assert.equal(v.json().payload.v[0].dn, 1);
    assert.equal(v.json().payload.v[0].sd, 2);
    const job = await t.db.query<{ kind: string; dedupe_key: string }>('SELECT kind, dedupe_key FROM jobs WHERE person_id = $1', [body.person.id]);
    assert.deepEqual(job.rows, [{ kind: 'notify', dedupe_key: `notify:${body.certificate.id}` }]);
  });

  it('replays an Idempotency-Key with 200 and the same body, writing nothing', async () => {
    const b = doseBody();
    const first = await post(b, { 'idempotency-key': 'k-1' });
    assert.equal(first.statusCode, 201);
    const before = await count(rt, 'vaccinations');
    const again = await post(b, { 'idempotency-key': 'k-1' });
    assert.equal(again.statusCode, 200);
    assert.deepEqual(again.json(), first.json());
    assert.equal(await count(rt, 'vaccinations'), before);
    const other = await post(doseBody(), { 'idempotency-key': 'k-1' });
    assert.equal(other.statusCode, 409);
    assert.equal(other.json().error.code, 'idempotency_key_reused');
  });

  it('a second dose with a new phone and an Idempotency-Key keeps the phone on record, opens a phone change, and replays byte for byte', async () => {
    const p = person();
    const first = await post(doseBody(p), { 'idempotency-key': 'phone-1' });
    assert.equal(first.statusCode, 201, first.body);
    const moved = { ...p, phone: '+62 813-1111-2222' };
    const second = await post(doseBody(moved, { doseNumber: 2, date: '2021-07-10' }), { 'idempotency-key': 'phone-2' });
    assert.equal(second.statusCode, 201, second.body);
    // Issue 15: a number on record is never silently replaced (test/security/takeover-by-nik.test.ts).
    assert.equal(second.json().person.phone, first.json().person.phone);
    assert.equal(second.json().phoneChange.status, 'pending');
    const change = await t.db.query<{ id: string; detail: { newPhone: string } }>("SELECT id, detail FROM cases WHERE kind = 'phone_change' AND person_id = $1", [first.json().person.id]);
    assert.deepEqual(change.rows.map((r) => [r.id, r.detail.newPhone]), [[second.json().phoneChange.id, '+6281311112222']]);
    const audit = await t.db.query("SELECT 1 FROM audit_log WHERE action = 'phone_changed' AND person_id = $1", [first.json().person.id]);
    assert.equal(audit.rowCount, 0);
    const again = await post(doseBody(moved, { doseNumber: 2, date: '2021-07-10' }), { 'idempotency-key': 'phone-2' });
    assert.equal(again.statusCode, 200);
    assert.equal(again.body, second.body, 'the replay is the first answer, byte for byte');
  });

  it('answers 409 naming the existing record for a duplicate dose', async () => {
    const p = person();
    const first = await post(doseBody(p));
    assert.equal(first.statusCode, 201);
    const dup = await post(doseBody(p));
    assert.equal(dup.statusCode, 409);
    assert.equal(dup.json().error.code, 'dose_already_recorded');
    assert.equal(dup.json().error.detail.vaccinationId, first.json().vaccination.id);
  });

  it('records a second dose without the first as claims_prior_dose and opens a case', async () => {
    const res = await post(doseBody(person(), { doseNumber: 2, date: '2021-07-10' }));
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().vaccination.status, 'claims_prior_dose');
    assert.deepEqual(res.json().vaccination.missingPriorDoses, [1]);
    const c = await t.db.query<{ kind: string; status: string }>('SELECT kind, status FROM cases WHERE person_id = $1', [res.json().person.id]);
    assert.deepEqual(c.rows, [{ kind: 'claims_prior_dose', status: 'open' }]);
  });

  it('records a complete series: dose 2 of a person is 2/2', async () => {
    const p = person();
    assert.equal((await post(doseBody(p))).statusCode, 201);
    const second = await post(doseBody(p, { doseNumber: 2, date: '2021-07-10' }));
    assert.equal(second.statusCode, 201, second.body);
    assert.equal(second.json().vaccination.status, 'recorded');
    assert.equal(second.json().certificate.dn, 2);
    assert.equal(second.json().certificate.sd, 2);
    assert.equal(second.json().person.id, (await post(doseBody(p))).json().error.detail.personId);
  });

  it('records a dose without a phone and puts the person on the work list', async () => {
    const p: Record<string, unknown> = { ...person() };
    delete p.phone;
    const res = await post(doseBody(p as ReturnType<typeof person>));
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().person.phoneStatus, 'missing');
    const c = await t.db.query<{ kind: string }>('SELECT kind FROM cases WHERE person_id = $1', [res.json().person.id]);
    assert.deepEqual(c.rows, [{ kind: 'invalid_phone' }]);
  });

  it('refuses a facility token recording for another facility', async () => {
    const other = await facilityWithToken(t.db);
    const res = await post(doseBody(person(), { facility: other.code }));
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().error.code, 'facility_out_of_scope');
  });

  it('needs a token', async () => {
    const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', payload: doseBody() });
    assert.equal(res.statusCode, 401);
  });

  it('stops', async () => {
    await rt.app.close();
  });
});
