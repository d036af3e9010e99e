/**
 * Codes of the catalogue's vaccines in the terminologies Dosis exchanges data
 * in: CVX (SMART Health Cards, most verifier apps) and KFA (Kamus Farmasi dan
 * Alat Kesehatan, the product dictionary SATUSEHAT's Immunization profile
 * requires in `vaccineCode`). Data, next to the catalogue (vaccines.ts), whose
 * exports it does not change.
 *
 * Sources
 * - CVX: the CDC's CVX code set as published in the SMART Health Cards value
 *   set `immunization-covid-cvx` (HL7/smart-health-cards-and-links,
 *   input/resources/ValueSet-immunization-covid-cvx.json). Product codes where
 *   CVX has one: Spikevax 207, Comirnaty 208, Vaxzevria 210, Nuvaxovid 211,
 *   Jcovden 212, Convidecia 506 ("CanSino Biological Inc./Beijing Institute of
 *   Biotechnology"), BBIBP-CorV 510 ("BIBP, Sinopharm"), CoronaVac 511
 *   ("CoronaVac, Sinovac"), Zifivax 513 ("Anhui Zhifei Longcom, Zifivax").
 *   · Covovax: CVX codes describe a formulation; Covovax is Novavax's
 *     rS-nanoparticle + Matrix-M1 vaccine made under licence by the Serum
 *     Institute of India, and CVX lists no separate code, so it is 211 like
 *     Nuvaxovid (judgement, marked `approximate`).
 *   · IndoVac, AWcorna and Inavac have no CVX code: 213, "SARS-COV-2
 *     (COVID-19) vaccine, UNSPECIFIED FORMULATION" (`approximate`).
 * - KFA: the product codes of COVID-19 vaccines were not found in any public
 *   source available when this was written (SATUSEHAT's examples show the
 *   system `http://sys-ids.kemkes.go.id/kfa` and 93… product codes for other
 *   vaccines only). They are `null` until filled from the KFA browser; the
 *   FHIR export then carries CVX and Dosis's own code, and says so (see
 *   src/fhir/README.md). Never guess a KFA code: a wrong one would file the
 *   dose under another product nationally.
 */
import type { VaccineCode } from './vaccines.ts';

export const CVX_SYSTEM = 'http://hl7.org/fhir/sid/cvx';
export const KFA_SYSTEM = 'http://sys-ids.kemkes.go.id/kfa';

export interface VaccineCodes {
  cvx: { code: string; display: string; approximate: boolean };
  /** KFA product (`93…`); null while unknown (see the header). */
  kfa: { code: string; display: string } | null;
}

const UNSPECIFIED = { code: '213', display: 'SARS-COV-2 (COVID-19) vaccine, UNSPECIFIED FORMULATION', approximate: true };

const CODES: Readonly<Record<VaccineCode, VaccineCodes>> = {
  CORONAVAC: { cvx: { code: '511', display: 'COVID-19 IV Non-US Vaccine (CoronaVac, Sinovac)', approximate: false }, kfa: null },
  VAXZEVRIA: { cvx: { code: '210', display: 'COVID-19 vaccine, vector-nr, rS-ChAdOx1, PF, 0.5 mL', approximate: false }, kfa: null },
  COMIRNATY: { cvx: { code: '208', display: 'COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose', approximate: false }, kfa: null },
  SPIKEVAX: { cvx: { code: '207', display: 'COVID-19, mRNA, LNP-S, PF, 100 mcg/0.5mL dose or 50 mcg/0.25mL dose', approximate: false }, kfa: null },
  'BBIBP-CORV': { cvx: { code: '510', display: 'COVID-19 IV Non-US Vaccine (BIBP, Sinopharm)', approximate: false }, kfa: null },
  NUVAXOVID: { cvx: { code: '211', display: 'COVID-19, subunit, rS-nanoparticle+Matrix-M1 Adjuvant, PF, 0.5 mL', approximate: false }, kfa: null },
  COVOVAX: { cvx: { code: '211', display: 'COVID-19, subunit, rS-nanoparticle+Matrix-M1 Adjuvant, PF, 0.5 mL', approximate: true }, kfa: null },
  JCOVDEN: { cvx: { code: '212', display: 'COVID-19 vaccine, vector-nr, rS-Ad26, PF, 0.5 mL', approximate: false }, kfa: null },
  CONVIDECIA: {
    cvx: { code: '506', display: 'COVID-19 VVnr Non-US Vaccine (CanSino Biological Inc./Beijing Institute of Biotechnology)', approximate: false },
    kfa: null,
  },
  ZIFIVAX: { cvx: { code: '513', display: 'SARS-COV-2 COVID-19 PS Non-US Vaccine (Anhui Zhifei Longcom, Zifivax)', approximate: false }, kfa: null },
  INDOVAC: { cvx: UNSPECIFIED, kfa: null },
  AWCORNA: { cvx: UNSPECIFIED, kfa: null },
  INAVAC: { cvx: UNSPECIFIED, kfa: null },
};

for (const c of Object.values(CODES)) {
  Object.freeze(c.cvx);
  Object.freeze(c);
}

/** The CVX and KFA codes of a catalogue vaccine. */
export function vaccineCodes(code: VaccineCode): VaccineCodes {
  return CODES[code];
}

/**
 * The catalogue vaccine a FHIR coding names, for imports: a KFA code we know,
 * or a CVX code that names exactly one product (not 211, shared by Nuvaxovid
 * and Covovax, nor 213, unspecified).
 */
export function vaccineForCoding(system: string, code: string): VaccineCode | undefined {
  const matches = (Object.entries(CODES) as [VaccineCode, VaccineCodes][]).filter(([, c]) =>
    system === KFA_SYSTEM ? c.kfa?.code === code : system === CVX_SYSTEM ? c.cvx.code === code : false,
  );
  return matches.length === 1 ? matches[0]?.[0] : undefined;
}
