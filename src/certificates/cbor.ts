/**
 * The one CBOR encoder and decoder of the certificates code, configured for
 * COSE/CWT, and the conversion of decoded CBOR to plain JSON values.
 *
 * cbor-x's defaults break COSE: it tags maps (259) and byte strings, and
 * stores plain objects as "records" (tag 57343). Integer-keyed maps (COSE
 * headers, CWT claims) must be `Map`s; string-keyed objects (the hcert JSON)
 * are plain objects.
 */

import { Decoder, Encoder, Tag, type Options } from 'cbor-x';

/** `useTag259ForMaps` is a cbor-x option its type declarations do not list. */
const ENCODER_OPTIONS: Options & { useTag259ForMaps: boolean } = {
  useTag259ForMaps: false,
  tagUint8Array: false,
  variableMapSize: true,
  mapsAsObjects: false,
  useRecords: false,
};

/** Reused for every certificate: creating an encoder per call costs more than encoding. */
export const cborEncoder = new Encoder(ENCODER_OPTIONS);

const cborDecoder = new Decoder({ mapsAsObjects: false, useRecords: false });

/** Encode one CBOR data item. */
export function encodeCbor(value: unknown): Uint8Array {
  return cborEncoder.encode(value);
}

/** Decode exactly one CBOR data item (trailing bytes are an error). Maps decode as `Map`. Throws on bad input. */
export function decodeCbor(bytes: Uint8Array): unknown {
  return cborDecoder.decode(bytes) as unknown;
}

/** A JSON value. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Why a CBOR value has no JSON equivalent. */
export class CborShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CborShapeError';
  }
}

/**
 * Convert a decoded CBOR value to JSON. Text-keyed maps become objects;
 * CBOR date/time (tags 0 and 1) becomes an RFC 3339 string, and a full-date
 * (tag 1004, RFC 8943) its text — some issuers tag dates that the schema
 * defines as strings. Anything else without a JSON form (byte strings, other
 * tags, non-text map keys, undefined) throws CborShapeError.
 */
export function cborToJson(value: unknown, path = ''): Json {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new CborShapeError(`${path || '/'}: ${value} is not a JSON number`);
    return value;
  }
  if (typeof value === 'bigint') {
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw new CborShapeError(`${path || '/'}: integer out of range`);
    return n;
  }
  if (Array.isArray(value)) return value.map((v, i) => cborToJson(v, `${path}/${i}`));
  if (value instanceof Map) {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of value as Map<unknown, unknown>) {
      if (typeof k !== 'string') throw new CborShapeError(`${path || '/'}: map key ${String(k)} is not text`);
      if (k === '__proto__') throw new CborShapeError(`${path || '/'}: map key __proto__ is not allowed`);
      out[k] = cborToJson(v, `${path}/${k}`);
    }
    return out;
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new CborShapeError(`${path || '/'}: invalid CBOR date/time`);
    return value.toISOString().replace('.000Z', 'Z');
  }
  if (value instanceof Tag && value.tag === 1004 && typeof value.value === 'string') return value.value;
  if (value instanceof Tag) throw new CborShapeError(`${path || '/'}: unsupported CBOR tag ${value.tag}`);
  if (value instanceof Uint8Array) throw new CborShapeError(`${path || '/'}: byte string where JSON expects a value`);
  throw new CborShapeError(`${path || '/'}: value has no JSON form`);
}

/** The `Tag` class of cbor-x, for callers that unwrap tagged items. */
export { Tag };
