import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';

describeEachBackend('timeline', (t) => {
  let rt: Runtime;
  let fac: { code: string; token: string };

  it('starts', async () => {
    rt = await testRuntime(t.db);
    fac = await facilityWithToken(t.db, '317101');
  });

  it('shows doses, certificates, voids and cases in order with actors, and each dose in words', async () => {
    const p = person();
    const d1 = (await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p) })).json();
    const d2 = (await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p, { doseNumber: 2, date: '2021-07-10' }) })).json();
    await rt.app.inject({ method: 'POST', url: `/api/v1/vaccinations/${d2.vaccination.id}/void`, headers: bearer(fac.token), payload: { reason: 'wrong person' } });
    const support = await tokenFor(t.db, 'support');
    const res = await rt.app.inject({ method: 'GET', url: `/api/v1/people/${d1.person.id}/timeline`, headers: bearer(support) });
    assert.equal(res.statusCode, 200, res.body);
    const tl = res.json();
    const types = tl.events.map((e: { type: string }) => e.type);
    for (const type of ['dose_recorded', 'certificate_issued', 'certificate_revoked', 'vaccination_voided']) assert.ok(types.includes(type), `${type} in ${types.join()}`);
    const recorded = tl.events.find((e: { type: string }) => e.type === 'dose_recorded');
    assert.equal(recorded.actor, 'facility:test');
    assert.equal(recorded.facility, fac.code);
    const ats = tl.events.map((e: { at: string }) => e.at);
    assert.deepEqual(ats, [...ats].sort());
    assert.equal(tl.person.identifier.value.includes('*'), true, 'NIK masked for support');
    const states = tl.doses.map((d: { doseNumber: number; state: string }) => `${d.doseNumber}:${d.state}`);
    assert.deepEqual(states, ['1:sms_not_sent', '2:void']);
    assert.match(tl.doses[0].text.id, /sertifikatnya sudah terbit/);
  });

  it('is out of scope for other districts and unknown for junk ids', async () => {
    const d = (await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody() })).json();
    const other = await tokenFor(t.db, 'district', { region: '35' });
    const res = await rt.app.inject({ method: 'GET', url: `/api/v1/people/${d.person.id}/timeline`, headers: bearer(other) });
    assert.equal(res.statusCode, 404);
    const junk = await rt.app.inject({ method: 'GET', url: '/api/v1/people/not-a-uuid/timeline', headers: bearer(other) });
    assert.equal(junk.statusCode, 404);
    const facility = await rt.app.inject({ method: 'GET', url: `/api/v1/people/${d.person.id}/timeline`, headers: bearer(fac.token) });
    assert.equal(facility.statusCode, 200, 'the recording facility reads its own person');
    const otherFacility = await facilityWithToken(t.db, '317101');
    const elsewhere = await rt.app.inject({ method: 'GET', url: `/api/v1/people/${d.person.id}/timeline`, headers: bearer(otherFacility.token) });
    assert.equal(elsewhere.statusCode, 404, 'another facility does not learn the person exists');
  });

  it('names the people merged into the person and shows their doses', async () => {
    const later = (await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(person(), { doseNumber: 2, date: '2021-07-10' }) })).json();
    const earlier = (await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(person()) })).json();
    const support = await tokenFor(t.db, 'support');
    const merge = await rt.app.inject({ method: 'POST', url: `/api/v1/people/${later.person.id}/merge`, headers: bearer(support), payload: { from: earlier.person.id } });
    assert.equal(merge.statusCode, 200, merge.body);
    const res = await rt.app.inject({ method: 'GET', url: `/api/v1/people/${later.person.id}/timeline`, headers: bearer(support) });
    assert.equal(res.statusCode, 200, res.body);
    const tl = res.json();
    assert.deepEqual(tl.person.mergedFrom, [earlier.person.id]);
    assert.deepEqual(tl.doses.map((d: { doseNumber: number }) => d.doseNumber), [1, 2]);
    const merged = await rt.app.inject({ method: 'GET', url: `/api/v1/people/${earlier.person.id}/timeline`, headers: bearer(support) });
    assert.equal(merged.json().person.mergedInto, later.person.id);
    assert.deepEqual(merged.json().person.mergedFrom, []);
  });

  it('stops', async () => {
    await rt.app.close();
  });
});
