/**
 * Region codes as Kemendagri writes them (issue 17 item 17): `12.71` and
 * `12.71.01` are taken wherever a region code is (facilities, district tokens
 * and accounts, the people, cases and dashboard filters), stored in digits;
 * a code that is neither writing is a 422 naming its field.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { ADMIN_TOKEN, bearer, doseBody, person, testRuntime } from '../helpers/app.ts';
import { makeNik } from '../../src/domain/nik.ts';
import type { Runtime } from '../../src/runtime.ts';

describeEachBackend('region codes, dotted or in digits', (t) => {
  let rt: Runtime;
  const admin = bearer(ADMIN_TOKEN);
  const post = (url: string, payload: object, headers = admin) => rt.app.inject({ method: 'POST', url, headers, payload });
  const get = (url: string, headers = admin) => rt.app.inject({ method: 'GET', url, headers });

  it('a facility, a district token and a district account take 12.71.01 and 12.71; one form is stored', async () => {
    rt = await testRuntime(t.db);
    const f = await post('/api/v1/facilities', { code: 'PKM-MEDAN-BARU', name: 'Puskesmas Medan Baru', regionCode: '12.71.01' });
    assert.equal(f.statusCode, 201, f.body);
    assert.equal(f.json().regionCode, '127101');
    const g = await post('/api/v1/facilities', { code: 'PKM-MEDAN-2', name: 'Puskesmas Medan 2', regionCode: '127102' });
    assert.equal(g.statusCode, 201, g.body);
    const stored = await t.db.query<{ region_code: string }>("SELECT region_code FROM facilities WHERE code = 'PKM-MEDAN-BARU'");
    assert.equal(stored.rows[0]?.region_code, '127101');

    const token = await post('/api/v1/tokens', { role: 'district', region: '12.71', label: 'dinkes medan' });
    assert.equal(token.statusCode, 201, token.body);
    const account = await post('/api/v1/accounts', { username: 'dinkes-medan', displayName: 'Dinkes Medan', role: 'district', region: '12.71', password: 'kata-sandi-kota-77' });
    assert.equal(account.statusCode, 201, account.body);
    assert.equal(account.json().regionCode, '1271');
    const rows = await t.db.query<{ region_code: string }>("SELECT region_code FROM api_tokens WHERE label = 'dinkes medan' UNION ALL SELECT region_code FROM staff_accounts WHERE username = 'dinkes-medan'");
    assert.deepEqual(rows.rows.map((r) => r.region_code), ['1271', '1271']);

    // The district token sees a person of a facility in its region, by either writing of the filter.
    const facilityToken = await post('/api/v1/tokens', { role: 'facility', facility: 'PKM-MEDAN-BARU', label: 'meja' });
    const nik = makeNik({ province: '12', regency: '71', district: '01', birthDate: '1985-02-03', sex: 'F', serial: 7 });
    const dose = await post('/api/v1/vaccinations', doseBody({ ...person({ birthDate: '1985-02-03', sex: 'F' }), nik }), { ...bearer(facilityToken.json().token), 'idempotency-key': 'medan-1' } as never);
    assert.equal(dose.statusCode, 201, dose.body);
    const district = bearer(token.json().token);
    for (const region of ['12.71', '1271', '12.71.01']) {
      const people = await get(`/api/v1/people?nik=${nik}&region=${region}`, district);
      assert.equal(people.statusCode, 200, people.body);
      assert.equal(people.json().people?.length ?? people.json().length, 1, region);
      assert.equal((await get(`/api/v1/cases?region=${region}`, district)).statusCode, 200, region);
      assert.equal((await get(`/api/v1/stats/series?region=${region}`, district)).statusCode, 200, region);
    }
  });

  it('refuses a code that is neither writing, naming the field', async () => {
    const f = await post('/api/v1/facilities', { code: 'PKM-X', name: 'Puskesmas X', regionCode: '12.7' });
    assert.equal(f.statusCode, 422, f.body);
    assert.deepEqual(f.json().error.fields.map((x: { path: string }) => x.path), ['regionCode']);
    assert.match(f.json().error.fields[0].message, /12\.71/);
    const tok = await post('/api/v1/tokens', { role: 'district', region: '12.71.1', label: 'x' });
    assert.equal(tok.statusCode, 422, tok.body);
    assert.deepEqual(tok.json().error.fields.map((x: { path: string }) => x.path), ['region']);
    for (const url of ['/api/v1/cases?region=12.7', '/api/v1/people?name=budi&region=12-71', '/api/v1/stats/series?region=1.2']) {
      const r = await get(url);
      assert.equal(r.statusCode, 422, `${url}: ${r.body}`);
      assert.ok((r.json().error.fields as { path: string }[]).some((x) => x.path === 'region'), url);
    }
    await rt.app.close();
  });
});
