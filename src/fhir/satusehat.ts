/**
 * Dosis records as FHIR R4 resources following SATUSEHAT's Patient and
 * Immunization profiles (https://fhir.kemkes.go.id/r4/StructureDefinition/…),
 * as pure functions: the one module that knows SATUSEHAT's rules (issue 21's
 * hand-off builds on it). See README.md in this folder for what each field
 * carries and what SATUSEHAT wants that Dosis may not hold.
 *
 * - Identifiers by SATUSEHAT system: NIK `https://fhir.kemkes.go.id/id/nik`,
 *   mother's NIK `…/nik-ibu`, passport `…/paspor`; an Immunization's
 *   `http://sys-ids.kemkes.go.id/immunization/{organization_id}` when the
 *   facility's SATUSEHAT Organization id is known.
 * - vaccineCode: KFA product code (when the data table has one), CVX, and
 *   Dosis's catalogue code.
 * - occurrenceDateTime: a full timestamp in UTC with an explicit offset
 *   (`YYYY-MM-DDThh:mm:ss+00:00`, as SATUSEHAT keeps times): the time of the
 *   dose when known, else 12:00 WIB of the vaccination date (05:00 UTC), which
 *   is the same calendar date in UTC and in all three Indonesian time zones.
 *   `recorded` is when Dosis recorded it; their difference shows a backlog.
 * - protocolApplied: the dose's EU DCC `dn`/`sd` and "primary"/"booster N",
 *   from domain/doses.ts `roleInHistory`, the rule every output uses.
 * - meta.profile is claimed only when every element SATUSEHAT requires is
 *   known (`satusehatGaps`): a resource that cannot meet the profile does not
 *   claim it, and stays plain valid FHIR R4.
 */
import type { Bundle, Immunization, Patient } from '@medplum/fhirtypes';
import { roleInHistory, seriesName, type HistoryDose } from '../domain/doses.ts';
import { CVX_SYSTEM, KFA_SYSTEM, vaccineCodes as catalogueCodes, type VaccineCodes } from '../domain/vaccine-codes.ts';
import { vaccineByCode, type VaccineCode } from '../domain/vaccines.ts';

export const SATUSEHAT_PATIENT_PROFILE = 'https://fhir.kemkes.go.id/r4/StructureDefinition/Patient';
export const SATUSEHAT_IMMUNIZATION_PROFILE = 'https://fhir.kemkes.go.id/r4/StructureDefinition/Immunization';
export const NIK_SYSTEM = 'https://fhir.kemkes.go.id/id/nik';
export const MOTHER_NIK_SYSTEM = 'https://fhir.kemkes.go.id/id/nik-ibu';
export const PASSPORT_SYSTEM = 'https://fhir.kemkes.go.id/id/paspor';
/** SATUSEHAT's identifier system of a facility's immunization records. */
export function immunizationIdentifierSystem(organizationId: string): string {
  return `http://sys-ids.kemkes.go.id/immunization/${organizationId}`;
}
const SNOMED = 'http://snomed.info/sct';
const COVID19_SNOMED = '840539006';

/** Code systems and identifier systems Dosis defines under its own address. */
export function dosisSystems(base: string): { vaccine: string; facility: string; vaccination: string; person: string } {
  const b = base.replace(/\/+$/, '');
  return {
    vaccine: `${b}/fhir/CodeSystem/vaccine`,
    facility: `${b}/fhir/sid/facility`,
    vaccination: `${b}/fhir/sid/vaccination`,
    person: `${b}/fhir/sid/person`,
  };
}

export interface PersonRecord {
  id: string;
  idType: 'nik' | 'passport' | 'mother-nik';
  idValue: string;
  idCountry: string | null;
  name: string;
  birthDate: string;
  sex: 'M' | 'F' | null;
}

export interface VaccinationRecord {
  id: string;
  personId: string;
  doseNumber: number;
  vaccine: VaccineCode;
  date: string;
  lot: string | null;
  facilityCode: string;
  facilityName: string;
  status: 'recorded' | 'claims_prior_dose' | 'void';
  source: string;
  recordedAt: Date;
  /** The person's doses (this one included): the dose's role is judged against them (roleInHistory). */
  history: readonly HistoryDose[];
  /** What SATUSEHAT needs beyond Dosis's own record; null where unknown. */
  satusehat: SatusehatFacts;
}

/** What SATUSEHAT's Immunization profile needs that Dosis may not hold (migration 028); null when unknown. */
export interface SatusehatFacts {
  /** The facility's Organization id in SATUSEHAT (identifier system, performer). */
  organizationId: string | null;
  /** The facility's Location id in SATUSEHAT. */
  locationId: string | null;
  /** The person's IHS number (SATUSEHAT Patient id). */
  ihsNumber: string | null;
  /** The SATUSEHAT Encounter of the visit; Dosis keeps none (the hand-off creates it). */
  encounterId: string | null;
  /** The lot's expiry date, YYYY-MM-DD, from the lot register. */
  lotExpiresOn: string | null;
  /** When the dose was given, when that is known (a time of day, not just the date). */
  givenAt: Date | null;
}

/** No SATUSEHAT facts at all: plain FHIR R4 without the profile claim. */
export const NO_SATUSEHAT_FACTS: SatusehatFacts = Object.freeze({
  organizationId: null,
  locationId: null,
  ihsNumber: null,
  encounterId: null,
  lotExpiresOn: null,
  givenAt: null,
});

/** `YYYY-MM-DDThh:mm:ss+00:00`: the time in UTC, seconds, explicit offset (SATUSEHAT's form). */
export function utcDateTime(at: Date): string {
  return `${at.toISOString().slice(0, 19)}+00:00`;
}

/** Hour (UTC) used for a dose whose time of day is unknown: 12:00 WIB (UTC+7) = 05:00 UTC, the same date everywhere in Indonesia and in UTC. */
const DEFAULT_HOUR_UTC = 5;

/** occurrenceDateTime of a dose: its time when known, else 12:00 WIB of its (Indonesian local) date. */
export function occurrenceOf(date: string, givenAt: Date | null): string {
  if (givenAt) return utcDateTime(givenAt);
  const [y, m, d] = date.split('-').map(Number);
  return utcDateTime(new Date(Date.UTC(y ?? 0, (m ?? 1) - 1, d ?? 1, DEFAULT_HOUR_UTC)));
}

/**
 * Which elements SATUSEHAT's Immunization profile requires that this dose lacks (empty: it meets
 * the profile and claims it). From DOMAIN.md's SATUSEHAT facts: KFA vaccineCode, patient by IHS
 * number, encounter, location, performer and the identifier system by organization id, lotNumber
 * and expirationDate for a dose a health worker gave (every dose Dosis records).
 */
export function satusehatGaps(v: Pick<VaccinationRecord, 'lot' | 'satusehat'>, codes: VaccineCodes): string[] {
  const gaps: string[] = [];
  const f = v.satusehat;
  if (!codes.kfa) gaps.push('vaccineCode: KFA code');
  if (!f.ihsNumber) gaps.push('patient: IHS number');
  if (!f.encounterId) gaps.push('encounter');
  if (!f.locationId) gaps.push('location');
  if (!f.organizationId) gaps.push('performer and identifier: SATUSEHAT organization id');
  if (!v.lot) gaps.push('lotNumber');
  if (!f.lotExpiresOn) gaps.push('expirationDate');
  return gaps;
}

/** A person as a SATUSEHAT Patient. */
export function patientResource(p: PersonRecord, base: string): Patient {
  const sys = dosisSystems(base);
  const identifier: NonNullable<Patient['identifier']> = [{ use: 'usual', system: sys.person, value: p.id }];
  if (p.idType === 'nik') identifier.unshift({ use: 'official', system: NIK_SYSTEM, value: p.idValue });
  else if (p.idType === 'mother-nik') identifier.unshift({ use: 'official', system: MOTHER_NIK_SYSTEM, value: p.idValue });
  else {
    identifier.unshift({
      use: 'official',
      system: PASSPORT_SYSTEM,
      value: p.idValue,
      ...(p.idCountry ? { assigner: { display: p.idCountry } } : {}),
    });
  }
  return {
    resourceType: 'Patient',
    id: p.id,
    meta: { profile: [SATUSEHAT_PATIENT_PROFILE] },
    identifier,
    active: true,
    name: [{ use: 'official', text: p.name }],
    ...(p.sex ? { gender: p.sex === 'M' ? 'male' : 'female' } : {}),
    birthDate: p.birthDate,
  };
}

/**
 * A vaccination as an Immunization, in SATUSEHAT's profile when every element it requires is known
 * (else the same resource without the claim). A voided dose is `entered-in-error`, so a receiver
 * retracts it. `codes` is the vaccine-code table (domain/vaccine-codes.ts; tests pass their own).
 */
export function immunizationResource(
  v: VaccinationRecord,
  person: { name: string },
  base: string,
  codesOf: (code: VaccineCode) => VaccineCodes = catalogueCodes,
): Immunization {
  const sys = dosisSystems(base);
  const vaccine = vaccineByCode(v.vaccine);
  const codes = codesOf(v.vaccine);
  const role = roleInHistory({ doseNumber: v.doseNumber, date: v.date, vaccine: v.vaccine, status: v.status }, v.history);
  const primarySource = v.source !== 'import';
  const f = v.satusehat;
  const claims = satusehatGaps(v, codes).length === 0;
  const display = v.facilityName;
  return {
    resourceType: 'Immunization',
    id: v.id,
    ...(claims ? { meta: { profile: [SATUSEHAT_IMMUNIZATION_PROFILE] } } : {}),
    identifier: [
      ...(f.organizationId ? [{ system: immunizationIdentifierSystem(f.organizationId), value: v.id }] : []),
      { system: sys.vaccination, value: v.id },
    ],
    status: v.status === 'void' ? 'entered-in-error' : 'completed',
    vaccineCode: {
      coding: [
        ...(codes.kfa ? [{ system: KFA_SYSTEM, code: codes.kfa.code, display: codes.kfa.display }] : []),
        { system: CVX_SYSTEM, code: codes.cvx.code, display: codes.cvx.display },
        { system: sys.vaccine, code: vaccine.code, display: vaccine.name },
      ],
      text: vaccine.name,
    },
    // Without an IHS number the reference is Dosis's own Patient (GET /api/v1/fhir/Patient/{id}).
    patient: { reference: `Patient/${f.ihsNumber ?? v.personId}`, display: person.name },
    ...(f.encounterId ? { encounter: { reference: `Encounter/${f.encounterId}` } } : {}),
    occurrenceDateTime: occurrenceOf(v.date, f.givenAt),
    recorded: utcDateTime(v.recordedAt),
    primarySource,
    ...(primarySource
      ? {}
      : { reportOrigin: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/immunization-origin', code: 'record', display: 'Written Record' }] } }),
    ...(f.locationId ? { location: { reference: `Location/${f.locationId}`, display } } : {}),
    ...(v.lot ? { lotNumber: v.lot } : {}),
    ...(f.lotExpiresOn ? { expirationDate: f.lotExpiresOn } : {}),
    performer: [
      {
        function: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0443', code: 'AP', display: 'Administering Provider' }] },
        // A literal reference when SATUSEHAT's Organization id is known, else a logical one by Dosis facility code.
        actor: f.organizationId
          ? { reference: `Organization/${f.organizationId}`, display }
          : { type: 'Organization', identifier: { system: sys.facility, value: v.facilityCode }, display },
      },
    ],
    ...(role
      ? {
          protocolApplied: [
            {
              series: seriesName(role),
              targetDisease: [{ coding: [{ system: SNOMED, code: COVID19_SNOMED, display: 'COVID-19' }] }],
              doseNumberPositiveInt: role.dn,
              seriesDosesPositiveInt: role.sd,
            },
          ],
        }
      : {}),
  };
}

/** A search result Bundle. */
export function searchset(resources: (Patient | Immunization)[], selfUrl: string, base: string): Bundle {
  const b = base.replace(/\/+$/, '');
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: resources.length,
    link: [{ relation: 'self', url: selfUrl }],
    entry: resources.map((r) => ({ fullUrl: `${b}/api/v1/fhir/${r.resourceType}/${r.id ?? ''}`, resource: r, search: { mode: 'match' } })),
  };
}
