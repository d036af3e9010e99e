/**
 * Dosis as a SMART Health Card issuer, end to end over HTTP: the card of a
 * person, the published keys, and verification — by POST /api/v1/verify and
 * by the same checks the conformance corpus is scored with (the card fetched
 * over the app's own /.well-known routes, FHIR R4 validation included).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describeEachBackend } from '../helpers/db.ts';
import { ADMIN_TOKEN, bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import { jwkThumbprint, verifyHealthCardFile, verifyNumericQr, type IssuerSource } from '../../src/certificates/shc.ts';
import { fhirErrors } from '../../src/fhir/validate.ts';

describeEachBackend('SMART Health Cards', (t) => {
  let rt: Runtime;
  let fac: { code: string; token: string };
  let support: string;
  let personId: string;
  const admin = bearer(ADMIN_TOKEN);

  /** The issuer as a verifier elsewhere would reach it: /.well-known over HTTP. */
  async function httpSource(): Promise<IssuerSource> {
    const jwks = (await rt.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    const crls = new Map<string, unknown>();
    for (const k of jwks.keys as { kid: string }[]) crls.set(k.kid, (await rt.app.inject({ method: 'GET', url: `/.well-known/crl/${k.kid}.json` })).json());
    return { jwks: (iss) => (iss === 'https://dosis.test' ? jwks : undefined), crl: (iss, kid) => (iss === 'https://dosis.test' ? crls.get(kid) : undefined) };
  }

  it('starts, with a person vaccinated twice', async () => {
    rt = await testRuntime(t.db);
    fac = await facilityWithToken(t.db);
    support = await tokenFor(t.db, 'support');
    const p = person({ name: 'Siti Nur Aisyah' });
    const d1 = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p) });
    assert.equal(d1.statusCode, 201, d1.body);
    const d2 = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p, { doseNumber: 2, date: '2021-07-08', lot: 'B456' }) });
    assert.equal(d2.statusCode, 201, d2.body);
    personId = d1.json().person.id;
  });

  it('issues {shc, jws} to support; the card verifies at POST /api/v1/verify with both doses', async () => {
    const res = await rt.app.inject({ method: 'GET', url: `/api/v1/people/${personId}/health-card`, headers: bearer(support) });
    assert.equal(res.statusCode, 200, res.body);
    const card = res.json();
    assert.match(card.shc, /^shc:\/\d+$/);
    assert.equal(card.shc.length, 5 + 2 * card.jws.length, 'one QR, no chunks');
    assert.ok(card.jws.length <= 1195, `JWS ${card.jws.length} characters: too long for one QR`);
    assert.equal(card.doses, 2);
    const v = await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr: card.shc } });
    assert.equal(v.statusCode, 200);
    const body = v.json();
    assert.equal(body.valid, true, v.body);
    assert.equal(body.format, 'smart-health-card');
    assert.equal(body.reason, 'ok');
    assert.equal(body.payload.iss, 'https://dosis.test');
    const entries = body.payload.vc.credentialSubject.fhirBundle.entry;
    assert.deepEqual(entries.map((e: { resource: { resourceType: string } }) => e.resource.resourceType), ['Patient', 'Immunization', 'Immunization']);
    assert.deepEqual(entries[0].resource.name, [{ text: 'Siti Nur Aisyah' }]);
    assert.deepEqual(entries[1].resource.vaccineCode.coding[0], { system: 'http://hl7.org/fhir/sid/cvx', code: '511' });
    assert.equal(entries[2].resource.lotNumber, 'B456');
    const audited = await t.db.query("SELECT 1 FROM audit_log WHERE action = 'health_card_issued' AND person_id = $1", [personId]);
    assert.equal(audited.rowCount, 1);
  });

  it("passes the conformance checks (keys fetched from /.well-known, FHIR R4 validated): no error, no warning", async () => {
    const card = (await rt.app.inject({ method: 'GET', url: `/api/v1/people/${personId}/health-card`, headers: bearer(support) })).json();
    const opts = { source: await httpSource(), now: new Date(), validateFhir: fhirErrors };
    const fromQr = verifyNumericQr([card.shc], opts);
    assert.deepEqual(fromQr.issues, []);
    assert.equal(fromQr.ok && fromQr.signatureVerified && !fromQr.revoked, true);
    const file = await rt.app.inject({ method: 'GET', url: `/api/v1/people/${personId}/health-card/file`, headers: bearer(support) });
    assert.equal(file.statusCode, 200);
    assert.match(String(file.headers['content-type']), /^application\/smart-health-card/);
    assert.match(String(file.headers['content-disposition']), /\.smart-health-card"$/);
    const fromFile = verifyHealthCardFile(file.body, opts);
    assert.deepEqual(fromFile.map((r) => [r.ok, r.issues.length]), [[true, 0]]);
  });

  it('publishes its keys: ES256 P-256, kid = thumbprint, crlVersion, CORS open, no private part', async () => {
    const res = await rt.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    assert.equal(res.headers['access-control-allow-origin'], '*');
    const { keys } = res.json();
    assert.equal(keys.length, 1);
    const k = keys[0];
    assert.equal(k.kid, jwkThumbprint(k));
    assert.deepEqual([k.kty, k.crv, k.alg, k.use, typeof k.crlVersion, 'd' in k], ['EC', 'P-256', 'ES256', 'sig', 'number', false]);
    const crl = (await rt.app.inject({ method: 'GET', url: `/.well-known/crl/${k.kid}.json` })).json();
    assert.deepEqual([crl.kid, crl.method, crl.ctr], [k.kid, 'rid', k.crlVersion]);
    assert.equal((await rt.app.inject({ method: 'GET', url: '/.well-known/crl/nope.json' })).statusCode, 404);
  });

  it('rejects a changed card, and cards of other issuers', async () => {
    const card = (await rt.app.inject({ method: 'GET', url: `/api/v1/people/${personId}/health-card`, headers: bearer(support) })).json();
    // Change one character of the payload part (a digit pair well inside the QR text).
    const i = 5 + 2 * (card.jws.indexOf('.') + 40);
    const pair = card.shc.slice(i, i + 2);
    const changed = card.shc.slice(0, i) + (pair === '10' ? '11' : '10') + card.shc.slice(i + 2);
    const v = (await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr: changed } })).json();
    assert.equal(v.valid, false);
    assert.ok(['bad_signature', 'malformed'].includes(v.reason), v.reason);
    assert.equal(v.payload, undefined);
    const example = resolve(import.meta.dirname, '../conformance/shc/examples/example-00-f-qr-code-numeric-value-0.txt');
    const other = (await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr: readFileSync(example, 'utf8') } })).json();
    assert.equal(other.valid, false);
    assert.equal(other.reason, 'unknown_issuer');
  });

  it('is for support and admin only; 404 for an unknown person or one without a certified dose', async () => {
    assert.equal((await rt.app.inject({ method: 'GET', url: `/api/v1/people/${personId}/health-card`, headers: bearer(fac.token) })).statusCode, 403);
    assert.equal((await rt.app.inject({ method: 'GET', url: `/api/v1/people/${personId}/health-card` })).statusCode, 401);
    assert.equal((await rt.app.inject({ method: 'GET', url: `/api/v1/people/${personId}/health-card`, headers: admin })).statusCode, 200);
    const unknown = await rt.app.inject({ method: 'GET', url: '/api/v1/people/00000000-0000-4000-8000-000000000000/health-card', headers: admin });
    assert.equal(unknown.statusCode, 404);
  });
});
