import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';

describeEachBackend('search people', (t) => {
  let rt: Runtime;
  let a: { code: string; token: string };
  let b: { code: string; token: string };
  let rizky: ReturnType<typeof person>;
  const get = (url: string, token: string) => rt.app.inject({ method: 'GET', url, headers: bearer(token) });

  it('starts and records people at two facilities', async () => {
    rt = await testRuntime(t.db);
    a = await facilityWithToken(t.db, '317101');
    b = await facilityWithToken(t.db, '327301');
    rizky = person({ name: 'Mohammad Rizky', phone: '0812-7777-1234' });
    const names = ['Mohammad Rizky', 'Siti Nurhaliza', 'Dewi Lestari', 'Ahmad Fauzi', 'Rizka Amalia'];
    for (const [i, name] of names.entries()) {
      const p = i === 0 ? rizky : person({ name });
      const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(i % 2 ? b.token : a.token), payload: doseBody(p) });
      assert.equal(res.statusCode, 201, res.body);
    }
  });

  it('finds Mohammad Rizky when searching "muhamad rizki", ranked first', async () => {
    const support = await tokenFor(t.db, 'support');
    const res = await get('/api/v1/people?name=muhamad%20rizki', support);
    assert.equal(res.statusCode, 200, res.body);
    const people = res.json().people;
    assert.equal(people[0]?.name, 'Mohammad Rizky');
    assert.ok(!people.some((p: { name: string }) => p.name === 'Dewi Lestari'));
  });

  it('finds by phone in any writing and by NIK', async () => {
    const admin = await tokenFor(t.db, 'admin');
    for (const phone of ['+62 812-7777-1234', '6281277771234', '0812.7777.1234']) {
      const res = await get(`/api/v1/people?phone=${encodeURIComponent(phone)}`, admin);
      assert.deepEqual(res.json().people.map((p: { name: string }) => p.name), ['Mohammad Rizky'], phone);
    }
    const byNik = await get(`/api/v1/people?nik=${rizky.nik}`, admin);
    assert.equal(byNik.json().people[0].identifier.value, rizky.nik);
  });

  it('masks NIK and phone for support unless revealed (audited), and for districts', async () => {
    const support = await tokenFor(t.db, 'support');
    const masked = (await get(`/api/v1/people?nik=${rizky.nik}`, support)).json().people[0];
    assert.equal(masked.masked, true);
    assert.notEqual(masked.identifier.value, rizky.nik);
    assert.equal(masked.phone, '+62 812-****-1234');
    const revealed = (await get(`/api/v1/people?nik=${rizky.nik}&reveal=true`, support)).json().people[0];
    assert.equal(revealed.identifier.value, rizky.nik);
    const audited = await t.db.query("SELECT 1 FROM audit_log WHERE action = 'identifiers_revealed'");
    assert.equal(audited.rowCount, 1);
  });

  it('keeps facilities and districts within their scope', async () => {
    const fromB = await get('/api/v1/people?name=mohammad%20rizky', b.token);
    assert.deepEqual(fromB.json().people, []);
    const fromA = await get('/api/v1/people?name=mohammad%20rizky', a.token);
    assert.equal(fromA.json().people.length, 1);
    const otherDistrict = await tokenFor(t.db, 'district', { region: '3273' });
    assert.deepEqual((await get('/api/v1/people?name=mohammad%20rizky', otherDistrict)).json().people, []);
    const ownDistrict = await tokenFor(t.db, 'district', { region: '3171' });
    assert.equal((await get('/api/v1/people?name=mohammad%20rizky', ownDistrict)).json().people.length, 1);
  });

  it('asks for a term and names bad ones', async () => {
    const admin = await tokenFor(t.db, 'admin');
    const none = await get('/api/v1/people', admin);
    assert.equal(none.statusCode, 422);
    const bad = await get('/api/v1/people?nik=123&phone=021-555', admin);
    assert.equal(bad.statusCode, 422);
    assert.deepEqual(bad.json().error.fields.map((f: { path: string }) => f.path).sort(), ['nik', 'phone']);
  });

  it('stops', async () => {
    await rt.app.close();
  });
});
