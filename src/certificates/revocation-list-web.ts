/**
 * The published revocation list (revocation-list.ts) checked with the
 * platform's Web APIs, for the browser verifier: download
 * `GET /api/v1/revocation-list` and `/.well-known/jwks.json`, check the
 * signature here, cache the body by `version`, and look UVCIs up with
 * hc1-web.ts `uvciRevocationHash` (the same first-16-bytes-of-SHA-256 hash).
 * Browser-safe; runs on Node too (same APIs), where the tests hold it to the
 * server's signer.
 */
import type { RevocationListBody } from './revocation-list.ts';

const JWS_TYPE = 'dosis-revocation-list+jwt';

function fromBase64url(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function jsonOf(part: string): unknown {
  return JSON.parse(new TextDecoder().decode(fromBase64url(part))) as unknown;
}

/** A JWK as published at /.well-known/jwks.json. */
export interface PublishedJwk {
  kid: string;
  kty: string;
  crv: string;
  x: string;
  y: string;
}

/**
 * Verifies a downloaded list against the issuer's published keys. ES256 only
 * (the header cannot choose another algorithm); Web Crypto's ECDSA signature
 * format is the JWS one (r‖s), so the signature is used as it is.
 */
export async function verifyRevocationListWeb(jws: string, keys: readonly PublishedJwk[]): Promise<{ ok: true; body: RevocationListBody } | { ok: false; reason: string }> {
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(jws.trim());
  if (!m) return { ok: false, reason: 'not a compact JWS' };
  const [, h = '', p = '', s = ''] = m;
  let header: { alg?: unknown; kid?: unknown; typ?: unknown };
  let body: RevocationListBody;
  try {
    header = jsonOf(h) as typeof header;
    body = jsonOf(p) as RevocationListBody;
  } catch {
    return { ok: false, reason: 'header or payload is not JSON' };
  }
  if (header.alg !== 'ES256' || header.typ !== JWS_TYPE) return { ok: false, reason: 'not a Dosis revocation list (alg/typ)' };
  const jwk = keys.find((k) => k.kid === header.kid && k.kty === 'EC' && k.crv === 'P-256');
  if (!jwk) return { ok: false, reason: 'signed with an unknown key' };
  const key = await crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, ext: true }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  const sig = fromBase64url(s);
  const signed = new TextEncoder().encode(`${h}.${p}`);
  if (sig.length !== 64 || !(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, sig, signed))) {
    return { ok: false, reason: 'bad signature' };
  }
  if (typeof body.version !== 'number' || !Array.isArray(body.dcc?.entries) || !Array.isArray(body.shc)) return { ok: false, reason: 'malformed list' };
  return { ok: true, body };
}
