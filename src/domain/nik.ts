/**
 * NIK — Nomor Induk Kependudukan, Indonesia's 16-digit resident number.
 *
 * ```
 * PP KK CC DD MM YY SSSS
 * PP province · KK regency/city · CC district (kecamatan): PPKKCC is where the NIK was first issued
 * DD day of birth, + 40 for women (41–71) · MM month · YY last two digits of the birth year
 * SSSS serial within (district, birth date), from 0001
 * ```
 * There is no check digit, so a NIK can only be checked for structure and for agreement with the
 * birth date and sex the person states.
 *
 * Region data: provinces come from `idn-area-data` (MIT, "based on the latest regulation"), 38
 * provinces including the 2022 Papua provinces 93 Papua Selatan, 94 Papua Tengah, 95 Papua
 * Pegunungan, 96 Papua Barat Daya — the package uses exactly those codes. Regency and district are
 * deliberately NOT checked: a NIK keeps the codes of the place where it was first issued, and the
 * package holds only today's codes. In idn-area-data 3.1.2, Merauke is 93.01 and 91.01 no longer
 * exists, so every NIK issued in Merauke before the 2022 split (9101…) would be rejected; likewise
 * the districts that moved from Ciamis (32.07.20–28) to Pangandaran (32.18) in 2012. Rejecting a
 * real person's real NIK is the failure to avoid, so only the province is checked.
 *
 * Do not use the `nik-parser` package: it reads women as men, 05 as 1905 and throws on unknown
 * districts.
 */
import { getProvinces } from 'idn-area-data';
import { issue } from './errors.ts';
import type { FieldIssue } from './errors.ts';
import { formatIsoDate, isRealDate, parseIsoDate } from './dates.ts';
import type { IsoDate, Sex } from './types.ts';

// The package offers only an async loader (it parses its CSV with papaparse), so the provinces are
// read once when this module is first imported (top-level await), never per call.
const PROVINCES: ReadonlyMap<string, string> = new Map(
  (await getProvinces()).map((p) => [p.code, p.name] as const),
);
if (PROVINCES.size < 34) {
  // A broken install must stop Dosis at start, not reject every NIK at run time.
  throw new Error(`idn-area-data returned ${PROVINCES.size} provinces; expected 38`);
}

const NIK_FORMAT = /^\d{16}$/; // \d without the u flag is ASCII 0-9 only

/** The fields of a structurally well-formed NIK (16 ASCII digits); nothing here is checked yet. */
export interface ParsedNik {
  nik: string;
  /** `PP`, e.g. `31` DKI Jakarta. */
  provinceCode: string;
  /** `PPKK`, e.g. `3171` Kota Jakarta Selatan. */
  regencyCode: string;
  /** `PPKKCC`, the district of first registration, used to scope users by region. */
  districtCode: string;
  /** DD as written (women: day + 40). */
  dd: number;
  /** The day of birth: DD, or DD − 40 when DD > 40. */
  day: number;
  month: number;
  /** YY, the last two digits of the birth year (0–99). */
  yy: number;
  /** `F` when DD > 40, else `M`. */
  sex: Sex;
  serial: string;
}

/** Split a NIK into its parts; null unless it is exactly 16 ASCII digits. */
export function parseNik(nik: string): ParsedNik | null {
  if (typeof nik !== 'string' || !NIK_FORMAT.test(nik)) return null;
  const dd = Number(nik.slice(6, 8));
  return {
    nik,
    provinceCode: nik.slice(0, 2),
    regencyCode: nik.slice(0, 4),
    districtCode: nik.slice(0, 6),
    dd,
    day: dd > 40 ? dd - 40 : dd,
    month: Number(nik.slice(8, 10)),
    yy: Number(nik.slice(10, 12)),
    sex: dd > 40 ? 'F' : 'M',
    serial: nik.slice(12, 16),
  };
}

/** The 6-digit `PPKKCC` district code of a NIK (for scoping by region); null when not 16 digits. */
export function nikRegionCode(nik: string): string | null {
  return parseNik(nik)?.districtCode ?? null;
}

/** True for a province code of idn-area-data (`11` … `96`). */
export function isProvinceCode(code: string): boolean {
  return PROVINCES.has(code);
}

/** The province's name (upper case, as in idn-area-data), or undefined. */
export function provinceName(code: string): string | undefined {
  return PROVINCES.get(code);
}

/** Every province code known, sorted. */
export function provinceCodes(): string[] {
  return [...PROVINCES.keys()].sort();
}

/** The full birth years a NIK's YY can stand for, with its DD/MM making a real date. */
function candidateBirthDates(p: ParsedNik): IsoDate[] {
  const out: IsoDate[] = [];
  for (const century of [1900, 2000]) {
    const year = century + p.yy;
    if (isRealDate(year, p.month, p.day)) out.push(formatIsoDate(year, p.month, p.day));
  }
  return out;
}

function dayAllowed(dd: number): boolean {
  return (dd >= 1 && dd <= 31) || (dd >= 41 && dd <= 71);
}

/**
 * The birth date a NIK encodes, with the century decided by what is known: the stated birth date
 * when its day, month and last two year digits agree with the NIK (so `05` is 2005 for a child
 * born in 2005 and 1905 for a woman born in 1905); otherwise the latest date not after `today`.
 * Null when DD/MM/YY is not a real date.
 */
export function nikBirthDate(nik: string, known: { birthDate?: IsoDate; today: IsoDate }): IsoDate | null {
  const p = parseNik(nik);
  if (!p || !dayAllowed(p.dd)) return null;
  const candidates = candidateBirthDates(p);
  if (known.birthDate !== undefined && candidates.includes(known.birthDate)) return known.birthDate;
  const past = candidates.filter((d) => d <= known.today);
  return past.at(-1) ?? null;
}

/** What the caller knows about the person, to check the NIK against. */
export interface NikExpectations {
  birthDate?: IsoDate;
  sex?: Sex;
}

/**
 * Every problem with a NIK, each with its own code, at `path`. Empty when the NIK is acceptable.
 * Codes: `nik_format`, `nik_province`, `nik_birth_date_invalid`, `nik_birth_date_mismatch`,
 * `nik_sex_mismatch`, `nik_serial`. A birth date or sex that is not given is not compared.
 */
export function checkNik(nik: string, expected: NikExpectations = {}, path = 'nik'): FieldIssue[] {
  const p = parseNik(nik);
  if (!p) {
    const shown = typeof nik === 'string' ? nik : '';
    const hint = /[eE]\+?\d/.test(shown)
      ? ' It looks like a spreadsheet turned it into a number: format the column as text.'
      : '';
    const hintId = hint ? ' Sepertinya diubah menjadi angka oleh spreadsheet: format kolom sebagai teks.' : '';
    return [
      issue(
        path,
        'nik_format',
        `A NIK is exactly 16 digits (0–9), without letters or punctuation.${hint}`,
        `NIK harus tepat 16 angka (0–9), tanpa huruf atau tanda baca.${hintId}`,
      ),
    ];
  }
  const issues: FieldIssue[] = [];

  if (!PROVINCES.has(p.provinceCode)) {
    issues.push(
      issue(
        path,
        'nik_province',
        `The NIK starts with ${p.provinceCode}, which is not an Indonesian province code (11 Aceh … 96 Papua Barat Daya).`,
        `NIK diawali ${p.provinceCode}, yang bukan kode provinsi Indonesia (11 Aceh … 96 Papua Barat Daya).`,
      ),
    );
  }

  const knownBirth = expected.birthDate === undefined ? null : parseIsoDate(expected.birthDate);
  // Real in at least one century (29-02-00 is real: 2000 is a leap year, 1900 is not). When a
  // birth date is stated, its century decides; agreement below compares day, month and YY.
  const candidates = dayAllowed(p.dd) ? candidateBirthDates(p) : [];
  const digits = nik.slice(6, 12);
  if (candidates.length === 0) {
    issues.push(
      issue(
        path,
        'nik_birth_date_invalid',
        `Digits 7–12 of the NIK (${digits}) must be the birth date DDMMYY, with 40 added to the day for women; ${describeDigits(p)} is not a date.`,
        `Angka ke-7 s.d. 12 NIK (${digits}) harus tanggal lahir DDMMYY, dengan tanggal ditambah 40 untuk perempuan; ${describeDigitsId(p)} bukan tanggal yang ada.`,
      ),
    );
  } else if (knownBirth) {
    const agrees =
      knownBirth.day === p.day && knownBirth.month === p.month && knownBirth.year % 100 === p.yy;
    if (!agrees) {
      const expectedDigits =
        String(knownBirth.day).padStart(2, '0') +
        String(knownBirth.month).padStart(2, '0') +
        String(knownBirth.year % 100).padStart(2, '0');
      const femaleDigits = String(knownBirth.day + 40) + expectedDigits.slice(2);
      issues.push(
        issue(
          path,
          'nik_birth_date_mismatch',
          `The NIK encodes the birth date ${pad(p.day)}-${pad(p.month)}-..${pad(p.yy)}, but the birth date given is ${expected.birthDate ?? ''} (expected digits 7–12: ${expectedDigits} for a man, ${femaleDigits} for a woman).`,
          `NIK memuat tanggal lahir ${pad(p.day)}-${pad(p.month)}-..${pad(p.yy)}, tetapi tanggal lahir yang diisi ${expected.birthDate ?? ''} (angka ke-7 s.d. 12 seharusnya ${expectedDigits} untuk laki-laki, ${femaleDigits} untuk perempuan).`,
        ),
      );
    }
  }

  if (expected.sex !== undefined && dayAllowed(p.dd) && expected.sex !== p.sex) {
    issues.push(
      expected.sex === 'F'
        ? issue(
            path,
            'nik_sex_mismatch',
            `The NIK is a man's (day of birth ${pad(p.dd)} is not increased by 40), but the sex given is female.`,
            `NIK ini milik laki-laki (tanggal lahir ${pad(p.dd)} tidak ditambah 40), tetapi jenis kelamin yang diisi perempuan.`,
          )
        : issue(
            path,
            'nik_sex_mismatch',
            `The NIK is a woman's (day of birth ${pad(p.dd)} = ${pad(p.day)} + 40), but the sex given is male.`,
            `NIK ini milik perempuan (tanggal lahir ${pad(p.dd)} = ${pad(p.day)} + 40), tetapi jenis kelamin yang diisi laki-laki.`,
          ),
    );
  }

  if (p.serial === '0000') {
    issues.push(
      issue(
        path,
        'nik_serial',
        'The last four digits of a NIK (the serial number) start at 0001; 0000 is never issued.',
        'Empat angka terakhir NIK (nomor urut) dimulai dari 0001; 0000 tidak pernah diterbitkan.',
      ),
    );
  }
  return issues;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

function describeDigits(p: ParsedNik): string {
  if (!dayAllowed(p.dd)) return `day ${pad(p.dd)} (allowed 01–31 for men, 41–71 for women)`;
  if (p.month < 1 || p.month > 12) return `month ${pad(p.month)}`;
  return `${pad(p.day)}-${pad(p.month)}-..${pad(p.yy)}`;
}

function describeDigitsId(p: ParsedNik): string {
  if (!dayAllowed(p.dd)) return `tanggal ${pad(p.dd)} (boleh 01–31 untuk laki-laki, 41–71 untuk perempuan)`;
  if (p.month < 1 || p.month > 12) return `bulan ${pad(p.month)}`;
  return `${pad(p.day)}-${pad(p.month)}-..${pad(p.yy)}`;
}

/** The parts to build a fixture NIK from. Codes are 2-digit strings or numbers. */
export interface MakeNikParts {
  province: string | number;
  regency: string | number;
  district: string | number;
  birthDate: IsoDate;
  sex: Sex;
  serial: string | number;
}

/**
 * Build a structurally valid NIK for test fixtures and demo data only. Dosis never invents a NIK
 * for a real person: people without one are recorded by passport or mother's NIK instead.
 * Throws on parts that could not make a valid NIK (a programming error in the fixture).
 */
export function makeNik(parts: MakeNikParts): string {
  const two = (v: string | number, what: string, min: number): string => {
    const s = String(v).padStart(2, '0');
    if (!/^\d{2}$/.test(s) || Number(s) < min) throw new RangeError(`makeNik: bad ${what} ${String(v)}`);
    return s;
  };
  const province = two(parts.province, 'province', 11);
  if (!PROVINCES.has(province)) throw new RangeError(`makeNik: unknown province ${province}`);
  const regency = two(parts.regency, 'regency', 1);
  const district = two(parts.district, 'district', 1);
  const birth = parseIsoDate(parts.birthDate);
  if (!birth) throw new RangeError(`makeNik: bad birth date ${parts.birthDate}`);
  const serial = String(parts.serial).padStart(4, '0');
  if (!/^\d{4}$/.test(serial) || serial === '0000') throw new RangeError(`makeNik: bad serial ${String(parts.serial)}`);
  const dd = birth.day + (parts.sex === 'F' ? 40 : 0);
  return `${province}${regency}${district}${pad(dd)}${pad(birth.month)}${pad(birth.year % 100)}${serial}`;
}
