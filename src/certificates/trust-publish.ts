/**
 * The trust list in the EU DCC Gateway's shape (its `GET /trustList`), so
 * that tools built for the gateway read Dosis's CSCA and DSCs as they read
 * any country's: one entry per certificate, `certificateType` "CSCA" or
 * "DSC", `rawData` the base64 DER, `thumbprint` the hex SHA-256 of the DER.
 * `signature` is the gateway's CMS signature by a national upload
 * certificate; Dosis is not the gateway and leaves it empty.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../db/client.ts';

export interface GatewayTrustEntry {
  kid: string;
  timestamp: string;
  country: string;
  certificateType: 'CSCA' | 'DSC';
  thumbprint: string;
  signature: string;
  rawData: string;
}

/** CSCAs first, then DSCs, each newest first. */
export async function euGatewayTrustList(db: Queryable): Promise<GatewayTrustEntry[]> {
  const r = await db.query<{ type: 'CSCA' | 'DSC'; kid: string | null; certificate: Uint8Array; created_at: Date }>(
    `SELECT 'CSCA' AS type, NULL AS kid, certificate, created_at FROM csca_certificates
     UNION ALL
     SELECT 'DSC', kid, certificate, created_at FROM signing_keys
     ORDER BY 1, 4 DESC`,
  );
  return r.rows.map((c) => {
    const der = Buffer.from(c.certificate);
    const sha = createHash('sha256').update(der).digest();
    return {
      // The gateway gives a CSCA the same 8-byte kid form as a DSC.
      kid: c.kid ?? sha.subarray(0, 8).toString('base64'),
      timestamp: c.created_at.toISOString(),
      country: 'ID',
      certificateType: c.type,
      thumbprint: sha.toString('hex'),
      signature: '',
      rawData: der.toString('base64'),
    };
  });
}
