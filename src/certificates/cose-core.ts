/**
 * COSE_Sign1 (RFC 8152 §4.2) messages as the EU DCC uses them: the structure,
 * its decoding and the bytes a signature covers. Browser-safe (no Node
 * built-ins): the verifier page uses it with Web Crypto, the server with
 * node:crypto (cose.ts, which re-exports everything here).
 *
 * - Decoding accepts the kid in the protected or the unprotected header
 *   (EU DCC spec: "Verifiers MUST accept both options"; the protected one wins
 *   when both are there), the untagged form, tag 18, and tag 61 (CWT) around
 *   tag 18, which one issuer in the EU test corpus uses.
 * - The algorithm is fixed by the signer's key type (EC P-256 → ES256, RSA →
 *   PS256). `headerAllows` says whether a message's header agrees with it; a
 *   header alone never picks the algorithm, so a key cannot be tricked into a
 *   weaker scheme.
 */

import { Tag, decodeCbor, encodeCbor } from './cbor.ts';

/** COSE algorithm identifiers (IANA COSE Algorithms registry). */
export const ALG_ES256 = -7;
export const ALG_PS256 = -37;
export type CoseAlgorithm = 'ES256' | 'PS256';

/** COSE header labels (RFC 8152 §3.1). */
export const HEADER_ALG = 1;
export const HEADER_KID = 4;
/** CBOR tags: COSE_Sign1 (RFC 8152) and CWT (RFC 8392). */
export const TAG_COSE_SIGN1 = 18;
const TAG_CWT = 61;
/** RFC 8230 §2: PSS salt as long as the hash, 32 bytes for SHA-256. */
export const PSS_SALT_LENGTH = 32;

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

/**
 * Whether the message's header algorithm (if any) agrees with the algorithm
 * the signer's key fixes. A header that names another algorithm makes the
 * signature invalid.
 */
export function headerAllows(msg: CoseSign1, algorithm: CoseAlgorithm): boolean {
  const headerAlg = coseAlg(msg);
  return headerAlg === undefined || headerAlg === (algorithm === 'ES256' ? ALG_ES256 : ALG_PS256);
}
