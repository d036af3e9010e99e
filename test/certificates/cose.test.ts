import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  ALG_ES256,
  ALG_PS256,
  CoseError,
  algorithmForKey,
  coseAlg,
  coseKid,
  decodeCoseSign1,
  sigStructure,
  signCoseSign1,
  verifyCoseSign1,
} from '../../src/certificates/cose.ts';
import { Tag, decodeCbor, encodeCbor } from '../../src/certificates/cbor.ts';

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ec2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const kid = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
const payload = encodeCbor(new Map<number, unknown>([[1, 'ID']]));

/** A COSE_Sign1 built by hand, to test shapes our signer never makes. */
function handMade(opts: {
  protectedHeader: Map<number, unknown> | null;
  unprotectedHeader?: Map<number, unknown>;
  privateKey: KeyObject;
  pss?: { saltLength: number };
  tags?: number[];
}): Uint8Array {
  const protectedBytes = opts.protectedHeader === null ? new Uint8Array(0) : encodeCbor(opts.protectedHeader);
  const data = sigStructure(protectedBytes, payload);
  const signature = opts.pss
    ? sign('sha256', data, { key: opts.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: opts.pss.saltLength })
    : sign('sha256', data, { key: opts.privateKey, dsaEncoding: 'ieee-p1363' });
  let item: unknown = [protectedBytes, opts.unprotectedHeader ?? new Map(), payload, signature];
  for (const tag of [...(opts.tags ?? [18])].reverse()) item = new Tag(item, tag);
  return encodeCbor(item);
}

test('signs a tagged COSE_Sign1 with ES256: {1: -7, 4: kid}, empty unprotected header, raw r‖s', () => {
  const bytes = signCoseSign1(payload, { kid, privateKey: ec.privateKey });
  assert.equal(bytes[0], 0xd2, 'tag 18');
  assert.equal(bytes[1], 0x84, 'array of 4');
  const msg = decodeCoseSign1(bytes);
  assert.deepEqual(msg.tags, [18]);
  assert.deepEqual([...msg.protectedHeader.entries()], [
    [1, ALG_ES256],
    [4, Buffer.from(kid)],
  ]);
  assert.equal(Buffer.from(msg.protectedBytes).toString('hex'), 'a201260448' + '0102030405060708');
  assert.equal(msg.unprotectedHeader.size, 0);
  assert.equal(msg.signature.length, 64);
  assert.equal(Buffer.from(msg.payload).toString('hex'), Buffer.from(payload).toString('hex'));
  assert.equal(verifyCoseSign1(msg, ec.publicKey), true);
  assert.equal(verifyCoseSign1(msg, ec2.publicKey), false, 'another key');
});

test('Sig_structure is ["Signature1", protected, h\'\', payload] (RFC 8152 §4.4)', () => {
  const s = decodeCbor(sigStructure(new Uint8Array([0xa0]), new Uint8Array([1, 2]))) as unknown[];
  assert.equal(s.length, 4);
  assert.equal(s[0], 'Signature1');
  assert.deepEqual(new Uint8Array(s[1] as Uint8Array), new Uint8Array([0xa0]));
  assert.equal((s[2] as Uint8Array).length, 0);
  assert.deepEqual(new Uint8Array(s[3] as Uint8Array), new Uint8Array([1, 2]));
});

test('a changed byte anywhere signed makes the signature invalid', () => {
  const bytes = signCoseSign1(payload, { kid, privateKey: ec.privateKey });
  const msg = decodeCoseSign1(bytes);
  const payloadChanged = { ...msg, payload: new Uint8Array(msg.payload).map((b, i) => (i === 2 ? b ^ 1 : b)) };
  assert.equal(verifyCoseSign1(payloadChanged, ec.publicKey), false);
  const headerChanged = { ...msg, protectedBytes: encodeCbor(new Map<number, unknown>([[1, ALG_ES256], [4, new Uint8Array(8)]])) };
  assert.equal(verifyCoseSign1(headerChanged, ec.publicKey), false);
  const signatureChanged = { ...msg, signature: new Uint8Array(msg.signature).map((b, i) => (i === 10 ? b ^ 1 : b)) };
  assert.equal(verifyCoseSign1(signatureChanged, ec.publicKey), false);
  assert.equal(verifyCoseSign1({ ...msg, signature: msg.signature.subarray(0, 63) }, ec.publicKey), false);
});

test('verifies PS256 (RSA-PSS, SHA-256, salt 32) and refuses another salt length', () => {
  const good = decodeCoseSign1(
    handMade({ protectedHeader: new Map<number, unknown>([[1, ALG_PS256], [4, kid]]), privateKey: rsa.privateKey, pss: { saltLength: 32 } }),
  );
  assert.equal(algorithmForKey(rsa.publicKey), 'PS256');
  assert.equal(verifyCoseSign1(good, rsa.publicKey), true);
  const salt20 = decodeCoseSign1(
    handMade({ protectedHeader: new Map<number, unknown>([[1, ALG_PS256], [4, kid]]), privateKey: rsa.privateKey, pss: { saltLength: 20 } }),
  );
  assert.equal(verifyCoseSign1(salt20, rsa.publicKey), false);
});

test('the key type fixes the algorithm: a header naming another one fails', () => {
  // An RSA-PSS signature whose header claims ES256, and an ES256 one claiming PS256.
  const rsaClaimsEs = decodeCoseSign1(
    handMade({ protectedHeader: new Map<number, unknown>([[1, ALG_ES256]]), privateKey: rsa.privateKey, pss: { saltLength: 32 } }),
  );
  assert.equal(verifyCoseSign1(rsaClaimsEs, rsa.publicKey), false);
  const ecClaimsPs = decodeCoseSign1(handMade({ protectedHeader: new Map<number, unknown>([[1, ALG_PS256]]), privateKey: ec.privateKey }));
  assert.equal(verifyCoseSign1(ecClaimsPs, ec.publicKey), false);
  // No alg at all: the key decides.
  const noAlg = decodeCoseSign1(handMade({ protectedHeader: null, unprotectedHeader: new Map<number, unknown>([[4, kid]]), privateKey: ec.privateKey }));
  assert.equal(coseAlg(noAlg), undefined);
  assert.equal(verifyCoseSign1(noAlg, ec.publicKey), true);
  // A key of an unsupported type or curve verifies nothing.
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  assert.equal(algorithmForKey(p384.publicKey), undefined);
  assert.equal(verifyCoseSign1(noAlg, p384.publicKey), false);
});

test('kid from the protected header wins; the unprotected one is used when it is the only one', () => {
  const other = new Uint8Array([9, 9, 9, 9, 9, 9, 9, 9]);
  const both = decodeCoseSign1(
    handMade({
      protectedHeader: new Map<number, unknown>([[1, ALG_ES256], [4, kid]]),
      unprotectedHeader: new Map<number, unknown>([[4, other]]),
      privateKey: ec.privateKey,
    }),
  );
  assert.deepEqual(new Uint8Array(coseKid(both)!), kid);
  const unprotectedOnly = decodeCoseSign1(
    handMade({
      protectedHeader: new Map<number, unknown>([[1, ALG_ES256]]),
      unprotectedHeader: new Map<number, unknown>([[4, other]]),
      privateKey: ec.privateKey,
    }),
  );
  assert.deepEqual(new Uint8Array(coseKid(unprotectedOnly)!), other);
  const textKid = decodeCoseSign1(handMade({ protectedHeader: new Map<number, unknown>([[4, 'kid']]), privateKey: ec.privateKey }));
  assert.equal(coseKid(textKid), undefined, 'a kid must be a byte string');
});

test('decodes untagged and CWT-tagged (61, 18) messages, refuses other tags', () => {
  const header = new Map<number, unknown>([[1, ALG_ES256], [4, kid]]);
  const untagged = decodeCoseSign1(handMade({ protectedHeader: header, privateKey: ec.privateKey, tags: [] }));
  assert.deepEqual(untagged.tags, []);
  assert.equal(verifyCoseSign1(untagged, ec.publicKey), true);
  const doubly = decodeCoseSign1(handMade({ protectedHeader: header, privateKey: ec.privateKey, tags: [61, 18] }));
  assert.deepEqual(doubly.tags, [61, 18]);
  assert.equal(verifyCoseSign1(doubly, ec.publicKey), true);
  assert.throws(() => decodeCoseSign1(handMade({ protectedHeader: header, privateKey: ec.privateKey, tags: [98] })), CoseError);
  assert.throws(() => decodeCoseSign1(handMade({ protectedHeader: header, privateKey: ec.privateKey, tags: [18, 18] })), CoseError);
});

test('refuses what is not a COSE_Sign1', () => {
  const cases: [string, unknown][] = [
    ['not an array', new Tag(new Map(), 18)],
    ['3 items', new Tag([new Uint8Array(0), new Map(), new Uint8Array(0)], 18)],
    ['protected not bytes', new Tag([new Map(), new Map(), new Uint8Array(0), new Uint8Array(64)], 18)],
    ['unprotected not a map', new Tag([new Uint8Array(0), [], new Uint8Array(0), new Uint8Array(64)], 18)],
    ['detached payload', new Tag([new Uint8Array(0), new Map(), null, new Uint8Array(64)], 18)],
    ['protected header not a map', new Tag([encodeCbor([1]), new Map(), new Uint8Array(0), new Uint8Array(64)], 18)],
  ];
  for (const [name, item] of cases) assert.throws(() => decodeCoseSign1(encodeCbor(item)), CoseError, name);
  assert.throws(() => decodeCoseSign1(new Uint8Array([0x00, 0x91, 0x62])), CoseError, 'trailing bytes');
  assert.throws(() => decodeCoseSign1(new Uint8Array([0xd2, 0x84])), CoseError, 'truncated');
});
