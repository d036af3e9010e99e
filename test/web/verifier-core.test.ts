/**
 * The verifier page's code (hc1-web.ts, x509-der.ts, trust-import.ts) held to
 * the server's verifier: on every case of the EU test corpus, and on
 * certificates Dosis issues, valid and tampered, both give the same verdict
 * with the same reason. Runs on Node, which has the same Web APIs as the
 * browser (Web Crypto, DecompressionStream); the browser tests then check the
 * page in Chromium.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { listCaseFiles, parseClock, readCase } from '../certificates/conformance-runner.ts';
import { verifyHc1, type TrustedKey } from '../../src/certificates/hc1.ts';
import { kidOfWeb, uvciRevocationHash, verifyHc1Web } from '../../src/certificates/hc1-web.ts';
import { kidOf, generateSigningKey, importPrivateKey, kidBytesOf } from '../../src/certificates/keys.ts';
import { parseCertificate } from '../../src/certificates/trust.ts';
import { readSignerCertificate } from '../../src/certificates/x509-der.ts';
import { parseTrustList } from '../../src/certificates/trust-import.ts';
import { buildVaccinationPayload } from '../../src/certificates/dcc.ts';
import { encodeHc1 } from '../../src/certificates/hc1.ts';
import { base45Decode, base45Encode } from '../../src/certificates/base45.ts';
import { makeUvci } from '../../src/certificates/uvci.ts';
import { deflateSync, inflateSync } from 'node:zlib';
import { verifyRevocationListWeb } from '../../src/certificates/revocation-list-web.ts';
import type * as PagesView from '../../web/lib/revocation-list-types.d.ts';

// Compile-time: the verifier page's declaration of the revocation-list check fits the real function.
const _revocationListCheckFits: typeof PagesView.verifyRevocationListWeb = verifyRevocationListWeb;

const TESTDATA = resolve(import.meta.dirname, '../conformance/eu-dcc/testdata');

test('EU DCC corpus: the browser verifier gives the server verifier’s verdict and reason on every case', async () => {
  const files = listCaseFiles(TESTDATA);
  const differences: string[] = [];
  let compared = 0;
  let valid = 0;
  for (const rel of files) {
    const c = readCase(TESTDATA, rel);
    if (c.PREFIX === undefined) continue;
    const trustList: TrustedKey[] = [];
    if (c.TESTCTX.CERTIFICATE) {
      const certificate = new Uint8Array(Buffer.from(c.TESTCTX.CERTIFICATE, 'base64'));
      trustList.push({ kid: kidOf(certificate), certificate });
    }
    let now: Date;
    try {
      now = parseClock(c.TESTCTX.VALIDATIONCLOCK);
    } catch {
      now = new Date();
    }
    const server = verifyHc1(c.PREFIX, { trustList, now });
    const browser = await verifyHc1Web(c.PREFIX, { trustList, now });
    compared++;
    if (server.valid) valid++;
    if (server.valid !== browser.valid || server.reason !== browser.reason || server.kid !== browser.kid) {
      differences.push(`${rel}: server ${server.reason}, browser ${browser.reason}`);
    }
    if (server.valid && browser.valid) assert.deepEqual(browser.payload, server.payload, rel);
  }
  assert.deepEqual(differences, []);
  assert.ok(compared > 500, `compared ${compared} cases`);
  assert.ok(valid > 100, `${valid} valid cases`);
});

test('EU DCC corpus: the DER reader reads every signer certificate as node:crypto does', async () => {
  const seen = new Set<string>();
  const differences: string[] = [];
  for (const rel of listCaseFiles(TESTDATA)) {
    const b64 = readCase(TESTDATA, rel).TESTCTX.CERTIFICATE;
    if (!b64 || seen.has(b64)) continue;
    seen.add(b64);
    const der = new Uint8Array(Buffer.from(b64, 'base64'));
    let node: ReturnType<typeof parseCertificate> | undefined;
    try {
      node = parseCertificate(der);
    } catch {
      node = undefined;
    }
    let ours: ReturnType<typeof readSignerCertificate> | undefined;
    try {
      ours = readSignerCertificate(der);
    } catch {
      ours = undefined;
    }
    if (!node || !ours) {
      if (node || ours) differences.push(`${rel}: node ${node ? 'reads' : 'refuses'}, ours ${ours ? 'reads' : 'refuses'}`);
      continue;
    }
    const same =
      node.notBefore.getTime() === ours.notBefore.getTime() &&
      node.notAfter.getTime() === ours.notAfter.getTime() &&
      node.algorithm === ours.algorithm &&
      JSON.stringify(node.extendedKeyUsage) === JSON.stringify(ours.extendedKeyUsage);
    if (!same) differences.push(`${rel}: node ${JSON.stringify(node)} ours ${JSON.stringify(ours)}`);
    assert.equal(await kidOfWeb(der), kidOf(der));
  }
  assert.deepEqual(differences, []);
  assert.ok(seen.size > 50, `${seen.size} certificates`);
});

async function dosisCertificate(now: Date) {
  const key = await generateSigningKey({
    commonName: 'Test DSC',
    country: 'ID',
    validFrom: new Date(now.getTime() - 86_400_000),
    validUntil: new Date(now.getTime() + 730 * 86_400_000),
  });
  const uvci = makeUvci('WEBTEST1');
  const payload = buildVaccinationPayload({
    name: 'Siti Aminah',
    birthDate: '1985-03-02',
    vp: 'J07BX03',
    mp: 'CoronaVac',
    ma: 'Sinovac-Biotech',
    doseNumber: 2,
    seriesDoses: 2,
    date: '2021-07-08',
    uvci,
    issuer: 'Kementerian Kesehatan Republik Indonesia',
  });
  const qr = encodeHc1(payload, {
    issuer: 'ID',
    issuedAt: now,
    expiresAt: new Date(now.getTime() + 365 * 86_400_000),
    kid: kidBytesOf(key.certificateDer),
    privateKey: importPrivateKey(key.privateKeyPkcs8),
  });
  return { qr, uvci, trustList: [{ kid: kidOf(key.certificateDer), certificate: key.certificateDer }] };
}

/** The HC1 with one byte of the signed payload changed (re-compressed, so only the signature can tell). */
function tamper(qr: string): string {
  const cose = inflateSync(base45Decode(qr.slice(4)));
  const at = cose.indexOf(Buffer.from('Siti'));
  cose[at] = 'Z'.charCodeAt(0);
  return 'HC1:' + base45Encode(deflateSync(cose));
}

test('a Dosis certificate: same verdicts in the browser as on the server — valid, tampered, unknown key, expired, revoked', async () => {
  const now = new Date();
  const { qr, uvci, trustList } = await dosisCertificate(now);
  const cases: [string, string, Date, TrustedKey[]][] = [
    ['valid', qr, now, trustList],
    ['tampered', tamper(qr), now, trustList],
    ['unknown key', qr, now, []],
    ['expired', qr, new Date(now.getTime() + 400 * 86_400_000), trustList],
    ['damaged text', qr.slice(0, -7), now, trustList],
    ['not HC1', 'hello', now, trustList],
  ];
  const reasons: Record<string, string> = {};
  for (const [name, text, at, keys] of cases) {
    const server = verifyHc1(text, { trustList: keys, now: at });
    const browser = await verifyHc1Web(text, { trustList: keys, now: at });
    assert.equal(browser.reason, server.reason, name);
    reasons[name] = browser.reason;
  }
  assert.deepEqual(reasons, {
    valid: 'ok',
    tampered: 'bad_signature',
    'unknown key': 'unknown_kid',
    expired: 'expired',
    'damaged text': 'bad_base45',
    'not HC1': 'bad_prefix',
  });
  const revoked = await verifyHc1Web(qr, { trustList, now, revokedUvciHashes: new Set([await uvciRevocationHash(uvci)]) });
  assert.equal(revoked.reason, 'revoked');
  const other = await verifyHc1Web(qr, { trustList, now, revokedUvciHashes: new Set([await uvciRevocationHash(uvci + 'X')]) });
  assert.equal(other.reason, 'ok');
});

test('trust lists are read from Dosis JSON, EU gateway JSON, PEM and base64 DER', async () => {
  const now = new Date();
  const { qr, trustList } = await dosisCertificate(now);
  const der = trustList[0]!.certificate;
  const b64 = Buffer.from(der).toString('base64');
  const pem = `-----BEGIN CERTIFICATE-----\n${b64.replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
  const forms = {
    dosis: JSON.stringify({ keys: [{ kid: trustList[0]!.kid, certificate: b64 }] }),
    gateway: JSON.stringify([{ kid: trustList[0]!.kid, country: 'ID', certificateType: 'DSC', rawData: b64 }]),
    pem,
    der: b64,
  };
  for (const [form, text] of Object.entries(forms)) {
    const keys = await parseTrustList(text);
    assert.equal(keys.length, 1, form);
    assert.equal(keys[0]!.kid, trustList[0]!.kid, form);
    assert.equal((await verifyHc1Web(qr, { trustList: keys, now })).reason, 'ok', form);
  }
  await assert.rejects(parseTrustList('{"keys": []}'), /no certificate/i);
  await assert.rejects(parseTrustList('not a certificate'), /no certificate/i);
  await assert.rejects(parseTrustList(JSON.stringify({ keys: [{ kid: 'AAAAAAAAAAA=', certificate: 'AAAA' }] })), /not an X\.509/i);
});

test('a signer certificate with trailing garbage or cut short is refused by the DER reader', async () => {
  const { trustList } = await dosisCertificate(new Date());
  const der = trustList[0]!.certificate;
  assert.throws(() => readSignerCertificate(new Uint8Array([...der, 0])), /trailing/);
  assert.throws(() => readSignerCertificate(der.subarray(0, der.length - 10)));
  const facts = readSignerCertificate(der);
  assert.equal(facts.algorithm, 'ES256');
  assert.deepEqual(facts.extendedKeyUsage, ['1.3.6.1.4.1.1847.2021.1.2']);
});
