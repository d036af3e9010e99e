/**
 * Bad input gets a clear 4xx naming each problem, and changes nothing.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';

const TABLES = ['people', 'person_keys', 'vaccinations', 'certificates', 'certificate_uvcis', 'link_tokens', 'jobs', 'cases', 'idempotency_keys'];

describeEachBackend('invalid input', (t) => {
  let rt: Runtime;
  let fac: { code: string; token: string };

  async function counts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const table of TABLES) out[table] = (await t.db.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM ${table}`)).rows[0]!.n;
    return out;
  }

  /** Posts, expects `status`, and checks that nothing at all was written. */
  async function rejected(payload: string | object, status: number, headers: Record<string, string> = {}) {
    const before = await counts();
    const res = await rt.app.inject({
      method: 'POST',
      url: '/api/v1/vaccinations',
      headers: { ...bearer(fac.token), 'content-type': 'application/json', 'idempotency-key': `bad-${Math.random()}`, ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
    assert.equal(res.statusCode, status, res.body);
    assert.deepEqual(await counts(), before, 'a rejected request wrote something');
    return res.json().error as { code: string; message: string; fields?: { path: string; code: string; message: string }[] };
  }

  const codes = (e: { fields?: { path: string; code: string }[] }) => (e.fields ?? []).map((f) => `${f.path}:${f.code}`);

  it('starts', async () => {
    rt = await testRuntime(t.db);
    fac = await facilityWithToken(t.db);
  });

  it('a NIK of the wrong shape', async () => {
    const e = await rejected(doseBody(person({ nik: '31710417058000' })), 422);
    assert.ok(codes(e).includes('person.nik:nik_format'), codes(e).join());
  });

  it('a NIK whose birth date or sex disagrees', async () => {
    const p = person({ sex: 'M', birthDate: '1980-05-17' });
    const e1 = await rejected(doseBody({ ...p, birthDate: '1981-05-17' }), 422);
    assert.ok(codes(e1).includes('person.nik:nik_birth_date_mismatch'), codes(e1).join());
    const e2 = await rejected(doseBody({ ...p, sex: 'F' }), 422);
    assert.ok(codes(e2).includes('person.nik:nik_sex_mismatch'), codes(e2).join());
  });

  it('malformed and future dates, unknown vaccine, dose 0 and 9, landline — all named at once', async () => {
    const e = await rejected(
      doseBody(person({ phone: '021-5551234' }), { date: '10/06/2021', vaccine: 'SPUTNIK-Z', doseNumber: 0 }),
      422,
    );
    const c = codes(e);
    for (const path of ['date', 'vaccine', 'doseNumber', 'person.phone']) assert.ok(c.some((x) => x.startsWith(path + ':')), `${path} not named in ${c.join()}`);
    assert.ok(c.includes('person.phone:phone_landline'), c.join());
    const future = await rejected(doseBody(person(), { date: '2099-01-01', doseNumber: 9 }), 422);
    assert.ok(codes(future).some((x) => x.startsWith('date:')), codes(future).join());
    assert.ok(codes(future).some((x) => x.startsWith('doseNumber:')), codes(future).join());
  });

  it('messages in Indonesian on request', async () => {
    const e = await rejected(doseBody(person(), { vaccine: 'SPUTNIK-Z' }), 422, { 'accept-language': 'id-ID,id;q=0.9' });
    assert.match(e.message, /tidak valid/);
  });

  it('a 10 MB body is 413', async () => {
    const big = JSON.stringify({ ...doseBody(), lot: 'x'.repeat(10 * 1024 * 1024) });
    const e = await rejected(big, 413);
    assert.equal(e.code, 'body_too_large');
  });

  it('a wrong content type is 415', async () => {
    const e = await rejected('nik=3171', 415, { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(e.code, 'unsupported_content_type');
  });

  it('broken JSON is 400', async () => {
    const e = await rejected('{"person": {"nik": ', 400);
    assert.equal(e.code, 'malformed_json');
  });

  it('unknown fields are named', async () => {
    const e = await rejected({ ...doseBody(), dosis: 1 }, 422);
    assert.ok(codes(e).some((c) => c.startsWith('dosis:')), codes(e).join());
  });

  it('an empty object names every required field', async () => {
    const e = await rejected({}, 422);
    for (const path of ['person', 'vaccine', 'doseNumber', 'date']) assert.ok(codes(e).some((c) => c.startsWith(path)), `${path} missing in ${codes(e).join()}`);
  });

  it('never a 500 for junk', async () => {
    for (const junk of ['null', '[]', '"x"', '42', '{"person": null}', '{"person": {"nik": 3171041705800001}}', '{"doseNumber": "1e400"}']) {
      const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: { ...bearer(fac.token), 'content-type': 'application/json' }, payload: junk });
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${junk} → ${res.statusCode} ${res.body}`);
    }
  });

  it('stops', async () => {
    await rt.app.close();
  });
});
