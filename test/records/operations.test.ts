import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import { hc1OfStored } from '../../src/certificates/hc1.ts';

describeEachBackend('operations: merge, void, claims, phone', (t) => {
  let rt: Runtime;
  let fac: { code: string; token: string };
  let support: string;
  const inject = (method: 'GET' | 'POST', url: string, token: string, payload?: object) =>
    rt.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
  const verify = async (qr: string) => (await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr } })).json();

  it('starts', async () => {
    rt = await testRuntime(t.db);
    fac = await facilityWithToken(t.db);
    support = await tokenFor(t.db, 'support');
  });

  it('merges dose 1 and dose 2 recorded under different NIKs into one person', async () => {
    const real = person({ name: 'Mohammad Rizky', sex: 'M', birthDate: '1985-03-02' });
    const typo = { ...real, nik: real.nik.slice(0, 12) + String((Number(real.nik.slice(12)) % 9998) + 1).padStart(4, '0') };
    const d1 = (await inject('POST', '/api/v1/vaccinations', fac.token, doseBody(typo))).json();
    const d2res = await inject('POST', '/api/v1/vaccinations', fac.token, doseBody(real, { doseNumber: 2, date: '2021-07-10' }));
    assert.equal(d2res.statusCode, 201, d2res.body);
    const d2 = d2res.json();
    assert.equal(d2.vaccination.status, 'claims_prior_dose');
    assert.notEqual(d1.person.id, d2.person.id);
    const jobsBefore = (await t.db.query("SELECT count(*)::int8 AS n FROM jobs WHERE kind = 'notify'")).rows[0]!.n as number;

    const claim = (await inject('GET', `/api/v1/cases?kind=claims_prior_dose`, support)).json().cases.find((c: { personId: string }) => c.personId === d2.person.id);
    assert.ok(claim, 'claims_prior_dose case on the work list');
    const res = await inject('POST', `/api/v1/cases/${claim.id}/link`, support, { personId: d1.person.id });
    assert.equal(res.statusCode, 200, res.body);
    const merge = res.json().merge;
    assert.equal(merge.personId, d2.person.id);
    assert.deepEqual(merge.doses.map((d: { doseNumber: number }) => d.doseNumber), [1, 2]);
    assert.equal(merge.certificates.length, 2);

    const certs = await t.db.query<{ id: string; status: string; dn: number; qr: string | null; hc1: Uint8Array | null }>(
      'SELECT id, status, dn, qr, hc1 FROM certificates WHERE person_id = $1 ORDER BY issued_at, dn',
      [d2.person.id],
    );
    const valid = certs.rows.filter((c) => c.status === 'valid');
    assert.deepEqual(valid.map((c) => c.dn).sort(), [1, 2]);
    for (const c of valid) assert.equal((await verify(hc1OfStored(c))).valid, true);
    assert.equal(certs.rows.filter((c) => c.status === 'superseded').length, 2);
    // The old certificates verify as revoked.
    const oldD1 = await verify(d1.certificate.qr);
    assert.equal(oldD1.valid, false);
    assert.equal(oldD1.reason, 'revoked');
    // One new SMS job.
    const jobsAfter = (await t.db.query("SELECT count(*)::int8 AS n FROM jobs WHERE kind = 'notify'")).rows[0]!.n as number;
    assert.equal(jobsAfter - jobsBefore, 1);
    // The old NIK now finds the survivor; the case is resolved.
    const again = await inject('POST', '/api/v1/vaccinations', fac.token, doseBody(typo, { doseNumber: 3, date: '2022-03-01', vaccine: 'COMIRNATY' }));
    assert.equal(again.json().person.id, d2.person.id);
    const open = (await inject('GET', `/api/v1/cases?kind=claims_prior_dose`, support)).json().cases.filter((c: { personId: string }) => c.personId === d2.person.id);
    assert.deepEqual(open, []);
  });

  it('voids a dose: its certificate verifies as revoked, and only the recording facility or support may', async () => {
    const d = (await inject('POST', '/api/v1/vaccinations', fac.token, doseBody())).json();
    const other = await facilityWithToken(t.db);
    const denied = await inject('POST', `/api/v1/vaccinations/${d.vaccination.id}/void`, other.token, { reason: 'wrong person' });
    assert.equal(denied.statusCode, 404);
    const res = await inject('POST', `/api/v1/vaccinations/${d.vaccination.id}/void`, fac.token, { reason: 'entered twice by mistake' });
    assert.equal(res.statusCode, 200, res.body);
    const v = await verify(d.certificate.qr);
    assert.equal(v.valid, false);
    assert.equal(v.reason, 'revoked');
    const twice = await inject('POST', `/api/v1/vaccinations/${d.vaccination.id}/void`, fac.token, { reason: 'again' });
    assert.equal(twice.statusCode, 409);
  });

  it('confirms a claimed prior dose with evidence', async () => {
    const d = (await inject('POST', '/api/v1/vaccinations', fac.token, doseBody(person(), { doseNumber: 2, date: '2021-08-01' }))).json();
    const c = (await inject('GET', `/api/v1/cases?kind=claims_prior_dose`, fac.token)).json().cases.find((x: { personId: string }) => x.personId === d.person.id);
    const res = await inject('POST', `/api/v1/cases/${c.id}/confirm`, fac.token, { evidence: 'vaccination card seen, dose 1 abroad' });
    assert.equal(res.statusCode, 200, res.body);
    const v = await t.db.query<{ status: string }>('SELECT status FROM vaccinations WHERE id = $1', [d.vaccination.id]);
    assert.equal(v.rows[0]!.status, 'recorded');
  });

  it('corrects a phone: cases resolved, the certificate SMS queued again, audited', async () => {
    const p: Record<string, unknown> = { ...person() };
    delete p.phone;
    const d = (await inject('POST', '/api/v1/vaccinations', fac.token, doseBody(p as ReturnType<typeof person>))).json();
    const res = await inject('POST', `/api/v1/people/${d.person.id}/phone`, support, { phone: '+62 813 1111 2222' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().phone, '+6281311112222');
    assert.deepEqual(res.json().resent, [d.certificate.id]);
    const cases = await t.db.query<{ status: string }>("SELECT status FROM cases WHERE person_id = $1 AND kind = 'invalid_phone'", [d.person.id]);
    assert.deepEqual(cases.rows, [{ status: 'resolved' }]);
    const a = await t.db.query("SELECT 1 FROM audit_log WHERE action = 'phone_corrected' AND person_id = $1", [d.person.id]);
    assert.equal(a.rowCount, 1);
  });

  it('finds a possible duplicate when the second record is entered, and the scan does not open it twice', async () => {
    const a = person({ name: 'Siti Nurhaliza', sex: 'F', birthDate: '1990-04-04' });
    const b = person({ name: 'Siti Nur Haliza', sex: 'F', birthDate: '1990-04-04' });
    const c = person({ name: 'Siti Rahma', sex: 'F', birthDate: '1990-04-04' });
    const da = (await inject('POST', '/api/v1/vaccinations', fac.token, doseBody(a))).json();
    const db = (await inject('POST', '/api/v1/vaccinations', fac.token, doseBody(b))).json();
    await inject('POST', '/api/v1/vaccinations', fac.token, doseBody(c));
    const opened = await t.db.query<{ person_id: string; subject_id: string; facility_code: string; detail: { found: string } }>(
      "SELECT person_id, subject_id, facility_code, detail FROM cases WHERE kind = 'possible_duplicate' AND status = 'open' AND (person_id = $1 OR subject_id = $1)",
      [da.person.id],
    );
    assert.deepEqual(opened.rows.map((r) => [r.person_id, r.subject_id, r.facility_code, r.detail.found]), [[db.person.id, da.person.id, fac.code, 'entry']], 'one case, on the newer record, for the facility that entered it; a different name opens none');
    const mine = (await inject('GET', '/api/v1/cases?kind=possible_duplicate', fac.token)).json().cases;
    assert.ok(mine.some((x: { personId: string }) => x.personId === db.person.id), 'on the facility work list');
    const admin = await tokenFor(t.db, 'admin');
    const scan = await inject('POST', '/api/v1/cases/scan-duplicates', admin);
    assert.equal(scan.statusCode, 200, scan.body);
    const pair = await t.db.query("SELECT 1 FROM cases WHERE kind = 'possible_duplicate' AND (person_id = $1 OR subject_id = $1)", [da.person.id]);
    assert.equal(pair.rowCount, 1, 'the scan does not open the pair again');
    const list = (await inject('GET', '/api/v1/cases?kind=possible_duplicate', support)).json().cases;
    assert.ok(list.some((x: { personName: string }) => x.personName === 'Siti Nur Haliza'));
  });

  it('stops', async () => {
    await rt.app.close();
  });
});
