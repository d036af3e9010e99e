/**
 * Issue 15, item 10 — the browser verifier's trust-list import took each
 * entry's kid from the list: a self-signed certificate listed under
 * Indonesia's kid made a forged certificate verify. Now the kid is computed
 * from the certificate (a mismatch refuses the list), a list is accepted as
 * it is only when signed by a key the verifier already trusts, and any other
 * signer waits for the person to confirm it, seeing its subject and
 * fingerprint (an Indonesian one is never added from a file).
 * The page's code (src/certificates/trust-import.ts, hc1-web.ts) runs here as in the browser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { generateSigningKey, importPrivateKey, kidBytesOf, kidOf, signEs256, type SigningKey } from '../../src/certificates/keys.ts';
import { buildVaccinationPayload } from '../../src/certificates/dcc.ts';
import { encodeHc1 } from '../../src/certificates/hc1.ts';
import { verifyHc1Web } from '../../src/certificates/hc1-web.ts';
import { parseTrustList, readTrustImport } from '../../src/certificates/trust-import.ts';
import type { TrustedKey } from '../../src/certificates/trust-core.ts';
import { makeUvci } from '../../src/certificates/uvci.ts';

const now = new Date();
const signer = (commonName: string, country: string) =>
  generateSigningKey({ commonName, country, validFrom: new Date(now.getTime() - 86_400_000), validUntil: new Date(now.getTime() + 365 * 86_400_000) });
const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64');
const b64url = (text: string | Uint8Array) => Buffer.from(text).toString('base64url');

/** A certificate for "Joko Widodo" signed by `key`, but claiming the kid `kid` in its header. */
function certificateSignedBy(key: SigningKey, kid: Uint8Array): string {
  const payload = buildVaccinationPayload({
    name: 'Joko Widodo',
    birthDate: '1961-06-21',
    vp: 'J07BX03',
    mp: 'CoronaVac',
    ma: 'Sinovac-Biotech',
    doseNumber: 2,
    seriesDoses: 2,
    date: '2021-01-27',
    uvci: makeUvci('FORGED01'),
    issuer: 'Kementerian Kesehatan Republik Indonesia',
  });
  return encodeHc1(payload, { issuer: 'ID', issuedAt: now, expiresAt: new Date(now.getTime() + 86_400_000), kid, privateKey: importPrivateKey(key.privateKeyPkcs8) });
}

/** A compact JWS (ES256) of a trust-list JSON, signed by `key`, naming `kid` in its header. */
function signedList(list: object, key: SigningKey, kid = kidOf(key.certificateDer)): string {
  const head = b64url(JSON.stringify({ alg: 'ES256', kid }));
  const body = b64url(JSON.stringify(list));
  return `${head}.${body}.${b64url(signEs256(Buffer.from(`${head}.${body}`), importPrivateKey(key.privateKeyPkcs8)))}`;
}

test('a self-signed certificate listed under Indonesia’s kid is refused, and the forged certificate does not verify', async () => {
  const indonesia = await signer('Dosis DSC', 'ID');
  const forger = await signer('Dosis DSC', 'ID');
  const indonesiaKid = kidOf(indonesia.certificateDer);
  const trusted: TrustedKey[] = [{ kid: indonesiaKid, certificate: indonesia.certificateDer }];
  const forged = certificateSignedBy(forger, kidBytesOf(indonesia.certificateDer));
  assert.equal((await verifyHc1Web(forged, { trustList: trusted, now })).reason, 'bad_signature');

  const list = JSON.stringify({ keys: [{ kid: indonesiaKid, certificate: b64(forger.certificateDer) }] });
  await assert.rejects(parseTrustList(list), /listed under kid .* but its certificate's kid is/);
  await assert.rejects(readTrustImport(list, trusted), /listed under kid/);
  // EU Gateway form too.
  await assert.rejects(readTrustImport(JSON.stringify([{ kid: indonesiaKid, rawData: b64(forger.certificateDer) }]), trusted), /listed under kid/);
  // Even under its own kid, an Indonesian signer never comes from a file (only from Dosis's own list).
  await assert.rejects(readTrustImport(JSON.stringify({ keys: [{ certificate: b64(forger.certificateDer) }] }), trusted), /Indonesian signer/);
  assert.equal((await verifyHc1Web(forged, { trustList: trusted, now })).reason, 'bad_signature', 'still refused');
});

test('an unsigned foreign list is only a proposal: its signer’s subject and fingerprint are shown for the person to confirm', async () => {
  const germany = await signer('DSC Deutschland', 'DE');
  const plan = await readTrustImport(JSON.stringify({ keys: [{ kid: kidOf(germany.certificateDer), certificate: b64(germany.certificateDer) }] }), []);
  assert.equal(plan.signedBy, null, 'nothing vouches for it: the page asks');
  assert.equal(plan.signers.length, 1);
  const s = plan.signers[0]!;
  const x509 = new X509Certificate(Buffer.from(germany.certificateDer));
  assert.equal(s.fingerprint, x509.fingerprint256);
  assert.equal(s.country, 'DE');
  assert.match(s.subject, /CN=DSC Deutschland/);
  assert.match(s.subject, /C=DE/);
  assert.equal(s.kid, kidOf(germany.certificateDer));
});

test('a list signed by a key the verifier trusts is accepted; tampered, or signed by another key, it is refused', async () => {
  const indonesia = await signer('Dosis DSC', 'ID');
  const germany = await signer('DSC Deutschland', 'DE');
  const stranger = await signer('Somebody', 'XX');
  const trusted: TrustedKey[] = [{ kid: kidOf(indonesia.certificateDer), certificate: indonesia.certificateDer }];
  const list = { keys: [{ certificate: b64(germany.certificateDer) }] };

  const plan = await readTrustImport(signedList(list, indonesia), trusted);
  assert.equal(plan.signedBy, kidOf(indonesia.certificateDer));
  assert.deepEqual(
    plan.signers.map((k) => k.kid),
    [kidOf(germany.certificateDer)],
  );

  const good = signedList(list, indonesia);
  const [h, , sig] = good.split('.');
  const tampered = `${h}.${b64url(JSON.stringify({ keys: [{ certificate: b64(stranger.certificateDer) }] }))}.${sig}`;
  await assert.rejects(readTrustImport(tampered, trusted), /not by a key this verifier trusts/);
  await assert.rejects(readTrustImport(signedList(list, stranger), trusted), /not by a key this verifier trusts/);
  // A stranger claiming the trusted kid in its header fails the signature check.
  await assert.rejects(readTrustImport(signedList(list, stranger, kidOf(indonesia.certificateDer)), trusted), /not by a key this verifier trusts/);
});
