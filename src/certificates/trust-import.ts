/**
 * Reading trust lists that a verifier adds by hand: other countries' document
 * signers, so that their certificates verify too. Browser-safe.
 *
 * Accepted forms:
 * - Dosis's own `GET /api/v1/trust-list`: `{"keys": [{"kid", "certificate"}]}`;
 * - the EU Digital COVID Certificate Gateway's signer list: `[{"kid", "rawData", …}]`
 *   (also wrapped as `{"certificates": […]}`);
 * - one or more PEM certificates (`-----BEGIN CERTIFICATE-----`);
 * - one certificate as base64 DER;
 * - any of the JSON forms as the payload of a compact JWS (`header.payload.signature`,
 *   ES256 or PS256, `kid` in the header): a list signed by a key the verifier
 *   already trusts.
 *
 * Trust (issue 15, item 10): a list's word is never taken for a kid. Each
 * certificate's kid is computed (first 8 bytes of its SHA-256, EU DCC) and a
 * list naming another kid is refused: a self-signed certificate listed under
 * Indonesia's kid must not make a forged certificate verify. A list signed
 * by a trusted key is accepted as it is (`readTrustImport` → `signedBy`).
 * Anything else is a set of candidates the person must confirm one by one,
 * seeing each signer's subject and SHA-256 fingerprint (to compare with what
 * the issuing country publishes); and a home-country signer (C=ID) is never
 * added that way — those come from Dosis's own list.
 */

import type { Text } from '../domain/errors.ts';
import { kidOfWeb, verifyBySignerWeb } from './hc1-web.ts';
import { base64ToBytes, sameBytes, type TrustedKey } from './trust-core.ts';
import { readCertificateNames, readSignerCertificate } from './x509-der.ts';

/** The country whose signers only Dosis's own trust list may add. */
export const HOME_COUNTRY = 'ID';

/** A signer read from an import, with what a person checks before trusting it. */
export interface ImportedSigner extends TrustedKey {
  subject: string;
  issuer: string;
  /** The subject's country (C=), upper case, or null. */
  country: string | null;
  /** SHA-256 of the certificate, upper-case hex in pairs ("AB:CD:…"), as countries publish it. */
  fingerprint: string;
}

/** What an import would add, and whether a trusted key vouches for it. */
export interface TrustImport {
  /** The kid of the trusted key that signed the list; null when unsigned (then each signer needs the person's confirmation). */
  signedBy: string | null;
  signers: ImportedSigner[];
}

/** Why a text could not be read as a trust list; `text` says it in both languages. */
export class TrustImportError extends Error {
  readonly text: Text;
  constructor(text: Text) {
    super(text.en);
    this.name = 'TrustImportError';
    this.text = text;
  }
}

interface Candidate {
  kid?: string;
  certificate: string;
}

function candidatesOf(text: string): Candidate[] {
  const trimmed = text.trim();
  if (trimmed.includes('-----BEGIN CERTIFICATE-----')) {
    return [...trimmed.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => ({
      certificate: m[1]!.replace(/\s+/g, ''),
    }));
  }
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      throw new TrustImportError({ en: 'The file is not valid JSON.', id: 'Berkas bukan JSON yang valid.' });
    }
    const list = Array.isArray(json)
      ? json
      : typeof json === 'object' && json !== null
        ? ((json as { keys?: unknown; certificates?: unknown }).keys ?? (json as { certificates?: unknown }).certificates)
        : undefined;
    if (!Array.isArray(list)) return [];
    const out: Candidate[] = [];
    for (const item of list as unknown[]) {
      if (typeof item !== 'object' || item === null) continue;
      const { kid, certificate, rawData, certificateType } = item as { kid?: unknown; certificate?: unknown; rawData?: unknown; certificateType?: unknown };
      // The gateway's list also carries CSCA (and upload) certificates: only document signers sign certificates.
      if (typeof certificateType === 'string' && certificateType !== 'DSC') continue;
      const der = typeof certificate === 'string' ? certificate : typeof rawData === 'string' ? rawData : undefined;
      if (der) out.push({ certificate: der, ...(typeof kid === 'string' && kid ? { kid } : {}) });
    }
    return out;
  }
  return /^[A-Za-z0-9+/=_\-\s]+$/.test(trimmed) && trimmed.length > 100 ? [{ certificate: trimmed.replace(/\s+/g, '') }] : [];
}

/**
 * The signer certificates in a trust-list text, each under the kid computed
 * from it. Throws TrustImportError when there are none, one is not a
 * certificate, or the list names a kid that is not its certificate's.
 */
export async function parseTrustList(text: string): Promise<ImportedSigner[]> {
  const candidates = candidatesOf(text);
  if (candidates.length === 0) {
    throw new TrustImportError({
      en: 'No certificate found: expected a trust list (JSON), PEM certificates or a base64 certificate.',
      id: 'Tidak ada sertifikat: diharapkan daftar kunci (JSON), sertifikat PEM, atau sertifikat base64.',
    });
  }
  const out: ImportedSigner[] = [];
  for (const [i, c] of candidates.entries()) {
    const der = base64ToBytes(c.certificate);
    let readable = der !== undefined;
    if (der) {
      try {
        readSignerCertificate(der);
      } catch {
        readable = false;
      }
    }
    if (!der || !readable) {
      throw new TrustImportError({
        en: `Entry ${i + 1} is not an X.509 certificate.`,
        id: `Entri ${i + 1} bukan sertifikat X.509.`,
      });
    }
    const kid = await kidOfWeb(der);
    if (c.kid !== undefined && !sameKid(c.kid, kid)) {
      throw new TrustImportError({
        en: `Entry ${i + 1} is listed under kid ${c.kid}, but its certificate's kid is ${kid}: the list is wrong or forged, nothing was added.`,
        id: `Entri ${i + 1} dicantumkan dengan kid ${c.kid}, tetapi kid sertifikatnya ${kid}: daftar ini salah atau palsu, tidak ada yang ditambahkan.`,
      });
    }
    const names = readCertificateNames(der);
    out.push({ kid, certificate: der, ...names, fingerprint: await fingerprintOf(der) });
  }
  return out;
}

/** Kids compared as bytes (a list may write them URL-safe or unpadded). */
function sameKid(listed: string, computed: string): boolean {
  const a = base64ToBytes(listed);
  const b = base64ToBytes(computed);
  return a !== undefined && b !== undefined && sameBytes(a, b);
}

async function fingerprintOf(der: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', der as Uint8Array<ArrayBuffer>));
  return [...digest].map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(':');
}

const JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

function base64UrlText(part: string): string {
  const bytes = base64ToBytes(part);
  if (!bytes) throw new TrustImportError({ en: 'The signed list is not base64url.', id: 'Daftar bertanda tangan bukan base64url.' });
  return new TextDecoder().decode(bytes);
}

/**
 * Reads an import and says what vouches for it. A compact JWS whose
 * signature verifies with a key in `trusted` (its header's kid) yields its
 * payload's signers, `signedBy` that kid. A JWS that does not verify is
 * refused. Anything else yields its signers unsigned, each to be confirmed
 * by the person; a home-country signer among them is refused.
 */
export async function readTrustImport(text: string, trusted: readonly TrustedKey[]): Promise<TrustImport> {
  const jws = JWS.exec(text.trim());
  if (jws) {
    const [, h, p, sig] = jws as unknown as [string, string, string, string];
    let header: { alg?: unknown; kid?: unknown };
    try {
      header = JSON.parse(base64UrlText(h)) as { alg?: unknown; kid?: unknown };
    } catch {
      throw new TrustImportError({ en: 'The signed list has no readable header.', id: 'Header daftar bertanda tangan tidak terbaca.' });
    }
    const signature = base64ToBytes(sig);
    const kid = typeof header.kid === 'string' ? header.kid : '';
    const signed = new TextEncoder().encode(`${h}.${p}`);
    let ok = false;
    for (const key of trusted) {
      if (!signature || !sameKid(key.kid, kid)) continue;
      const facts = readSignerCertificate(key.certificate);
      if ((header.alg === 'ES256' || header.alg === 'PS256') && header.alg === facts.algorithm && (await verifyBySignerWeb(key.certificate, facts, signature, signed))) {
        ok = true;
        break;
      }
    }
    if (!ok)
      throw new TrustImportError({
        en: 'The list is signed, but not by a key this verifier trusts: nothing was added.',
        id: 'Daftar ini bertanda tangan, tetapi bukan oleh kunci yang dipercaya pemeriksa ini: tidak ada yang ditambahkan.',
      });
    return { signedBy: kid, signers: await parseTrustList(base64UrlText(p)) };
  }
  const signers = await parseTrustList(text);
  const home = signers.find((s) => s.country === HOME_COUNTRY);
  if (home)
    throw new TrustImportError({
      en: `${home.subject} is an Indonesian signer: those come only from Dosis's own trust list (Update now), never from a file.`,
      id: `${home.subject} adalah penanda tangan Indonesia: kunci Indonesia hanya datang dari daftar Dosis sendiri (Perbarui sekarang), tidak dari berkas.`,
    });
  return { signedBy: null, signers };
}
