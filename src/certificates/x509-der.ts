/**
 * Reading what a verifier needs from a document signer certificate (X.509,
 * DER) without Node: validity, the public key (SubjectPublicKeyInfo, for Web
 * Crypto) and its type, and the extended key usage. Browser-safe.
 *
 * Why not a library: the verifier page needs four fields, and the X.509
 * libraries that run in browsers bring a dependency-injection container and a
 * Reflect polyfill with them (see peculiar-x509.ts). The server reads the same
 * fields with node:crypto's X509Certificate (trust.ts); a test checks that
 * both readings agree on every signer certificate of the EU test corpus.
 *
 * Only DER is accepted (RFC 5280 §4.1: certificates are DER-encoded); the
 * reader is strict about lengths so that a damaged certificate is refused
 * rather than half-read.
 */

import type { CoseAlgorithm } from './cose-core.ts';

/** What a verifier reads from a signer certificate. */
export interface SignerCertificateFacts {
  notBefore: Date;
  notAfter: Date;
  /** Extended key usage OIDs, or undefined when the certificate has no EKU extension. */
  extendedKeyUsage: readonly string[] | undefined;
  /** The DER of the SubjectPublicKeyInfo, as Web Crypto's importKey('spki') takes it. */
  spki: Uint8Array;
  /** The OID of the public key's algorithm (rsaEncryption, id-RSASSA-PSS, id-ecPublicKey…). */
  keyAlgorithm: string;
  /** The named curve of an EC key. */
  curve: string | undefined;
  /** The COSE algorithm the key type fixes (EC P-256 → ES256, RSA → PS256), undefined for other keys. */
  algorithm: CoseAlgorithm | undefined;
}

export const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
export const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';
export const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
export const OID_P256 = '1.2.840.10045.3.1.7';
const OID_EXTENDED_KEY_USAGE = '2.5.29.37';

/** Why bytes are not a certificate this reader understands. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

/** One DER element: its tag byte, where its content lies, and where the whole element lies. */
interface Element {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const NULL = 0x05;
const OID = 0x06;
const BOOLEAN = 0x01;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;
const CONTEXT_0 = 0xa0;
const CONTEXT_3 = 0xa3;

/** The element starting at `at`, which must end by `limit`. */
function element(der: Uint8Array, at: number, limit: number): Element {
  if (at + 2 > limit) throw new DerError(`truncated element at ${at}`);
  const tag = der[at]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tag at ${at}`);
  let length = der[at + 1]!;
  let contentStart = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new DerError(`unsupported length form at ${at}`);
    if (contentStart + count > limit) throw new DerError(`truncated length at ${at}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[contentStart + i]!;
    contentStart += count;
    if (length < 128 || (count > 1 && der[at + 2] === 0)) throw new DerError(`non-minimal length at ${at} (not DER)`);
  }
  const end = contentStart + length;
  if (end > limit) throw new DerError(`element at ${at} runs past its container`);
  return { tag, start: at, contentStart, end };
}

/** The children of a constructed element, which must fill it exactly. */
function children(der: Uint8Array, parent: Element): Element[] {
  const out: Element[] = [];
  let at = parent.contentStart;
  while (at < parent.end) {
    const child = element(der, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

function expect(e: Element | undefined, tag: number, what: string): Element {
  if (!e || e.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got ${e ? `0x${e.tag.toString(16)}` : 'nothing'}`);
  return e;
}

/** Dotted text of an OBJECT IDENTIFIER's content. */
function oidText(der: Uint8Array, e: Element): string {
  const parts: number[] = [];
  let value = 0;
  let first = true;
  for (let i = e.contentStart; i < e.end; i++) {
    const b = der[i]!;
    value = value * 128 + (b & 0x7f);
    if (b & 0x80) continue;
    if (first) {
      // X.690 §8.19.4: the first sub-identifier encodes two arcs.
      const arc = value < 40 ? 0 : value < 80 ? 1 : 2;
      parts.push(arc, value - arc * 40);
      first = false;
    } else {
      parts.push(value);
    }
    value = 0;
  }
  if (first || der[e.end - 1]! & 0x80) throw new DerError('malformed OBJECT IDENTIFIER');
  return parts.join('.');
}

function ascii(der: Uint8Array, e: Element): string {
  let s = '';
  for (let i = e.contentStart; i < e.end; i++) s += String.fromCharCode(der[i]!);
  return s;
}

/**
 * UTCTime (YYMMDDHHMMSSZ; RFC 5280 §4.1.2.5.1: YY < 50 is 20YY) or
 * GeneralizedTime (YYYYMMDDHHMMSS[.fff]Z).
 */
function time(der: Uint8Array, e: Element | undefined, what: string): Date {
  if (!e || (e.tag !== UTC_TIME && e.tag !== GENERALIZED_TIME)) throw new DerError(`${what}: not a time`);
  const s = ascii(der, e);
  const m =
    e.tag === UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(s)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(s);
  if (!m) throw new DerError(`${what}: unreadable time ${s}`);
  let year = Number(m[1]);
  if (e.tag === UTC_TIME) year += year < 50 ? 2000 : 1900;
  const date = new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)));
  if (Number.isNaN(date.getTime())) throw new DerError(`${what}: invalid time ${s}`);
  return date;
}

/** Read the verifier's facts from a DER X.509 certificate. Throws DerError when it is not one. */
export function readSignerCertificate(der: Uint8Array): SignerCertificateFacts {
  const cert = expect(element(der, 0, der.length), SEQUENCE, 'Certificate');
  if (cert.end !== der.length) throw new DerError('trailing bytes after the certificate');
  const [tbs, sigAlg, sigValue] = children(der, cert);
  expect(tbs, SEQUENCE, 'tbsCertificate');
  expect(sigAlg, SEQUENCE, 'signatureAlgorithm');
  expect(sigValue, BIT_STRING, 'signatureValue');
  const fields = children(der, tbs!);
  let i = 0;
  if (fields[i]?.tag === CONTEXT_0) i++; // version
  expect(fields[i++], INTEGER, 'serialNumber');
  expect(fields[i++], SEQUENCE, 'signature');
  expect(fields[i++], SEQUENCE, 'issuer');
  const validity = children(der, expect(fields[i++], SEQUENCE, 'validity'));
  expect(fields[i++], SEQUENCE, 'subject');
  const spki = expect(fields[i++], SEQUENCE, 'subjectPublicKeyInfo');
  const [algId, keyBits] = children(der, spki);
  const [algOid, algParams] = children(der, expect(algId, SEQUENCE, 'SubjectPublicKeyInfo.algorithm'));
  expect(keyBits, BIT_STRING, 'subjectPublicKey');
  const keyAlgorithm = oidText(der, expect(algOid, OID, 'public key algorithm'));
  const curve = keyAlgorithm === OID_EC_PUBLIC_KEY && algParams?.tag === OID ? oidText(der, algParams) : undefined;

  let extendedKeyUsage: string[] | undefined;
  for (; i < fields.length; i++) {
    if (fields[i]!.tag !== CONTEXT_3) continue;
    const [extensions] = children(der, fields[i]!);
    for (const ext of children(der, expect(extensions, SEQUENCE, 'extensions'))) {
      const parts = children(der, expect(ext, SEQUENCE, 'Extension'));
      const id = oidText(der, expect(parts[0], OID, 'extnID'));
      const value = parts[1]?.tag === BOOLEAN ? parts[2] : parts[1];
      if (id !== OID_EXTENDED_KEY_USAGE) continue;
      const octets = expect(value, OCTET_STRING, 'extnValue');
      const list = expect(element(der, octets.contentStart, octets.end), SEQUENCE, 'ExtKeyUsageSyntax');
      extendedKeyUsage = children(der, list).map((oid) => oidText(der, expect(oid, OID, 'KeyPurposeId')));
    }
  }

  const algorithm: CoseAlgorithm | undefined =
    keyAlgorithm === OID_EC_PUBLIC_KEY ? (curve === OID_P256 ? 'ES256' : undefined) : keyAlgorithm === OID_RSA_ENCRYPTION || keyAlgorithm === OID_RSASSA_PSS ? 'PS256' : undefined;
  return {
    notBefore: time(der, validity[0], 'notBefore'),
    notAfter: time(der, validity[1], 'notAfter'),
    extendedKeyUsage,
    spki: der.slice(spki.start, spki.end),
    keyAlgorithm,
    curve,
    algorithm,
  };
}

/**
 * The SubjectPublicKeyInfo of an RSA key restated with the rsaEncryption
 * algorithm identifier. Some signers publish RSA keys under id-RSASSA-PSS;
 * the key bits are the same RSAPublicKey, but browsers' Web Crypto only
 * imports the rsaEncryption form.
 */
export function asRsaEncryptionSpki(spki: Uint8Array): Uint8Array {
  const outer = expect(element(spki, 0, spki.length), SEQUENCE, 'SubjectPublicKeyInfo');
  const [, keyBits] = children(spki, outer);
  const bits = spki.slice(expect(keyBits, BIT_STRING, 'subjectPublicKey').start, keyBits!.end);
  // AlgorithmIdentifier { rsaEncryption, NULL }
  const algId = Uint8Array.of(SEQUENCE, 0x0d, OID, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, NULL, 0x00);
  return concat([derHeader(SEQUENCE, algId.length + bits.length), algId, bits]);
}

function derHeader(tag: number, length: number): Uint8Array {
  if (length < 128) return Uint8Array.of(tag, length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Uint8Array.of(tag, 0x80 | bytes.length, ...bytes);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const SET = 0x31;
/** Attribute types shown in a name, in the order people read them. */
const NAME_ATTRIBUTES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.6': 'C',
  '2.5.4.5': 'serialNumber',
};

/** A directory string's text: UTF8String, PrintableString, IA5String, T61String (as Latin-1) or BMPString. */
function directoryString(der: Uint8Array, e: Element): string {
  const bytes = der.subarray(e.contentStart, e.end);
  switch (e.tag) {
    case 0x0c:
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    case 0x13:
    case 0x16:
    case 0x14:
      return String.fromCharCode(...bytes);
    case 0x1e: {
      let s = '';
      for (let i = 0; i + 1 < bytes.length; i += 2) s += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
      return s;
    }
    default:
      return `#${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  }
}

/** A Name as people read it ("CN=…, O=…, C=…") and its country. */
function readName(der: Uint8Array, name: Element): { text: string; country: string | null } {
  const parts: string[] = [];
  let country: string | null = null;
  for (const rdn of children(der, expect(name, SEQUENCE, 'Name'))) {
    for (const atv of children(der, expect(rdn, SET, 'RelativeDistinguishedName'))) {
      const [type, value] = children(der, expect(atv, SEQUENCE, 'AttributeTypeAndValue'));
      const oid = oidText(der, expect(type, OID, 'AttributeType'));
      if (!value) throw new DerError('AttributeValue missing');
      const text = directoryString(der, value);
      if (oid === '2.5.4.6') country = text.toUpperCase();
      parts.push(`${NAME_ATTRIBUTES[oid] ?? oid}=${text}`);
    }
  }
  return { text: parts.join(', '), country };
}

/**
 * Who a certificate names as its subject and its issuer, for a person to
 * read before they trust it (the verifier's trust-list import). Throws
 * DerError when the bytes are not a certificate.
 */
export function readCertificateNames(der: Uint8Array): { subject: string; issuer: string; country: string | null } {
  const cert = expect(element(der, 0, der.length), SEQUENCE, 'Certificate');
  const [tbs] = children(der, cert);
  const fields = children(der, expect(tbs, SEQUENCE, 'tbsCertificate'));
  const i = fields[0]?.tag === CONTEXT_0 ? 1 : 0;
  const issuer = readName(der, expect(fields[i + 2], SEQUENCE, 'issuer'));
  const subject = readName(der, expect(fields[i + 4], SEQUENCE, 'subject'));
  return { subject: subject.text, issuer: issuer.text, country: subject.country };
}

const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/** The parts of a certificate a chain check needs, as DER slices. */
function chainParts(der: Uint8Array): { tbs: Uint8Array; sigAlg: string; signature: Uint8Array; issuer: Uint8Array; subject: Uint8Array; notBefore: Date; notAfter: Date; spki: Uint8Array } {
  const cert = expect(element(der, 0, der.length), SEQUENCE, 'Certificate');
  const [tbs, sigAlg, sigValue] = children(der, cert);
  const fields = children(der, expect(tbs, SEQUENCE, 'tbsCertificate'));
  let i = 0;
  if (fields[i]?.tag === CONTEXT_0) i++;
  i += 2; // serialNumber, signature
  const issuer = expect(fields[i++], SEQUENCE, 'issuer');
  const validity = children(der, expect(fields[i++], SEQUENCE, 'validity'));
  const subject = expect(fields[i++], SEQUENCE, 'subject');
  const spki = expect(fields[i], SEQUENCE, 'subjectPublicKeyInfo');
  const [algOid] = children(der, expect(sigAlg, SEQUENCE, 'signatureAlgorithm'));
  const bits = expect(sigValue, BIT_STRING, 'signatureValue');
  return {
    tbs: der.slice(tbs!.start, tbs!.end),
    sigAlg: oidText(der, expect(algOid, OID, 'signature algorithm')),
    signature: der.slice(bits.contentStart + 1, bits.end), // after the unused-bits byte
    issuer: der.slice(issuer.start, issuer.end),
    subject: der.slice(subject.start, subject.end),
    notBefore: time(der, validity[0], 'notBefore'),
    notAfter: time(der, validity[1], 'notAfter'),
    spki: der.slice(spki.start, spki.end),
  };
}

/** ECDSA-Sig-Value (DER) → r‖s of `size`-byte integers, as Web Crypto verifies. */
function ecdsaRaw(sig: Uint8Array, size: number): Uint8Array {
  const seq = expect(element(sig, 0, sig.length), SEQUENCE, 'ECDSA-Sig-Value');
  const out = new Uint8Array(size * 2);
  children(sig, seq).forEach((n, k) => {
    let v = sig.subarray(expect(n, INTEGER, 'ECDSA integer').contentStart, n.end);
    while (v.length > size && v[0] === 0) v = v.subarray(1);
    if (v.length > size || k > 1) throw new DerError('ECDSA integer too long');
    out.set(v, k * size + size - v.length);
  });
  return out;
}

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * True when the DSC is issued by one of the CSCAs (issuer = CSCA subject, the
 * CSCA's P-256 key verifies the ECDSA-SHA256 signature, the DSC's validity
 * within the CSCA's), with Web Crypto: the browser verifier's chain check,
 * the same rule as the server's (keys.ts chainProblem). Dosis's CSCAs sign
 * with ES256; a DSC under another algorithm does not chain here.
 */
export async function chainsToWeb(dscDer: Uint8Array, cscaDers: readonly Uint8Array[]): Promise<boolean> {
  let dsc;
  try {
    dsc = chainParts(dscDer);
  } catch {
    return false;
  }
  if (dsc.sigAlg !== OID_ECDSA_WITH_SHA256) return false;
  for (const caDer of cscaDers) {
    try {
      const ca = chainParts(caDer);
      if (!equalBytes(ca.subject, dsc.issuer) || dsc.notBefore < ca.notBefore || dsc.notAfter > ca.notAfter) continue;
      const key = await globalThis.crypto.subtle.importKey('spki', ca.spki as BufferSource, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
      const ok = await globalThis.crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, ecdsaRaw(dsc.signature, 32) as BufferSource, dsc.tbs as BufferSource);
      if (ok) return true;
    } catch {
      // A CSCA that cannot be read or is not P-256: try the next.
    }
  }
  return false;
}
