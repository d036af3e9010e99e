/** SMART Health Cards as plain functions: keys, signing, numeric QR, verification, revocation ids. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  decodeNumericQr,
  encodeNumericQr,
  healthCardClaims,
  jwkThumbprint,
  parseRidEntry,
  publicJwkOf,
  signShcJws,
  verifyNumericQr,
  verifyShcJws,
  type IssuerSource,
  type ShcCrl,
} from '../../src/certificates/shc.ts';
import { healthCardBundle } from '../../src/certificates/shc-card.ts';
import { ridFor } from '../../src/certificates/shc-issuer.ts';
import { listRevokesUvci, signRevocationList, uvciHash, verifyRevocationList } from '../../src/certificates/revocation-list.ts';
import { verifyRevocationListWeb } from '../../src/certificates/revocation-list-web.ts';

const ISS = 'https://dosis.test';

function issuer(crl?: (kid: string) => ShcCrl) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicJwkOf(privateKey);
  const source: IssuerSource = {
    jwks: (iss) => (iss === ISS ? { keys: [crl ? { ...jwk, crlVersion: crl(jwk.kid).ctr } : jwk] } : undefined),
    crl: (iss, kid) => (iss === ISS && crl ? crl(kid) : undefined),
  };
  return { key: { kid: jwk.kid, privateKey }, publicKey, jwk, source };
}

function card(issuedAt = new Date('2024-03-01T00:00:00Z'), rid?: string) {
  const { bundle, types } = healthCardBundle({ name: 'Siti Nurhaliza', birthDate: '1985-02-03' }, [
    { vaccine: 'CORONAVAC', date: '2021-06-10', lot: 'A123', facilityName: 'Puskesmas Menteng' },
    { vaccine: 'CORONAVAC', date: '2021-07-08', lot: 'B456', facilityName: 'Puskesmas Menteng' },
    { vaccine: 'COMIRNATY', date: '2022-03-01', lot: 'FF123', facilityName: 'RSUD Tarakan' },
  ]);
  return healthCardClaims({ iss: ISS, issuedAt, types, bundle, ...(rid ? { rid } : {}) });
}

test('kid is the RFC 7638 thumbprint: the SMART example issuer key', () => {
  // From the spec's example issuer JWKS (spec.smarthealth.cards/examples/issuer/.well-known/jwks.json).
  const kid = jwkThumbprint({ kty: 'EC', crv: 'P-256', x: '11XvRWy1I2S0EyJlyf_bWfw_TQ5CJJNLw78bHXNxcgw', y: 'eZXwxvO1hvCY0KucrPfKo7yAyMT6Ajc3N7OkAB6VYy8' });
  assert.equal(kid, '3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s');
});

test('numeric QR: two digits per character (ord − 45), and back', () => {
  assert.equal(encodeNumericQr('-X.z'), 'shc:/00430177');
  const { jws } = decodeNumericQr(['shc:/00430177']);
  assert.equal(jws, '-X.z');
  assert.equal(decodeNumericQr(['shc:/0043017']).report.issues[0]?.code, 'INVALID_NUMERIC_QR'); // odd
  assert.equal(decodeNumericQr(['shc:/0078']).report.issues[0]?.code, 'INVALID_NUMERIC_QR'); // 78 > 'z'
  assert.equal(decodeNumericQr(['shc:0043']).report.issues[0]?.code, 'INVALID_NUMERIC_QR_HEADER');
});

test('a signed card verifies from its QR, with no issue at all, and fits one QR', () => {
  const iss = issuer();
  const jws = signShcJws(card(), iss.key);
  assert.ok(jws.length <= 1195, `JWS is ${jws.length} characters`);
  const [h] = jws.split('.');
  assert.deepEqual(JSON.parse(Buffer.from(h!, 'base64url').toString()), { zip: 'DEF', alg: 'ES256', kid: iss.jwk.kid });
  const r = verifyNumericQr([encodeNumericQr(jws)], { source: iss.source, now: new Date('2024-03-02T00:00:00Z') });
  assert.deepEqual(r.issues, []);
  assert.equal(r.ok && r.signatureVerified && !r.revoked, true);
  assert.equal(r.claims?.vc.credentialSubject.fhirBundle.entry instanceof Array, true);
});

test('a changed card, a card from elsewhere, and a card of the future are rejected', () => {
  const iss = issuer();
  const jws = signShcJws(card(), iss.key);
  const [h, p, s] = jws.split('.') as [string, string, string];
  const other = issuer();
  const forged = signShcJws({ ...card(), iss: 'https://evil.example' }, other.key);
  const now = new Date('2024-03-02T00:00:00Z');
  const bad = verifyShcJws(`${h}.${signShcJws(card(new Date('2024-03-01T00:00:01Z')), iss.key).split('.')[1]!}.${s}`, { source: iss.source, now });
  assert.ok(bad.issues.some((i) => i.code === 'JWS_VERIFICATION_ERROR'));
  assert.equal(bad.claims, undefined, 'unverified content is not handed out');
  const elsewhere = verifyShcJws(forged, { source: iss.source, now });
  assert.ok(elsewhere.issues.some((i) => i.code === 'ISSUER_KEY_DOWNLOAD_ERROR'));
  const wrongKey = verifyShcJws(`${h}.${p}.${signShcJws(card(), other.key).split('.')[2]!}`, { source: iss.source, now });
  assert.ok(wrongKey.issues.some((i) => i.code === 'JWS_VERIFICATION_ERROR'));
  const early = verifyShcJws(jws, { source: iss.source, now: new Date('2024-02-01T00:00:00Z') });
  assert.ok(early.issues.some((i) => i.code === 'NOT_YET_VALID'));
});

test('revocation: rid.<time> revokes the cards issued before the time, not after', () => {
  const secret = Buffer.alloc(32, 7);
  const published: { crl?: ShcCrl } = {};
  const iss = issuer((kid) => published.crl ?? { kid, method: 'rid', ctr: 1, rids: [] });
  const rid = ridFor(secret, iss.key.kid, '5f0e6a3c-1111-4222-8333-944445555666');
  assert.match(rid, /^[A-Za-z0-9_-]{11}$/);
  assert.notEqual(rid, ridFor(secret, iss.key.kid, '5f0e6a3c-1111-4222-8333-944445555667'));
  const before = signShcJws(card(new Date('2024-03-01T00:00:00.000Z'), rid), iss.key);
  const after = signShcJws(card(new Date('2024-03-01T00:00:00.900Z'), rid), iss.key);
  published.crl = { kid: iss.key.kid, method: 'rid', ctr: 2, rids: [`${rid}.${(Date.parse('2024-03-01T00:00:00.500Z') / 1000).toFixed(3)}`] };
  const now = new Date('2024-03-02T00:00:00Z');
  assert.equal(verifyShcJws(before, { source: iss.source, now }).revoked, true);
  assert.equal(verifyShcJws(after, { source: iss.source, now }).revoked, false);
  assert.deepEqual(parseRidEntry('abc.1700000000.123'), { rid: 'abc', before: 1700000000.123 });
  assert.equal(parseRidEntry('not base64!'), undefined);
});

test('revocation list: signed, checked with the issuer key, UVCI hashes', () => {
  const iss = issuer();
  const uvci = 'URN:UVCI:01:ID:ABC123#K';
  const jws = signRevocationList(
    { iss: ISS, version: 3, issuedAt: '2024-01-01T00:00:00.000Z', dcc: { hashType: 'UCI', hashAlgorithm: 'SHA-256/128', entries: [uvciHash(uvci)] }, shc: [] },
    iss.key,
  );
  const keys = new Map([[iss.key.kid, iss.publicKey]]);
  const v = verifyRevocationList(jws, keys);
  assert.equal(v.ok, true);
  if (!v.ok) return;
  assert.equal(v.body.version, 3);
  assert.equal(listRevokesUvci(v.body, uvci), true);
  assert.equal(listRevokesUvci(v.body, 'URN:UVCI:01:ID:ABC124#L'), false);
  assert.equal(Buffer.from(uvciHash(uvci), 'base64').length, 16);
  const [h, p, s] = jws.split('.') as [string, string, string];
  const tampered = Buffer.from(JSON.stringify({ ...v.body, dcc: { ...v.body.dcc, entries: [] } })).toString('base64url');
  assert.equal(verifyRevocationList(`${h}.${tampered}.${s}`, keys).ok, false);
  assert.equal(verifyRevocationList(`${h}.${p}.${s}`, new Map()).ok, false);
});

test('the browser check of the revocation list (Web Crypto) accepts what the server signs, and only that', async () => {
  const iss = issuer();
  const body = { iss: ISS, version: 9, issuedAt: '2024-01-01T00:00:00.000Z', dcc: { hashType: 'UCI' as const, hashAlgorithm: 'SHA-256/128' as const, entries: [uvciHash('URN:UVCI:01:ID:X#1')] }, shc: [] };
  const jws = signRevocationList(body, iss.key);
  const ok = await verifyRevocationListWeb(jws, [iss.jwk]);
  assert.equal(ok.ok && ok.body.version, 9);
  const other = issuer();
  assert.deepEqual(await verifyRevocationListWeb(jws, [{ ...other.jwk, kid: iss.jwk.kid }]), { ok: false, reason: 'bad signature' });
  assert.deepEqual(await verifyRevocationListWeb(jws, [other.jwk]), { ok: false, reason: 'signed with an unknown key' });
  // The hash a browser computes with Web Crypto is the one the list holds.
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('URN:UVCI:01:ID:X#1')));
  assert.equal(Buffer.from(digest.subarray(0, 16)).toString('base64'), body.dcc.entries[0]);
});
