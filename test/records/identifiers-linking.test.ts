/**
 * Issue 9, items 1 and 2 ("Must show"): people without their own NIK —
 * recorded by passport, and a child by the mother's NIK — through the API
 * and the bulk import, with EU DCC certificates that verify and carry no
 * identifier; later the person gets their own NIK, a dose is recorded under
 * it, and staff link the records with the existing merge: the doses keep
 * their history (ids, dates, facility, lot, source) and numbering, every
 * certificate is re-issued, the old ones are revoked (verify and the signed
 * revocation list), and the new ones verify without a NIK inside.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, facilityWithToken, testRuntime, tokenFor } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import { makeNik } from '../../src/domain/nik.ts';
import { hc1OfStored } from '../../src/certificates/hc1.ts';
import { importRunnerOf } from '../../src/http/routes/imports.ts';
import { listRevokesUvci, verifyRevocationList, type RevocationListBody } from '../../src/certificates/revocation-list.ts';

const MOTHER_NIK = makeNik({ province: '31', regency: '71', district: '01', birthDate: '1984-09-14', sex: 'F', serial: 27 });

describeEachBackend('people without a NIK, and linking them when they get one', (t) => {
  let rt: Runtime;
  let fac: { code: string; token: string };
  let support: string;

  const vaccinate = async (body: object) => {
    const r = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: body });
    assert.equal(r.statusCode, 201, r.body);
    return r.json();
  };
  const verify = async (qr: string) => (await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr } })).json();
  /** A valid EU DCC whose payload holds none of `secrets` (identifiers). */
  const assertCleanDcc = async (qr: string, secrets: string[]) => {
    const v = await verify(qr);
    assert.equal(v.valid, true, JSON.stringify(v));
    assert.equal(v.format, 'eu-dcc');
    const payload = JSON.stringify(v.payload);
    for (const s of secrets) assert.ok(!payload.includes(s), `the DCC carries no ${s}: ${payload}`);
    return v;
  };
  const revocationList = async (): Promise<RevocationListBody> => {
    const res = await rt.app.inject({ method: 'GET', url: '/api/v1/revocation-list' });
    const jwks = (await rt.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    const keys = new Map<string, KeyObject>(jwks.keys.map((k: { kid: string; x: string; y: string }) => [k.kid, createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: k.x, y: k.y }, format: 'jwk' })]));
    const v = verifyRevocationList(res.json().jws, keys);
    if (!v.ok) throw new Error(`the revocation list does not verify: ${v.reason}`);
    return v.body;
  };
  const certificatesOf = async (personId: string) =>
    (await t.db.query<{ id: string; uvci: string; qr: string | null; hc1: Uint8Array | null; status: string; dn: number }>('SELECT id, uvci, qr, hc1, status, dn FROM certificates WHERE person_id = $1 ORDER BY dn, issued_at', [personId])).rows.map((c) => ({ ...c, qr: hc1OfStored(c) }));
  const personByIdValue = async (value: string) => (await t.db.query<{ id: string; id_type: string }>('SELECT id, id_type FROM people WHERE id_value = $1 AND merged_into IS NULL', [value])).rows;

  it('starts', async () => {
    rt = await testRuntime(t.db);
    fac = await facilityWithToken(t.db);
    support = await tokenFor(t.db, 'support');
  });

  const passportAdult = { identifier: { type: 'passport', value: 'PA7731946', country: 'AU' }, name: 'Liam Carter', birthDate: '1990-02-03', sex: 'M', phone: '0812-4444-1001' };
  const motherNikChild = { identifier: { type: 'mother-nik', value: MOTHER_NIK }, name: 'Putri Ayu', birthDate: '2012-06-01', sex: 'F', phone: '0812-4444-1002' };
  let apiPassport: { person: { id: string; identifier: { type: string } }; certificate: { qr: string; uvci: string }; vaccination: { id: string } };
  let apiChild: typeof apiPassport;

  it('records by passport and by the mother’s NIK through the API; the EU DCC verifies and carries no identifier', async () => {
    apiPassport = await vaccinate({ person: passportAdult, vaccine: 'COMIRNATY', doseNumber: 1, date: '2021-09-01', lot: 'FE1234' });
    assert.deepEqual(apiPassport.person.identifier, { type: 'passport', value: 'PA7731946', country: 'AU' });
    await assertCleanDcc(apiPassport.certificate.qr, ['PA7731946']);

    apiChild = await vaccinate({ person: motherNikChild, vaccine: 'CORONAVAC', doseNumber: 1, date: '2022-01-10', lot: 'CV0110' });
    assert.equal(apiChild.person.identifier.type, 'mother-nik');
    const v = await assertCleanDcc(apiChild.certificate.qr, [MOTHER_NIK]);
    assert.equal(v.payload.dob, '2012-06-01', "the child's own birth date, not the mother's");
  });

  let importedPassport = '';
  let importedChild = '';
  const importedChildNikLater = makeNik({ province: '31', regency: '71', district: '01', birthDate: '2013-03-15', sex: 'M', serial: 41 });

  it('records by passport and by the mother’s NIK through the import; the EU DCCs verify', async () => {
    const csv = [
      'Paspor,Negara Paspor,NIK Ibu,Nama,Tanggal Lahir,Jenis Kelamin,No HP,Vaksin,Dosis,Tanggal Vaksinasi,Batch',
      'E01234567,NLD,,Sanne de Vries,1987-11-20,P,0812-4444-1003,COMIRNATY,1,2021-10-05,FK5555',
      `,,${MOTHER_NIK},Bima Ayu,2013-03-15,L,0812-4444-1004,CORONAVAC,1,2022-01-12,CV0112`,
    ].join('\n');
    const up = await rt.app.inject({ method: 'POST', url: '/api/v1/imports?fileName=tanpa-nik.csv', headers: { ...bearer(fac.token), 'content-type': 'text/csv' }, payload: csv });
    assert.equal(up.statusCode, 202, up.body);
    await importRunnerOf(rt.app).settled(up.json().id);
    const s = (await rt.app.inject({ method: 'GET', url: `/api/v1/imports/${up.json().id}`, headers: bearer(fac.token) })).json();
    assert.equal(s.status, 'done', JSON.stringify(s));
    assert.equal(s.accepted, 2, JSON.stringify(s));

    const [passport] = await personByIdValue('E01234567');
    assert.ok(passport);
    assert.equal(passport.id_type, 'passport');
    importedPassport = passport.id;
    const children = (await t.db.query<{ id: string; id_type: string }>("SELECT id, id_type FROM people WHERE id_value = $1 AND name = 'Bima Ayu'", [MOTHER_NIK])).rows;
    assert.deepEqual(children.map((c) => c.id_type), ['mother-nik']);
    importedChild = children[0]!.id;
    assert.notEqual(importedChild, apiChild.person.id, 'two children of one mother are two people');
    for (const [id, secret] of [[importedPassport, 'E01234567'], [importedChild, MOTHER_NIK]] as const) {
      const [c] = await certificatesOf(id);
      await assertCleanDcc(c!.qr, [secret]);
    }
  });

  /** The person gets a NIK; a dose under it; support merges the old record into the NIK one. */
  const linkLater = async (oldId: string, later: { nik: string; name: string; birthDate: string; sex: string; phone: string }, dose2: object, secrets: string[]) => {
    const oldDoses = (await t.db.query<{ id: string; dose_number: number; date: string; lot: string | null; facility_code: string; source: string; recorded_at: Date }>(
      'SELECT id, dose_number, date, lot, facility_code, source, recorded_at FROM vaccinations WHERE person_id = $1 ORDER BY dose_number',
      [oldId],
    )).rows;
    const oldCerts = await certificatesOf(oldId);
    const withNik = await vaccinate({ person: later, ...dose2 });
    assert.notEqual(withNik.person.id, oldId, 'a new NIK is a new record until staff link them');
    assert.equal(withNik.vaccination.status, 'claims_prior_dose');

    const merge = await rt.app.inject({ method: 'POST', url: `/api/v1/people/${withNik.person.id}/merge`, headers: bearer(support), payload: { from: oldId } });
    assert.equal(merge.statusCode, 200, merge.body);
    const m = merge.json();
    assert.deepEqual(m.doses.map((d: { doseNumber: number }) => d.doseNumber), [1, 2]);
    assert.equal(m.doses[0].id, oldDoses[0]!.id, 'dose 1 is the same vaccination, still dose 1');
    assert.equal(m.doses[1].id, withNik.vaccination.id);

    // History kept: the same rows, dates, lot, facility, source and recording time, now under the NIK.
    const now = (await t.db.query<{ id: string; dose_number: number; date: string; lot: string | null; facility_code: string; source: string; recorded_at: Date; status: string }>(
      'SELECT id, dose_number, date, lot, facility_code, source, recorded_at, status FROM vaccinations WHERE person_id = $1 ORDER BY dose_number',
      [withNik.person.id],
    )).rows;
    assert.deepEqual(
      now.map((d) => [d.id, d.dose_number, d.status]),
      [
        [oldDoses[0]!.id, 1, 'recorded'],
        [withNik.vaccination.id, 2, 'recorded'],
      ],
    );
    const { status: _s, ...kept } = now[0]!;
    assert.deepEqual(kept, oldDoses[0]);

    // Certificates re-issued: the old ones superseded, revoked for verifiers and on the signed list.
    const list = await revocationList();
    for (const c of [...oldCerts, { qr: withNik.certificate.qr, uvci: withNik.certificate.uvci }]) {
      const v = await verify(c.qr);
      assert.deepEqual([v.valid, v.reason], [false, 'revoked'], c.uvci);
      assert.equal(listRevokesUvci(list, c.uvci), true, `${c.uvci} on the revocation list`);
    }
    const fresh = (await certificatesOf(withNik.person.id)).filter((c) => c.status === 'valid');
    assert.deepEqual(fresh.map((c) => c.dn), [1, 2]);
    assert.deepEqual(fresh.map((c) => c.id).sort(), [...m.certificates].sort());
    for (const c of fresh) await assertCleanDcc(c.qr, [later.nik, ...secrets]);

    // The old identifier now finds the survivor.
    const keys = (await t.db.query<{ person_id: string }>('SELECT DISTINCT person_id FROM person_keys WHERE person_id = ANY($1::uuid[])', [[oldId, withNik.person.id]])).rows;
    assert.deepEqual(keys.map((k) => k.person_id), [withNik.person.id]);
    return withNik.person.id as string;
  };

  it('a passport holder recorded through the API later gets a NIK: linked by the merge, nothing lost', async () => {
    const nik = makeNik({ province: '31', regency: '71', district: '01', birthDate: '1990-02-03', sex: 'M', serial: 77 });
    await linkLater(apiPassport.person.id, { nik, name: 'Liam Carter', birthDate: '1990-02-03', sex: 'M', phone: '0812-4444-1001' }, { vaccine: 'COMIRNATY', doseNumber: 2, date: '2021-09-29', lot: 'FE2222' }, [
      'PA7731946',
    ]);
  });

  it('a child recorded by the mother’s NIK through the import later gets their own NIK: linked, nothing lost', async () => {
    await linkLater(
      importedChild,
      { nik: importedChildNikLater, name: 'Bima Ayu', birthDate: '2013-03-15', sex: 'M', phone: '0812-4444-1004' },
      { vaccine: 'CORONAVAC', doseNumber: 2, date: '2022-02-12', lot: 'CV0212' },
      [MOTHER_NIK],
    );
    // The mother's other child is untouched.
    assert.equal((await certificatesOf(apiChild.person.id)).filter((c) => c.status === 'valid').length, 1);
  });

  it('stops', async () => {
    await rt.app.close();
  });
});
