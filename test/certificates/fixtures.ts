/**
 * Test fixtures for the certificate tests: a CSCA, document signers and a
 * payload, made once per test file. A helper module: defines no tests.
 */

import type { KeyObject } from 'node:crypto';
import { EKU_DCC_TEST, generateCsca, generateSigningKey, importPrivateKey, kidBytesOf, kidOf, type SigningKey } from '../../src/certificates/keys.ts';
import { loadX509 } from '../../src/certificates/peculiar-x509.ts';
import { buildVaccinationPayload, type HcertPayload } from '../../src/certificates/dcc.ts';
import { encodeHc1 } from '../../src/certificates/hc1.ts';
import type { TrustedKey } from '../../src/certificates/trust.ts';
import { makeUvci } from '../../src/certificates/uvci.ts';

export const VALID_FROM = new Date('2024-01-01T00:00:00Z');
export const VALID_UNTIL = new Date('2026-01-01T00:00:00Z');
export const ISSUED_AT = new Date('2024-06-10T02:00:00Z');
export const EXPIRES_AT = new Date('2025-06-10T02:00:00Z');
/** A time at which a certificate issued at ISSUED_AT is valid. */
export const NOW = new Date('2024-07-01T00:00:00Z');

export interface Fixture {
  dsc: SigningKey;
  /** Another signer of the same CSCA. */
  other: SigningKey;
  /** A signer whose DSC may only sign test certificates. */
  testOnly: SigningKey;
  key: KeyObject;
  kid: Uint8Array;
  trustList: TrustedKey[];
  payload: HcertPayload;
  /** HC1 of `payload` signed by `dsc` (or the given key). */
  sign(opts?: { payload?: HcertPayload; issuedAt?: Date; expiresAt?: Date; privateKey?: KeyObject; kid?: Uint8Array }): string;
}

let fixture: Promise<Fixture> | undefined;

export function certificateFixture(): Promise<Fixture> {
  fixture ??= make();
  return fixture;
}

async function make(): Promise<Fixture> {
  const csca = await generateCsca({
    commonName: 'Dosis Test CSCA',
    country: 'ID',
    validFrom: new Date('2023-01-01T00:00:00Z'),
    validUntil: new Date('2033-01-01T00:00:00Z'),
  });
  const dsc = await generateSigningKey({ commonName: 'Dosis Test DSC', country: 'ID', validFrom: VALID_FROM, validUntil: VALID_UNTIL, csca });
  const other = await generateSigningKey({ commonName: 'Dosis Test DSC 2', country: 'ID', validFrom: VALID_FROM, validUntil: VALID_UNTIL, csca });
  const testOnly = await testOnlySigner();
  const key = importPrivateKey(dsc.privateKeyPkcs8);
  const kid = kidBytesOf(dsc.certificateDer);
  const payload = buildVaccinationPayload({
    name: 'Budi Santoso',
    birthDate: '1980-05-17',
    vp: '1119305005',
    mp: 'CoronaVac',
    ma: 'Sinovac-Biotech',
    doseNumber: 1,
    seriesDoses: 2,
    date: '2024-06-10',
    uvci: makeUvci('TEST/0001'),
    issuer: 'Kementerian Kesehatan Republik Indonesia',
  });
  return {
    dsc,
    other,
    testOnly,
    key,
    kid,
    trustList: [{ kid: dsc.kid, certificate: dsc.certificateDer }],
    payload,
    sign: (opts = {}) =>
      encodeHc1(opts.payload ?? payload, {
        issuer: 'ID',
        issuedAt: opts.issuedAt ?? ISSUED_AT,
        expiresAt: opts.expiresAt ?? EXPIRES_AT,
        kid: opts.kid ?? kid,
        privateKey: opts.privateKey ?? key,
      }),
  };
}

/** A self-signed DSC whose extended key usage allows test certificates only. */
async function testOnlySigner(): Promise<SigningKey> {
  const x509 = await loadX509();
  const alg = { name: 'ECDSA', namedCurve: 'P-256' } as const;
  const keys = await globalThis.crypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'C=ID, CN=Test-only DSC',
    notBefore: VALID_FROM,
    notAfter: VALID_UNTIL,
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [new x509.ExtendedKeyUsageExtension([EKU_DCC_TEST])],
  });
  const certificateDer = new Uint8Array(cert.rawData);
  return {
    kid: kidOf(certificateDer),
    certificateDer,
    privateKeyPkcs8: new Uint8Array(await globalThis.crypto.subtle.exportKey('pkcs8', keys.privateKey)),
    algorithm: 'ES256',
    validFrom: cert.notBefore,
    validUntil: cert.notAfter,
  };
}
