/**
 * Base45 (RFC 9285), the text encoding of the HC1 QR payload.
 *
 * Decoding is strict on purpose: several Base45 libraries accept input that
 * RFC 9285 §4 says MUST be rejected (characters outside the alphabet, a
 * dangling single character, triplets above 65535, pairs above 255), and the
 * EU DCC test corpus has cases that only a strict decoder gets right.
 */

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

/** Byte value → alphabet character code. */
const ENCODE_TABLE = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));

/** Character code (0..127) → value, or 255 when the character is not in the alphabet. */
const DECODE_TABLE = (() => {
  const table = new Uint8Array(128).fill(255);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

const latin1 = new TextDecoder('latin1');

/** Why a text is not valid Base45. */
export class Base45Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Base45Error';
  }
}

/** Encode bytes as Base45 text (RFC 9285 §4.2). */
export function base45Encode(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = new Uint8Array(Math.floor(n / 2) * 3 + (n % 2) * 2);
  let o = 0;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    // Two bytes → a 16-bit value → three digits, least significant first.
    let v = (bytes[i]! << 8) | bytes[i + 1]!;
    const c = v % 45;
    v = (v - c) / 45;
    const d = v % 45;
    const e = (v - d) / 45;
    out[o++] = ENCODE_TABLE[c]!;
    out[o++] = ENCODE_TABLE[d]!;
    out[o++] = ENCODE_TABLE[e]!;
  }
  if (i < n) {
    const v = bytes[i]!;
    const c = v % 45;
    out[o] = ENCODE_TABLE[c]!;
    out[o + 1] = ENCODE_TABLE[(v - c) / 45]!;
  }
  // The alphabet is ASCII, so latin1 decoding is exact and fast.
  return latin1.decode(out);
}

/** Decode Base45 text (RFC 9285 §4.3), rejecting every malformed input. Throws Base45Error. */
export function base45Decode(text: string): Uint8Array {
  const n = text.length;
  if (n % 3 === 1) {
    throw new Base45Error(`invalid Base45 length ${n}: a single character cannot encode a byte`);
  }
  const out = new Uint8Array(Math.floor(n / 3) * 2 + (n % 3 === 2 ? 1 : 0));
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = digit(text, i) + digit(text, i + 1) * 45 + digit(text, i + 2) * 2025;
    if (v > 0xffff) throw new Base45Error(`invalid Base45 triplet at ${i}: value ${v} exceeds 65535`);
    out[o++] = v >> 8;
    out[o++] = v & 0xff;
  }
  if (i < n) {
    const v = digit(text, i) + digit(text, i + 1) * 45;
    if (v > 0xff) throw new Base45Error(`invalid Base45 pair at ${i}: value ${v} exceeds 255`);
    out[o] = v;
  }
  return out;
}

function digit(text: string, at: number): number {
  const code = text.charCodeAt(at);
  const v = code < 128 ? DECODE_TABLE[code]! : 255;
  if (v === 255) {
    throw new Base45Error(`invalid Base45 character ${JSON.stringify(text[at])} at ${at}`);
  }
  return v;
}
