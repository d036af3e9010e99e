/**
 * FHIR R4 (SATUSEHAT profiles): export validates against the R4 structure
 * definitions (Medplum's validator), and a Bundle of Immunizations imports
 * through the same path as POST /api/v1/vaccinations — transaction all or
 * nothing, batch idempotent per Immunization.identifier.
 */
import { immunization, patientResource } from '../helpers/fhir-bundles.ts';
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { ADMIN_TOKEN, bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import { validateFhir } from '../../src/fhir/validate.ts';

const FHIR = { 'content-type': 'application/fhir+json' };

describeEachBackend('FHIR R4', (t) => {
  let rt: Runtime;
  let fac: { code: string; token: string };
  let support: string;
  const admin = bearer(ADMIN_TOKEN);
  const errorsOf = (r: Record<string, unknown>) => validateFhir(r).filter((i) => i.severity === 'error');

  it('starts', async () => {
    rt = await testRuntime(t.db);
    fac = await facilityWithToken(t.db);
    support = await tokenFor(t.db, 'support');
  });

  it('exports Patient and Immunizations in the SATUSEHAT shape; every resource validates as FHIR R4', async () => {
    const p = person();
    const d1 = (await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p) })).json();
    await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p, { doseNumber: 2, date: '2021-07-08', lot: 'B456' }) });
    await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p, { doseNumber: 3, date: '2022-03-01', vaccine: 'COMIRNATY', lot: 'FF1' }) });
    const id = d1.person.id;

    const pat = await rt.app.inject({ method: 'GET', url: `/api/v1/fhir/Patient/${id}`, headers: bearer(support) });
    assert.equal(pat.statusCode, 200, pat.body);
    assert.match(String(pat.headers['content-type']), /^application\/fhir\+json/);
    const patient = pat.json();
    assert.deepEqual(errorsOf(patient), []);
    assert.deepEqual(patient.identifier[0], { use: 'official', system: 'https://fhir.kemkes.go.id/id/nik', value: p.nik });
    assert.equal(patient.birthDate, p.birthDate);

    const res = await rt.app.inject({ method: 'GET', url: `/api/v1/fhir/Immunization?patient=Patient/${id}`, headers: admin });
    assert.equal(res.statusCode, 200, res.body);
    const bundle = res.json();
    assert.deepEqual(errorsOf(bundle), []);
    assert.equal(bundle.type, 'searchset');
    assert.equal(bundle.total, 3);
    const [first, , booster] = bundle.entry.map((e: { resource: Record<string, unknown> }) => e.resource);
    assert.deepEqual(errorsOf(first), []);
    assert.equal(first.status, 'completed');
    // Dosis holds no KFA code, IHS number, SATUSEHAT organization or encounter here: no profile claim (test/interop/satusehat.test.ts).
    assert.equal(first.meta, undefined);
    assert.deepEqual(first.vaccineCode.coding.map((c: { system: string; code: string }) => `${c.system}|${c.code}`), [
      'http://hl7.org/fhir/sid/cvx|511',
      'https://dosis.test/fhir/CodeSystem/vaccine|CORONAVAC',
    ]);
    assert.equal(first.patient.reference, `Patient/${id}`);
    assert.equal(first.occurrenceDateTime, '2021-06-10T05:00:00+00:00', '12:00 WIB of the date: the time of day is not recorded');
    assert.match(first.recorded, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/, 'recorded in UTC');
    assert.equal(first.lotNumber, 'A123');
    assert.equal(first.performer[0].actor.identifier.value, fac.code);
    assert.deepEqual([first.protocolApplied[0].doseNumberPositiveInt, first.protocolApplied[0].seriesDosesPositiveInt, first.protocolApplied[0].series], [1, 2, 'primary']);
    assert.deepEqual([booster.protocolApplied[0].doseNumberPositiveInt, booster.protocolApplied[0].seriesDosesPositiveInt, booster.protocolApplied[0].series], [3, 3, 'booster 1']);
    assert.equal(booster.vaccineCode.coding[0].code, '208');

    // A voided dose is exported as entered-in-error, still valid FHIR.
    const d2id = bundle.entry[1].resource.id;
    assert.equal((await rt.app.inject({ method: 'POST', url: `/api/v1/vaccinations/${d2id}/void`, headers: admin, payload: { reason: 'wrong person' } })).statusCode, 200);
    const after = (await rt.app.inject({ method: 'GET', url: `/api/v1/fhir/Immunization?patient=${id}`, headers: admin })).json();
    assert.equal(after.entry[1].resource.status, 'entered-in-error');
    assert.deepEqual(errorsOf(after), []);
  });

  it('the validator does fail: a broken Immunization has errors', () => {
    const broken = { resourceType: 'Immunization', status: 'completed', patient: { reference: 'Patient/x' }, occurrenceDateTime: '10-06-2021', lotNumber: 7 };
    const paths = errorsOf(broken).map((e) => e.path).join(' ');
    assert.match(paths, /vaccineCode/);
    assert.match(paths, /occurrence/);
    assert.match(paths, /lotNumber/);
  });

  it('imports a transaction Bundle through the dose path: certificates, source fhir, round trip', async () => {
    const p = person();
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:7a0c2b52-0f5c-4d55-9f23-1f1f1f1f1f1f', resource: patientResource(p), request: { method: 'POST', url: 'Patient' } },
        { resource: immunization('urn:uuid:7a0c2b52-0f5c-4d55-9f23-1f1f1f1f1f1f', { dose: 1, date: '2021-06-10', lot: 'T1' }), request: { method: 'POST', url: 'Immunization' } },
        { resource: immunization('urn:uuid:7a0c2b52-0f5c-4d55-9f23-1f1f1f1f1f1f', { dose: 2, date: '2021-07-08T09:30:00+07:00', lot: 'T2' }), request: { method: 'POST', url: 'Immunization' } },
      ],
    };
    const res = await rt.app.inject({ method: 'POST', url: '/api/v1/fhir/Bundle', headers: { ...bearer(fac.token), ...FHIR }, payload: JSON.stringify(bundle) });
    assert.equal(res.statusCode, 200, res.body);
    const out = res.json();
    assert.equal(out.type, 'transaction-response');
    assert.deepEqual(errorsOf(out), []);
    assert.deepEqual(out.entry.map((e: { response: { status: string } }) => e.response.status), ['200 OK', '201 Created', '201 Created']);
    const personId = out.entry[0].response.location.replace('Patient/', '');
    const rows = await t.db.query<{ source: string; date: string; lot: string; certs: number }>(
      `SELECT v.source, v.date, v.lot, (SELECT count(*)::int8 FROM certificates c WHERE c.person_id = v.person_id AND c.vaccination_id = v.id AND c.status = 'valid') AS certs
         FROM vaccinations v WHERE v.person_id = $1 ORDER BY v.dose_number`,
      [personId],
    );
    assert.deepEqual(rows.rows, [
      { source: 'fhir', date: '2021-06-10', lot: 'T1', certs: 1 },
      { source: 'fhir', date: '2021-07-08', lot: 'T2', certs: 1 },
    ]);
    const back = (await rt.app.inject({ method: 'GET', url: `/api/v1/fhir/Immunization?patient=${personId}`, headers: admin })).json();
    assert.deepEqual(back.entry.map((e: { resource: { lotNumber: string } }) => e.resource.lotNumber), ['T1', 'T2']);
  });

  it('a transaction is all or nothing: one bad entry → 422 naming it; one duplicate → 409; nothing written', async () => {
    const count = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM vaccinations')).rows[0]?.n;
    const before = await count();
    const good = person();
    const bad = { ...person(), nik: '3171000000000000' };
    const invalid = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:a', resource: patientResource(good) },
        { fullUrl: 'urn:uuid:b', resource: patientResource(bad) },
        { resource: immunization('urn:uuid:a', { dose: 1, date: '2021-06-10', lot: 'G1' }) },
        { resource: immunization('urn:uuid:b', { dose: 1, date: '2021-06-10', lot: 'G2' }) },
        { resource: { ...immunization('urn:uuid:a', { dose: 2, date: '2021-07-08', lot: 'G3' }), status: 'not-done' } },
      ],
    };
    const r1 = await rt.app.inject({ method: 'POST', url: '/api/v1/fhir/Bundle', headers: { ...bearer(fac.token), ...FHIR }, payload: JSON.stringify(invalid) });
    assert.equal(r1.statusCode, 422, r1.body);
    const paths = r1.json().error.fields.map((f: { path: string }) => f.path);
    assert.ok(paths.includes('entry[3].person.nik'), paths.join(','));
    assert.ok(paths.includes('entry[4].resource.status'), paths.join(','));
    assert.ok(!paths.some((x: string) => x.startsWith('entry[2]')));
    assert.equal(await count(), before);

    const existing = person();
    await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(existing) });
    const dup = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:c', resource: patientResource(existing) },
        { fullUrl: 'urn:uuid:d', resource: patientResource(good) },
        { resource: immunization('urn:uuid:d', { dose: 1, date: '2021-06-10', lot: 'G1' }) },
        { resource: immunization('urn:uuid:c', { dose: 1, date: '2021-06-10', lot: 'A123' }) },
      ],
    };
    const mid = await count();
    const r2 = await rt.app.inject({ method: 'POST', url: '/api/v1/fhir/Bundle', headers: { ...bearer(fac.token), ...FHIR }, payload: JSON.stringify(dup) });
    assert.equal(r2.statusCode, 409, r2.body);
    assert.deepEqual(r2.json().error.fields.map((f: { path: string; code: string }) => `${f.path} ${f.code}`), ['entry[3] dose_already_recorded']);
    assert.equal(await count(), mid, 'the good entry was rolled back with the duplicate');
  });

  it('a batch records each entry on its own and is idempotent by identifier', async () => {
    const p = person();
    const batch = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { fullUrl: 'urn:uuid:e', resource: patientResource(p) },
        { resource: immunization('urn:uuid:e', { dose: 1, date: '2021-06-10', lot: 'K1', id: `k1-${p.nik}` }) },
        { resource: immunization('urn:uuid:e', { dose: 2, date: '2999-01-01', lot: 'K2', id: `k2-${p.nik}` }) },
      ],
    };
    const send = () => rt.app.inject({ method: 'POST', url: '/api/v1/fhir/Bundle', headers: { ...bearer(fac.token), ...FHIR }, payload: JSON.stringify(batch) });
    const first = (await send()).json();
    assert.equal(first.type, 'batch-response');
    assert.deepEqual(first.entry.slice(1).map((e: { response: { status: string } }) => e.response.status), ['201 Created', '422 Unprocessable Entity']);
    assert.equal(first.entry[2].response.outcome.resourceType, 'OperationOutcome');
    const again = (await send()).json();
    assert.equal(again.entry[1].response.status, '200 OK', 'replayed, not recorded twice');
    assert.equal(again.entry[1].response.location, first.entry[1].response.location);
    const n = await t.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM vaccinations v JOIN people x ON x.id = v.person_id WHERE x.id_value = $1', [p.nik]);
    assert.equal(n.rows[0]?.n, 1);
  });

  it('roles: support cannot import, a facility cannot export; not JSON is a 400', async () => {
    const b = { resourceType: 'Bundle', type: 'batch', entry: [] };
    assert.equal((await rt.app.inject({ method: 'POST', url: '/api/v1/fhir/Bundle', headers: { ...bearer(support), ...FHIR }, payload: JSON.stringify(b) })).statusCode, 403);
    assert.equal((await rt.app.inject({ method: 'GET', url: '/api/v1/fhir/Patient/00000000-0000-4000-8000-000000000000', headers: bearer(fac.token) })).statusCode, 403);
    assert.equal((await rt.app.inject({ method: 'GET', url: '/api/v1/fhir/Patient/00000000-0000-4000-8000-000000000000', headers: admin })).statusCode, 404);
    const notJson = await rt.app.inject({ method: 'POST', url: '/api/v1/fhir/Bundle', headers: { ...bearer(fac.token), ...FHIR }, payload: '{"resourceType":' });
    assert.equal(notJson.statusCode, 400);
    assert.equal((await rt.app.inject({ method: 'POST', url: '/api/v1/fhir/Bundle', headers: { ...bearer(fac.token), ...FHIR }, payload: JSON.stringify(b) })).statusCode, 422);
  });
});
