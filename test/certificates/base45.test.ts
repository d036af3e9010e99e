import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Base45Error, base45Decode, base45Encode } from '../../src/certificates/base45.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

test('encodes the examples of RFC 9285 §4.3', () => {
  assert.equal(base45Encode(text('AB')), 'BB8');
  assert.equal(base45Encode(text('Hello!!')), '%69 VD92EX0');
  assert.equal(base45Encode(text('base-45')), 'UJCLQE7W581');
  assert.equal(base45Encode(text('ietf!')), 'QED8WEX0');
  assert.equal(base45Encode(new Uint8Array(0)), '');
});

test('decodes the examples of RFC 9285 §4.3', () => {
  assert.equal(str(base45Decode('QED8WEX0')), 'ietf!');
  assert.equal(str(base45Decode('%69 VD92EX0')), 'Hello!!');
  assert.equal(str(base45Decode('UJCLQE7W581')), 'base-45');
  assert.deepEqual(base45Decode(''), new Uint8Array(0));
});

test('round-trips every length and the extreme byte values', () => {
  for (let n = 0; n < 64; n++) {
    const bytes = new Uint8Array(randomBytes(n));
    assert.deepEqual(base45Decode(base45Encode(bytes)), bytes, `length ${n}`);
  }
  assert.equal(base45Encode(new Uint8Array([0xff, 0xff])), 'FGW');
  assert.deepEqual(base45Decode('FGW'), new Uint8Array([0xff, 0xff]));
  assert.equal(base45Encode(new Uint8Array([0xff])), 'U5');
  assert.deepEqual(base45Decode('U5'), new Uint8Array([0xff]));
});

test('rejects characters outside the alphabet, including lowercase', () => {
  for (const bad of ['qed8wex0', 'QED8WEX!', 'AB#', 'ÄBC', 'BB\n']) {
    assert.throws(() => base45Decode(bad), Base45Error, bad);
  }
});

test('rejects a length of 1 mod 3 (a dangling character cannot encode a byte)', () => {
  assert.throws(() => base45Decode('A'), /length/);
  assert.throws(() => base45Decode('BB8A'), /length/);
});

test('rejects a triplet above 65535 and a pair above 255', () => {
  // "GGW" = 16 + 16·45 + 32·2025 = 65536; ":::" = 44 + 44·45 + 44·2025 = 91124.
  assert.throws(() => base45Decode('GGW'), /exceeds 65535/);
  assert.throws(() => base45Decode(':::'), /exceeds 65535/);
  // "V5" = 31 + 5·45 = 256; "::" = 2024.
  assert.throws(() => base45Decode('V5'), /exceeds 255/);
  assert.throws(() => base45Decode('BB8::'), /exceeds 255/);
});
