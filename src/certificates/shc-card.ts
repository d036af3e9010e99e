/**
 * The FHIR content of a Dosis SMART Health Card: one Patient and one
 * Immunization per certified dose, minimised as the SHC spec asks of cards
 * shown as QR codes (§Health Cards are Compact): no ids, no meta, no text, no
 * Coding.display, `resource:N` references. Pure.
 *
 * - Patient.name is `text` only: Indonesian names have no family/given
 *   convention (many people have one name), so the whole name is kept as
 *   written rather than split wrongly.
 * - vaccineCode: CVX (what verifier apps read) and KFA when known
 *   (domain/vaccine-codes.ts).
 * - performer: the facility's name (`actor.display`): a card names where the
 *   dose was given, not a FHIR server address.
 * - No dose numbers: the SMART Health Cards vaccination IG sets
 *   `protocolApplied` to 0..0 in both its profiles (verifiers count a card's
 *   Immunizations). The card lists every certified dose in date order, so
 *   its Immunizations are the doses the DCCs number 1/2, 2/2, 3/3
 *   (test/interop/dose-numbering.test.ts).
 */
import { CVX_SYSTEM, KFA_SYSTEM, vaccineCodes } from '../domain/vaccine-codes.ts';
import type { VaccineCode } from '../domain/vaccines.ts';
import { VC_COVID19, VC_IMMUNIZATION } from './shc.ts';

export interface CardPerson {
  name: string;
  birthDate: string;
}

export interface CardDose {
  vaccine: VaccineCode;
  date: string;
  lot: string | null;
  facilityName: string;
}

/** The card's bundle and its credential types (every Dosis vaccine is a COVID-19 vaccine). */
export function healthCardBundle(person: CardPerson, doses: readonly CardDose[]): { bundle: Record<string, unknown>; types: string[] } {
  const entry: Record<string, unknown>[] = [
    { fullUrl: 'resource:0', resource: { resourceType: 'Patient', name: [{ text: person.name }], birthDate: person.birthDate } },
  ];
  const sorted = [...doses].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  sorted.forEach((d, i) => {
    const codes = vaccineCodes(d.vaccine);
    entry.push({
      fullUrl: `resource:${i + 1}`,
      resource: {
        resourceType: 'Immunization',
        status: 'completed',
        vaccineCode: {
          coding: [{ system: CVX_SYSTEM, code: codes.cvx.code }, ...(codes.kfa ? [{ system: KFA_SYSTEM, code: codes.kfa.code }] : [])],
        },
        patient: { reference: 'resource:0' },
        occurrenceDateTime: d.date,
        ...(d.lot ? { lotNumber: d.lot } : {}),
        performer: [{ actor: { display: d.facilityName } }],
      },
    });
  });
  return { bundle: { resourceType: 'Bundle', type: 'collection', entry }, types: doses.length > 0 ? [VC_IMMUNIZATION, VC_COVID19] : [] };
}
