/**
 * The verifier's trust list and revocation list, kept in localStorage so that
 * checking works offline after the first visit: Dosis's own signers (from
 * `GET /api/v1/trust-list`, refreshed whenever the page is online), the
 * signers a verifier added by hand (other countries'), which are never
 * overwritten by a refresh, and the signed revocation list
 * (`GET /api/v1/revocation-list`, its signature checked here against
 * `/.well-known/jwks.json` before it is kept; a list never replaces a newer one).
 */
import type { TrustedKey } from '../../src/certificates/trust-core.ts';
import { base64ToBytes, bytesToBase64 } from '../../src/certificates/trust-core.ts';
import { chainsToWeb } from '../../src/certificates/x509-der.ts';
// src/certificates/revocation-list-web.ts (see web/lib/revocation-list-types.d.ts for why it is reached by this name)
import { verifyRevocationListWeb, type PublishedJwk } from '#revocation-list-web';

interface StoredKey {
  kid: string;
  /** base64 DER */
  certificate: string;
}

export interface TrustState {
  server: { keys: StoredKey[]; fetchedAt: string } | null;
  added: StoredKey[];
  /** UVCI hashes (hc1-web.ts uvciRevocationHash) of the revocation list of this version. */
  revoked: { hashes: string[]; version: number; fetchedAt: string } | null;
}

const SERVER = 'dosis.trust.server';
const ADDED = 'dosis.trust.added';
const REVOKED = 'dosis.trust.revoked';

function read<T>(key: string): T | null {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

function write(key: string, value: unknown): void {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: the lists still work for this visit.
  }
}

export function loadTrust(): TrustState {
  return { server: read(SERVER), added: read<StoredKey[]>(ADDED) ?? [], revoked: read(REVOKED) };
}

async function fetchJson(url: string): Promise<unknown> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 8000);
  try {
    const r = await fetch(url, { cache: 'no-cache', signal: controller.signal });
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return await r.json();
  } finally {
    clearTimeout(timer);
  }
}

/** Fetches the lists from the server and stores them; false when offline or a list is not right (the stored lists stay). */
export async function refreshTrust(): Promise<boolean> {
  try {
    const [trust, list, jwks] = await Promise.all([fetchJson('/api/v1/trust-list'), fetchJson('/api/v1/revocation-list'), fetchJson('/.well-known/jwks.json')]);
    const keys = (trust as { keys?: StoredKey[] }).keys;
    if (!Array.isArray(keys)) return false;
    const now = new Date().toISOString();
    write(SERVER, { keys: (await chainedToCsca(keys, (trust as { csca?: unknown }).csca)).map((k) => ({ kid: k.kid, certificate: k.certificate })), fetchedAt: now });
    const jws = (list as { jws?: unknown }).jws;
    const published = (jwks as { keys?: PublishedJwk[] }).keys;
    if (typeof jws !== 'string' || !Array.isArray(published)) return false;
    const checked = await verifyRevocationListWeb(jws, published);
    if (!checked.ok) return false;
    const stored = read<TrustState['revoked']>(REVOKED);
    if (!stored || checked.body.version >= stored.version) {
      write(REVOKED, { hashes: checked.body.dcc.entries, version: checked.body.version, fetchedAt: now });
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * The server's DSCs that chain to a CSCA the same list publishes (issuer,
 * ES256 signature, validity within: chainsToWeb), as the server's verifier
 * keeps them. A list without `csca` (an older Dosis) is kept as it is.
 */
async function chainedToCsca(keys: StoredKey[], csca: unknown): Promise<StoredKey[]> {
  if (!Array.isArray(csca)) return keys;
  const cas = csca.flatMap((c: { certificate?: unknown }) => {
    const der = typeof c?.certificate === 'string' ? base64ToBytes(c.certificate) : undefined;
    return der ? [der] : [];
  });
  const ok = await Promise.all(keys.map((k) => (base64ToBytes(k.certificate) ? chainsToWeb(base64ToBytes(k.certificate)!, cas) : Promise.resolve(false))));
  return keys.filter((_, i) => ok[i]);
}

/** Adds hand-imported signers (kept across refreshes); returns how many were new. */
export function addTrustedKeys(keys: TrustedKey[]): number {
  const added = read<StoredKey[]>(ADDED) ?? [];
  const known = new Set(added.map((k) => k.certificate));
  let count = 0;
  for (const k of keys) {
    const certificate = bytesToBase64(k.certificate);
    if (known.has(certificate)) continue;
    known.add(certificate);
    added.push({ kid: k.kid, certificate });
    count++;
  }
  write(ADDED, added);
  return count;
}

export function clearAddedKeys(): void {
  write(ADDED, []);
}

const decoded = new Map<string, Uint8Array>();

/** Every trusted signer, ready for verification (certificates decoded once per page). */
export function trustedKeys(state: TrustState): TrustedKey[] {
  const out: TrustedKey[] = [];
  for (const k of [...(state.server?.keys ?? []), ...state.added]) {
    let der = decoded.get(k.certificate);
    if (!der) {
      der = base64ToBytes(k.certificate);
      if (!der) continue;
      decoded.set(k.certificate, der);
    }
    out.push({ kid: k.kid, certificate: der });
  }
  return out;
}
