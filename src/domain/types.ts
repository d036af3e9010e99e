/**
 * Shared domain types of Dosis, and the words they are named with.
 *
 * Glossary
 * - **Dose** — one injection of one vaccine product on one date, given to one person at a
 *   facility. Numbered 1, 2, 3 … in the person's own history (`doseNumber`), whatever the product.
 * - **Primary series** — the doses a product needs to count as "complete": 1 (Jcovden,
 *   Convidecia), 2 (most products) or 3 (Zifivax). Its size is dated data in `vaccines.ts`.
 * - **Booster** — a dose after the primary series is complete: booster 1 (programme from
 *   January 2022), booster 2 (from July 2022 for health workers, January 2023 for everyone 18+).
 *   Every dose carries its role explicitly (`doses.ts`), because EU DCC `dn/sd` alone is ambiguous.
 * - **Certificate** — one signed record of one dose (EU DCC style, "dose dn of sd"), issued in
 *   the same transaction that records the dose.
 * - **UVCI** — Unique Vaccination Certificate Identifier, the `ci` of an EU DCC
 *   (`URN:UVCI:01:ID:…` with a checksum).
 * - **kid** — key identifier of the document-signer certificate (DSC) that signed a certificate:
 *   the first 8 bytes of the SHA-256 of that certificate.
 * - **Outbox job** — a row in `jobs` written in the same transaction as the record it follows
 *   (e.g. "send the SMS for certificate X"), run later by a worker; idempotent by dedupe key.
 * - **Case** — an item on a work list that a person must look at: a dose claiming an earlier dose
 *   not on record, a possible duplicate person, an invalid phone, an unreachable person.
 * - **NIK** — Nomor Induk Kependudukan, the 16-digit resident number (`nik.ts`).
 * - **Faskes** — fasilitas kesehatan, a health facility (a puskesmas, a hospital, a clinic).
 * - **Dinkes** — the district (or provincial) health office; scopes users by region code `PPKKCC`.
 */

/** Sex as recorded on the KTP: `M` (laki-laki, L) or `F` (perempuan, P). */
export type Sex = 'M' | 'F';

/** A calendar date `YYYY-MM-DD`, in Indonesian local time when it is a date of an event. */
export type IsoDate = string;

/**
 * Who a person is, without inventing anything:
 * - `nik`: their own NIK; `newlyIssued` when the civil registry issued it on the spot
 *   (vulnerable groups vaccinated with Dukcapil present);
 * - `passport`: a foreigner (or an Indonesian abroad) by passport number and issuing country
 *   (ISO 3166 alpha-2, normalised);
 * - `mother-nik`: a newborn or young child recorded under the mother's NIK.
 */
export type PersonIdentifier =
  | { type: 'nik'; value: string; newlyIssued?: boolean }
  | { type: 'passport'; value: string; country: string }
  | { type: 'mother-nik'; value: string };

/** The role of a dose in a person's history. */
export type DoseRoleName = 'primary' | 'booster';

/** Status of a recorded vaccination (table `vaccinations`). */
export type VaccinationStatus = 'recorded' | 'claims_prior_dose' | 'void';
