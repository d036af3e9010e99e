import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync, inflateSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import {
  HC1_PREFIX,
  REASON_MESSAGES,
  checkTimes,
  decodeHc1,
  verifyHc1,
  zlibStored,
  type ReasonCode,
} from '../../src/certificates/hc1.ts';
import { base45Decode, base45Encode } from '../../src/certificates/base45.ts';
import { encodeCbor } from '../../src/certificates/cbor.ts';
import { signCoseSign1 } from '../../src/certificates/cose.ts';
import { importPrivateKey, kidBytesOf } from '../../src/certificates/keys.ts';
import type { HcertPayload } from '../../src/certificates/dcc.ts';
import { EXPIRES_AT, ISSUED_AT, NOW, VALID_FROM, VALID_UNTIL, certificateFixture } from './fixtures.ts';

const hc1Of = (cose: Uint8Array): string => HC1_PREFIX + base45Encode(deflateSync(cose));

test('a certificate we issue verifies, with its payload, times, issuer and kid', async () => {
  const f = await certificateFixture();
  const hc1 = f.sign();
  assert.ok(hc1.startsWith('HC1:'));
  assert.match(hc1.slice(4), /^[0-9A-Z $%*+\-./:]+$/, 'only the QR alphanumeric set');
  const r = verifyHc1(hc1, { trustList: f.trustList, now: NOW });
  assert.equal(r.reason, 'ok');
  assert.equal(r.valid, true);
  assert.deepEqual(r.payload, f.payload);
  assert.deepEqual(r.issuedAt, ISSUED_AT);
  assert.deepEqual(r.expiresAt, EXPIRES_AT);
  assert.equal(r.issuer, 'ID');
  assert.equal(r.kid, f.dsc.kid);
  assert.deepEqual(r.message, REASON_MESSAGES.ok);
});

test('an IndoVac certificate is valid and says "vaccine not in the EU list" (en, id); an EU-listed vaccine says nothing', async () => {
  const f = await certificateFixture();
  assert.equal(verifyHc1(f.sign(), { trustList: f.trustList, now: NOW }).notices, undefined);
  const entry = f.payload.v?.[0];
  assert.ok(entry);
  const indovac: HcertPayload = { ...f.payload, v: [{ ...entry, vp: '1162643001', mp: 'IndoVac', ma: 'Bio-Farma' }] };
  const r = verifyHc1(f.sign({ payload: indovac }), { trustList: f.trustList, now: NOW });
  assert.equal(r.valid, true);
  assert.equal(r.reason, 'ok');
  assert.deepEqual(r.notices?.map((n) => n.code), ['vaccine_not_in_eu_list']);
  assert.match(r.notices?.[0]?.message.en ?? '', /^Vaccine not in the EU list: IndoVac /);
  assert.match(r.notices?.[0]?.message.id ?? '', /^Vaksin tidak ada dalam daftar UE: IndoVac /);
  // An expired one still tells the reader, with the payload it shows.
  const expired = verifyHc1(f.sign({ payload: indovac }), { trustList: f.trustList, now: new Date(EXPIRES_AT.getTime() + 86_400_000) });
  assert.equal(expired.reason, 'expired');
  assert.deepEqual(expired.notices?.map((n) => n.code), ['vaccine_not_in_eu_list']);
});

test('decodeHc1 exposes every step', async () => {
  const f = await certificateFixture();
  const d = decodeHc1(f.sign());
  assert.ok(d.ok);
  assert.equal(HC1_PREFIX + d.base45, f.sign().slice(0, 4) + d.base45);
  assert.deepEqual(base45Decode(d.base45), d.compressed);
  assert.equal(d.compressed[0], 0x78, 'zlib header');
  assert.deepEqual(d.cose.tags, [18]);
  assert.deepEqual([d.claims.iss, d.claims.iat, d.claims.exp], ['ID', ISSUED_AT.getTime() / 1000, EXPIRES_AT.getTime() / 1000]);
  assert.deepEqual(d.hcert, f.payload);
});

test('decodeHc1 says which step failed and keeps what came before', async () => {
  const f = await certificateFixture();
  const good = f.sign();
  const base45 = good.slice(4);
  const cose = signCoseSign1(encodeCbor(['not', 'claims']), { kid: f.kid, privateKey: f.key });
  const cases: [string, string, ReasonCode, number][] = [
    ['HC2:' + base45, 'unprefix', 'bad_prefix', 0],
    [base45, 'unprefix', 'bad_prefix', 0],
    ['HC1:' + base45.toLowerCase(), 'base45', 'bad_base45', 1],
    [HC1_PREFIX + base45Encode(base45Decode(base45).subarray(0, 40)), 'inflate', 'bad_compression', 2],
    [HC1_PREFIX + base45Encode(base45Decode(base45).subarray(2)), 'inflate', 'bad_compression', 2],
    [hc1Of(encodeCbor({ not: 'cose' })), 'cose', 'bad_cose', 3],
    [hc1Of(cose), 'claims', 'bad_cbor', 4],
  ];
  for (const [text, step, reason, partsBefore] of cases) {
    const d = decodeHc1(text);
    assert.ok(!d.ok, `${step} must fail`);
    assert.equal(d.failedAt, step);
    assert.equal(d.reason, reason);
    assert.notEqual(d.error, '');
    assert.equal(Object.keys(d.parts).length, partsBefore, `${step}: parts of the earlier steps`);
  }
});

test('one reason per failure, each with an English and an Indonesian message', async () => {
  const f = await certificateFixture();
  const verify = (text: string, opts: Partial<Parameters<typeof verifyHc1>[1]> = {}) =>
    verifyHc1(text, { trustList: f.trustList, now: NOW, ...opts });
  const signed = (claims: Map<number, unknown>): string =>
    hc1Of(signCoseSign1(encodeCbor(claims), { kid: f.kid, privateKey: f.key }));
  const claims = (hcert: unknown, more: [number, unknown][] = [[6, ISSUED_AT.getTime() / 1000], [4, EXPIRES_AT.getTime() / 1000]]) =>
    new Map<number, unknown>([[1, 'ID'], ...more, [-260, new Map([[1, hcert]])]]);
  const good = f.sign();
  const cose = base45Decode(good.slice(4));
  const tampered = decodeHc1(good);
  assert.ok(tampered.ok);
  const changed = Buffer.from(tampered.coseBytes);
  changed.write('Bodi', changed.indexOf('Budi'), 'latin1');

  const outcomes: [string, ReasonCode][] = [
    [verify('HC2:' + good.slice(4)).reason, 'bad_prefix'],
    [verify('HC1:' + good.slice(5)).reason, 'bad_base45'],
    [verify(HC1_PREFIX + base45Encode(cose.subarray(0, cose.length - 8))).reason, 'bad_compression'],
    [verify(hc1Of(encodeCbor([1, 2, 3]))).reason, 'bad_cose'],
    [verify(hc1Of(signCoseSign1(encodeCbor('text'), { kid: f.kid, privateKey: f.key }))).reason, 'bad_cbor'],
    [verify(signed(claims(new Map([[1, 'integer key']])))).reason, 'bad_cbor'],
    [verify(signed(claims(f.payload, []))).reason, 'bad_cbor'],
    [verify(good, { trustList: [] }).reason, 'unknown_kid'],
    [verify(good, { trustList: [{ kid: f.other.kid, certificate: f.other.certificateDer }] }).reason, 'unknown_kid'],
    [verify(hc1Of(new Uint8Array(changed))).reason, 'bad_signature'],
    [verify(f.sign({ privateKey: importPrivateKey(f.other.privateKeyPkcs8) })).reason, 'bad_signature'],
    // A trust-list entry with our kid but another certificate (an 8-byte kid can collide).
    [verify(good, { trustList: [{ kid: f.dsc.kid, certificate: f.other.certificateDer }] }).reason, 'bad_signature'],
    [verify(f.sign({ issuedAt: new Date(VALID_FROM.getTime() - 1000) })).reason, 'key_not_valid_at_issue'],
    [verify(f.sign({ expiresAt: new Date(VALID_UNTIL.getTime() + 1000) })).reason, 'key_not_valid_at_issue'],
    [verify(signed(claims({ ver: f.payload.ver, nam: f.payload.nam, v: f.payload.v }))).reason, 'bad_schema'],
    [verify(signed(claims({ ...f.payload, t: f.payload.v }))).reason, 'bad_schema'],
    [
      verify(f.sign({ privateKey: importPrivateKey(f.testOnly.privateKeyPkcs8), kid: kidBytesOf(f.testOnly.certificateDer) }), {
        trustList: [{ kid: f.testOnly.kid, certificate: f.testOnly.certificateDer }],
      }).reason,
      'wrong_key_usage',
    ],
    [verify(good, { isRevoked: (uvci) => uvci === f.payload.v![0].ci }).reason, 'revoked'],
    [verify(good, { now: new Date(ISSUED_AT.getTime() - 301_000) }).reason, 'not_yet_valid'],
    [verify(good, { now: new Date(EXPIRES_AT.getTime() + 1000) }).reason, 'expired'],
    [verify(good).reason, 'ok'],
  ];
  for (const [actual, expected] of outcomes) assert.equal(actual, expected);

  const covered = new Set(outcomes.map(([, r]) => r));
  for (const reason of Object.keys(REASON_MESSAGES) as ReasonCode[]) {
    assert.ok(covered.has(reason), `${reason} is produced by some input`);
    const m = REASON_MESSAGES[reason];
    assert.ok(m.en.length > 10 && m.id.length > 10 && m.en !== m.id, `${reason} has both languages`);
  }
});

test('unauthenticated data is never returned: no payload when the signature fails', async () => {
  const f = await certificateFixture();
  const r = verifyHc1(f.sign({ privateKey: importPrivateKey(f.other.privateKeyPkcs8) }), { trustList: f.trustList, now: NOW });
  assert.equal(r.valid, false);
  assert.equal(r.payload, undefined);
  assert.equal(r.issuedAt, undefined);
  assert.equal(r.kid, f.dsc.kid, 'the kid is shown: it says which key was expected');
  const expired = verifyHc1(f.sign(), { trustList: f.trustList, now: new Date(EXPIRES_AT.getTime() + 1000) });
  assert.equal(expired.reason, 'expired');
  assert.deepEqual(expired.payload, f.payload, 'an authentic but expired certificate still shows what it is');
});

test('with colliding kids every candidate is tried', async () => {
  const f = await certificateFixture();
  const trustList = [
    { kid: f.dsc.kid, certificate: f.other.certificateDer },
    { kid: f.dsc.kid, certificate: new Uint8Array([1, 2, 3]) },
    { kid: f.dsc.kid, certificate: f.dsc.certificateDer },
  ];
  assert.equal(verifyHc1(f.sign(), { trustList, now: NOW }).reason, 'ok');
});

test('a skew of 5 minutes is allowed for the issue time, configurable', async () => {
  const f = await certificateFixture();
  const good = f.sign();
  const early = new Date(ISSUED_AT.getTime() - 299_000);
  assert.equal(verifyHc1(good, { trustList: f.trustList, now: early }).reason, 'ok');
  assert.equal(verifyHc1(good, { trustList: f.trustList, now: early, skewSeconds: 0 }).reason, 'not_yet_valid');
});

test('checkTimes follows the EU rules: iat and exp within the DSC validity', () => {
  const base = { iat: 100, exp: 200, now: 150, signerNotBefore: 50, signerNotAfter: 300 };
  assert.equal(checkTimes(base), 'ok');
  assert.equal(checkTimes({ ...base, now: 200 }), 'ok', 'valid up to and including exp');
  assert.equal(checkTimes({ ...base, now: 201 }), 'expired');
  assert.equal(checkTimes({ ...base, now: 99, skewSeconds: 0 }), 'not_yet_valid');
  assert.equal(checkTimes({ ...base, signerNotBefore: 101 }), 'key_not_valid_at_issue');
  assert.equal(checkTimes({ ...base, signerNotAfter: 199 }), 'key_not_valid_at_issue');
  assert.equal(checkTimes({ ...base, now: 10_000, signerNotAfter: 300 }), 'expired', 'a DSC expired since then does not matter');
});

test('encodeHc1 drops undefined members and refuses exp before iat', async () => {
  const f = await certificateFixture();
  const withUndefined = { ...f.payload, nam: { ...f.payload.nam, gn: undefined } } as HcertPayload;
  const r = verifyHc1(f.sign({ payload: withUndefined }), { trustList: f.trustList, now: NOW });
  assert.equal(r.reason, 'ok');
  assert.equal('gn' in (r.payload?.nam ?? {}), false);
  assert.throws(() => f.sign({ expiresAt: ISSUED_AT }), RangeError);
});

test('hundreds of certificates encoded in a row each verify with their own payload', async () => {
  const f = await certificateFixture();
  const texts = Array.from({ length: 300 }, (_, i) =>
    f.sign({ payload: { ...f.payload, nam: { fn: `Orang ${i}`, fnt: `ORANG<${'I'.repeat(1 + (i % 20))}` } } }),
  );
  texts.forEach((text, i) => {
    const r = verifyHc1(text, { trustList: f.trustList, now: NOW });
    assert.equal(r.reason, 'ok');
    assert.equal(r.payload?.nam.fn, `Orang ${i}`);
  });
});

test('zlibStored: any inflate reads it back, across the 65,535-byte block limit', () => {
  for (const n of [0, 1, 349, 65_535, 65_536, 200_000]) {
    const data = randomBytes(n);
    assert.deepEqual(inflateSync(zlibStored(data)), data, `${n} bytes`);
  }
  // Adler-32 of "Wikipedia" is 0x11E60398 (RFC 1950's checksum, the usual worked example).
  assert.equal(zlibStored(Buffer.from('Wikipedia')).readUInt32BE(2 + 5 + 9).toString(16), '11e60398');
});
