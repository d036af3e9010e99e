/**
 * Revocation end to end: a voided dose, a superseded certificate and a
 * recalled lot are reported revoked by POST /api/v1/verify and by the
 * published, signed, versioned list a verifier caches — EU DCC (UVCI hashes)
 * and SMART Health Cards (CRL by rid) alike. A recall queues one SMS per
 * affected person, however often it is run.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { describeEachBackend } from '../helpers/db.ts';
import { ADMIN_TOKEN, bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import { listRevokesUvci, verifyRevocationList, type RevocationListBody } from '../../src/certificates/revocation-list.ts';

describeEachBackend('revocation', (t) => {
  let rt: Runtime;
  let fac: { code: string; token: string };
  let support: string;
  const admin = bearer(ADMIN_TOKEN);

  const record = async (body: unknown) => {
    const r = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: body as object });
    assert.equal(r.statusCode, 201, r.body);
    return r.json();
  };
  const verify = async (qr: string) => (await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr } })).json();
  const card = async (personId: string) => {
    const r = await rt.app.inject({ method: 'GET', url: `/api/v1/people/${personId}/health-card`, headers: bearer(support) });
    assert.equal(r.statusCode, 200, r.body);
    return r.json<{ shc: string; doses: number }>();
  };
  /** The list as a verifier gets it: downloaded, signature checked with /.well-known/jwks.json. */
  const downloadList = async (): Promise<{ body: RevocationListBody; etag: string }> => {
    const res = await rt.app.inject({ method: 'GET', url: '/api/v1/revocation-list' });
    assert.equal(res.statusCode, 200);
    const jwks = (await rt.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    const keys = new Map<string, KeyObject>(jwks.keys.map((k: { kid: string; x: string; y: string }) => [k.kid, createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: k.x, y: k.y }, format: 'jwk' })]));
    const v = verifyRevocationList(res.json().jws, keys);
    if (!v.ok) throw new Error(`the published list does not verify: ${v.reason}`);
    assert.equal(v.body.version, res.json().version);
    return { body: v.body, etag: String(res.headers.etag) };
  };

  it('starts', async () => {
    rt = await testRuntime(t.db);
    fac = await facilityWithToken(t.db);
    support = await tokenFor(t.db, 'support');
  });

  it('a voided dose: its certificate verifies revoked, is on the list, and the card issued before it is revoked', async () => {
    const p = person();
    const d1 = await record(doseBody(p));
    const d2 = await record(doseBody(p, { doseNumber: 2, date: '2021-07-08', lot: 'B456' }));
    const before = await downloadList();
    const oldCard = await card(d1.person.id);
    assert.equal((await verify(oldCard.shc)).valid, true);
    const voided = await rt.app.inject({ method: 'POST', url: `/api/v1/vaccinations/${d2.vaccination.id}/void`, headers: admin, payload: { reason: 'entered twice' } });
    assert.equal(voided.statusCode, 200, voided.body);

    const v = await verify(d2.certificate.qr);
    assert.equal(v.valid, false);
    assert.equal(v.reason, 'revoked');
    assert.equal(v.revocation.reason, 'dose_voided');
    assert.equal((await verify(d1.certificate.qr)).valid, true, 'the other dose stays valid');

    const after = await downloadList();
    assert.equal(after.body.version, before.body.version + 1);
    assert.notEqual(after.etag, before.etag);
    assert.equal(listRevokesUvci(after.body, d2.certificate.uvci), true);
    assert.equal(listRevokesUvci(after.body, d1.certificate.uvci), false);
    assert.equal(listRevokesUvci(before.body, d2.certificate.uvci), false);

    const stale = await verify(oldCard.shc);
    assert.equal(stale.valid, false);
    assert.equal(stale.reason, 'revoked');
    const fresh = await card(d1.person.id);
    assert.equal(fresh.doses, 1, 'the new card leaves the voided dose out');
    assert.equal((await verify(fresh.shc)).valid, true);
  });

  it('a superseded certificate (a corrected record) is revoked, whoever changed it', async () => {
    const d = await record(doseBody());
    await t.db.query("UPDATE certificates SET status = 'superseded', status_reason = 'name_corrected' WHERE person_id = $1 AND id = $2", [d.person.id, d.certificate.id]);
    const v = await verify(d.certificate.qr);
    assert.equal(v.reason, 'revoked');
    assert.deepEqual([v.revocation.status, v.revocation.reason], ['superseded', 'name_corrected']);
    assert.equal(listRevokesUvci((await downloadList()).body, d.certificate.uvci), true);
  });

  it('serves one signed list per version: 304 while unchanged, the same bytes on every request', async () => {
    const a = await rt.app.inject({ method: 'GET', url: '/api/v1/revocation-list' });
    const b = await rt.app.inject({ method: 'GET', url: '/api/v1/revocation-list' });
    assert.equal(a.json().jws, b.json().jws);
    const again = await rt.app.inject({ method: 'GET', url: '/api/v1/revocation-list', headers: { 'if-none-match': String(a.headers.etag) } });
    assert.equal(again.statusCode, 304);
    const kept = await t.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM revocation_lists WHERE version = $1', [a.json().version]);
    assert.equal(kept.rows[0]?.n, 1);
    const jwks = (await rt.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    assert.equal(jwks.keys[0].crlVersion, a.json().version, 'the JWKS names the current CRL version');
  });

  it('a lot recall revokes every certificate of the lot and queues one SMS per person', async () => {
    const lot = `RCL-${process.pid}`;
    const twice = person();
    const a1 = await record(doseBody(twice, { lot }));
    const a2 = await record(doseBody(twice, { lot: lot.toLowerCase(), doseNumber: 2, date: '2021-07-08' })); // typed in lower case
    const b = await record(doseBody(person(), { lot }));
    const c = await record(doseBody(person(), { lot, vaccine: 'VAXZEVRIA' })); // same lot text, another product: not recalled
    const other = await record(doseBody(person(), { lot: 'OTHER-1' }));
    const cardBefore = await card(b.person.id);

    const res = await rt.app.inject({ method: 'POST', url: `/api/v1/lots/${lot}/recall`, headers: admin, payload: { vaccine: 'CoronaVac', reason: 'cold chain failure' } });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual([res.json().revoked, res.json().people, res.json().notices, res.json().vaccine], [3, 2, 2, 'CORONAVAC']);

    for (const d of [a1, a2, b]) {
      const v = await verify(d.certificate.qr);
      assert.equal(v.reason, 'revoked', d.certificate.uvci);
      assert.equal(v.revocation.reason, 'lot_recalled');
    }
    assert.equal((await verify(c.certificate.qr)).valid, true);
    assert.equal((await verify(other.certificate.qr)).valid, true);
    const list = (await downloadList()).body;
    for (const d of [a1, a2, b]) assert.equal(listRevokesUvci(list, d.certificate.uvci), true);
    assert.equal(listRevokesUvci(list, c.certificate.uvci), false);
    assert.equal((await verify(cardBefore.shc)).reason, 'revoked');
    assert.equal((await rt.app.inject({ method: 'GET', url: `/api/v1/people/${b.person.id}/health-card`, headers: bearer(support) })).statusCode, 404, 'no certified dose left');

    const jobs = async () =>
      (await t.db.query<{ person_id: string; dedupe_key: string; payload: { personId: string; recallId: string } }>(
        "SELECT person_id, dedupe_key, payload FROM jobs WHERE kind = 'recall_notice' ORDER BY dedupe_key",
      )).rows;
    const queued = await jobs();
    assert.deepEqual(queued.map((j) => j.person_id).sort(), [a1.person.id, b.person.id].sort());
    for (const j of queued) {
      assert.equal(j.dedupe_key, `recall:${lot.toUpperCase()}:${j.person_id}`);
      assert.deepEqual(j.payload, { personId: j.person_id, recallId: res.json().recallId });
    }
    const audits = await t.db.query<{ action: string; n: number }>(
      "SELECT action, count(*)::int8 AS n FROM audit_log WHERE action IN ('lot_recalled', 'certificate_revoked') GROUP BY action ORDER BY action",
    );
    assert.deepEqual(audits.rows, [{ action: 'certificate_revoked', n: 3 }, { action: 'lot_recalled', n: 1 }]);

    // Again: nothing new to revoke, nobody told twice.
    const again = await rt.app.inject({ method: 'POST', url: `/api/v1/lots/${lot}/recall`, headers: admin, payload: { vaccine: 'CORONAVAC', reason: 'cold chain failure' } });
    assert.equal(again.statusCode, 200);
    assert.deepEqual([again.json().created, again.json().revoked, again.json().notices], [false, 0, 0]);
    // A dose of the recalled lot recorded afterwards: the next run revokes it and tells only its person.
    const late = await record(doseBody(person(), { lot }));
    const third = await rt.app.inject({ method: 'POST', url: `/api/v1/lots/${lot}/recall`, headers: admin, payload: { vaccine: 'CORONAVAC', reason: 'cold chain failure' } });
    assert.deepEqual([third.json().revoked, third.json().people, third.json().notices], [1, 1, 1]);
    assert.equal((await verify(late.certificate.qr)).reason, 'revoked');
    assert.equal((await jobs()).length, 3);
  });

  it('only an administrator recalls; bad input is a 422 naming the fields', async () => {
    const byFacility = await rt.app.inject({ method: 'POST', url: '/api/v1/lots/X1/recall', headers: bearer(fac.token), payload: { vaccine: 'CORONAVAC', reason: 'because' } });
    assert.equal(byFacility.statusCode, 403);
    const bySupport = await rt.app.inject({ method: 'POST', url: '/api/v1/lots/X1/recall', headers: bearer(support), payload: { vaccine: 'CORONAVAC', reason: 'because' } });
    assert.equal(bySupport.statusCode, 403);
    const bad = await rt.app.inject({ method: 'POST', url: '/api/v1/lots/X1/recall', headers: admin, payload: { vaccine: 'Sputnik', reason: '' } });
    assert.equal(bad.statusCode, 422);
    assert.deepEqual(bad.json().error.fields.map((f: { path: string }) => f.path).sort(), ['reason', 'vaccine']);
  });
});
