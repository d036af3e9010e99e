import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { AppError } from '../../src/domain/errors.ts';
import {
  EKU_DCC_VACCINATION,
  derToRawSignature,
  generateCsca,
  generateSigningKey,
  importPrivateKey,
  kidBytesOf,
  kidOf,
  signEs256,
} from '../../src/certificates/keys.ts';

const cscaRequest = {
  commonName: 'Dosis CSCA, Kemenkes',
  country: 'ID',
  validFrom: new Date('2024-01-01T00:00:00Z'),
  validUntil: new Date('2034-01-01T00:00:00Z'),
};
const dscRequest = {
  commonName: 'Dosis DSC 2024-1',
  country: 'ID',
  validFrom: new Date('2024-01-01T00:00:00Z'),
  validUntil: new Date('2026-01-01T00:00:00Z'),
};

test('a CSCA is a self-signed CA certificate for C=ID', async () => {
  const csca = await generateCsca(cscaRequest);
  const cert = new X509Certificate(csca.certificateDer);
  assert.equal(cert.ca, true);
  assert.equal(cert.subject, cert.issuer);
  assert.match(cert.subject, /^C=ID$/m);
  assert.match(cert.subject, /^CN=Dosis CSCA\\, Kemenkes$/m, 'a comma in the name stays in the CN (escaped)');
  assert.equal(cert.verify(cert.publicKey), true);
  assert.deepEqual(cert.validFromDate, cscaRequest.validFrom);
  assert.deepEqual(cert.validToDate, cscaRequest.validUntil);
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
});

test('a DSC issued by the CSCA: P-256, vaccination EKU, C=ID, not a CA, kid from its DER', async () => {
  const csca = await generateCsca(cscaRequest);
  const dsc = await generateSigningKey({ ...dscRequest, csca });
  const cert = new X509Certificate(dsc.certificateDer);
  const ca = new X509Certificate(csca.certificateDer);
  assert.equal(cert.verify(ca.publicKey), true, 'signed by the CSCA');
  assert.equal(cert.checkIssued(ca), true);
  assert.equal(cert.ca, false);
  assert.match(cert.subject, /^C=ID$/m);
  assert.deepEqual(cert.keyUsage, [EKU_DCC_VACCINATION]);
  assert.equal(dsc.algorithm, 'ES256');
  assert.deepEqual(dsc.validFrom, dscRequest.validFrom);
  assert.deepEqual(dsc.validUntil, dscRequest.validUntil);
  const digest = createHash('sha256').update(dsc.certificateDer).digest();
  assert.equal(dsc.kid, digest.subarray(0, 8).toString('base64'));
  assert.equal(kidOf(dsc.certificateDer), dsc.kid);
  assert.deepEqual(Buffer.from(kidBytesOf(dsc.certificateDer)), digest.subarray(0, 8));

  // The private key belongs to the certificate.
  const key = importPrivateKey(dsc.privateKeyPkcs8);
  const signature = sign('sha256', Buffer.from('dose'), { key, dsaEncoding: 'ieee-p1363' });
  assert.equal(verify('sha256', Buffer.from('dose'), { key: cert.publicKey, dsaEncoding: 'ieee-p1363' }, signature), true);
});

test('without a CSCA the DSC is self-signed', async () => {
  const dsc = await generateSigningKey(dscRequest);
  const cert = new X509Certificate(dsc.certificateDer);
  assert.equal(cert.subject, cert.issuer);
  assert.equal(cert.verify(cert.publicKey), true);
  assert.deepEqual(cert.keyUsage, [EKU_DCC_VACCINATION]);
});

test('two keys never share a kid or a private key', async () => {
  const a = await generateSigningKey(dscRequest);
  const b = await generateSigningKey(dscRequest);
  assert.notEqual(a.kid, b.kid);
  assert.notDeepEqual(a.privateKeyPkcs8, b.privateKeyPkcs8);
});

test('refuses bad requests, and a DSC outside its CSCA validity', async () => {
  const isInvalid = (path: string) => (e: unknown) => e instanceof AppError && e.kind === 'invalid' && e.fields.some((f) => f.path === path);
  await assert.rejects(generateSigningKey({ ...dscRequest, country: 'id' }), isInvalid('country'));
  await assert.rejects(generateSigningKey({ ...dscRequest, commonName: ' ' }), isInvalid('commonName'));
  await assert.rejects(generateSigningKey({ ...dscRequest, validUntil: dscRequest.validFrom }), isInvalid('validUntil'));
  const csca = await generateCsca({ ...cscaRequest, validUntil: new Date('2025-01-01T00:00:00Z') });
  await assert.rejects(generateSigningKey({ ...dscRequest, csca }), isInvalid('validUntil'));
});

test('importPrivateKey refuses what is not PKCS#8', () => {
  assert.throws(() => importPrivateKey(new Uint8Array([1, 2, 3])));
});

test('signEs256 gives raw r‖s that verifies as ieee-p1363, also when r or s is short', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  for (let i = 0; i < 500; i++) {
    const data = randomBytes(40);
    const sig = signEs256(data, privateKey);
    assert.equal(sig.length, 64);
    assert.ok(verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig));
  }
  // r = 0x00ff (a leading zero byte, 33-byte form trimmed), s = 0x01 (one byte): padded on the left.
  const raw = derToRawSignature(Uint8Array.from([0x30, 0x07, 0x02, 0x02, 0x00, 0xff, 0x02, 0x01, 0x01]));
  assert.equal(raw.toString('hex'), '00'.repeat(31) + 'ff' + '00'.repeat(31) + '01');
  assert.throws(() => derToRawSignature(Uint8Array.from([0x30, 0x03, 0x02, 0x01])), RangeError);
});
