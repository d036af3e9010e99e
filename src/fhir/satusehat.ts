/**
 * Dosis records as FHIR R4 resources following SATUSEHAT's Patient and
 * Immunization profiles (https://fhir.kemkes.go.id/r4/StructureDefinition/…),
 * as pure functions. See README.md in this folder for what each field carries
 * and what SATUSEHAT wants that Dosis does not hold.
 *
 * - Identifiers by SATUSEHAT system: NIK `https://fhir.kemkes.go.id/id/nik`,
 *   mother's NIK `…/nik-ibu`, passport `…/paspor`.
 * - vaccineCode: KFA product code (when known), CVX, and Dosis's catalogue code.
 * - occurrenceDateTime is the vaccination date (a local Indonesian date: FHIR
 *   allows date precision, and a made-up time of day would be false); recorded
 *   is the time Dosis recorded it, in UTC. Their difference shows a backlog.
 * - protocolApplied: doseNumber is the dose's place in the person's history
 *   (dose 3 = booster 1 after a 2-dose series), seriesDoses the size of the
 *   primary series, series "primary" or "booster N".
 */
import type { Bundle, Immunization, Patient } from '@medplum/fhirtypes';
import { doseRole } from '../domain/doses.ts';
import { CVX_SYSTEM, KFA_SYSTEM, vaccineCodes } from '../domain/vaccine-codes.ts';
import { vaccineByCode, type VaccineCode } from '../domain/vaccines.ts';

export const SATUSEHAT_PATIENT_PROFILE = 'https://fhir.kemkes.go.id/r4/StructureDefinition/Patient';
export const SATUSEHAT_IMMUNIZATION_PROFILE = 'https://fhir.kemkes.go.id/r4/StructureDefinition/Immunization';
export const NIK_SYSTEM = 'https://fhir.kemkes.go.id/id/nik';
export const MOTHER_NIK_SYSTEM = 'https://fhir.kemkes.go.id/id/nik-ibu';
export const PASSPORT_SYSTEM = 'https://fhir.kemkes.go.id/id/paspor';
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
  /** The vaccine of the person's first dose, which sets the primary series. */
  primaryVaccine: VaccineCode;
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

/** A vaccination as a SATUSEHAT Immunization. A voided dose is `entered-in-error`, so a receiver retracts it. */
export function immunizationResource(v: VaccinationRecord, person: { name: string }, base: string): Immunization {
  const sys = dosisSystems(base);
  const vaccine = vaccineByCode(v.vaccine);
  const codes = vaccineCodes(v.vaccine);
  const role = doseRole(vaccine, v.doseNumber, v.date, vaccineByCode(v.primaryVaccine));
  const primarySource = v.source !== 'import';
  return {
    resourceType: 'Immunization',
    id: v.id,
    meta: { profile: [SATUSEHAT_IMMUNIZATION_PROFILE] },
    identifier: [{ system: sys.vaccination, value: v.id }],
    status: v.status === 'void' ? 'entered-in-error' : 'completed',
    vaccineCode: {
      coding: [
        ...(codes.kfa ? [{ system: KFA_SYSTEM, code: codes.kfa.code, display: codes.kfa.display }] : []),
        { system: CVX_SYSTEM, code: codes.cvx.code, display: codes.cvx.display },
        { system: sys.vaccine, code: vaccine.code, display: vaccine.name },
      ],
      text: vaccine.name,
    },
    patient: { reference: `Patient/${v.personId}`, display: person.name },
    occurrenceDateTime: v.date,
    recorded: v.recordedAt.toISOString(),
    primarySource,
    ...(primarySource
      ? {}
      : { reportOrigin: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/immunization-origin', code: 'record', display: 'Written Record' }] } }),
    ...(v.lot ? { lotNumber: v.lot } : {}),
    performer: [
      {
        function: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0443', code: 'AP', display: 'Administering Provider' }] },
        actor: { type: 'Organization', identifier: { system: sys.facility, value: v.facilityCode }, display: v.facilityName },
      },
    ],
    protocolApplied: [
      {
        series: role.role === 'booster' ? `booster ${role.boosterNumber ?? 1}` : 'primary',
        targetDisease: [{ coding: [{ system: SNOMED, code: COVID19_SNOMED, display: 'COVID-19' }] }],
        doseNumberPositiveInt: v.doseNumber,
        seriesDosesPositiveInt: role.seriesDoses,
      },
    ],
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
