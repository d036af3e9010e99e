import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CborShapeError, Tag, cborToJson, decodeCbor, encodeCbor } from '../../src/certificates/cbor.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

test('encodes integer-keyed Maps and plain objects as plain CBOR maps, byte strings untagged', () => {
  assert.equal(hex(encodeCbor(new Map<number, unknown>([[1, -7], [4, new Uint8Array([1, 2, 3])]]))), 'a201260443010203');
  // {"ver": "1.3.0", "dn": 1} — no tag 259, no record extension (tag 57343).
  assert.equal(hex(encodeCbor({ ver: '1.3.0', dn: 1 })), 'a26376657265312e332e3062646e01');
  assert.equal(hex(encodeCbor(new Map([[-260, new Map([[1, {}]])]]))), 'a1390103a101a0');
});

test('many encodes in a row do not overwrite one another', () => {
  const encoded = Array.from({ length: 500 }, (_, i) => encodeCbor({ n: i, s: 'x'.repeat(i % 50) }));
  encoded.forEach((e, i) => assert.deepEqual(cborToJson(decodeCbor(e)), { n: i, s: 'x'.repeat(i % 50) }));
});

test('decodes exactly one item, maps as Map', () => {
  const m = decodeCbor(bytes('a201260443010203'));
  assert.ok(m instanceof Map);
  assert.equal(m.get(1), -7);
  assert.throws(() => decodeCbor(bytes('a1616101ff')), 'trailing bytes');
  assert.throws(() => decodeCbor(bytes('a2616101')), 'truncated');
});

test('cborToJson: text-keyed maps to objects, CBOR dates to RFC 3339 text', () => {
  assert.deepEqual(cborToJson(decodeCbor(bytes('a26161016162f5'))), { a: 1, b: true });
  // tag 0 "2013-03-21T20:04:00Z", tag 1 1363896240, tag 1004 "2021-01-01"
  assert.equal(cborToJson(decodeCbor(bytes('c074323031332d30332d32315432303a30343a30305a'))), '2013-03-21T20:04:00Z');
  assert.equal(cborToJson(decodeCbor(bytes('c11a514b67b0'))), '2013-03-21T20:04:00Z');
  assert.equal(cborToJson(decodeCbor(bytes('d903ec6a323032312d30312d3031'))), '2021-01-01');
  assert.equal(cborToJson(10n), 10);
});

test('cborToJson refuses what JSON cannot hold', () => {
  assert.throws(() => cborToJson(new Map([[1, 'x']])), CborShapeError, 'integer key');
  assert.throws(() => cborToJson(new Uint8Array([1])), CborShapeError, 'bytes');
  assert.throws(() => cborToJson(new Tag('x', 99)), CborShapeError, 'unknown tag');
  assert.throws(() => cborToJson(undefined), CborShapeError, 'undefined');
  assert.throws(() => cborToJson(Number.NaN), CborShapeError, 'NaN');
  assert.throws(() => cborToJson(2n ** 64n), CborShapeError, 'huge integer');
  assert.throws(() => cborToJson(new Date(Number.NaN)), CborShapeError, 'invalid date');
  assert.throws(() => cborToJson({ a: 1 }), CborShapeError, 'a plain object means a cbor-x record extension');
  assert.throws(() => cborToJson(new Map([['__proto__', 1]])), CborShapeError);
});
