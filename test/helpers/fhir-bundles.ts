/** FHIR resources as a facility's system sends them to Dosis (POST /api/v1/fhir/Bundle), for the FHIR tests. */
import type { person } from './app.ts';

export function patientResource(p: ReturnType<typeof person>) {
  return {
    resourceType: 'Patient',
    identifier: [{ system: 'https://fhir.kemkes.go.id/id/nik', value: p.nik }],
    name: [{ text: p.name }],
    gender: p.sex === 'M' ? 'male' : 'female',
    birthDate: p.birthDate,
    telecom: [{ system: 'phone', value: p.phone }],
  };
}

export function immunization(patientRef: string, o: { dose: number; date: string; lot: string; id?: string; cvx?: string }) {
  return {
    resourceType: 'Immunization',
    ...(o.id ? { identifier: [{ system: 'https://sim-puskesmas.example/vaccination', value: o.id }] } : {}),
    status: 'completed',
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: o.cvx ?? '511' }] },
    patient: { reference: patientRef },
    occurrenceDateTime: o.date,
    lotNumber: o.lot,
    protocolApplied: [{ doseNumberPositiveInt: o.dose }],
  };
}
