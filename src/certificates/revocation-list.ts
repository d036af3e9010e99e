/**
 * The revocation list Dosis publishes, as plain functions: what it holds, how
 * it is signed, and how a verifier (the server, the browser verifier, a
 * border app) checks a certificate against a copy it cached.
 *
 * One document per version, signed as a compact JWS (ES256, the SMART Health
 * Card issuer key named by `kid`, public at /.well-known/jwks.json):
 *
 * ```
 * {"iss": "https://…", "version": 7, "issuedAt": "…",
 *  "dcc": {"hashType": "UCI", "hashAlgorithm": "SHA-256/128", "entries": ["base64…"]},
 *  "shc": [{"kid": "…", "method": "rid", "ctr": 7, "rids": ["rid.1687450765.123"]}]}
 * ```
 *
 * - EU DCC style: the first 128 bits of SHA-256 of the UVCI, base64 — the
 *   "UCI" hash type of the EU DCC revocation lists, so a list reveals no
 *   certificate identifiers, and a verifier hashes the UVCI it scanned.
 * - SHC style: the spec's CRL per key: `rid` is per person (HMAC of the person
 *   id, see shc-issuer.ts) with the time of the latest revocation: every card
 *   of that person issued before it is revoked (spec §Revocation); the card
 *   issued afterwards, without the revoked dose, stays valid.
 * The version only grows; verifiers keep the last list and fetch again when
 * the version in /.well-known/jwks.json (`crlVersion`) or the ETag changes.
 */
import { createHash, verify, type KeyObject } from 'node:crypto';
import { signEs256, type Es256Key } from './keys.ts';
import type { ShcCrl } from './shc.ts';

export interface RevocationListBody {
  iss: string;
  version: number;
  issuedAt: string;
  dcc: { hashType: 'UCI'; hashAlgorithm: 'SHA-256/128'; entries: string[] };
  shc: ShcCrl[];
}

/** The EU DCC "UCI" revocation hash of a UVCI: first 16 bytes of SHA-256, base64. */
export function uvciHash(uvci: string): string {
  return createHash('sha256').update(uvci, 'utf8').digest().subarray(0, 16).toString('base64');
}

const JWS_TYPE = 'dosis-revocation-list+jwt';

/** Signs a list body (plain JSON payload: lists are fetched, not scanned, so no compression). */
export function signRevocationList(body: RevocationListBody, key: { kid: string; privateKey: Es256Key }): string {
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: key.kid, typ: JWS_TYPE })).toString('base64url');
  const payload = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
  const sig = signEs256(Buffer.from(`${header}.${payload}`, 'ascii'), key.privateKey);
  return `${header}.${payload}.${sig.toString('base64url')}`;
}

/**
 * Verifies a downloaded list with the issuer's keys (kid → public key).
 * Returns the body, or why not. The algorithm is fixed (ES256): the header
 * cannot pick another.
 */
export function verifyRevocationList(jws: string, keys: ReadonlyMap<string, KeyObject>): { ok: true; body: RevocationListBody } | { ok: false; reason: string } {
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(jws.trim());
  if (!m) return { ok: false, reason: 'not a compact JWS' };
  const [, h = '', p = '', s = ''] = m;
  let header: { alg?: unknown; kid?: unknown; typ?: unknown };
  let body: RevocationListBody;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as typeof header;
    body = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as RevocationListBody;
  } catch {
    return { ok: false, reason: 'header or payload is not JSON' };
  }
  if (header.alg !== 'ES256' || header.typ !== JWS_TYPE) return { ok: false, reason: 'not a Dosis revocation list (alg/typ)' };
  const key = typeof header.kid === 'string' ? keys.get(header.kid) : undefined;
  if (!key) return { ok: false, reason: 'signed with an unknown key' };
  const sig = Buffer.from(s, 'base64url');
  if (sig.length !== 64 || !verify('sha256', Buffer.from(`${h}.${p}`, 'ascii'), { key, dsaEncoding: 'ieee-p1363' }, sig)) {
    return { ok: false, reason: 'bad signature' };
  }
  if (typeof body.version !== 'number' || !Array.isArray(body.dcc?.entries) || !Array.isArray(body.shc)) return { ok: false, reason: 'malformed list' };
  return { ok: true, body };
}

/** True when a verified list revokes the EU DCC certificate with this UVCI. */
export function listRevokesUvci(body: RevocationListBody, uvci: string): boolean {
  return new Set(body.dcc.entries).has(uvciHash(uvci));
}
