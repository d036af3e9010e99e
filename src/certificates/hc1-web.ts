/**
 * HC1 verification with the platform's Web APIs, for the verifier page
 * (browser-safe; it also runs on Node, which has the same APIs, so the tests
 * hold it to the server's verifier on the EU test corpus).
 *
 * The steps and the verdict are those of hc1-core.ts; what differs from the
 * server (hc1.ts) is only how the two platform steps are done: zlib with
 * DecompressionStream, and signatures with Web Crypto (ES256: ECDSA P-256 with
 * SHA-256, the signature as raw r‖s; PS256: RSA-PSS with SHA-256 and a salt
 * of 32 bytes). As on the server, the signer's key type fixes the algorithm.
 */

import type { Json } from './cbor.ts';
import { headerAllows, coseKid, sigStructure, type CoseAlgorithm, type CoseSign1 } from './cose-core.ts';
import {
  Hc1StepError,
  MAX_INFLATED_BYTES,
  decodeFailure,
  decodeFromCose,
  decodeUntilInflate,
  judgeHc1,
  type Hc1Decoded,
  type Hc1Parts,
  type Hc1Verification,
  type SignatureOutcome,
  type VerifyOptions,
} from './hc1-core.ts';
import { PSS_SALT_LENGTH } from './cose-core.ts';
import { base64ToBytes, bytesToBase64, sameBytes, type SignerValidity, type TrustedKey } from './trust-core.ts';
import { OID_RSASSA_PSS, asRsaEncryptionSpki, readSignerCertificate, type SignerCertificateFacts } from './x509-der.ts';

/** A trusted signer as the page uses it. */
export interface WebSigner extends SignerValidity {
  kid: Uint8Array;
  algorithm: CoseAlgorithm | undefined;
  facts: SignerCertificateFacts;
}

/**
 * Step 3 with DecompressionStream("deflate"), which is zlib (RFC 1950), as
 * the EU DCC requires. Output beyond MAX_INFLATED_BYTES is refused (a QR
 * code is < 2 KiB inflated: anything bigger is a zip bomb). Throws Hc1StepError.
 */
export async function inflateStepWeb(compressed: Uint8Array): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    const stream = new Blob([compressed as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate'));
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > MAX_INFLATED_BYTES) {
        await reader.cancel();
        throw new Error(`inflated data exceeds ${MAX_INFLATED_BYTES} bytes`);
      }
      chunks.push(value);
    }
  } catch (e) {
    throw new Hc1StepError('inflate', (e as Error).message, { cause: e });
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Decode an HC1 string through every step (as hc1.ts decodeHc1, with the Web's zlib). */
export async function decodeHc1Web(text: string): Promise<Hc1Decoded> {
  const parts: Partial<Hc1Parts> = {};
  try {
    const coseBytes = await inflateStepWeb(decodeUntilInflate(text, parts));
    return decodeFromCose(Object.assign(parts, { coseBytes }));
  } catch (e) {
    return decodeFailure(e, parts);
  }
}

/** Parsed signers per certificate: a trust list is parsed once, not per verification. */
const parsedSigners = new WeakMap<Uint8Array, SignerCertificateFacts | null>();
const importedKeys = new WeakMap<Uint8Array, Promise<CryptoKey | null>>();

function factsOf(der: Uint8Array): SignerCertificateFacts | null {
  let facts = parsedSigners.get(der);
  if (facts === undefined) {
    try {
      facts = readSignerCertificate(der);
    } catch {
      // A damaged trust-list entry must not stop the others from being tried.
      facts = null;
    }
    parsedSigners.set(der, facts);
  }
  return facts;
}

/** The trusted signers whose kid equals `kid` (kids are 8 bytes and can collide: all are tried). */
export function webSignersForKid(trustList: readonly TrustedKey[], kid: Uint8Array): { signer: WebSigner; der: Uint8Array }[] {
  const out: { signer: WebSigner; der: Uint8Array }[] = [];
  for (const entry of trustList) {
    const entryKid = base64ToBytes(entry.kid);
    if (!entryKid || !sameBytes(entryKid, kid)) continue;
    const facts = factsOf(entry.certificate);
    if (!facts) continue;
    out.push({
      der: entry.certificate,
      signer: {
        kid,
        algorithm: facts.algorithm,
        notBefore: facts.notBefore,
        notAfter: facts.notAfter,
        extendedKeyUsage: facts.extendedKeyUsage,
        facts,
      },
    });
  }
  return out;
}

function importKey(der: Uint8Array, facts: SignerCertificateFacts): Promise<CryptoKey | null> {
  let key = importedKeys.get(der);
  if (!key) {
    const spki = (facts.keyAlgorithm === OID_RSASSA_PSS ? asRsaEncryptionSpki(facts.spki) : facts.spki) as Uint8Array<ArrayBuffer>;
    const algorithm: EcKeyImportParams | RsaHashedImportParams =
      facts.algorithm === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSA-PSS', hash: 'SHA-256' };
    key = crypto.subtle.importKey('spki', spki, algorithm, false, ['verify']).catch(() => null);
    importedKeys.set(der, key);
  }
  return key;
}

/** True when `msg` is signed by the key of this signer certificate (algorithm fixed by the key type). */
export async function verifyCoseSign1Web(msg: CoseSign1, der: Uint8Array, facts: SignerCertificateFacts): Promise<boolean> {
  if (facts.algorithm === undefined || !headerAllows(msg, facts.algorithm)) return false;
  return verifyBySignerWeb(der, facts, msg.signature, sigStructure(msg.protectedBytes, msg.payload));
}

/**
 * True when `signature` over `data` is by the key of this signer certificate,
 * with the algorithm its key type fixes (ES256: the 64-byte r‖s form COSE and
 * JWS both use; PS256).
 */
export async function verifyBySignerWeb(der: Uint8Array, facts: SignerCertificateFacts, signatureBytes: Uint8Array, signed: Uint8Array): Promise<boolean> {
  const algorithm = facts.algorithm;
  if (algorithm === undefined) return false;
  if (algorithm === 'ES256' && signatureBytes.length !== 64) return false;
  const key = await importKey(der, facts);
  if (!key) return false;
  const data = signed as Uint8Array<ArrayBuffer>;
  const signature = signatureBytes as Uint8Array<ArrayBuffer>;
  try {
    return algorithm === 'ES256'
      ? await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, signature, data)
      : await crypto.subtle.verify({ name: 'RSA-PSS', saltLength: PSS_SALT_LENGTH }, key, signature, data);
  } catch {
    // A malformed signature (wrong length for the modulus…) is an invalid signature.
    return false;
  }
}

/** Find the signer by kid and check the signature with each candidate. */
export async function checkSignatureWeb(cose: CoseSign1, trustList: readonly TrustedKey[]): Promise<SignatureOutcome<WebSigner>> {
  const kid = coseKid(cose);
  const candidates = kid === undefined ? [] : webSignersForKid(trustList, kid);
  if (candidates.length === 0) return { ok: false, reason: 'unknown_kid' };
  for (const { signer, der } of candidates) {
    if (await verifyCoseSign1Web(cose, der, signer.facts)) return { ok: true, signer };
  }
  return { ok: false, reason: 'bad_signature' };
}

export interface WebVerifyOptions extends VerifyOptions {
  /** The revocation list: hashes of revoked UVCIs (see uvciRevocationHash). */
  revokedUvciHashes?: ReadonlySet<string>;
}

/** Verify an HC1 string in the browser, with the same steps and verdict as the server's verifyHc1. */
export async function verifyHc1Web(text: string, opts: WebVerifyOptions): Promise<Hc1Verification> {
  const decoded = await decodeHc1Web(text);
  if (!decoded.ok) return judgeHc1(decoded, undefined, opts);
  const signature = await checkSignatureWeb(decoded.cose, opts.trustList);
  let isRevoked = opts.isRevoked;
  const ci = uvciOf(decoded.hcert);
  if (signature.ok && ci !== undefined && opts.revokedUvciHashes?.size && opts.revokedUvciHashes.has(await uvciRevocationHash(ci))) {
    const before = opts.isRevoked;
    isRevoked = (uvci) => uvci === ci || (before?.(uvci) ?? false);
  }
  return judgeHc1(decoded, signature, { ...opts, ...(isRevoked ? { isRevoked } : {}) });
}

/** The certificate identifier of the (single) entry of an hcert, before schema checks. */
function uvciOf(hcert: Json): string | undefined {
  if (typeof hcert !== 'object' || hcert === null || Array.isArray(hcert)) return undefined;
  for (const type of ['v', 't', 'r']) {
    const list = hcert[type];
    const entry = Array.isArray(list) ? list[0] : undefined;
    if (typeof entry === 'object' && entry !== null && !Array.isArray(entry) && typeof entry.ci === 'string') return entry.ci;
  }
  return undefined;
}

/** The kid of a signer certificate: the first 8 bytes of its SHA-256, base64 (EU DCC). */
export async function kidOfWeb(certificateDer: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', certificateDer as Uint8Array<ArrayBuffer>));
  return bytesToBase64(digest.subarray(0, 8));
}

/**
 * How a UVCI appears in the revocation list: the first 16 bytes of the
 * SHA-256 of its text, base64. A verifier can check a certificate against the
 * list without the list naming any certificate.
 */
export async function uvciRevocationHash(uvci: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(uvci)));
  return bytesToBase64(digest.subarray(0, 16));
}
