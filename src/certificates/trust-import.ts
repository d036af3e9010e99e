/**
 * Reading trust lists that a verifier adds by hand: other countries' document
 * signers, so that their certificates verify too. Browser-safe.
 *
 * Accepted forms:
 * - Dosis's own `GET /api/v1/trust-list`: `{"keys": [{"kid", "certificate"}]}`;
 * - the EU Digital COVID Certificate Gateway's signer list: `[{"kid", "rawData", …}]`
 *   (also wrapped as `{"certificates": […]}`);
 * - one or more PEM certificates (`-----BEGIN CERTIFICATE-----`);
 * - one certificate as base64 DER.
 * A kid given by the list is kept; a missing one is computed (first 8 bytes
 * of the SHA-256 of the certificate, EU DCC).
 */

import type { Text } from '../domain/errors.ts';
import { kidOfWeb } from './hc1-web.ts';
import { base64ToBytes, type TrustedKey } from './trust-core.ts';
import { readSignerCertificate } from './x509-der.ts';

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

/** The signer certificates in a trust-list text. Throws TrustImportError when there are none or one is not a certificate. */
export async function parseTrustList(text: string): Promise<TrustedKey[]> {
  const candidates = candidatesOf(text);
  if (candidates.length === 0) {
    throw new TrustImportError({
      en: 'No certificate found: expected a trust list (JSON), PEM certificates or a base64 certificate.',
      id: 'Tidak ada sertifikat: diharapkan daftar kunci (JSON), sertifikat PEM, atau sertifikat base64.',
    });
  }
  const out: TrustedKey[] = [];
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
    out.push({ kid: c.kid ?? (await kidOfWeb(der)), certificate: der });
  }
  return out;
}
