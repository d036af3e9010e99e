/**
 * The likely matches of a record whose earlier dose is missing, and the
 * work-list counts, within each caller's scope (a facility token is assumed
 * hostile: it gets only what it may already see).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import { maskNik } from '../../src/records/people.ts';

describeEachBackend('likely matches and work-list counts', (t) => {
  let rt: Runtime;
  let facA: { code: string; token: string };
  let facB: { code: string; token: string };
  let district: string;
  let districtOut: string;
  let support: string;
  let first: { person: { id: string } };
  let second: { person: { id: string } };
  const get = (url: string, token: string) => rt.app.inject({ method: 'GET', url, headers: bearer(token) });
  const real = person({ name: 'Nur Aini', sex: 'F', birthDate: '1990-01-15' });
  const typo = person({ name: 'Nur Aini', sex: 'F', birthDate: '1990-01-15' });

  it('starts: dose 1 at facility A under one NIK, dose 2 at facility B under another', async () => {
    rt = await testRuntime(t.db);
    facA = await facilityWithToken(t.db, '317101');
    facB = await facilityWithToken(t.db, '317102');
    await t.db.query("UPDATE facilities SET name = 'Puskesmas Cilincing', phone = '+62214400111' WHERE code = $1", [facA.code]);
    district = await tokenFor(t.db, 'district', { region: '3171' });
    districtOut = await tokenFor(t.db, 'district', { region: '3273' });
    support = await tokenFor(t.db, 'support');
    const a = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facA.token), payload: doseBody(real, { doseNumber: 1, date: '2021-07-01' }) });
    const b = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facB.token), payload: doseBody(typo, { doseNumber: 2, date: '2021-08-01' }) });
    assert.equal(b.statusCode, 201, b.body);
    first = a.json();
    second = b.json();
    assert.equal(b.json().vaccination.status, 'claims_prior_dose');
  });

  it('a district sees the other record, masked, with its dose and where it was given; and whom to ask', async () => {
    const r = await get(`/api/v1/people/${second.person.id}/matches`, district);
    assert.equal(r.statusCode, 200, r.body);
    const { matches, facilities } = r.json();
    assert.equal(matches.length, 1);
    assert.equal(matches[0].id, first.person.id);
    assert.equal(matches[0].identifier.value, maskNik(real.nik));
    assert.ok(!r.body.includes(real.nik) && !r.body.includes(typo.nik), 'no NIK whole for a district');
    assert.deepEqual(matches[0].doseList, [{ doseNumber: 1, date: '2021-07-01', vaccine: 'CORONAVAC', status: 'recorded', facility: { code: facA.code, name: 'Puskesmas Cilincing', phone: '+62214400111' } }]);
    assert.deepEqual(facilities.map((f: { code: string }) => f.code), [facB.code]);
    // Support sees the same match the other way round.
    const back = (await get(`/api/v1/people/${first.person.id}/matches`, support)).json();
    assert.deepEqual(back.matches.map((m: { id: string }) => m.id), [second.person.id]);
  });

  it('a facility gets only records it may already see; another district and a bad id get 404', async () => {
    const b = (await get(`/api/v1/people/${second.person.id}/matches`, facB.token)).json();
    assert.deepEqual(b.matches, [], 'facility B never vaccinated the other record');
    assert.equal((await get(`/api/v1/people/${first.person.id}/matches`, facB.token)).statusCode, 404);
    assert.equal((await get(`/api/v1/people/${second.person.id}/matches`, districtOut)).statusCode, 404);
    assert.equal((await get('/api/v1/people/not-an-id/matches', support)).statusCode, 404);
  });

  it('counts open cases per kind within each scope, every kind named', async () => {
    const all = (await get('/api/v1/cases/counts', support)).json().counts;
    const db = (await t.db.query<{ kind: string; n: number }>("SELECT kind, count(*)::int AS n FROM cases WHERE status = 'open' GROUP BY kind")).rows;
    for (const { kind, n } of db) assert.equal(all[kind], n, kind);
    assert.equal(all.claims_prior_dose, 1);
    assert.equal(all.unreachable, 0, 'a kind with no case is 0');
    assert.equal((await get('/api/v1/cases/counts', facB.token)).json().counts.claims_prior_dose, 1);
    assert.equal((await get('/api/v1/cases/counts', facA.token)).json().counts.claims_prior_dose, 0, "facility B's case is not facility A's");
    assert.equal((await get('/api/v1/cases/counts', districtOut)).json().counts.claims_prior_dose, 0);
    assert.equal((await get('/api/v1/cases/counts', district)).json().counts.claims_prior_dose, 1);
  });
});
