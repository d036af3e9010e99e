/**
 * The trust-list rules shared by the server and the verifier page
 * (browser-safe: no Node built-ins): what a trust-list entry is, which
 * certificate types a document signer may sign, and kid matching. How a
 * signer certificate is read differs (node:crypto's X509Certificate in
 * trust.ts, a small DER reader in x509-der.ts for the browser); the rules
 * applied to what is read are these.
 */

import type { CertificateType } from './dcc.ts';

/** One trusted document signer: its kid (base64) and its X.509 certificate (DER). */
export interface TrustedKey {
  kid: string;
  certificate: Uint8Array;
}

/** What the verification rules need from a signer certificate once its signature is checked. */
export interface SignerValidity {
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

/** Standard base64 of bytes (the form kids take in trust lists). */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Bytes of base64 text, standard or URL-safe, padded or not; undefined when it is not base64. */
export function base64ToBytes(text: string): Uint8Array | undefined {
  const normal = text.trim().replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/]*$/.test(normal) || normal.length % 4 === 1) return undefined;
  const binary = atob(normal + '='.repeat((4 - (normal.length % 4)) % 4));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** True when two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
