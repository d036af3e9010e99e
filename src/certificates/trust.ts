/**
 * The trust list as the verifier uses it: document signer certificates by kid,
 * with the public key, validity and extended key usage read from each X.509
 * certificate (node:crypto, no extra dependency).
 */

import { X509Certificate, type KeyObject } from 'node:crypto';
import { algorithmForKey, type CoseAlgorithm } from './cose.ts';
import type { CertificateType } from './dcc.ts';

/** One trusted document signer: its kid (base64) and its X.509 certificate (DER). */
export interface TrustedKey {
  kid: string;
  certificate: Uint8Array;
}

/** What verification needs from a trusted key. */
export interface Signer {
  kid: Uint8Array;
  publicKey: KeyObject;
  /** The COSE algorithm the key type fixes, or undefined for an unsupported key. */
  algorithm: CoseAlgorithm | undefined;
  notBefore: Date;
  notAfter: Date;
  /** Extended key usage OIDs, or undefined when the certificate has no EKU extension. */
  extendedKeyUsage: readonly string[] | undefined;
}

/**
 * DSC extended key usage per certificate type (EU DCC technical specification
 * v1; the `1.3.6.1.4.1.0.1847…` spelling was used by several early issuers and
 * by the EU test corpus, and verifiers accept both).
 */
export const DCC_KEY_USAGE: Readonly<Record<CertificateType, readonly string[]>> = {
  t: ['1.3.6.1.4.1.1847.2021.1.1', '1.3.6.1.4.1.0.1847.2021.1.1'],
  v: ['1.3.6.1.4.1.1847.2021.1.2', '1.3.6.1.4.1.0.1847.2021.1.2'],
  r: ['1.3.6.1.4.1.1847.2021.1.3', '1.3.6.1.4.1.0.1847.2021.1.3'],
};
const ALL_DCC_KEY_USAGE = new Set(Object.values(DCC_KEY_USAGE).flat());
/** RFC 5280 §4.2.1.12 anyExtendedKeyUsage. */
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';

/**
 * Whether a DSC with these extended key usages may sign a certificate of `type`.
 *
 * - No EKU extension (or an empty one): the key is not restricted, all types.
 * - Any of the DCC OIDs present: exactly the types whose OID is present.
 * - Only other purposes (TLS, ICAO document signing…): not a DCC signer
 *   (RFC 5280: an EKU extension limits the key to the purposes it lists),
 *   unless anyExtendedKeyUsage is among them. The EU test corpus expects this:
 *   IS/3 is signed by a DSC whose only EKU is ICAO's 2.23.136.1.1.14.2 and
 *   must fail the key-usage check.
 */
export function keyUsageAllows(extendedKeyUsage: readonly string[] | undefined, type: CertificateType): boolean {
  if (extendedKeyUsage === undefined || extendedKeyUsage.length === 0) return true;
  if (extendedKeyUsage.some((oid) => ALL_DCC_KEY_USAGE.has(oid))) {
    return extendedKeyUsage.some((oid) => DCC_KEY_USAGE[type].includes(oid));
  }
  return extendedKeyUsage.includes(ANY_EXTENDED_KEY_USAGE);
}

/** Decoded kids per trust-list entry (base64, standard or URL-safe). */
const kids = new WeakMap<TrustedKey, Buffer>();

function kidBytes(entry: TrustedKey): Buffer {
  let bytes = kids.get(entry);
  if (!bytes) {
    bytes = Buffer.from(entry.kid, 'base64');
    kids.set(entry, bytes);
  }
  return bytes;
}

/** Parsed signers, per certificate byte array: a trust list is parsed once, not per verification. */
const parsed = new WeakMap<Uint8Array, Omit<Signer, 'kid'>>();

/** Read the signer facts from a DER certificate. Throws when it is not a certificate. */
export function parseCertificate(der: Uint8Array): Omit<Signer, 'kid'> {
  let signer = parsed.get(der);
  if (!signer) {
    const cert = new X509Certificate(der);
    const publicKey = cert.publicKey;
    signer = {
      publicKey,
      algorithm: algorithmForKey(publicKey),
      notBefore: cert.validFromDate,
      notAfter: cert.validToDate,
      // node:crypto names the *extended* key usage list `keyUsage`; it is undefined without the extension.
      extendedKeyUsage: extendedKeyUsageOf(cert),
    };
    parsed.set(der, signer);
  }
  return signer;
}

function extendedKeyUsageOf(cert: X509Certificate): readonly string[] | undefined {
  const list: readonly string[] | undefined = cert.keyUsage;
  return list;
}

/**
 * The trusted signers whose kid equals `kid`. kids are 8 bytes, so two DSCs
 * can share one: the EU DCC spec says a verifier MUST try all of them.
 * A trust-list entry whose certificate cannot be parsed is skipped.
 */
export function signersForKid(trustList: readonly TrustedKey[], kid: Uint8Array): Signer[] {
  const wanted = Buffer.from(kid.buffer, kid.byteOffset, kid.byteLength);
  const out: Signer[] = [];
  for (const entry of trustList) {
    if (!wanted.equals(kidBytes(entry))) continue;
    try {
      out.push({ kid, ...parseCertificate(entry.certificate) });
    } catch {
      // A damaged trust-list entry must not stop the others from being tried.
    }
  }
  return out;
}
