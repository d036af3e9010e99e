/**
 * The EU Digital COVID Certificate payload (the `hcert` claim, schema 1.3.0)
 * and how Dosis builds one for a recorded dose.
 *
 * Glossary:
 * - hcert: the JSON payload carried in CWT claim -260, key 1.
 * - dn / sd: dose number / total doses in the series; a booster is dn > sd.
 * - fnt / gnt: names transliterated to the ICAO 9303 machine-readable form.
 */

import { invalid, issue, type FieldIssue } from '../domain/errors.ts';

/** The schema version Dosis issues. */
export const DCC_SCHEMA_VERSION = '1.3.0';

/** SNOMED CT 840539006: COVID-19 (value set disease-agent-targeted). */
export const TG_COVID19 = '840539006';

/** Country of vaccination and issuing country of Dosis certificates. */
export const ISSUING_COUNTRY = 'ID';

export interface PersonName {
  /** Surname, or the whole name when there is no family-name convention. */
  fn?: string;
  /** `fn` transliterated (ICAO 9303), A–Z and `<`. */
  fnt?: string;
  gn?: string;
  gnt?: string;
}

export interface VaccinationEntry {
  tg: string;
  vp: string;
  mp: string;
  ma: string;
  dn: number;
  sd: number;
  dt: string;
  co: string;
  is: string;
  ci: string;
}

export interface TestEntry {
  tg: string;
  tt: string;
  nm?: string;
  ma?: string;
  sc: string;
  tr: string;
  tc?: string;
  co: string;
  is: string;
  ci: string;
}

export interface RecoveryEntry {
  tg: string;
  fr: string;
  co: string;
  is: string;
  df: string;
  du: string;
  ci: string;
}

/** One EU DCC payload: exactly one of `v`, `t`, `r`, each with exactly one entry. */
export interface HcertPayload {
  ver: string;
  nam: PersonName;
  dob: string;
  v?: [VaccinationEntry];
  t?: [TestEntry];
  r?: [RecoveryEntry];
}

/** The kind of certificate: vaccination, test or recovery. */
export type CertificateType = 'v' | 't' | 'r';

/** Longest value of a name field (schema 1.3 `maxLength`). */
const NAME_MAX = 80;

/**
 * ICAO Doc 9303 part 3 §6 transliterations that are not just "drop the accent".
 * The recommended (first) column is used: Ä → AE, Ö → OE, Ü → UE, Å → AA.
 */
const ICAO_SPECIAL: Readonly<Record<string, string>> = {
  Ä: 'AE',
  Å: 'AA',
  Æ: 'AE',
  Ö: 'OE',
  Ø: 'OE',
  Ü: 'UE',
  ß: 'SS',
  ẞ: 'SS',
  Þ: 'TH',
  Ð: 'D',
  Đ: 'D',
  Ħ: 'H',
  Ĳ: 'IJ',
  Ł: 'L',
  Ŀ: 'L',
  Œ: 'OE',
  Ŋ: 'N',
  Ŧ: 'T',
  ı: 'I',
  ĸ: 'K',
  ŉ: 'N',
  ſ: 'S',
};

/**
 * A name in the ICAO 9303 machine-readable form used for `fnt`/`gnt`:
 * uppercase A–Z, `<` for each space or hyphen, diacritics stripped (with the
 * ICAO special cases such as Ä → AE, ß → SS), apostrophes and other
 * punctuation dropped, at most 80 characters.
 *
 * Digits are dropped too: schema 1.3 restricts `fnt`/`gnt` to `^[A-Z<]*$`,
 * as ICAO does for name fields. Runs of separators collapse to one `<`
 * (a double `<<` means "next name part" in an MRZ, which a single field must
 * not contain).
 */
export function transliterate(name: string): string {
  return icaoForm(name).slice(0, NAME_MAX).replace(/<$/, '');
}

/** The ICAO form of the whole name, however long. */
function icaoForm(name: string): string {
  let out = '';
  for (const ch of name.normalize('NFC')) {
    const upper = ch.toUpperCase();
    const special = ICAO_SPECIAL[ch] ?? ICAO_SPECIAL[upper];
    if (special !== undefined) {
      out += special;
      continue;
    }
    // NFD splits a letter from its combining accents; keep the base letter.
    const base = upper.normalize('NFD').replace(/\p{M}/gu, '');
    if (/^[A-Z]+$/.test(base)) out += base;
    else if (/^[\s\-‐-―]$/u.test(ch)) out += '<';
    // Anything else (apostrophes, dots, commas, digits, other scripts) is omitted.
  }
  return out.replace(/<+/g, '<').replace(/^<|<$/g, '');
}

export interface VaccinationInput {
  /** The person's full name as recorded. */
  name: string;
  /** YYYY-MM-DD; YYYY-MM or YYYY when only part of it is known (schema 1.3 allows this). */
  birthDate: string;
  /** Disease targeted; defaults to COVID-19. */
  tg?: string;
  /** Vaccine type (value set vaccine-prophylaxis), e.g. 1119305005 for inactivated vaccines. */
  vp: string;
  /** Medicinal product (value set vaccine-medicinal-product), e.g. BBIBP-CorV. */
  mp: string;
  /** Marketing authorisation holder or manufacturer (value set vaccine-mah-manf). */
  ma: string;
  /** Dose number, 1–9. */
  doseNumber: number;
  /** Doses in the series, 1–9; a booster has doseNumber > seriesDoses. */
  seriesDoses: number;
  /** Vaccination date, YYYY-MM-DD (Indonesian local date). */
  date: string;
  uvci: string;
  /** Certificate issuer, e.g. "Kementerian Kesehatan Republik Indonesia". */
  issuer: string;
}

/**
 * Build the hcert payload (schema 1.3.0, one vaccination entry) for a dose.
 * Throws an AppError `invalid` listing every bad field.
 */
export function buildVaccinationPayload(input: VaccinationInput): HcertPayload {
  const problems: FieldIssue[] = [];
  const name = input.name.normalize('NFC').trim().replace(/\s+/g, ' ');
  if (name === '') problems.push(issue('name', 'required', 'Name is required', 'Nama wajib diisi'));
  if (!isPartialDate(input.birthDate)) {
    problems.push(
      issue(
        'birthDate',
        'date',
        'Birth date must be YYYY-MM-DD (or YYYY-MM, YYYY) between 1900 and 2099',
        'Tanggal lahir harus YYYY-MM-DD (atau YYYY-MM, YYYY) antara 1900 dan 2099',
      ),
    );
  }
  if (!isFullDate(input.date)) {
    problems.push(issue('date', 'date', 'Vaccination date must be YYYY-MM-DD', 'Tanggal vaksinasi harus YYYY-MM-DD'));
  }
  // Schema 1.3 only asks for ≥ 1, but schemas 1.0–1.2 capped both at 9 and
  // verifiers still running them would reject more: be strict when issuing.
  for (const [field, value] of [
    ['doseNumber', input.doseNumber],
    ['seriesDoses', input.seriesDoses],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 9) {
      problems.push(issue(field, 'range', `${field} must be a whole number from 1 to 9`, `${field} harus bilangan bulat 1 sampai 9`));
    }
  }
  const tg = input.tg ?? TG_COVID19;
  for (const [field, value] of [
    ['tg', tg],
    ['vp', input.vp],
    ['mp', input.mp],
    ['ma', input.ma],
    ['uvci', input.uvci],
    ['issuer', input.issuer],
  ] as const) {
    if (value.trim() === '' || value.length > NAME_MAX) {
      problems.push(
        issue(field, 'length', `${field} must have 1 to ${NAME_MAX} characters`, `${field} harus 1 sampai ${NAME_MAX} karakter`),
      );
    }
  }
  if (problems.length > 0) throw invalid(problems);

  return {
    ver: DCC_SCHEMA_VERSION,
    nam: dccName(name),
    dob: input.birthDate,
    v: [
      {
        tg,
        vp: input.vp,
        mp: input.mp,
        ma: input.ma,
        dn: input.doseNumber,
        sd: input.seriesDoses,
        dt: input.date,
        co: ISSUING_COUNTRY,
        is: input.issuer,
        ci: input.uvci,
      },
    ],
  };
}

/** The certificate type of a payload: the one group among v/t/r, or undefined when there is not exactly one. */
export function certificateType(payload: { v?: unknown; t?: unknown; r?: unknown }): CertificateType | undefined {
  const present = (['v', 't', 'r'] as const).filter((k) => payload[k] !== undefined);
  return present.length === 1 ? present[0] : undefined;
}

/** YYYY-MM-DD that exists in the calendar. */
export function isFullDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

/** A schema 1.3 date of birth: YYYY, YYYY-MM or YYYY-MM-DD in 1900–2099 (calendar-checked). */
export function isPartialDate(s: string): boolean {
  const m = /^((?:19|20)\d\d)(?:-(\d\d)(?:-(\d\d))?)?$/.exec(s);
  if (!m) return false;
  if (m[3] !== undefined) return isFullDate(s);
  if (m[2] !== undefined) {
    const mo = Number(m[2]);
    return mo >= 1 && mo <= 12;
  }
  return true;
}

/**
 * The `nam` of a Dosis certificate: the whole name in `fn`/`fnt`, no `gn`/`gnt`.
 *
 * Why `fn` only. EU DCC schema 1.3 says of `fn` "surname(s) … exactly one
 * non-empty field" and of `gn` "forename(s) … if the holder has no forenames,
 * the field MUST be skipped"; ICAO 9303 part 3 §4.6 (which the EU DCC's
 * `fnt`/`gnt` follow) puts a name with no primary/secondary distinction
 * wholly in the primary identifier. Indonesian names have no family-name
 * convention: "Sukarno" (a mononym) has no forename to skip, and in "Budi
 * Santoso" or "Ni Luh Putu Ayu Dewi" no part is a surname (nor, in "I Gusti
 * Ngurah Rai", is the last). Splitting off the last word as a surname would
 * invent one, and a verifier comparing the certificate with the passport's
 * MRZ (where Indonesian passports also carry the whole name as the primary
 * identifier) would see the parts in other fields. So mononyms and
 * multi-part names alike go whole into `fn`, and `gn`/`gnt` stay absent,
 * as schema 1.3.0 (`fnt` required) and 1.3.3 (`fnt` or `gnt`) both accept.
 *
 * Long names: `fn` and `fnt` have at most 80 characters. The name is cut at
 * the last whole word that keeps both within 80 (a transliteration can be
 * longer than the name: Ö → OE), and `fnt` is the transliteration of that cut
 * `fn`, so the two end at the same word. A single word over 80 characters is
 * cut inside it. Dosis's own record, its pages and the PDF keep the whole name.
 */
export function dccName(fullName: string): PersonName {
  const words = fullName.normalize('NFC').trim().split(/\s+/u);
  let fn = '';
  for (const word of words) {
    const longer = fn === '' ? word : `${fn} ${word}`;
    if (Array.from(longer).length > NAME_MAX || icaoForm(longer).length > NAME_MAX) break;
    fn = longer;
  }
  // One word longer than 80 characters: cut inside it, then make the transliteration fit too.
  if (fn === '') {
    const cps = Array.from(words[0] ?? '').slice(0, NAME_MAX);
    while (cps.length > 1 && icaoForm(cps.join('')).length > NAME_MAX) cps.pop();
    fn = cps.join('');
  }
  return { fn, fnt: transliterate(fn) };
}
