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
import { maskIdentifier } from '../domain/masking.ts';
import { nextDoseDue, roleInHistory } from '../domain/doses.ts';
import { findVaccine } from '../domain/vaccines.ts';
import type { HolderAnswer, HolderCertificate, HolderIdentifierType } from './holder-view.ts';
import type { Vaccine } from '../domain/vaccines.ts';
import { hc1OfStored } from './hc1.ts';

/** The holder's view, as the server holds it (HolderAnswer without the PDF links, with the person's id). */
export interface HolderView extends Omit<HolderAnswer, 'certificates'> {
  /** Internal: which person this is (never sent to the page). */
  personId: string;
  certificates: HolderCertificate[];
}

/** The document `holder_view` (migration 010) returns. */
interface ViewDocument {
  linked: { id: string; status: string | null } | null;
  person: { id: string; idType: HolderIdentifierType; idValue: string; idCountry: string | null; name: string; birthDate: string };
  certificates: StoredCertificate[];
}

interface StoredCertificate {
  id: string;
  uvci: string;
  /** The HC1 text of a row written before migration 042, else null */
  qr: string | null;
  /** The bytes of the HC1 text (certificates.hc1) in base64, else null */
  hc1: string | null;
  dn: number;
  sd: number;
  /** timestamptz as JSON text (PostgreSQL's offset form) */
  issuedAt: string;
  expiresAt: string;
  doseNumber: number;
  vaccine: string;
  date: string;
  facilityCode: string;
  facilityName: string | null;
}

const SELECT_VIEW = 'SELECT holder_view($1, $2, $3) AS view';

async function view(db: Queryable, params: unknown[]): Promise<HolderView | null> {
  const r = await db.query<{ view: string | null }>(SELECT_VIEW, params);
  const text = r.rows[0]?.view;
  return text ? viewOf(JSON.parse(text) as ViewDocument) : null;
}

/** The holder of an SMS link token, or null when the token is unknown or expired. */
export async function holderByLinkToken(db: Queryable, token: string, now: Date): Promise<HolderView | null> {
  // Tokens are 22 base64url characters; anything else cannot be one (and is not worth a query).
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(token)) return null;
  return view(db, [hashLinkToken(token), null, now]);
}

/** The holder view of a person (for the one-time-code lookup), or null when there is no such person. */
export async function holderByPerson(db: Queryable, personId: string): Promise<HolderView | null> {
  return view(db, [null, personId, new Date()]);
}

function viewOf(doc: ViewDocument): HolderView {
  const stored = doc.certificates;
  const primaryCode = stored.find((c) => c.doseNumber === 1)?.vaccine;
  const primary = primaryCode ? findVaccine(primaryCode) : undefined;
  const last = stored.at(-1);
  return {
    personId: doc.person.id,
    person: {
      name: doc.person.name,
      birthDate: doc.person.birthDate,
      identifier: { type: doc.person.idType, masked: maskIdentifier(doc.person.idType, doc.person.idValue), country: doc.person.idCountry },
    },
    certificates: stored.map((c) => certificateOf(c, stored)),
    nextDose: last ? nextDoseOf(last, primary) : null,
    linked: doc.linked ? { certificateId: doc.linked.id, status: doc.linked.status ?? 'unknown' } : null,
  };
}

function certificateOf(c: StoredCertificate, stored: readonly StoredCertificate[]): HolderCertificate {
  const vaccine = findVaccine(c.vaccine);
  // The role by the rule every output uses (domain/doses.ts roleInHistory); a stored dose the
  // catalogue cannot place keeps the role its signed dn/sd says.
  const dr = roleInHistory(c, stored);
  const role: 'primary' | 'booster' = dr ? dr.role : c.dn > c.sd ? 'booster' : 'primary';
  const boosterNumber = dr?.boosterNumber ?? null;
  return {
    id: c.id,
    uvci: c.uvci,
    qr: hc1OfStored(c),
    doseNumber: c.doseNumber,
    dn: c.dn,
    sd: c.sd,
    role,
    boosterNumber,
    vaccine: { code: c.vaccine, name: vaccine?.name ?? c.vaccine, manufacturer: vaccine?.manufacturer ?? '' },
    date: c.date,
    facility: { code: c.facilityCode, name: c.facilityName ?? c.facilityCode },
    issuedAt: new Date(c.issuedAt).toISOString(),
    expiresAt: new Date(c.expiresAt).toISOString(),
    status: 'valid',
  };
}

function nextDoseOf(last: StoredCertificate, primary: Vaccine | undefined): HolderView['nextDose'] {
  const vaccine = findVaccine(last.vaccine);
  if (!vaccine) return null;
  try {
    return nextDoseDue({ doseNumber: last.doseNumber, date: last.date, vaccine, primary: primary ?? vaccine });
  } catch {
    return null;
  }
}
