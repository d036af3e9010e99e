/**
 * The trust list as the server's verifier uses it: document signer
 * certificates by kid, with the public key, validity and extended key usage
 * read from each X.509 certificate (node:crypto, no extra dependency). The
 * rules applied to them are browser-safe and shared with the verifier page
 * (trust-core.ts, re-exported here).
 */

import { X509Certificate, type KeyObject } from 'node:crypto';
import { algorithmForKey, type CoseAlgorithm } from './cose.ts';
import type { SignerValidity, TrustedKey } from './trust-core.ts';

export { DCC_KEY_USAGE, keyUsageAllows } from './trust-core.ts';
export type { SignerValidity, TrustedKey } from './trust-core.ts';

/** What verification needs from a trusted key. */
export interface Signer extends SignerValidity {
  kid: Uint8Array;
  publicKey: KeyObject;
  /** The COSE algorithm the key type fixes, or undefined for an unsupported key. */
  algorithm: CoseAlgorithm | undefined;
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
