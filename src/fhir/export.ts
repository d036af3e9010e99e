/**
 * Reading people and vaccinations out as FHIR (database side of satusehat.ts).
 * Access follows the person scopes of access/scope.ts; out of scope is 404.
 */
import type { Immunization, Patient } from '@medplum/fhirtypes';
import type { Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { assertPersonInScope, personNotFound } from '../access/scope.ts';
import { AppError } from '../domain/errors.ts';
import type { VaccineCode } from '../domain/vaccines.ts';
import { immunizationResource, patientResource, type PersonRecord, type VaccinationRecord } from './satusehat.ts';

interface PersonRow extends Record<string, unknown> {
  id: string;
  ihs_number: string | null;
  id_type: PersonRecord['idType'];
  id_value: string;
  id_country: string | null;
  name: string;
  birth_date: string;
  sex: 'M' | 'F' | null;
  merged_into: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function readPerson(db: Queryable, who: Principal, id: string): Promise<PersonRow> {
  if (!UUID.test(id)) throw personNotFound(id);
  await assertPersonInScope(db, who, id);
  const r = await db.query<PersonRow>('SELECT id, id_type, id_value, id_country, name, birth_date, sex, merged_into, ihs_number FROM people WHERE id = $1', [id]);
  const row = r.rows[0];
  if (!row) throw personNotFound(id);
  if (row.merged_into) {
    throw new AppError('conflict', 'person_merged', { en: `Patient ${id} was merged into ${row.merged_into}.`, id: `Pasien ${id} sudah digabung ke ${row.merged_into}.` }, {
      detail: { mergedInto: row.merged_into },
    });
  }
  return row;
}

function toPerson(r: PersonRow): PersonRecord {
  return { id: r.id, idType: r.id_type, idValue: r.id_value, idCountry: r.id_country, name: r.name, birthDate: r.birth_date, sex: r.sex };
}

/** `GET /fhir/Patient/{id}`. */
export async function exportPatient(db: Queryable, who: Principal, id: string, base: string): Promise<Patient> {
  return patientResource(toPerson(await readPerson(db, who, id)), base);
}

interface VacRow extends Record<string, unknown> {
  id: string;
  person_id: string;
  dose_number: number;
  vaccine: VaccineCode;
  date: string;
  lot: string | null;
  facility_code: string;
  facility_name: string;
  status: VaccinationRecord['status'];
  source: string;
  recorded_at: Date;
  organization_id: string | null;
  location_id: string | null;
  lot_expires_on: string | null;
}

/** `patient=Patient/{id}` or `patient={id}` → the id. */
export function patientParam(value: string): string {
  return value.startsWith('Patient/') ? value.slice('Patient/'.length) : value;
}

/** `GET /fhir/Immunization?patient=…`: every vaccination of the person, voided ones as entered-in-error. */
export async function exportImmunizations(db: Queryable, who: Principal, patient: string, base: string): Promise<Immunization[]> {
  const person = await readPerson(db, who, patientParam(patient));
  return (await vaccinationRecords(db, person.id, person.ihs_number)).map((v) => immunizationResource(v, { name: person.name }, base));
}

/**
 * Every vaccination of a person as a VaccinationRecord with what Dosis knows of SATUSEHAT's facts (the
 * export above and the hand-off, satusehat/sync.ts, which adds the Encounter it made).
 */
export async function vaccinationRecords(db: Queryable, personId: string, ihsNumber: string | null): Promise<VaccinationRecord[]> {
  const r = await db.query<VacRow>(
    `SELECT v.id, v.person_id, v.dose_number, v.vaccine, v.date, v.lot, v.facility_code, f.name AS facility_name, v.status, v.source, v.recorded_at,
            f.satusehat_organization_id AS organization_id, f.satusehat_location_id AS location_id, l.expires_on::text AS lot_expires_on
       FROM vaccinations v JOIN facilities f ON f.code = v.facility_code
       LEFT JOIN vaccine_lots l ON l.vaccine = v.vaccine AND l.lot_key = upper(v.lot)
      WHERE v.person_id = $1
      ORDER BY v.date, v.dose_number, v.recorded_at`,
    [personId],
  );
  const history = r.rows.map((v) => ({ doseNumber: v.dose_number, date: v.date, vaccine: v.vaccine, status: v.status }));
  return r.rows.map((v) => ({
    id: v.id,
    personId: v.person_id,
    doseNumber: v.dose_number,
    vaccine: v.vaccine,
    date: v.date,
    lot: v.lot,
    facilityCode: v.facility_code,
    facilityName: v.facility_name,
    status: v.status,
    source: v.source,
    recordedAt: v.recorded_at,
    history,
    satusehat: {
      organizationId: v.organization_id,
      locationId: v.location_id,
      ihsNumber,
      // Dosis keeps no SATUSEHAT Encounter, nor the time of day of a dose: the hand-off supplies the Encounter.
      encounterId: null,
      lotExpiresOn: v.lot_expires_on,
      givenAt: null,
    },
  }));
}
