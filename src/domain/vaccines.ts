/**
 * The catalogue of COVID-19 vaccines used in Indonesia, their primary-series schedules and the
 * booster rules, all as dated data: a rule that changed (CoronaVac's interval, the booster interval)
 * is a new entry with its `from` date, never an edit of the old one, so a dose of March 2021 is
 * judged by the rules of March 2021.
 *
 * Sources
 * - Products, makers, doses, intervals: shared/DOMAIN.md (from Kemenkes circulars and BPOM EUA
 *   announcements), and the circulars named on each rule below.
 * - EU DCC codes: the EU value sets snapshot of 2023-07-12 — `vaccine-encoding-table.tsv`,
 *   `vaccine-medicinal-product.json` (mp), `vaccine-mah-manf.json` (ma), `vaccine-prophylaxis.json`
 *   (vp). Copied here when this file was written; nothing reads shared/ at run time.
 *   · vp: the table allows the generic 28531000087107 "COVID-19 vaccine" or a specific type for each
 *     product; Dosis uses the specific type (mRNA 1119349007, inactivated 1157024006, viral vector
 *     29061000087103, recombinant protein 1162643001) so the certificate says what was given.
 *   · Nuvaxovid (Novavax, EU/1/21/1618, ORG-100032020) and Covovax (Serum Institute of India, mp
 *     "Covovax", ORG-100001981) are two products with two codes ("do not confuse", says the table):
 *     both are in the catalogue; the alias "Novavax" finds Nuvaxovid.
 *   · Zifivax, IndoVac, AWcorna and Inavac are in no EU value set. Following the value sets' own
 *     convention for products without an EMA number (mp "CoronaVac", "Covaxin"; ma "Sinovac-Biotech",
 *     "Bharat-Biotech"), mp is the product name and ma the hyphenated name of the Indonesian
 *     marketing-authorisation holder where it is Indonesian (Bio-Farma; Etana-Biotechnologies-Indonesia
 *     for AWcorna; Biotis-Pharmaceuticals-Indonesia for Inavac), else the manufacturer
 *     (Anhui-Zhifei-Longcom for Zifivax). `eu.inValueSet` is false for them so a verifier can say so.
 * - `availableFrom`: the first day of the month of the BPOM emergency-use authorisation (CoronaVac:
 *   the programme's start, 2021-01-01). A dose dated earlier is rejected as a typing error, so the
 *   bound is deliberately a little early rather than exact.
 */
import type { IsoDate } from './types.ts';

export type VaccineCode =
  | 'CORONAVAC'
  | 'VAXZEVRIA'
  | 'COMIRNATY'
  | 'SPIKEVAX'
  | 'BBIBP-CORV'
  | 'NUVAXOVID'
  | 'COVOVAX'
  | 'JCOVDEN'
  | 'CONVIDECIA'
  | 'ZIFIVAX'
  | 'INDOVAC'
  | 'AWCORNA'
  | 'INAVAC';

export type VaccinePlatform = 'inactivated' | 'viral-vector' | 'mrna' | 'protein-subunit';

/** The primary series of one product, in force from `from` until the next entry. */
export interface PrimarySchedule {
  from: IsoDate;
  dosesInPrimarySeries: number;
  /** Minimum days between two doses of the primary series (0 for a single-dose series). */
  minIntervalDays: number;
  source: string;
}

/**
 * EU Digital COVID Certificate codes of a product (schema 1.3 `vp`, `mp`, `ma`).
 *
 * Products outside the EU value sets (Zifivax, IndoVac, AWcorna, Inavac: `inValueSet` false)
 * are still certified, with `mp` = the product name and `ma` = the holder's hyphenated name (see
 * the header). The choice: schema 1.3 types `mp`/`ma` as strings that SHOULD come from the value
 * sets, and an Indonesian certificate must say what was given; inventing an EU code, or certifying
 * such doses under another product's code, would be false. The cost: EU verifiers that check
 * value sets show the product as unknown, and their acceptance rules will not count it. Dosis's
 * own verifier (server and page) still shows the vaccine by name and adds the notice "vaccine
 * not in the EU list" (hc1-core.ts); the certificate page and the PDF name it as any other.
 */
export interface EuDccCodes {
  vp: string;
  mp: string;
  ma: string;
  /** False when `mp` is not in the EU value set (a product only Indonesia authorised). */
  inValueSet: boolean;
}

export interface Vaccine {
  code: VaccineCode;
  name: string;
  manufacturer: string;
  /** Other names people and systems write (P-Care, spreadsheets, cards): for lookup. */
  aliases: readonly string[];
  platform: VaccinePlatform;
  /** The earliest date a dose can have been given in Indonesia (see the header). */
  availableFrom: IsoDate;
  /** Oldest first. */
  schedules: readonly PrimarySchedule[];
  eu: EuDccCodes;
}

/** A booster rule of the national programme, in force from `from` until the next rule of the same booster. */
export interface BoosterRule {
  booster: 1 | 2;
  from: IsoDate;
  /** Minimum calendar months after the previous dose (the last primary dose, or booster 1). */
  minIntervalMonths: number;
  /** Who was eligible (informational; Dosis does not record occupations or ages here). */
  group: string;
  /** True when the rule is for every adult, not a priority group: reminders use only these. */
  forEveryone: boolean;
  source: string;
}

const VP_MRNA = '1119349007';
const VP_INACTIVATED = '1157024006';
const VP_VECTOR = '29061000087103';
const VP_PROTEIN = '1162643001';

const FROM_DOMAIN = 'DOMAIN.md vaccine table (BPOM EUA, Kemenkes)';

const CATALOGUE: readonly Vaccine[] = [
  {
    code: 'CORONAVAC',
    name: 'CoronaVac',
    manufacturer: 'Sinovac Biotech / PT Bio Farma',
    aliases: ['Sinovac', 'CoronaVac', 'Corona Vac', 'COVID-19 Vaccine Bio Farma', 'Vaksin COVID-19 Bio Farma'],
    platform: 'inactivated',
    availableFrom: '2021-01-01',
    schedules: [
      { from: '2021-01-01', dosesInPrimarySeries: 2, minIntervalDays: 14, source: 'Kemenkes, programme start 13 Jan 2021 (health workers): 14 days' },
      { from: '2021-03-01', dosesInPrimarySeries: 2, minIntervalDays: 28, source: 'DOMAIN.md: 28 days from March 2021 (the day in March is not known; the 1st is used)' },
    ],
    eu: { vp: VP_INACTIVATED, mp: 'CoronaVac', ma: 'Sinovac-Biotech', inValueSet: true },
  },
  {
    code: 'VAXZEVRIA',
    name: 'Vaxzevria',
    manufacturer: 'AstraZeneca / SK Bioscience',
    aliases: ['AstraZeneca', 'Astra Zeneca', 'AZ', 'ChAdOx1', 'ChAdOx1-S', 'AZD1222', 'Oxford-AstraZeneca'],
    platform: 'viral-vector',
    availableFrom: '2021-02-01',
    schedules: [
      { from: '2021-02-01', dosesInPrimarySeries: 2, minIntervalDays: 84, source: 'DOMAIN.md: 12 weeks' },
      { from: '2022-01-27', dosesInPrimarySeries: 2, minIntervalDays: 56, source: 'SE SR.02.06/II/408/2022: second dose may be given 8 weeks after the first' },
    ],
    eu: { vp: VP_VECTOR, mp: 'EU/1/21/1529', ma: 'ORG-100001699', inValueSet: true },
  },
  {
    code: 'COMIRNATY',
    name: 'Comirnaty',
    manufacturer: 'Pfizer / BioNTech',
    aliases: ['Pfizer', 'Pfizer-BioNTech', 'Pfizer BioNTech', 'BioNTech', 'BNT162b2', 'Tozinameran'],
    platform: 'mrna',
    availableFrom: '2021-07-01',
    schedules: [{ from: '2021-07-01', dosesInPrimarySeries: 2, minIntervalDays: 21, source: `${FROM_DOMAIN}: 21–28 days` }],
    eu: { vp: VP_MRNA, mp: 'EU/1/20/1528', ma: 'ORG-100030215', inValueSet: true },
  },
  {
    code: 'SPIKEVAX',
    name: 'Spikevax',
    manufacturer: 'Moderna',
    aliases: ['Moderna', 'mRNA-1273', 'COVID-19 Vaccine Moderna'],
    platform: 'mrna',
    availableFrom: '2021-07-01',
    schedules: [{ from: '2021-07-01', dosesInPrimarySeries: 2, minIntervalDays: 28, source: `${FROM_DOMAIN}: 28 days` }],
    eu: { vp: VP_MRNA, mp: 'EU/1/20/1507', ma: 'ORG-100031184', inValueSet: true },
  },
  {
    code: 'BBIBP-CORV',
    name: 'BBIBP-CorV',
    manufacturer: 'Sinopharm (Beijing Institute of Biological Products)',
    aliases: ['Sinopharm', 'BBIBP', 'Covilo', 'Sinopharm Beijing'],
    platform: 'inactivated',
    availableFrom: '2021-04-01',
    schedules: [{ from: '2021-04-01', dosesInPrimarySeries: 2, minIntervalDays: 21, source: `${FROM_DOMAIN}: 21 days (Gotong Royong)` }],
    eu: { vp: VP_INACTIVATED, mp: 'BBIBP-CorV', ma: 'ORG-100020693', inValueSet: true },
  },
  {
    code: 'NUVAXOVID',
    name: 'Nuvaxovid',
    manufacturer: 'Novavax',
    aliases: ['Novavax', 'NVX-CoV2373'],
    platform: 'protein-subunit',
    availableFrom: '2021-11-01',
    schedules: [{ from: '2021-11-01', dosesInPrimarySeries: 2, minIntervalDays: 21, source: `${FROM_DOMAIN}: 21 days` }],
    eu: { vp: VP_PROTEIN, mp: 'EU/1/21/1618', ma: 'ORG-100032020', inValueSet: true },
  },
  {
    code: 'COVOVAX',
    name: 'Covovax',
    manufacturer: 'Serum Institute of India (Novavax)',
    aliases: ['Covovax', 'Serum Institute'],
    platform: 'protein-subunit',
    availableFrom: '2021-11-01',
    schedules: [{ from: '2021-11-01', dosesInPrimarySeries: 2, minIntervalDays: 21, source: `${FROM_DOMAIN}: 21 days` }],
    eu: { vp: VP_PROTEIN, mp: 'Covovax', ma: 'ORG-100001981', inValueSet: true },
  },
  {
    code: 'JCOVDEN',
    name: 'Jcovden',
    manufacturer: 'Janssen (Johnson & Johnson)',
    aliases: ['Janssen', 'J&J', 'JnJ', 'Johnson & Johnson', 'Johnson and Johnson', 'Ad26.COV2.S', 'COVID-19 Vaccine Janssen'],
    platform: 'viral-vector',
    availableFrom: '2021-09-01',
    schedules: [{ from: '2021-09-01', dosesInPrimarySeries: 1, minIntervalDays: 0, source: `${FROM_DOMAIN}: single dose` }],
    eu: { vp: VP_VECTOR, mp: 'EU/1/20/1525', ma: 'ORG-100001417', inValueSet: true },
  },
  {
    code: 'CONVIDECIA',
    name: 'Convidecia',
    manufacturer: 'CanSino Biologics',
    aliases: ['CanSino', 'CanSinoBIO', 'Ad5-nCoV'],
    platform: 'viral-vector',
    availableFrom: '2021-09-01',
    schedules: [{ from: '2021-09-01', dosesInPrimarySeries: 1, minIntervalDays: 0, source: `${FROM_DOMAIN}: single dose` }],
    eu: { vp: VP_VECTOR, mp: 'Convidecia', ma: 'ORG-100013793', inValueSet: true },
  },
  {
    code: 'ZIFIVAX',
    name: 'Zifivax',
    manufacturer: 'Anhui Zhifei Longcom Biopharmaceutical',
    aliases: ['Zifivax', 'ZF2001', 'Zhifei', 'Anhui Zhifei'],
    platform: 'protein-subunit',
    availableFrom: '2021-10-01',
    schedules: [
      { from: '2021-10-01', dosesInPrimarySeries: 3, minIntervalDays: 28, source: `${FROM_DOMAIN}: 3 doses, 1 month apart (EUA 7 Oct 2021); 28 days taken as the minimum` },
    ],
    eu: { vp: VP_PROTEIN, mp: 'Zifivax', ma: 'Anhui-Zhifei-Longcom', inValueSet: false },
  },
  {
    code: 'INDOVAC',
    name: 'IndoVac',
    manufacturer: 'PT Bio Farma',
    aliases: ['IndoVac', 'Indo Vac', 'Vaksin IndoVac'],
    platform: 'protein-subunit',
    availableFrom: '2022-09-01',
    schedules: [{ from: '2022-09-01', dosesInPrimarySeries: 2, minIntervalDays: 28, source: 'BPOM EUA 24 Sep 2022: two doses 28 days apart, 18+' }],
    eu: { vp: VP_PROTEIN, mp: 'IndoVac', ma: 'Bio-Farma', inValueSet: false },
  },
  {
    code: 'AWCORNA',
    name: 'AWcorna',
    manufacturer: 'Abogen / Walvax (PT Etana Biotechnologies Indonesia)',
    aliases: ['AWcorna', 'AW corna', 'Abogen', 'Walvax', 'ARCoV', 'Etana'],
    platform: 'mrna',
    availableFrom: '2022-09-01',
    schedules: [{ from: '2022-09-01', dosesInPrimarySeries: 2, minIntervalDays: 28, source: 'BPOM EUA September 2022: two doses 28 days apart' }],
    eu: { vp: VP_MRNA, mp: 'AWcorna', ma: 'Etana-Biotechnologies-Indonesia', inValueSet: false },
  },
  {
    code: 'INAVAC',
    name: 'Inavac',
    manufacturer: 'Universitas Airlangga / PT Biotis Pharmaceuticals Indonesia',
    aliases: ['Inavac', 'Unair', 'Universitas Airlangga', 'Vaksin Merah Putih Unair', 'Merah Putih Unair'],
    platform: 'inactivated',
    // DOMAIN.md: EUA Nov 2022; BPOM had announced it for early October, so October is the bound.
    availableFrom: '2022-10-01',
    schedules: [{ from: '2022-10-01', dosesInPrimarySeries: 2, minIntervalDays: 28, source: `${FROM_DOMAIN}: 28 days` }],
    eu: { vp: VP_INACTIVATED, mp: 'Inavac', ma: 'Biotis-Pharmaceuticals-Indonesia', inValueSet: false },
  },
];

/**
 * Booster rules of the national programme, oldest first. The homologous/heterologous product
 * combinations and half doses of each circular are not modelled: any authorised product is
 * accepted as a booster, and the interval is what Dosis warns about.
 */
export const BOOSTER_RULES: readonly BoosterRule[] = [
  {
    booster: 1,
    from: '2021-07-16',
    minIntervalMonths: 3,
    group: 'health workers (third dose, Spikevax)',
    forEveryone: false,
    source: 'DOMAIN.md: third dose for health workers from Aug 2021; the circular of mid-July 2021 is taken as the start, and 3 months as a lenient interval (not verified)',
  },
  {
    booster: 1,
    from: '2022-01-12',
    minIntervalMonths: 6,
    group: 'elderly everywhere; adults 18+ in districts with enough primary coverage',
    forEveryone: false,
    source: 'SE HK.02.02/II/252/2022 (12 Jan 2022)',
  },
  {
    booster: 1,
    from: '2022-01-27',
    minIntervalMonths: 6,
    group: 'everyone 18+',
    forEveryone: true,
    source: 'SE SR.02.06/II/408/2022 (from 27 Jan 2022); DOMAIN.md',
  },
  {
    booster: 1,
    from: '2022-02-25',
    minIntervalMonths: 3,
    group: 'everyone 18+',
    forEveryone: true,
    source: 'SE SR.02.06/II/1180/2022 (25 Feb 2022): interval shortened to 3 months',
  },
  {
    booster: 2,
    from: '2022-07-29',
    minIntervalMonths: 6,
    group: 'health workers',
    forEveryone: false,
    source: 'SE HK.02.02/C/3615/2022 (from 29 Jul 2022): 6 months after booster 1',
  },
  {
    booster: 2,
    from: '2023-01-24',
    minIntervalMonths: 6,
    group: 'everyone 18+',
    forEveryone: true,
    source: 'DOMAIN.md: everyone 18+ from 24 Jan 2023, 6 months after booster 1',
  },
];

/**
 * Every medicinal product (`mp`) of the EU value set vaccine-medicinal-product, as of its
 * valueSetDate 2022-11-30 (test/conformance/eu-dcc/valuesets/vaccine-medicinal-product.json,
 * copied here: nothing reads shared/ at run time). A verifier says "vaccine not in the EU list"
 * for any other `mp` — an IndoVac certificate's, or another country's — rather than showing an
 * unknown code silently; `eu.inValueSet` of the catalogue agrees with it (test/domain/vaccines.test.ts).
 */
export const EU_VACCINE_PRODUCTS: ReadonlySet<string> = new Set([
  'EU/1/20/1528', 'EU/1/20/1507', 'EU/1/21/1529', 'EU/1/20/1525', 'CVnCoV', 'NVX-CoV2373', 'Sputnik-V', 'Convidecia',
  'EpiVacCorona', 'BBIBP-CorV', 'Inactivated-SARS-CoV-2-Vero-Cell', 'CoronaVac', 'Covaxin', 'Covishield',
  'Covid-19-recombinant', 'R-COVI', 'CoviVac', 'Sputnik-Light', 'Hayat-Vax', 'Abdala', 'WIBP-CorV', 'MVC-COV1901',
  'EU/1/21/1618', 'Covovax', 'Vidprevtyn', 'VLA2001', 'EpiVacCorona-N', 'Sputnik-M', 'Covid-19-adsorvida-inativada',
  'NVSI-06-08', 'YS-SC2-010', 'SCTV01C', 'Covifenz', 'AZD2816', 'Soberana-02', 'Soberana-Plus', 'EU/1/21/1624',
  'EU/1/21/1580', 'EU/1/22/1709',
]);

/** How many boosters the programme has rules for. */
export const BOOSTERS_IN_PROGRAMME = 2;

// Frozen: the catalogue is shared by every request, and a caller must not be able to change it.
for (const v of CATALOGUE) {
  for (const s of v.schedules) Object.freeze(s);
  Object.freeze(v.schedules);
  Object.freeze(v.aliases);
  Object.freeze(v.eu);
  Object.freeze(v);
}
for (const r of BOOSTER_RULES) Object.freeze(r);
Object.freeze(BOOSTER_RULES);

const BY_CODE: ReadonlyMap<string, Vaccine> = new Map(CATALOGUE.map((v) => [v.code, v]));

/** Lookup key: lower case, without spaces, dashes, dots, underscores or slashes. */
function lookupKey(s: string): string {
  return s.normalize('NFKC').toLowerCase().replace(/[\s\-._/]+/g, '');
}

const BY_KEY: ReadonlyMap<string, Vaccine> = (() => {
  const map = new Map<string, Vaccine>();
  for (const v of CATALOGUE) {
    for (const name of [v.code, v.name, v.eu.mp, ...v.aliases]) {
      const key = lookupKey(name);
      const other = map.get(key);
      if (other && other !== v) throw new Error(`vaccine alias "${name}" names both ${other.code} and ${v.code}`);
      map.set(key, v);
    }
  }
  return map;
})();

/** Find a vaccine by our code, name, EU product code or a common name ("Sinovac", "J&J"); case and spacing do not matter. */
export function findVaccine(codeOrName: string): Vaccine | undefined {
  if (typeof codeOrName !== 'string') return undefined;
  return BY_KEY.get(lookupKey(codeOrName));
}

/** The vaccine with this exact code; throws for an unknown code (a stored code must be known). */
export function vaccineByCode(code: string): Vaccine {
  const v = BY_CODE.get(code);
  if (!v) throw new RangeError(`unknown vaccine code ${code}`);
  return v;
}

/** Every vaccine of the catalogue, in catalogue order. */
export function allVaccines(): readonly Vaccine[] {
  return CATALOGUE;
}

/** The primary-series schedule in force on `date` (before the first entry, the first entry). */
export function scheduleOn(vaccine: Vaccine, date: IsoDate): PrimarySchedule {
  let current = vaccine.schedules[0];
  if (!current) throw new Error(`vaccine ${vaccine.code} has no schedule`);
  for (const s of vaccine.schedules) if (s.from <= date) current = s;
  return current;
}

/** The rule for booster `booster` in force on `date`, or undefined before the programme had one. */
export function boosterRuleOn(booster: number, date: IsoDate): BoosterRule | undefined {
  let current: BoosterRule | undefined;
  for (const r of BOOSTER_RULES) if (r.booster === booster && r.from <= date) current = r;
  return current;
}

/** One entry of `GET /api/v1/vaccines`. */
export interface VaccineSummary {
  code: VaccineCode;
  name: string;
  manufacturer: string;
  dosesInPrimarySeries: number;
  minIntervalDays: number;
  platform: VaccinePlatform;
  availableFrom: IsoDate;
  aliases: string[];
  eu: EuDccCodes;
}

/** The catalogue as the API shows it, with each schedule as in force on `on` (today). */
export function listVaccines(on: IsoDate): VaccineSummary[] {
  return CATALOGUE.map((v) => {
    const s = scheduleOn(v, on);
    return {
      code: v.code,
      name: v.name,
      manufacturer: v.manufacturer,
      dosesInPrimarySeries: s.dosesInPrimarySeries,
      minIntervalDays: s.minIntervalDays,
      platform: v.platform,
      availableFrom: v.availableFrom,
      aliases: [...v.aliases],
      eu: { ...v.eu },
    };
  });
}
