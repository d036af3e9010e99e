/**
 * Signing keys for EU DCC certificates: a country signing CA (CSCA) made once,
 * and document signer certificates (DSC) issued by it, one per signing key.
 *
 * Key facts (EU DCC trust framework):
 * - The DSC is an X.509 certificate for a P-256 key (ES256); its subject has
 *   the issuing country (C=ID); it carries the extended key usage OID for
 *   vaccination certificates (1.3.6.1.4.1.1847.2021.1.2), so it cannot be used
 *   to sign test or recovery certificates.
 * - kid = the first 8 bytes of SHA-256 over the DSC's DER encoding.
 * - A certificate's issue time and expiry must lie within its DSC's validity.
 *
 * Called rarely (first start, rotation), so the key generation may be slow;
 * signing itself goes through importPrivateKey and node:crypto.
 */

import { createHash, createPrivateKey, generateKeyPairSync, KeyObject, sign, X509Certificate } from 'node:crypto';
import { invalid, issue, type FieldIssue } from '../domain/errors.ts';
import { loadX509 } from './peculiar-x509.ts';

/** Extended key usage OIDs of the EU DCC (technical specification v1, DSC key usage). */
export const EKU_DCC_TEST = '1.3.6.1.4.1.1847.2021.1.1';
export const EKU_DCC_VACCINATION = '1.3.6.1.4.1.1847.2021.1.2';
export const EKU_DCC_RECOVERY = '1.3.6.1.4.1.1847.2021.1.3';

/** WebCrypto as typed by the DOM library, which is what @peculiar/x509 is typed against. */
function subtle(): SubtleCrypto {
  return globalThis.crypto.subtle;
}

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A certificate with its private key, both as DER bytes (ready to store). */
export interface CertifiedKey {
  certificateDer: Uint8Array;
  /** PKCS#8 DER. Secret: store it encrypted or in the database only. */
  privateKeyPkcs8: Uint8Array;
  validFrom: Date;
  validUntil: Date;
}

/** A document signer: the key that signs DCCs. */
export interface SigningKey extends CertifiedKey {
  /** base64 of the first 8 bytes of SHA-256 of the DER certificate. */
  kid: string;
  algorithm: 'ES256';
}

export interface CertificateRequest {
  commonName: string;
  /** ISO 3166-1 alpha-2, 'ID' for Dosis. */
  country: string;
  validFrom: Date;
  validUntil: Date;
}

/** Generate a country signing CA: a self-signed CA certificate (path length 0) and its P-256 key. */
export async function generateCsca(req: CertificateRequest): Promise<CertifiedKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const certificateDer = await createCscaCertificate({ ...req, publicKey, key: privateKey });
  const cert = new X509Certificate(certificateDer);
  return {
    certificateDer,
    privateKeyPkcs8: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' })),
    validFrom: cert.validFromDate,
    validUntil: cert.validToDate,
  };
}

/**
 * The self-signed certificate of a CSCA (path length 0, keyCertSign and
 * cRLSign) for a P-256 key wherever it is: a KeyObject, or a signer (the key
 * on a token, `dosis keys csca init` with DOSIS_SIGNER=pkcs11).
 */
export async function createCscaCertificate(req: CertificateRequest & { publicKey: KeyObject; key: Es256Key }): Promise<Uint8Array> {
  checkRequest(req);
  const x509 = await loadX509();
  const publicKey = await webPublicKey(req.publicKey);
  const key = req.key;
  const signer: Es256Signer = key instanceof KeyObject ? { sign: (d) => signEs256(d, key) } : key;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: subjectName(req),
      notBefore: req.validFrom,
      notAfter: req.validUntil,
      keys: { publicKey, privateKey: SIGNER_KEY },
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
      ],
    },
    signerCrypto(signer),
  );
  return new Uint8Array(cert.rawData);
}

/**
 * Generate a DCC signing key (P-256) and its document signer certificate,
 * issued by `csca` when given (its validity must cover the DSC's), else
 * self-signed (allowed by the EU DCC spec: "the CSCA may be identical to the DSC").
 */
export async function generateSigningKey(req: CertificateRequest & { csca?: CertifiedKey }): Promise<SigningKey> {
  checkRequest(req);
  if (req.csca && (req.validFrom < req.csca.validFrom || req.validUntil > req.csca.validUntil)) {
    throw invalid([
      issue(
        'validUntil',
        'outside_csca',
        "The signing key's validity must lie within its CSCA's validity",
        'Masa berlaku kunci penanda tangan harus berada dalam masa berlaku CSCA-nya',
      ),
    ]);
  }
  const x509 = await loadX509();
  const keys = await subtle().generateKey(EC_P256, true, ['sign', 'verify']);
  const extensions: InstanceType<typeof x509.Extension>[] = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([EKU_DCC_VACCINATION], false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  let cert;
  if (req.csca) {
    const caCert = new x509.X509Certificate(new Uint8Array(req.csca.certificateDer));
    const caKey = await subtle().importKey('pkcs8', new Uint8Array(req.csca.privateKeyPkcs8), EC_P256, false, ['sign']);
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey));
    cert = await x509.X509CertificateGenerator.create({
      subject: subjectName(req),
      issuer: caCert.subject,
      notBefore: req.validFrom,
      notAfter: req.validUntil,
      publicKey: keys.publicKey,
      signingKey: caKey,
      signingAlgorithm: ECDSA_SHA256,
      extensions,
    });
  } else {
    cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: subjectName(req),
      notBefore: req.validFrom,
      notAfter: req.validUntil,
      keys,
      signingAlgorithm: ECDSA_SHA256,
      extensions,
    });
  }
  const certificateDer = new Uint8Array(cert.rawData);
  return {
    kid: kidOf(certificateDer),
    certificateDer,
    privateKeyPkcs8: new Uint8Array(await subtle().exportKey('pkcs8', keys.privateKey)),
    algorithm: 'ES256',
    validFrom: cert.notBefore,
    validUntil: cert.notAfter,
  };
}

/** The private key as a node:crypto KeyObject, parsed once and reused for signing. */
export function importPrivateKey(pkcs8: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
}

/**
 * Something that signs ES256 without handing out its key: a key on a PKCS#11
 * token, or a sealed local key (key-store.ts). `sign` returns raw r‖s.
 */
export interface Es256Signer {
  sign(data: Uint8Array): Buffer;
}

/** What every signing function of this folder takes: a node:crypto private key (tests, tools) or a signer. */
export type Es256Key = KeyObject | Es256Signer;

/**
 * ES256 signature of `data` as raw r‖s (64 bytes), the form COSE and JWS
 * use (RFC 7518 §3.4). Hot path (every certificate): node:crypto signs in
 * its default DER form and the two integers are unpacked here, because
 * asking it for 'ieee-p1363' through an options object took twice as long
 * (24 µs → 47 µs per signature measured here, Node 24).
 */
export function signEs256(data: Uint8Array, key: Es256Key): Buffer {
  if (key instanceof KeyObject) return derToRawSignature(sign('sha256', data, key));
  return key.sign(data);
}

/** ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (DER, P-256) → r‖s, each left-padded to 32 bytes. */
export function derToRawSignature(der: Uint8Array): Buffer {
  const out = Buffer.alloc(64);
  // A P-256 signature is at most 72 bytes, so every length is one byte.
  if (der[0] !== 0x30 || der[1] !== der.length - 2) throw new RangeError('not a DER ECDSA signature');
  let at = 2;
  for (let part = 0; part < 2; part++) {
    const len = der[at + 1] ?? 0;
    if (der[at] !== 0x02 || len < 1 || at + 2 + len > der.length) throw new RangeError('not a DER ECDSA signature');
    let int = der.subarray(at + 2, at + 2 + len);
    while (int.length > 32 && int[0] === 0) int = int.subarray(1);
    if (int.length > 32) throw new RangeError('ECDSA integer longer than 32 bytes');
    out.set(int, part * 32 + 32 - int.length);
    at += 2 + len;
  }
  if (at !== der.length) throw new RangeError('not a DER ECDSA signature');
  return out;
}

/** The kid of a DSC: base64 of the first 8 bytes of SHA-256 of its DER encoding. */
export function kidOf(certificateDer: Uint8Array): string {
  return Buffer.from(kidBytesOf(certificateDer)).toString('base64');
}

/** The kid of a DSC as bytes, as it goes into the COSE header. */
export function kidBytesOf(certificateDer: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(certificateDer).digest().subarray(0, 8));
}

function subjectName(req: CertificateRequest): Array<Record<string, string[]>> {
  // A JSON name, not a string: a comma in the common name must not start a new attribute.
  return [{ C: [req.country] }, { CN: [req.commonName] }];
}

function checkRequest(req: CertificateRequest): void {
  const problems: FieldIssue[] = [];
  if (req.commonName.trim() === '') problems.push(issue('commonName', 'required', 'Common name is required', 'Nama umum wajib diisi'));
  if (!/^[A-Z]{2}$/.test(req.country)) {
    problems.push(issue('country', 'country', 'Country must be an ISO 3166-1 alpha-2 code', 'Negara harus kode ISO 3166-1 alpha-2'));
  }
  if (!(req.validUntil.getTime() > req.validFrom.getTime())) {
    problems.push(issue('validUntil', 'order', 'validUntil must be after validFrom', 'validUntil harus setelah validFrom'));
  }
  if (problems.length > 0) throw invalid(problems);
}

/** r‖s (64 bytes) → ECDSA-Sig-Value DER, the form X.509 and PKCS#10 carry. */
export function rawToDerSignature(raw: Uint8Array): Buffer {
  if (raw.length !== 64) throw new RangeError('not a raw P-256 signature');
  const int = (b: Uint8Array): Buffer => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = Buffer.from(b.subarray(i));
    return (v[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0x02, v.length + 1, 0]), v]) : Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([int(raw.subarray(0, 32)), int(raw.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/**
 * A WebCrypto stand-in for @peculiar/x509 whose ECDSA signing is done by an
 * Es256Signer: lets a key that never leaves its token (or its seal) sign a
 * certificate request or a certificate. Everything else is Node's WebCrypto.
 */
function signerCrypto(signer: Es256Signer): Crypto {
  const real = globalThis.crypto;
  const subtle = {
    sign: async (_alg: unknown, _key: unknown, data: BufferSource): Promise<ArrayBuffer> => {
      const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
      const sig = signer.sign(bytes);
      return sig.buffer.slice(sig.byteOffset, sig.byteOffset + sig.byteLength) as ArrayBuffer;
    },
    exportKey: real.subtle.exportKey.bind(real.subtle),
    importKey: real.subtle.importKey.bind(real.subtle),
    digest: real.subtle.digest.bind(real.subtle),
    verify: real.subtle.verify.bind(real.subtle),
  };
  return { subtle, getRandomValues: real.getRandomValues.bind(real), randomUUID: real.randomUUID.bind(real) } as unknown as Crypto;
}

/** A placeholder private CryptoKey: @peculiar/x509 reads only its algorithm; the signer signs. */
const SIGNER_KEY = { algorithm: EC_P256, type: 'private', extractable: false, usages: ['sign'] } as unknown as CryptoKey;

async function webPublicKey(publicKey: KeyObject): Promise<CryptoKey> {
  return subtle().importKey('spki', new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })), EC_P256, true, ['verify']);
}

/** A PKCS#10 certificate request (DER) for a document signer key, signed by that key wherever it is. */
export async function createCertificateRequest(o: { commonName: string; country: string; publicKey: KeyObject; signer: Es256Signer }): Promise<Uint8Array> {
  const x509 = await loadX509();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: [{ C: [o.country] }, { CN: [o.commonName] }],
      keys: { publicKey: await webPublicKey(o.publicKey), privateKey: SIGNER_KEY },
      signingAlgorithm: ECDSA_SHA256,
    },
    signerCrypto(o.signer),
  );
  return new Uint8Array(csr.rawData);
}

/** What a CSCA needs to sign: its certificate, and its key (PKCS#8 on the offline machine, or a signer). */
export interface CscaKey {
  certificateDer: Uint8Array;
  key: Es256Key;
}

/**
 * The CSCA signs a document signer request: the request's own signature is
 * checked, its subject and key kept, and the DSC gets the EU DCC key usages
 * (digitalSignature; EKU vaccination, 1.3.6.1.4.1.1847.2021.1.2). The DSC's
 * validity is cut to the CSCA's.
 */
export async function signCertificateRequest(o: { csrDer: Uint8Array; csca: CscaKey; validFrom: Date; validUntil: Date }): Promise<Uint8Array> {
  const x509 = await loadX509();
  let csr;
  try {
    csr = new x509.Pkcs10CertificateRequest(new Uint8Array(o.csrDer));
  } catch {
    throw invalid([issue('csr', 'not_a_csr', 'Not a PKCS#10 certificate request', 'Bukan permintaan sertifikat PKCS#10')]);
  }
  if (!(await csr.verify())) throw invalid([issue('csr', 'bad_signature', "The request's signature does not verify", 'Tanda tangan permintaan tidak valid')]);
  const caCert = new x509.X509Certificate(new Uint8Array(o.csca.certificateDer));
  const notBefore = new Date(Math.max(o.validFrom.getTime(), caCert.notBefore.getTime()));
  const notAfter = new Date(Math.min(o.validUntil.getTime(), caCert.notAfter.getTime()));
  if (!(notAfter > notBefore)) {
    throw invalid([issue('validUntil', 'outside_csca', "The signing key's validity must lie within its CSCA's validity", 'Masa berlaku kunci penanda tangan harus berada dalam masa berlaku CSCA-nya')]);
  }
  const publicKey = await csr.publicKey.export(EC_P256, ['verify'], globalThis.crypto);
  const key = o.csca.key;
  const signingKey = key instanceof KeyObject ? await subtle().importKey('pkcs8', new Uint8Array(key.export({ format: 'der', type: 'pkcs8' })), EC_P256, false, ['sign']) : SIGNER_KEY;
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: csr.subject,
      issuer: caCert.subject,
      notBefore,
      notAfter,
      publicKey,
      signingKey,
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([EKU_DCC_VACCINATION], false),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
      ],
    },
    key instanceof KeyObject ? globalThis.crypto : signerCrypto(key),
  );
  return new Uint8Array(cert.rawData);
}

/** Why a DSC does not chain to a CSCA, or undefined when it does (signature, issuer name, validity inside). */
export function chainProblem(dscDer: Uint8Array, cscaDers: readonly Uint8Array[]): string | undefined {
  let dsc: X509Certificate;
  try {
    dsc = new X509Certificate(dscDer);
  } catch {
    return 'the document signer certificate cannot be read';
  }
  if (cscaDers.length === 0) return 'no CSCA certificate is known';
  for (const der of cscaDers) {
    const ca = new X509Certificate(der);
    if (!dsc.checkIssued(ca) || !dsc.verify(ca.publicKey)) continue;
    if (dsc.validFromDate < ca.validFromDate || dsc.validToDate > ca.validToDate) return "the document signer's validity is not within its CSCA's";
    return undefined;
  }
  return 'the document signer certificate is not signed by a known CSCA';
}
