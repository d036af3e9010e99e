/**
 * Validation of one vaccination entry, independent of where it came from: the API body, a CSV row,
 * a FHIR Immunization being imported, or the console form. Every field is checked and every problem
 * is returned at once (a nurse fixing a form, or a district officer fixing an import, should see all
 * of them on the first try).
 *
 * Shape (DESIGN.md, `POST /api/v1/vaccinations`):
 * ```
 * {person: {nik | identifier, name, birthDate, sex, phone?}, vaccine, doseNumber, date, lot?, facility?}
 * ```
 * `identifier` is `{type: 'nik', value, newlyIssued?}`, `{type: 'passport', value, country}` or
 * `{type: 'mother-nik', value}`: people without a NIK are recorded without inventing one.
 * Unknown fields are rejected (a misspelt `birthdate` must not silently drop the birth date).
 * CSV rows arrive as strings, so `doseNumber` may be a string of digits.
 */
import { textFault, textIssue } from './text.ts';
import { issue } from './errors.ts';
import type { FieldIssue } from './errors.ts';
import { countryAlpha2 } from './countries.ts';
import { parseIsoDate, todayInJakarta } from './dates.ts';
import { MAX_DOSE_NUMBER, doseNumberIssue, isValidDoseNumber } from './doses.ts';
import { checkNik, parseNik } from './nik.ts';
import { isPlaceholderPhone, normalizePhone } from './phone.ts';
import type { IndonesianOperator } from './phone.ts';
import type { IsoDate, PersonIdentifier, Sex } from './types.ts';
import { allVaccines, findVaccine } from './vaccines.ts';
import type { VaccineCode } from './vaccines.ts';

export { todayInJakarta };

/** The first day of Indonesia's COVID-19 programme year: no programme dose is earlier. */
export const PROGRAMME_START: IsoDate = '2021-01-01';
/** No birth date before this is accepted (a typing error, not a person). */
export const EARLIEST_BIRTH_DATE: IsoDate = '1900-01-01';
export const MAX_NAME_LENGTH = 200;
export const MAX_LOT_LENGTH = 50;
export const MAX_FACILITY_LENGTH = 64;

/** A phone number after validation. */
export type PhoneValue =
  | {
      status: 'valid';
      e164: string;
      country: string;
      foreign: boolean;
      operator?: IndonesianOperator;
      /** Looks typed to fill the field (0812-0000-0000): flag it, the dose is still recorded. */
      placeholder: boolean;
    }
  | { status: 'missing'; e164: null }
  /** Only with `invalidPhone: 'flag'`: the number as typed and why it cannot be used. */
  | { status: 'invalid'; e164: null; raw: string; issue: FieldIssue };

/** One valid vaccination entry, normalised. */
export interface VaccinationInput {
  person: {
    identifier: PersonIdentifier;
    /** Trimmed, inner spaces collapsed; otherwise as written. */
    name: string;
    birthDate: IsoDate;
    sex: Sex;
    phone: PhoneValue;
  };
  vaccine: VaccineCode;
  doseNumber: number;
  date: IsoDate;
  lot: string | null;
  facility: string | null;
}

export type ValidationResult = { ok: true; value: VaccinationInput } | { ok: false; issues: FieldIssue[] };

export interface ValidationOptions {
  /** Today in Indonesia (`todayInJakarta(new Date())`): dates after it are in the future. */
  today: IsoDate;
  /**
   * What an unusable phone number does: `reject` (default: the form asks again at once) or `flag`
   * (bulk imports: the dose is recorded and the number goes on the work list, because a dose must
   * never be lost to a phone typo).
   */
  invalidPhone?: 'reject' | 'flag';
}

const TOP_FIELDS = new Set(['person', 'vaccine', 'doseNumber', 'date', 'lot', 'facility']);
const PERSON_FIELDS = new Set(['nik', 'name', 'birthDate', 'sex', 'phone', 'identifier']);
const IDENTIFIER_FIELDS: Record<string, Set<string>> = {
  nik: new Set(['type', 'value', 'newlyIssued']),
  passport: new Set(['type', 'value', 'country']),
  'mother-nik': new Set(['type', 'value']),
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function unknownFields(obj: Record<string, unknown>, allowed: Set<string>, prefix: string): FieldIssue[] {
  return Object.keys(obj)
    .filter((k) => !allowed.has(k))
    .map((k) =>
      issue(
        `${prefix}${k}`,
        'unknown_field',
        `Unknown field "${k}". Allowed here: ${[...allowed].join(', ')}.`,
        `Isian "${k}" tidak dikenal. Yang boleh di sini: ${[...allowed].join(', ')}.`,
      ),
    );
}

function required(path: string, what: { en: string; id: string }): FieldIssue {
  return issue(path, 'required', `${what.en} is required.`, `${what.id} wajib diisi.`);
}

function notText(path: string, what: { en: string; id: string }): FieldIssue {
  return issue(path, 'type', `${what.en} must be text.`, `${what.id} harus berupa teks.`);
}

/** A present, non-empty string field trimmed; or an issue (bad text too: domain/text.ts); or null when absent/empty. */
function text(value: unknown, path: string, what: { en: string; id: string }, opts: { name?: boolean } = {}): { value: string | null; issue?: FieldIssue } {
  if (value === undefined || value === null) return { value: null };
  if (typeof value !== 'string') return { value: null, issue: notText(path, what) };
  const fault = textFault(value, opts);
  if (fault) return { value: null, issue: textIssue(path, fault) };
  const t = value.trim();
  return { value: t === '' ? null : t };
}

const NAME = { en: 'The name', id: 'Nama' };
const BIRTH = { en: 'The birth date', id: 'Tanggal lahir' };
const SEX = { en: 'The sex', id: 'Jenis kelamin' };
const NIK = { en: 'The NIK', id: 'NIK' };
const VACCINE = { en: 'The vaccine', id: 'Vaksin' };
const DOSE = { en: 'The dose number', id: 'Nomor dosis' };
const DATE = { en: 'The vaccination date', id: 'Tanggal vaksinasi' };

function checkDateField(value: unknown, path: string, what: { en: string; id: string }): { date: IsoDate | null; issues: FieldIssue[] } {
  if (value === undefined || value === null || value === '') return { date: null, issues: [required(path, what)] };
  if (typeof value !== 'string') return { date: null, issues: [notText(path, what)] };
  const v = value.trim();
  if (parseIsoDate(v) === null) {
    const shape = /^\d{4}-\d{2}-\d{2}$/.test(v);
    return {
      date: null,
      issues: [
        shape
          ? issue(path, 'date_invalid', `${what.en} ${v} does not exist in the calendar.`, `${what.id} ${v} tidak ada di kalender.`)
          : issue(path, 'date_format', `${what.en} must be written YYYY-MM-DD, e.g. 1980-05-17.`, `${what.id} harus ditulis YYYY-MM-DD, mis. 1980-05-17.`),
      ],
    };
  }
  return { date: v, issues: [] };
}

function parseSex(value: unknown, path: string): { sex: Sex | null; issue?: FieldIssue } {
  if (value === undefined || value === null || value === '') return { sex: null, issue: required(path, SEX) };
  if (typeof value !== 'string') return { sex: null, issue: notText(path, SEX) };
  const v = value.trim().toUpperCase();
  if (v === 'M' || v === 'L') return { sex: 'M' };
  if (v === 'F' || v === 'P') return { sex: 'F' };
  return {
    sex: null,
    issue: issue(
      path,
      'sex_invalid',
      'The sex must be M or F (also L for laki-laki, P for perempuan).',
      'Jenis kelamin harus M atau F (boleh juga L untuk laki-laki, P untuk perempuan).',
    ),
  };
}

/** A NIK as typed: surrounding spaces and the spaces of "3171 0117 0580 0001" removed. */
function cleanNik(value: string): string {
  return value.replace(/\s+/g, '');
}

/**
 * Validate one vaccination entry. Returns the normalised value, or every issue found, each with its
 * dotted path (`person.nik`, `date`) and a message in English and Indonesian.
 */
export function validateVaccinationInput(body: unknown, options: ValidationOptions): ValidationResult {
  const { today } = options;
  const issues: FieldIssue[] = [];
  if (!isRecord(body)) {
    return {
      ok: false,
      issues: [issue('body', 'body_not_object', 'The entry must be a JSON object.', 'Isian harus berupa objek JSON.')],
    };
  }
  issues.push(...unknownFields(body, TOP_FIELDS, ''));

  // person ------------------------------------------------------------------------------------
  const personRaw = body.person;
  let identifier: PersonIdentifier | null = null;
  let name: string | null = null;
  let birthDate: IsoDate | null = null;
  let sex: Sex | null = null;
  let phone: PhoneValue | null = null;

  if (!isRecord(personRaw)) {
    issues.push(
      personRaw === undefined
        ? required('person', { en: 'The person', id: 'Data orang' })
        : issue('person', 'type', 'The person must be an object.', 'Data orang harus berupa objek.'),
    );
  } else {
    issues.push(...unknownFields(personRaw, PERSON_FIELDS, 'person.'));

    // name
    const n = text(personRaw.name, 'person.name', NAME, { name: true });
    if (n.issue) issues.push(n.issue);
    else if (n.value === null) issues.push(required('person.name', NAME));
    else {
      const collapsed = n.value.replace(/\s+/g, ' ');
      if (collapsed.length > MAX_NAME_LENGTH) {
        issues.push(
          issue(
            'person.name',
            'name_too_long',
            `The name is ${collapsed.length} characters; at most ${MAX_NAME_LENGTH} are allowed.`,
            `Nama ${collapsed.length} karakter; paling banyak ${MAX_NAME_LENGTH}.`,
          ),
        );
      } else if (/\p{Cc}/u.test(collapsed) || !/\p{L}/u.test(collapsed)) {
        issues.push(
          issue('person.name', 'name_invalid', 'The name must contain letters and no control characters.', 'Nama harus berisi huruf dan tanpa karakter kontrol.'),
        );
      } else name = collapsed;
    }

    // birth date
    const b = checkDateField(personRaw.birthDate, 'person.birthDate', BIRTH);
    issues.push(...b.issues);
    if (b.date !== null) {
      if (b.date > today) {
        issues.push(issue('person.birthDate', 'date_in_future', `The birth date ${b.date} is in the future.`, `Tanggal lahir ${b.date} ada di masa depan.`));
      } else if (b.date < EARLIEST_BIRTH_DATE) {
        issues.push(
          issue('person.birthDate', 'birth_date_too_early', `The birth date ${b.date} is before 1900.`, `Tanggal lahir ${b.date} sebelum tahun 1900.`),
        );
      } else birthDate = b.date;
    }

    // sex
    const s = parseSex(personRaw.sex, 'person.sex');
    if (s.issue) issues.push(s.issue);
    sex = s.sex;

    // identifier: nik, or identifier, or both when they agree
    const id = checkIdentifier(personRaw, { birthDate, sex, birthDateGiven: b.date });
    issues.push(...id.issues);
    identifier = id.identifier;

    // phone
    const p = normalizePhone(personRaw.phone, 'person.phone');
    if (!p.ok) {
      if (options.invalidPhone === 'flag') {
        phone = { status: 'invalid', e164: null, raw: typeof personRaw.phone === 'string' ? personRaw.phone : (JSON.stringify(personRaw.phone) ?? ''), issue: p.issue };
      } else issues.push(p.issue);
    } else if (p.e164 === null) {
      phone = { status: 'missing', e164: null };
    } else {
      phone = {
        status: 'valid',
        e164: p.e164,
        country: p.country,
        foreign: p.foreign,
        ...(p.operator === undefined ? {} : { operator: p.operator }),
        placeholder: isPlaceholderPhone(p.e164),
      };
    }
  }

  // vaccine -----------------------------------------------------------------------------------
  let vaccine: ReturnType<typeof findVaccine> = undefined;
  const v = text(body.vaccine, 'vaccine', VACCINE);
  if (v.issue) issues.push(v.issue);
  else if (v.value === null) issues.push(required('vaccine', VACCINE));
  else {
    vaccine = findVaccine(v.value);
    if (!vaccine) {
      const codes = allVaccines().map((x) => x.code).join(', ');
      issues.push(
        issue('vaccine', 'vaccine_unknown', `Unknown vaccine "${v.value}". Known: ${codes}.`, `Vaksin "${v.value}" tidak dikenal. Yang dikenal: ${codes}.`),
      );
    }
  }

  // dose number -------------------------------------------------------------------------------
  let doseNumber: number | null = null;
  const dRaw = body.doseNumber;
  if (dRaw === undefined || dRaw === null || dRaw === '') issues.push(required('doseNumber', DOSE));
  else {
    const n = typeof dRaw === 'string' && /^\s*\d+\s*$/.test(dRaw) ? Number(dRaw) : dRaw;
    if (isValidDoseNumber(n)) doseNumber = n;
    else issues.push(doseNumberIssue('doseNumber', dRaw));
  }

  // date --------------------------------------------------------------------------------------
  let date: IsoDate | null = null;
  const d = checkDateField(body.date, 'date', DATE);
  issues.push(...d.issues);
  if (d.date !== null) {
    const before = issues.length;
    if (d.date > today) {
      issues.push(
        issue('date', 'date_in_future', `The vaccination date ${d.date} is after today (${today}, Indonesian time).`, `Tanggal vaksinasi ${d.date} melewati hari ini (${today} WIB).`),
      );
    } else if (d.date < PROGRAMME_START) {
      issues.push(
        issue('date', 'date_before_programme', `The vaccination date ${d.date} is before the programme began (${PROGRAMME_START}).`, `Tanggal vaksinasi ${d.date} sebelum program dimulai (${PROGRAMME_START}).`),
      );
    } else if (vaccine && d.date < vaccine.availableFrom) {
      issues.push(
        issue(
          'date',
          'date_before_vaccine_available',
          `The vaccination date ${d.date} is before ${vaccine.name} was authorised in Indonesia (${vaccine.availableFrom}).`,
          `Tanggal vaksinasi ${d.date} sebelum ${vaccine.name} diizinkan di Indonesia (${vaccine.availableFrom}).`,
        ),
      );
    }
    if (birthDate !== null && d.date < birthDate) {
      issues.push(
        issue('date', 'date_before_birth', `The vaccination date ${d.date} is before the birth date ${birthDate}.`, `Tanggal vaksinasi ${d.date} sebelum tanggal lahir ${birthDate}.`),
      );
    }
    if (issues.length === before) date = d.date;
  }

  // lot ---------------------------------------------------------------------------------------
  let lot: string | null = null;
  const l = text(body.lot, 'lot', { en: 'The lot number', id: 'Nomor batch' });
  if (l.issue) issues.push(l.issue);
  else if (l.value !== null) {
    if (l.value.length > MAX_LOT_LENGTH) {
      issues.push(
        issue('lot', 'lot_too_long', `The lot number is ${l.value.length} characters; at most ${MAX_LOT_LENGTH}.`, `Nomor batch ${l.value.length} karakter; paling banyak ${MAX_LOT_LENGTH}.`),
      );
    } else lot = l.value;
  }

  // facility ----------------------------------------------------------------------------------
  let facility: string | null = null;
  const f = text(body.facility, 'facility', { en: 'The facility code', id: 'Kode faskes' });
  if (f.issue) issues.push(f.issue);
  else if (f.value !== null) {
    if (f.value.length > MAX_FACILITY_LENGTH || !/^[\p{L}\p{N}._/-]+$/u.test(f.value)) {
      issues.push(
        issue(
          'facility',
          'facility_invalid',
          `A facility code is up to ${MAX_FACILITY_LENGTH} letters, digits, dots, dashes, slashes or underscores, without spaces.`,
          `Kode faskes paling banyak ${MAX_FACILITY_LENGTH} huruf, angka, titik, tanda hubung, garis miring atau garis bawah, tanpa spasi.`,
        ),
      );
    } else facility = f.value;
  }

  if (issues.length > 0 || !identifier || !name || !birthDate || !sex || !phone || !vaccine || doseNumber === null || !date) {
    return { ok: false, issues };
  }
  return {
    ok: true,
    value: { person: { identifier, name, birthDate, sex, phone }, vaccine: vaccine.code, doseNumber, date, lot, facility },
  };
}

/**
 * An identifier given on its own (the citizen portal's lookup): `identifier`
 * checked exactly as `person.identifier` of an entry, with the person's birth
 * date (a mother's NIK must be older than the child). Issue paths drop the
 * `person.` prefix: `identifier.value`, `identifier.country`.
 */
export function validateIdentifier(raw: unknown, birthDate: IsoDate | null): { identifier: PersonIdentifier | null; issues: FieldIssue[] } {
  const r = checkIdentifier({ identifier: raw }, { birthDate, sex: null, birthDateGiven: birthDate });
  return { identifier: r.identifier, issues: r.issues.map((i) => ({ ...i, path: i.path.replace(/^person\./, '') })) };
}

function checkIdentifier(
  person: Record<string, unknown>,
  known: { birthDate: IsoDate | null; sex: Sex | null; birthDateGiven: IsoDate | null },
): { identifier: PersonIdentifier | null; issues: FieldIssue[] } {
  const nikRaw = person.nik;
  const idRaw = person.identifier;
  const hasNik = !(nikRaw === undefined || nikRaw === null || nikRaw === '');
  const hasId = !(idRaw === undefined || idRaw === null);
  // Compare the NIK's date only with a birth date that is itself valid; otherwise the one mistake
  // would be reported twice.
  const expectations = {
    ...(known.birthDate === null ? {} : { birthDate: known.birthDate }),
    ...(known.sex === null ? {} : { sex: known.sex }),
  };

  if (!hasNik && !hasId) {
    return {
      identifier: null,
      issues: [
        issue(
          'person.nik',
          'required',
          'The NIK is required; for someone without one, give person.identifier: a passport (with its country) or the mother\'s NIK.',
          'NIK wajib diisi; untuk yang tidak punya NIK, isi person.identifier: paspor (dengan negaranya) atau NIK ibu.',
        ),
      ],
    };
  }

  let fromNik: PersonIdentifier | null = null;
  const issues: FieldIssue[] = [];
  if (hasNik) {
    if (typeof nikRaw !== 'string') issues.push(notText('person.nik', NIK));
    else {
      const nik = cleanNik(nikRaw);
      const found = checkNik(nik, expectations, 'person.nik');
      if (found.length > 0) issues.push(...found);
      else fromNik = { type: 'nik', value: nik };
    }
  }
  if (!hasId) return { identifier: fromNik, issues };

  if (!isRecord(idRaw)) {
    issues.push(issue('person.identifier', 'type', 'The identifier must be an object {type, value}.', 'Identitas harus berupa objek {type, value}.'));
    return { identifier: null, issues };
  }
  const type = idRaw.type;
  const allowed = typeof type === 'string' ? IDENTIFIER_FIELDS[type] : undefined;
  if (!allowed) {
    issues.push(
      issue(
        'person.identifier.type',
        'identifier_type',
        'The identifier type must be "nik", "passport" or "mother-nik".',
        'Jenis identitas harus "nik", "passport" atau "mother-nik".',
      ),
    );
    return { identifier: null, issues };
  }
  issues.push(...unknownFields(idRaw, allowed, 'person.identifier.'));
  const valueRaw = idRaw.value;
  if (valueRaw === undefined || valueRaw === null || valueRaw === '') {
    issues.push(required('person.identifier.value', { en: 'The identifier value', id: 'Nomor identitas' }));
    return { identifier: null, issues };
  }
  if (typeof valueRaw !== 'string') {
    issues.push(notText('person.identifier.value', { en: 'The identifier value', id: 'Nomor identitas' }));
    return { identifier: null, issues };
  }

  let identifier: PersonIdentifier | null = null;
  if (type === 'nik') {
    const nik = cleanNik(valueRaw);
    const found = checkNik(nik, expectations, 'person.identifier.value');
    const newly = idRaw.newlyIssued;
    if (newly !== undefined && typeof newly !== 'boolean') {
      issues.push(issue('person.identifier.newlyIssued', 'type', 'newlyIssued must be true or false.', 'newlyIssued harus true atau false.'));
    }
    if (found.length > 0) issues.push(...found);
    else identifier = newly === true ? { type: 'nik', value: nik, newlyIssued: true } : { type: 'nik', value: nik };
  } else if (type === 'passport') {
    const number = valueRaw.trim().toUpperCase();
    if (!/^[A-Z0-9]{5,20}$/.test(number)) {
      issues.push(
        issue(
          'person.identifier.value',
          'passport_format',
          'A passport number is 5 to 20 letters and digits, without spaces.',
          'Nomor paspor terdiri dari 5 sampai 20 huruf dan angka, tanpa spasi.',
        ),
      );
    }
    const c = idRaw.country;
    const country = typeof c === 'string' ? countryAlpha2(c) : undefined;
    if (c === undefined || c === null || c === '') {
      issues.push(required('person.identifier.country', { en: 'The passport\'s issuing country', id: 'Negara penerbit paspor' }));
    } else if (country === undefined) {
      issues.push(
        issue(
          'person.identifier.country',
          'country_unknown',
          'The country must be an ISO 3166 code, alpha-2 (SG) or alpha-3 (SGP).',
          'Negara harus kode ISO 3166, dua huruf (SG) atau tiga huruf (SGP).',
        ),
      );
    }
    if (/^[A-Z0-9]{5,20}$/.test(number) && country !== undefined) identifier = { type: 'passport', value: number, country };
  } else {
    // mother-nik: the NIK is the mother's. Its date and sex digits are hers: it must be a woman's
    // NIK, born before the child; the child's own birth date and sex are not compared with it.
    const nik = cleanNik(valueRaw);
    const found = checkNik(nik, {}, 'person.identifier.value');
    issues.push(...found);
    const p = parseNik(nik);
    if (found.length === 0 && p) {
      if (p.sex !== 'F') {
        issues.push(
          issue(
            'person.identifier.value',
            'mother_nik_not_female',
            `A mother's NIK has the day of birth increased by 40 (41–71); this one has ${String(p.dd).padStart(2, '0')}, a man's.`,
            `NIK ibu memiliki tanggal lahir ditambah 40 (41–71); NIK ini ${String(p.dd).padStart(2, '0')}, milik laki-laki.`,
          ),
        );
      } else if (known.birthDate !== null && !motherBornBefore(p.yy, p.month, p.day, known.birthDate)) {
        issues.push(
          issue(
            'person.identifier.value',
            'mother_nik_birth_date',
            'The mother\'s NIK gives a birth date that is not before the child\'s.',
            'NIK ibu memuat tanggal lahir yang tidak sebelum tanggal lahir anak.',
          ),
        );
      } else identifier = { type: 'mother-nik', value: nik };
    }
  }

  if (fromNik && identifier && !(identifier.type === 'nik' && identifier.value === fromNik.value)) {
    issues.push(
      issue(
        'person.identifier',
        'identifier_conflict',
        'Give either person.nik or person.identifier, not two different identities.',
        'Isi person.nik atau person.identifier, bukan dua identitas yang berbeda.',
      ),
    );
    return { identifier: null, issues };
  }
  return { identifier: issues.length === 0 ? identifier ?? fromNik : null, issues };
}

/** True when some century makes the mother's NIK date earlier than the child's birth date. */
function motherBornBefore(yy: number, month: number, day: number, childBirth: IsoDate): boolean {
  const child = parseIsoDate(childBirth);
  if (!child) return true;
  for (const century of [1900, 2000]) {
    const y = century + yy;
    if (y < child.year || (y === child.year && (month < child.month || (month === child.month && day < child.day)))) return true;
  }
  return false;
}

/** Re-exported for callers that show the accepted range. */
export { MAX_DOSE_NUMBER };
