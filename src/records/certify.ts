/**
 * Re-issuing certificates after a record changes (merge, relinked dose,
 * corrected data): the old certificate is superseded — verifiers see it as
 * revoked — and a new one is signed for the vaccination as it now stands.
 */
import type { Queryable } from '../db/client.ts';
import { hashLinkToken, linkTokenFor } from '../access/links.ts';
import type { Issuer } from '../certificates/issuer.ts';
import { storedHc1 } from '../certificates/hc1.ts';
import { doseRole } from '../domain/doses.ts';
import { vaccineByCode } from '../domain/vaccines.ts';

export interface CertifyDeps {
  issuer: Issuer;
  linkSecret: Buffer;
}

export interface LiveDose extends Record<string, unknown> {
  id: string;
  dose_number: number;
  vaccine: string;
  date: string;
}

/**
 * Signs a new certificate for each dose of a person (their name and birth date
 * as now recorded) and supersedes the valid ones it replaces. Returns the new
 * certificate ids in dose order. `issuer.ready()` must have been awaited.
 */
export async function reissueCertificates(
  tx: Queryable,
  deps: CertifyDeps,
  person: { id: string; name: string; birth_date: string },
  doses: readonly LiveDose[],
  now: Date,
  reason: string,
): Promise<string[]> {
  const sorted = [...doses].sort((a, b) => a.dose_number - b.dose_number);
  const first = sorted.find((d) => d.dose_number === 1);
  const primary = first ? vaccineByCode(first.vaccine) : undefined;
  const ids: string[] = [];
  for (const d of sorted) {
    const vaccine = vaccineByCode(d.vaccine);
    const role = doseRole(vaccine, d.dose_number, d.date, primary ?? vaccine);
    const cert = deps.issuer.issue({ name: person.name, birthDate: person.birth_date, vaccine, dn: role.dn, sd: role.sd, date: d.date, issuedAt: now });
    await tx.query(
      `WITH old AS (
         UPDATE certificates SET status = 'superseded', status_reason = $11, superseded_by = $2, status_at = $9
          WHERE person_id = $1 AND vaccination_id = $3 AND status = 'valid'),
       cert AS (
         INSERT INTO certificates (person_id, id, vaccination_id, uvci, kid, hc1, dn, sd, issued_at, expires_at, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'valid')),
       uv AS (INSERT INTO certificate_uvcis (uvci, person_id, certificate_id) VALUES ($4, $1, $2))
       INSERT INTO link_tokens (token_hash, person_id, certificate_id) VALUES ($12, $1, $2)`,
      [person.id, cert.id, d.id, cert.uvci, cert.kid, storedHc1(cert.qr), role.dn, role.sd, cert.issuedAt, cert.expiresAt, reason, hashLinkToken(linkTokenFor(deps.linkSecret, cert.id))],
    );
    ids.push(cert.id);
  }
  return ids;
}
