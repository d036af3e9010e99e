/**
 * COSE_Sign1 (RFC 8152 §4.2) as the EU DCC uses it, on the server: sign with
 * ES256, verify ES256 and PS256 with node:crypto. The message structure and
 * its decoding are browser-safe and live in cose-core.ts (re-exported here);
 * the verifier page checks signatures with Web Crypto instead (hc1-web.ts).
 *
 * - Dosis signs with ES256: protected header {1 (alg): -7, 4 (kid): bstr},
 *   empty unprotected header, tag 18.
 * - The algorithm is fixed by the signer's key type (EC P-256 → ES256, RSA →
 *   PS256). A header that names another algorithm fails; a header alone never
 *   picks the algorithm, so a key cannot be tricked into a weaker scheme.
 */

import { constants, verify, type KeyObject } from 'node:crypto';
import { signEs256, type Es256Key } from './keys.ts';
import { Tag, encodeCbor } from './cbor.ts';
import {
  ALG_ES256,
  HEADER_ALG,
  HEADER_KID,
  PSS_SALT_LENGTH,
  TAG_COSE_SIGN1,
  headerAllows,
  sigStructure,
  type CoseAlgorithm,
  type CoseSign1,
} from './cose-core.ts';

export { ALG_ES256, ALG_PS256, CoseError, coseAlg, coseKid, decodeCoseSign1, headerAllows, sigStructure } from './cose-core.ts';
export type { CoseAlgorithm, CoseSign1 } from './cose-core.ts';

/**
 * Sign `payload` as a tagged COSE_Sign1 with ES256. `privateKey` must be a
 * P-256 private key or a signer holding one (key-store.ts); the signature is raw r‖s (64 bytes) as COSE requires.
 */
export function signCoseSign1(payload: Uint8Array, opts: { kid: Uint8Array; privateKey: Es256Key }): Uint8Array {
  const protectedBytes = encodeCbor(
    new Map<number, unknown>([
      [HEADER_ALG, ALG_ES256],
      [HEADER_KID, opts.kid],
    ]),
  );
  const signature = signEs256(sigStructure(protectedBytes, payload), opts.privateKey);
  return encodeCbor(new Tag([protectedBytes, new Map(), payload, signature], TAG_COSE_SIGN1));
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
  if (algorithm === undefined || !headerAllows(msg, algorithm)) return false;
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
