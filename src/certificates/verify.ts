/**
 * Server-side verification of what a verifier scans:
 * - `HC1:…` (EU DCC): the HC1 checks of hc1.ts against Dosis's trust list;
 * - `shc:/…` (SMART Health Card): the checks of shc.ts against Dosis's own
 *   issuer keys (cards of other issuers are not trusted here);
 * plus revocation, answered from the rows the published revocation list is
 * made of (revocation.ts): a voided dose, a superseded record or a recalled
 * lot is reported as revoked, exactly as a verifier with the list would.
 */
import type { Db } from '../db/client.ts';
import type { Text } from '../domain/errors.ts';
import { fhirErrors } from '../fhir/validate.ts';
import { trustedKeys } from './issuer.ts';
import { REASON_MESSAGES, verifyHc1, type Hc1Verification } from './hc1.ts';
import { ownIssuerSource, uvciRevocation } from './revocation.ts';
import { isLoopbackHttp, issuerUrl } from './shc-issuer.ts';
import { SHC_PREFIX, verifyNumericQr, type HealthCardClaims, type ShcCode, type ShcIssue } from './shc.ts';
import type { TrustedKey } from './trust.ts';

const TRUST_CACHE_MS = 30_000;
let cache: { db: Db; at: number; keys: TrustedKey[] } | undefined;

async function keysOf(db: Db): Promise<TrustedKey[]> {
  if (cache && cache.db === db && Date.now() - cache.at < TRUST_CACHE_MS) return cache.keys;
  const keys = await trustedKeys(db);
  cache = { db, at: Date.now(), keys };
  return keys;
}

/** Forget the cached trust list (after a key rotation in this process). */
export function forgetTrustList(): void {
  cache = undefined;
}

/** How a revoked certificate was revoked (voided dose, superseded record, recalled lot). */
export interface RevocationFacts {
  status: string;
  reason: string | null;
  revokedAt: Date;
  /** The first revocation-list version that lists it. */
  listVersion: number;
}

export type DccVerification = Hc1Verification & { format: 'eu-dcc'; revocation?: RevocationFacts };

/** Why a SMART Health Card is valid or not, one code per kind of failure. */
export type ShcReason = 'ok' | 'malformed' | 'unknown_issuer' | 'bad_signature' | 'bad_content' | 'not_yet_valid' | 'expired' | 'revocation_unavailable' | 'revoked';

export const SHC_REASON_MESSAGES: Readonly<Record<ShcReason, Text>> = {
  ok: { en: 'Valid health card', id: 'Kartu kesehatan valid' },
  malformed: { en: 'The QR code content is not a readable SMART Health Card', id: 'Isi kode QR bukan SMART Health Card yang dapat dibaca' },
  unknown_issuer: {
    en: 'The health card was not issued by Dosis (unknown issuer or key)',
    id: 'Kartu kesehatan ini tidak diterbitkan oleh Dosis (penerbit atau kunci tidak dikenal)',
  },
  bad_signature: {
    en: 'The signature is invalid: the health card was altered or not issued with this key',
    id: 'Tanda tangan tidak valid: kartu kesehatan telah diubah atau tidak diterbitkan dengan kunci ini',
  },
  bad_content: { en: 'The health card content does not follow the SMART Health Cards rules', id: 'Isi kartu kesehatan tidak sesuai aturan SMART Health Cards' },
  not_yet_valid: { en: 'The health card is not valid yet', id: 'Kartu kesehatan belum berlaku' },
  expired: { en: 'The health card has expired', id: 'Kartu kesehatan sudah kedaluwarsa' },
  revocation_unavailable: { en: 'The revocation list could not be read', id: 'Daftar pencabutan tidak dapat dibaca' },
  revoked: {
    en: 'The health card has been revoked (a dose on it was voided, corrected or recalled): ask for a new one',
    id: 'Kartu kesehatan telah dicabut (dosis di dalamnya dibatalkan, dikoreksi, atau ditarik): minta kartu yang baru',
  },
};

/** Which reason an error code gives, in order of precedence (the first matching error wins). */
const SHC_REASON_ORDER: readonly [ShcReason, readonly ShcCode[]][] = [
  ['malformed', ['TRAILING_CHARACTERS', 'JSON_PARSE_ERROR', 'INVALID_NUMERIC_QR', 'INVALID_NUMERIC_QR_HEADER', 'MISSING_QR_CHUNK', 'INVALID_QR', 'UNBALANCED_QR_CHUNKS', 'INFLATION_ERROR', 'JWS_HEADER_ERROR']],
  ['unknown_issuer', ['INVALID_ISSUER_URL', 'ISSUER_KEY_DOWNLOAD_ERROR', 'ISSUER_NOT_TRUSTED', 'ISSUER_KID_MISMATCH', 'INVALID_KEY', 'INVALID_KEY_X5C']],
  ['bad_signature', ['JWS_VERIFICATION_ERROR', 'SIGNATURE_FORMAT_ERROR']],
  ['bad_content', ['SCHEMA_ERROR', 'FHIR_SCHEMA_ERROR', 'CRITICAL_DATA_MISSING']],
  ['not_yet_valid', ['NOT_YET_VALID']],
  ['expired', ['EXPIRATION_ERROR']],
  ['revocation_unavailable', ['REVOCATION_ERROR']],
];

export interface ShcCertificateVerification {
  format: 'smart-health-card';
  valid: boolean;
  reason: ShcReason;
  message: Text;
  kid?: string;
  issuedAt?: Date;
  expiresAt?: Date;
  /** The card's claims, only once its signature holds. */
  payload?: HealthCardClaims;
  issues: ShcIssue[];
}

export type CertificateVerification = DccVerification | ShcCertificateVerification;

/** Verifies an HC1 or `shc:/` text as a verifier anywhere would, plus Dosis's own revocations. */
export async function verifyCertificate(db: Db, qr: string, now: Date, opts: { publicUrl?: string } = {}): Promise<CertificateVerification> {
  if (qr.startsWith(SHC_PREFIX) || qr.trim().startsWith(SHC_PREFIX)) {
    return verifyHealthCardQr(db, qr, now, opts.publicUrl);
  }
  return verifyDcc(db, qr, now);
}

async function verifyDcc(db: Db, qr: string, now: Date): Promise<DccVerification> {
  let result = verifyHc1(qr.trim(), { trustList: await keysOf(db), now });
  if (result.reason === 'unknown_kid') {
    // A key rotated by another process since the cache was filled.
    forgetTrustList();
    result = verifyHc1(qr.trim(), { trustList: await keysOf(db), now });
  }
  const uvci = result.payload?.v?.[0]?.ci;
  if ((result.valid || result.reason === 'expired') && uvci) {
    const revocation = await uvciRevocation(db, uvci);
    if (revocation) {
      const { payload: _p, ...rest } = result;
      return {
        ...rest,
        format: 'eu-dcc',
        valid: false,
        reason: 'revoked',
        message: REASON_MESSAGES.revoked,
        ...(result.payload ? { payload: result.payload } : {}),
        revocation: { status: revocation.status, reason: revocation.reason, revokedAt: revocation.revokedAt, listVersion: revocation.version },
      };
    }
  }
  return { ...result, format: 'eu-dcc' };
}

/**
 * A SMART Health Card QR text, checked against this installation's issuer
 * (PUBLIC_URL): its keys, its CRL, and the FHIR R4 structure of the content.
 * The text is taken as scanned: characters around it are a malformed code.
 */
export async function verifyHealthCardQr(db: Db, qr: string, now: Date, publicUrl?: string): Promise<ShcCertificateVerification> {
  const iss = publicUrl ? issuerUrl(publicUrl) : undefined;
  const source = iss ? await ownIssuerSource(db, iss) : { jwks: () => undefined, crl: () => undefined };
  const r = verifyNumericQr([qr], {
    source,
    now,
    ...(iss ? { trustedIssuers: [iss], allowHttpIssuer: (i: string) => i === iss && isLoopbackHttp(i) } : {}),
    validateFhir: fhirErrors,
  });
  const errors = r.issues.filter((i) => i.severity === 'error');
  let reason: ShcReason = 'ok';
  if (errors.length > 0) {
    reason = SHC_REASON_ORDER.find(([, codes]) => errors.some((e) => codes.includes(e.code)))?.[0] ?? 'bad_content';
  } else if (r.revoked) reason = 'revoked';
  const claims = r.claims;
  return {
    format: 'smart-health-card',
    valid: reason === 'ok',
    reason,
    message: SHC_REASON_MESSAGES[reason],
    ...(r.kid ? { kid: r.kid } : {}),
    ...(claims && typeof claims.nbf === 'number' ? { issuedAt: new Date(claims.nbf * 1000) } : {}),
    ...(claims && typeof claims.exp === 'number' ? { expiresAt: new Date(claims.exp * 1000) } : {}),
    ...(claims ? { payload: claims } : {}),
    issues: r.issues,
  };
}
