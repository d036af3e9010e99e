/**
 * COSE_Sign1 (RFC 8152 §4.2) as the EU DCC uses it: sign with ES256, verify
 * ES256 and PS256.
 *
 * - Dosis signs with ES256: protected header {1 (alg): -7, 4 (kid): bstr},
 *   empty unprotected header, tag 18.
 * - Verification accepts the kid in the protected or the unprotected header
 *   (EU DCC spec: "Verifiers MUST accept both options"; the protected one wins
 *   when both are there), the untagged form, tag 18, and tag 61 (CWT) around
 *   tag 18, which one issuer in the EU test corpus uses.
 * - The algorithm is fixed by the signer's key type (EC P-256 → ES256, RSA →
 *   PS256). A header that names another algorithm fails; a header alone never
 *   picks the algorithm, so a key cannot be tricked into a weaker scheme.
 */

import { constants, sign, verify, type KeyObject } from 'node:crypto';
import { Tag, decodeCbor, encodeCbor } from './cbor.ts';

/** COSE algorithm identifiers (IANA COSE Algorithms registry). */
export const ALG_ES256 = -7;
export const ALG_PS256 = -37;
export type CoseAlgorithm = 'ES256' | 'PS256';

const HEADER_ALG = 1;
const HEADER_KID = 4;
const TAG_COSE_SIGN1 = 18;
const TAG_CWT = 61;
/** RFC 8230 §2: PSS salt as long as the hash, 32 bytes for SHA-256. */
const PSS_SALT_LENGTH = 32;

/** A decoded COSE_Sign1 message. `protectedBytes` are kept as received: the signature covers them. */
export interface CoseSign1 {
  protectedBytes: Uint8Array;
  protectedHeader: Map<unknown, unknown>;
  unprotectedHeader: Map<unknown, unknown>;
  payload: Uint8Array;
  signature: Uint8Array;
  /** The CBOR tags around the message, outermost first: [], [18] or [61, 18]. */
  tags: number[];
}

/** Why bytes are not a COSE_Sign1 message. */
export class CoseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CoseError';
  }
}

/** The bytes that are signed: Sig_structure = ["Signature1", protected, external_aad (empty), payload] (RFC 8152 §4.4). */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['Signature1', protectedBytes, EMPTY, payload]);
}

const EMPTY = new Uint8Array(0);

/**
 * Sign `payload` as a tagged COSE_Sign1 with ES256. `privateKey` must be a
 * P-256 private key; the signature is raw r‖s (64 bytes) as COSE requires.
 */
export function signCoseSign1(payload: Uint8Array, opts: { kid: Uint8Array; privateKey: KeyObject }): Uint8Array {
  const protectedBytes = encodeCbor(
    new Map<number, unknown>([
      [HEADER_ALG, ALG_ES256],
      [HEADER_KID, opts.kid],
    ]),
  );
  const signature = sign('sha256', sigStructure(protectedBytes, payload), {
    key: opts.privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return encodeCbor(new Tag([protectedBytes, new Map(), payload, signature], TAG_COSE_SIGN1));
}

/** Decode a COSE_Sign1 message, tagged or not. Throws CoseError when it is not one. */
export function decodeCoseSign1(bytes: Uint8Array): CoseSign1 {
  let item: unknown;
  try {
    item = decodeCbor(bytes);
  } catch (e) {
    throw new CoseError(`not CBOR: ${(e as Error).message}`, { cause: e });
  }
  const tags: number[] = [];
  while (item instanceof Tag) {
    tags.push(item.tag);
    item = item.value;
  }
  const tagList = tags.join(',');
  if (tagList !== '' && tagList !== `${TAG_COSE_SIGN1}` && tagList !== `${TAG_CWT},${TAG_COSE_SIGN1}`) {
    throw new CoseError(`unexpected CBOR tags ${tagList} (expected COSE_Sign1, tag 18)`);
  }
  if (!Array.isArray(item) || item.length !== 4) throw new CoseError('COSE_Sign1 must be an array of 4 items');
  const [protectedBytes, unprotectedHeader, payload, signature] = item as unknown[];
  if (!(protectedBytes instanceof Uint8Array)) throw new CoseError('protected header must be a byte string');
  if (!(unprotectedHeader instanceof Map)) throw new CoseError('unprotected header must be a map');
  if (!(payload instanceof Uint8Array)) throw new CoseError('payload must be a byte string (detached payloads are not supported)');
  if (!(signature instanceof Uint8Array)) throw new CoseError('signature must be a byte string');
  let protectedHeader: Map<unknown, unknown>;
  if (protectedBytes.length === 0) {
    // RFC 8152 §3: a zero-length protected header stands for an empty map.
    protectedHeader = new Map();
  } else {
    let decoded: unknown;
    try {
      decoded = decodeCbor(protectedBytes);
    } catch (e) {
      throw new CoseError(`protected header is not CBOR: ${(e as Error).message}`, { cause: e });
    }
    if (!(decoded instanceof Map)) throw new CoseError('protected header must encode a map');
    protectedHeader = decoded as Map<unknown, unknown>;
  }
  return {
    protectedBytes,
    protectedHeader,
    unprotectedHeader: unprotectedHeader as Map<unknown, unknown>,
    payload,
    signature,
    tags,
  };
}

/** The key identifier: from the protected header when present there, else from the unprotected one. */
export function coseKid(msg: CoseSign1): Uint8Array | undefined {
  const kid = msg.protectedHeader.has(HEADER_KID) ? msg.protectedHeader.get(HEADER_KID) : msg.unprotectedHeader.get(HEADER_KID);
  return kid instanceof Uint8Array ? kid : undefined;
}

/** The algorithm named in the headers (protected first), if any. */
export function coseAlg(msg: CoseSign1): unknown {
  return msg.protectedHeader.has(HEADER_ALG) ? msg.protectedHeader.get(HEADER_ALG) : msg.unprotectedHeader.get(HEADER_ALG);
}

/** The COSE algorithm a public key verifies: EC P-256 → ES256, RSA (incl. RSASSA-PSS keys) → PS256, else none. */
export function algorithmForKey(key: KeyObject): CoseAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ec') return key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'ES256' : undefined;
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') return 'PS256';
  return undefined;
}

/**
 * True when the signature of `msg` is valid under `publicKey`. The algorithm
 * comes from the key (see algorithmForKey); a header alg that disagrees makes
 * the signature invalid.
 */
export function verifyCoseSign1(msg: CoseSign1, publicKey: KeyObject, algorithm = algorithmForKey(publicKey)): boolean {
  if (algorithm === undefined) return false;
  const headerAlg = coseAlg(msg);
  const expected = algorithm === 'ES256' ? ALG_ES256 : ALG_PS256;
  if (headerAlg !== undefined && headerAlg !== expected) return false;
  const data = sigStructure(msg.protectedBytes, msg.payload);
  try {
    if (algorithm === 'ES256') {
      if (msg.signature.length !== 64) return false;
      return verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, msg.signature);
    }
    return verify(
      'sha256',
      data,
      { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: PSS_SALT_LENGTH },
      msg.signature,
    );
  } catch {
    // OpenSSL throws on malformed signatures (wrong length for the modulus…): that is an invalid signature.
    return false;
  }
}
