/**
 * What a certificate holder sees: their valid certificates, one per dose, with
 * what each says (vaccine, dose, date, facility) and when the next dose is
 * due. Reached by the link in their SMS (`/c/<token>`, only the token's
 * SHA-256 is stored) — and, once the one-time-code lookup exists, by the
 * person id its access token names: both end in `holderView`.
 *
 * The identifier is masked (`317104********01`): the page and the PDF are
 * shown to whoever holds the phone, and a whole NIK is what the 2021 leak
 * was made of.
 */

import type { Queryable } from '../db/client.ts';
import { hashLinkToken } from '../access/links.ts';
import { maskNik } from '../records/people.ts';
import { doseRole, nextDoseDue } from '../domain/doses.ts';
import { findVaccine } from '../domain/vaccines.ts';
import type { Vaccine } from '../domain/vaccines.ts';

/** One dose's certificate as the holder sees it. */
export interface HolderCertificate {
  id: string;
  uvci: string;
  /** The HC1 text the QR code carries. */
  qr: string;
  doseNumber: number;
  /** EU DCC dose number and series size, as signed. */
  dn: number;
  sd: number;
  role: 'primary' | 'booster';
  boosterNumber: number | null;
  vaccine: { code: string; name: string; manufacturer: string };
  /** Vaccination date (Indonesian local date). */
  date: string;
  facility: { code: string; name: string };
  issuedAt: string;
  expiresAt: string;
  status: 'valid';
}

export interface HolderView {
  /** Internal: which person this is (never sent to the page). */
  personId: string;
  person: {
    name: string;
    birthDate: string;
    identifier: { type: 'nik' | 'passport' | 'mother-nik'; masked: string; country: string | null };
  };
  /** Valid certificates, by dose number. */
  certificates: HolderCertificate[];
  nextDose: { doseNumber: number; due: string; role: string } | null;
  /** The certificate the link was sent for, and its status now (it may have been replaced since). */
  linked: { certificateId: string; status: string } | null;
}

interface Row extends Record<string, unknown> {
  linked_id: string | null;
  linked_status: string | null;
  person_id: string;
  id_type: 'nik' | 'passport' | 'mother-nik';
  id_value: string;
  id_country: string | null;
  name: string;
  birth_date: string;
  id: string | null;
  uvci: string;
  qr: string;
  dn: number;
  sd: number;
  issued_at: Date;
  expires_at: Date;
  dose_number: number;
  vaccine: string;
  date: string;
  facility_code: string;
  facility_name: string | null;
}

/**
 * One statement: the person (following a merge to the record it was merged
 * into), their valid certificates with the vaccination and facility of each.
 * `who` names the person: by link token hash, or by id.
 */
const SELECT_VIEW = (who: string): string => `
  WITH who AS (${who})
  SELECT w.linked_id, lc.status AS linked_status,
         p.id AS person_id, p.id_type, p.id_value, p.id_country, p.name, p.birth_date,
         c.id, c.uvci, c.qr, c.dn, c.sd, c.issued_at, c.expires_at,
         v.dose_number, v.vaccine, v.date, v.facility_code, f.name AS facility_name
    FROM who w
    JOIN people p0 ON p0.id = w.person_id
    JOIN people p ON p.id = COALESCE(p0.merged_into, p0.id)
    LEFT JOIN certificates lc ON lc.person_id = w.person_id AND lc.id = w.linked_id
    LEFT JOIN certificates c ON c.person_id = p.id AND c.status = 'valid'
    LEFT JOIN vaccinations v ON v.person_id = c.person_id AND v.id = c.vaccination_id
    LEFT JOIN facilities f ON f.code = v.facility_code
   ORDER BY v.dose_number, c.issued_at`;

const BY_LINK = SELECT_VIEW(
  `SELECT person_id, certificate_id AS linked_id FROM link_tokens
    WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2)`,
);
const BY_PERSON = SELECT_VIEW(`SELECT $1::uuid AS person_id, NULL::uuid AS linked_id`);

/** The holder of an SMS link token, or null when the token is unknown or expired. */
export async function holderByLinkToken(db: Queryable, token: string, now: Date): Promise<HolderView | null> {
  // Tokens are 22 base64url characters; anything else cannot be one (and is not worth a query).
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(token)) return null;
  const r = await db.query<Row>(BY_LINK, [hashLinkToken(token), now]);
  return viewOf(r.rows);
}

/** The holder view of a person (for the one-time-code lookup), or null when there is no such person. */
export async function holderByPerson(db: Queryable, personId: string): Promise<HolderView | null> {
  const r = await db.query<Row>(BY_PERSON, [personId]);
  return viewOf(r.rows);
}

/** A masked identifier: NIKs keep the region and the serial's last two digits; passports their first and last two characters. */
export function maskIdentifier(type: string, value: string): string {
  if (type === 'nik' || type === 'mother-nik') return maskNik(value);
  if (value.length <= 4) return '****';
  return `${value.slice(0, 2)}${'*'.repeat(value.length - 4)}${value.slice(-2)}`;
}

function viewOf(rows: Row[]): HolderView | null {
  const first = rows[0];
  if (!first) return null;
  const certRows = rows.filter((r) => r.id !== null);
  const primaryCode = certRows.find((r) => r.dose_number === 1)?.vaccine;
  const primary = primaryCode ? findVaccine(primaryCode) : undefined;
  const certificates = certRows.map((r) => certificateOf(r, primary));
  const last = certRows.at(-1);
  return {
    personId: first.person_id,
    person: {
      name: first.name,
      birthDate: first.birth_date,
      identifier: { type: first.id_type, masked: maskIdentifier(first.id_type, first.id_value), country: first.id_country },
    },
    certificates,
    nextDose: last ? nextDoseOf(last, primary) : null,
    linked: first.linked_id ? { certificateId: first.linked_id, status: first.linked_status ?? 'unknown' } : null,
  };
}

function certificateOf(r: Row, primary: Vaccine | undefined): HolderCertificate {
  const vaccine = findVaccine(r.vaccine);
  let role: 'primary' | 'booster' = r.dn > r.sd ? 'booster' : 'primary';
  let boosterNumber: number | null = null;
  if (vaccine) {
    try {
      const dr = doseRole(vaccine, r.dose_number, r.date, primary ?? vaccine);
      role = dr.role;
      boosterNumber = dr.boosterNumber ?? null;
    } catch {
      // A stored dose outside today's rules keeps the role its dn/sd says.
    }
  }
  return {
    id: r.id!,
    uvci: r.uvci,
    qr: r.qr,
    doseNumber: r.dose_number,
    dn: r.dn,
    sd: r.sd,
    role,
    boosterNumber,
    vaccine: { code: r.vaccine, name: vaccine?.name ?? r.vaccine, manufacturer: vaccine?.manufacturer ?? '' },
    date: r.date,
    facility: { code: r.facility_code, name: r.facility_name ?? r.facility_code },
    issuedAt: r.issued_at.toISOString(),
    expiresAt: r.expires_at.toISOString(),
    status: 'valid',
  };
}

function nextDoseOf(last: Row, primary: Vaccine | undefined): HolderView['nextDose'] {
  const vaccine = findVaccine(last.vaccine);
  if (!vaccine) return null;
  try {
    return nextDoseDue({ doseNumber: last.dose_number, date: last.date, vaccine, primary: primary ?? vaccine });
  } catch {
    return null;
  }
}
