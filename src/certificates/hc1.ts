/**
 * HC1: the EU DCC QR payload, on the server. Encoding is
 *   hcert JSON → CWT claims (CBOR) → COSE_Sign1 (ES256) → zlib → Base45 → "HC1:"
 * and decoding walks the same steps back, one at a time, so that a caller
 * (the verifier, the conformance test) can see which step failed.
 *
 * The steps, reason codes and checks are browser-safe and shared with the
 * verifier page (hc1-core.ts, re-exported here); this file adds what uses
 * Node: signing, zlib, and signature checks with node:crypto.
 *
 * Verification failures are results with a reason code, never exceptions:
 * a damaged or forged QR code is an expected input of a verifier.
 */

import { inflateSync } from 'node:zlib';
import { base45Decode, base45Encode } from './base45.ts';
import type { Es256Key } from './keys.ts';
import { encodeCbor } from './cbor.ts';
import { coseKid, signCoseSign1, verifyCoseSign1, type CoseSign1 } from './cose.ts';
import type { HcertPayload } from './dcc.ts';
import {
  CLAIM_EXP,
  CLAIM_HCERT,
  CLAIM_IAT,
  CLAIM_ISS,
  HC1_PREFIX,
  HCERT_EU_DCC_V1,
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
import { signersForKid, type Signer, type TrustedKey } from './trust.ts';

export {
  HC1_PREFIX,
  REASON_MESSAGES,
  STEP_REASON,
  Hc1StepError,
  checkTimes,
  claimsStep,
  coseStep,
  decodeBase45Step,
  hcertStep,
  judgeHc1,
  unprefixHc1,
} from './hc1-core.ts';
export type {
  CwtClaims,
  Hc1Decoded,
  Hc1Parts,
  Hc1Step,
  Hc1Verification,
  ReasonCode,
  SignatureOutcome,
  VerificationFacts,
  VerifyOptions,
} from './hc1-core.ts';
export type { TrustedKey } from './trust.ts';

// ---------------------------------------------------------------- encode

export interface Hc1SignOptions {
  /** Issuing country, claim `iss`. */
  issuer: string;
  issuedAt: Date;
  expiresAt: Date;
  /** kid of the signing key's DSC (8 bytes). */
  kid: Uint8Array;
  /** P-256 private key (see keys.importPrivateKey). */
  privateKey: Es256Key;
}

/**
 * Sign and encode a payload as an HC1 string. Hot path (every recorded dose):
 * one CBOR encoder is reused, the signature is one node:crypto call on a
 * parsed KeyObject, and zlib runs synchronously (a few µs for < 1 KiB).
 */
export function encodeHc1(payload: HcertPayload, opts: Hc1SignOptions): string {
  const iat = Math.floor(opts.issuedAt.getTime() / 1000);
  const exp = Math.floor(opts.expiresAt.getTime() / 1000);
  if (!Number.isFinite(iat) || !Number.isFinite(exp) || exp <= iat) {
    throw new RangeError('encodeHc1: expiresAt must be a valid time after issuedAt');
  }
  const claims = new Map<number, unknown>([
    [CLAIM_ISS, opts.issuer],
    [CLAIM_IAT, iat],
    [CLAIM_EXP, exp],
    [CLAIM_HCERT, new Map([[HCERT_EU_DCC_V1, withoutUndefined(payload)]])],
  ]);
  const cose = signCoseSign1(encodeCbor(claims), { kid: opts.kid, privateKey: opts.privateKey });
  return HC1_PREFIX + base45Encode(zlibStored(cose));
}

/**
 * What a certificate row keeps of its HC1 text (issue 20): the bytes under the
 * Base45, i.e. the zlib stream of the signed COSE message — two thirds of the
 * text's length (Base45 writes 2 bytes as 3 characters). The text is built
 * again on every read by `hc1OfStored`: Base45 is a fixed, bijective encoding
 * of bytes (RFC 9285; no choice of compression level or library is involved),
 * so the QR code and its signature are byte for byte the ones issued.
 * Throws when `text` would not come back exactly (it does for every text
 * `encodeHc1` made).
 */
export function storedHc1(text: string): Buffer {
  if (!text.startsWith(HC1_PREFIX)) throw new RangeError('storedHc1: not an HC1 text');
  const bytes = Buffer.from(base45Decode(text.slice(HC1_PREFIX.length)));
  if (HC1_PREFIX + base45Encode(bytes) !== text) throw new RangeError('storedHc1: the text does not come back from its bytes');
  return bytes;
}

/** The HC1 text of a certificate row: its bytes (`hc1`, migration 042) in Base45, or the text of a row written before (`qr`). */
export function hc1OfStored(row: { qr?: string | null; hc1?: Uint8Array | string | null }): string {
  if (row.qr) return row.qr;
  if (row.hc1 == null) throw new RangeError('hc1OfStored: a certificate row without its HC1');
  // JSON (holder_view) carries the bytes as base64.
  return HC1_PREFIX + base45Encode(typeof row.hc1 === 'string' ? Buffer.from(row.hc1, 'base64') : row.hc1);
}

/**
 * `data` as a zlib stream (RFC 1950) of stored deflate blocks (RFC 1951
 * §3.2.4): header, the bytes as they are, Adler-32. Any inflate reads it. A
 * COSE message is mostly a signature and random identifiers: deflate at
 * level 9 made ours larger (338 → 347 bytes, where stored blocks give 349)
 * and cost ~25 µs per certificate, stored blocks ~1 µs.
 */
export function zlibStored(data: Uint8Array): Buffer {
  const blocks = Math.max(1, Math.ceil(data.length / 0xffff));
  const out = Buffer.allocUnsafe(2 + blocks * 5 + data.length + 4);
  out[0] = 0x78; // deflate, 32 KiB window
  out[1] = 0x01; // no dictionary, fastest; (0x78 << 8 | 0x01) % 31 === 0
  let at = 2;
  for (let b = 0; b < blocks; b++) {
    const chunk = data.subarray(b * 0xffff, (b + 1) * 0xffff);
    out[at] = b === blocks - 1 ? 1 : 0; // BFINAL, BTYPE 00 (stored)
    out.writeUInt16LE(chunk.length, at + 1);
    out.writeUInt16LE(~chunk.length & 0xffff, at + 3);
    out.set(chunk, at + 5);
    at += 5 + chunk.length;
  }
  out.writeUInt32BE(adler32(data), at);
  return out;
}

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length; ) {
    // 5552 bytes is the most that can be summed before b could pass 2^32 (zlib's NMAX).
    const end = Math.min(i + 5552, data.length);
    for (; i < end; i++) {
      a += data[i] as number;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** A copy without `undefined` members: CBOR would encode them as `undefined`, which JSON has no word for. */
function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = withoutUndefined(v);
    return out;
  }
  return value;
}

// ---------------------------------------------------------------- decode, step by step

/**
 * Step 3: zlib (RFC 1950) → COSE bytes. Uncompressed data is refused: the EU
 * DCC spec says the CWT SHALL be compressed, and the corpus tests exactly that.
 * Throws Hc1StepError.
 */
export function inflateStep(compressed: Uint8Array): Uint8Array {
  try {
    return new Uint8Array(inflateSync(compressed, { maxOutputLength: MAX_INFLATED_BYTES }));
  } catch (e) {
    throw new Hc1StepError('inflate', (e as Error).message, { cause: e });
  }
}

/** Decode an HC1 string through every step; on failure, says which step failed and keeps what the earlier ones produced. */
export function decodeHc1(text: string): Hc1Decoded {
  const parts: Partial<Hc1Parts> = {};
  try {
    const coseBytes = inflateStep(decodeUntilInflate(text, parts));
    return decodeFromCose(Object.assign(parts, { coseBytes }));
  } catch (e) {
    return decodeFailure(e, parts);
  }
}

// ---------------------------------------------------------------- verification checks

/** The signature check with the server's signers (node:crypto keys). */
export type SignatureCheck = SignatureOutcome<Signer>;

/** Find the signer by kid and check the signature with each candidate (kids can collide). */
export function checkSignature(cose: CoseSign1, trustList: readonly TrustedKey[]): SignatureCheck {
  const kid = coseKid(cose);
  const candidates = kid === undefined ? [] : signersForKid(trustList, kid);
  if (candidates.length === 0) return { ok: false, reason: 'unknown_kid' };
  for (const signer of candidates) {
    if (verifyCoseSign1(cose, signer.publicKey, signer.algorithm)) return { ok: true, signer };
  }
  return { ok: false, reason: 'bad_signature' };
}

// ---------------------------------------------------------------- verify

/**
 * Verify an HC1 string: decode every step, find the signer by kid, check the
 * signature with the algorithm of the signer's key, then judge the rest
 * (hc1-core.ts judgeHc1): that the signer's certificate covers iat and exp,
 * the schema, that the signer may sign this type of certificate, revocation,
 * then the validity at `now`.
 */
export function verifyHc1(text: string, opts: VerifyOptions): Hc1Verification {
  const decoded = decodeHc1(text);
  return judgeHc1(decoded, decoded.ok ? checkSignature(decoded.cose, opts.trustList) : undefined, opts);
}
