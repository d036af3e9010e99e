/**
 * The columns of an import file: headers in Indonesian or English, matched
 * without regard to case, spaces or punctuation ("Tanggal Lahir", "tgl_lahir",
 * "birth_date"), and each row turned into the body a single entry would send
 * (`POST /api/v1/vaccinations`), so it is validated by the same rules.
 *
 * Dates are accepted as the forms were typed and as Excel writes them in
 * Indonesian locales: `YYYY-MM-DD`, `DD/MM/YYYY`, `DD-MM-YYYY` (day first, as
 * in Indonesia), and Excel serial day numbers in XLSX cells.
 */
import { AppError, type FieldIssue, type Text } from '../../domain/errors.ts';
import { formatIsoDate, isRealDate } from '../../domain/dates.ts';

export type Field =
  | 'nik'
  | 'passport'
  | 'passportCountry'
  | 'motherNik'
  | 'name'
  | 'birthDate'
  | 'sex'
  | 'phone'
  | 'vaccine'
  | 'doseNumber'
  | 'date'
  | 'lot'
  | 'facility';

/** Header spellings, normalised by headerKey. The first is the one shown in messages. */
const HEADERS: Record<Field, readonly string[]> = {
  nik: ['NIK', 'no nik', 'nomor nik', 'nomor induk kependudukan', 'no ktp', 'nomor ktp', 'ktp'],
  passport: ['Paspor', 'no paspor', 'nomor paspor', 'passport', 'passport number', 'passport no'],
  passportCountry: ['Negara Paspor', 'negara', 'kewarganegaraan', 'passport country', 'country', 'nationality'],
  motherNik: ['NIK Ibu', 'nik ibu kandung', 'mother nik', 'mothers nik'],
  name: ['Nama', 'nama lengkap', 'nama peserta', 'name', 'full name'],
  birthDate: ['Tanggal Lahir', 'tgl lahir', 'tanggal lahir peserta', 'birth date', 'date of birth', 'dob', 'birthdate'],
  sex: ['Jenis Kelamin', 'jk', 'kelamin', 'sex', 'gender', 'l/p'],
  phone: ['No HP', 'nomor hp', 'no hp peserta', 'hp', 'no telp', 'no telepon', 'nomor telepon', 'telepon', 'no handphone', 'phone', 'phone number', 'mobile'],
  vaccine: ['Vaksin', 'jenis vaksin', 'nama vaksin', 'merk vaksin', 'vaccine', 'vaccine name'],
  doseNumber: ['Dosis', 'dosis ke', 'vaksin ke', 'dose', 'dose number', 'dose no'],
  date: ['Tanggal Vaksinasi', 'tgl vaksinasi', 'tanggal vaksin', 'tgl vaksin', 'tanggal suntik', 'date', 'vaccination date', 'date of vaccination'],
  lot: ['No Batch', 'nomor batch', 'batch', 'no bets', 'lot', 'lot number', 'batch number'],
  facility: ['Kode Faskes', 'faskes', 'kode fasilitas', 'facility', 'facility code'],
};

/**
 * The headers of the template file the console offers, in Indonesian (each field's first spelling);
 * `Kode Faskes` last, for district files.
 */
export const TEMPLATE_HEADERS: readonly string[] = (
  ['nik', 'passport', 'passportCountry', 'motherNik', 'name', 'birthDate', 'sex', 'phone', 'vaccine', 'doseNumber', 'date', 'lot', 'facility'] as const
).map((f) => HEADERS[f][0] as string);

/** Case, spaces and punctuation do not matter: "Tanggal_Lahir" = "tanggal lahir" = "TANGGAL-LAHIR". */
export function headerKey(h: string): string {
  return h.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

/** The header a field is called by in messages. */
function shown(f: Field): string {
  return HEADERS[f][0] as string;
}

const BY_KEY: ReadonlyMap<string, Field> = (() => {
  const m = new Map<string, Field>();
  for (const [field, names] of Object.entries(HEADERS) as [Field, readonly string[]][]) {
    for (const n of names) {
      const k = headerKey(n);
      if (m.has(k) && m.get(k) !== field) throw new Error(`header "${n}" names two fields`);
      m.set(k, field);
    }
  }
  return m;
})();

/** The columns of a file as understood: field → column index, with the header as written. */
export interface ColumnMap {
  index: Partial<Record<Field, number>>;
  header: string[];
  /** Headers that name no field (kept in errors.csv, otherwise ignored). */
  ignored: string[];
}

const REQUIRED: readonly Field[] = ['name', 'birthDate', 'sex', 'vaccine', 'doseNumber', 'date'];

const fileError = (code: string, en: string, id: string, detail?: Record<string, unknown>) =>
  new AppError('invalid', code, { en, id }, detail ? { detail } : {});

/**
 * Reads the header row. A missing required column, or two columns for one
 * field, rejects the file at once: no row of it could be read correctly.
 */
export function mapColumns(header: string[], opts: { facilityGiven: boolean }): ColumnMap {
  const index: Partial<Record<Field, number>> = {};
  const ignored: string[] = [];
  for (const [i, raw] of header.entries()) {
    const h = raw.trim();
    if (h === '') continue;
    const field = BY_KEY.get(headerKey(h));
    if (!field) {
      ignored.push(h);
      continue;
    }
    const before = index[field];
    if (before !== undefined) {
      throw fileError(
        'duplicate_column',
        `Columns "${header[before]}" and "${h}" both give the ${describe(field).en}; keep one.`,
        `Kolom "${header[before]}" dan "${h}" sama-sama berisi ${describe(field).id}; sisakan satu.`,
      );
    }
    index[field] = i;
  }
  const missing: Field[] = REQUIRED.filter((f) => index[f] === undefined);
  if (index.nik === undefined && index.passport === undefined && index.motherNik === undefined) missing.unshift('nik');
  if (!opts.facilityGiven && index.facility === undefined) missing.push('facility');
  if (missing.length > 0) {
    const names = missing.map((f) => `"${shown(f)}"`).join(', ');
    const anyFound = Object.keys(index).length > 0;
    throw fileError(
      'missing_columns',
      `The file has no column ${names}${missing.includes('facility') ? ' (or name the facility with ?facility=CODE)' : ''}. ` +
        (anyFound ? '' : 'Is the first row the header row, and the file a CSV (comma or semicolon) or XLSX? ') +
        `Accepted headers: ${acceptedList()}.`,
      `Berkas tidak punya kolom ${names}${missing.includes('facility') ? ' (atau sebutkan faskes dengan ?facility=KODE)' : ''}. ` +
        (anyFound ? '' : 'Apakah baris pertama berisi judul kolom, dan berkasnya CSV (koma atau titik koma) atau XLSX? ') +
        `Judul kolom yang diterima: ${acceptedList()}.`,
      { missing: missing.map((f) => shown(f)), found: header },
    );
  }
  return { index, header, ignored };
}

function acceptedList(): string {
  return (Object.keys(HEADERS) as Field[]).map((f) => `${shown(f)} (${HEADERS[f].slice(1, 3).join(', ')})`).join('; ');
}

const DESCRIPTIONS: Record<Field, Text> = {
  nik: { en: 'NIK', id: 'NIK' },
  passport: { en: 'passport number', id: 'nomor paspor' },
  passportCountry: { en: "passport's country", id: 'negara paspor' },
  motherNik: { en: "mother's NIK", id: 'NIK ibu' },
  name: { en: 'name', id: 'nama' },
  birthDate: { en: 'birth date', id: 'tanggal lahir' },
  sex: { en: 'sex', id: 'jenis kelamin' },
  phone: { en: 'phone number', id: 'nomor HP' },
  vaccine: { en: 'vaccine', id: 'vaksin' },
  doseNumber: { en: 'dose number', id: 'nomor dosis' },
  date: { en: 'vaccination date', id: 'tanggal vaksinasi' },
  lot: { en: 'batch number', id: 'nomor batch' },
  facility: { en: 'facility code', id: 'kode faskes' },
};

function describe(f: Field): Text {
  return DESCRIPTIONS[f];
}

/** One row as read: cell texts, and for XLSX which cells were numbers (a number in a date column is an Excel serial). */
export interface SheetRow {
  /** The line (CSV) or row number (XLSX) people see in their editor. */
  line: number;
  cells: string[];
  numeric?: boolean[];
}

/** The Excel epoch: serial 1 is 1900-01-01 in the 1900 system (with Lotus's phantom 1900-02-29), 1904-01-02 in the 1904 system. */
export function excelSerialToIso(serial: number, date1904 = false): string | null {
  if (!Number.isFinite(serial)) return null;
  const day = Math.floor(serial);
  if (day < 1 || day > 2_958_465) return null; // 9999-12-31
  const epoch = date1904 ? Date.UTC(1904, 0, 1) : Date.UTC(1899, 11, 30);
  // 1900 system: serials before 1900-03-01 are one day off because of the phantom 29 February.
  const adjusted = !date1904 && day < 61 ? day + 1 : day;
  return new Date(epoch + adjusted * 86_400_000).toISOString().slice(0, 10);
}

const DMY = /^(\d{1,2})[/-](\d{1,2})[/-](\d{4})$/;
const YMD = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;

/** A date as typed: YYYY-MM-DD, DD/MM/YYYY or DD-MM-YYYY (also with one-digit day or month); null when it is none of these. */
export function parseDateCell(text: string): string | null {
  const t = text.trim();
  let y: number, m: number, d: number;
  const ymd = YMD.exec(t);
  const dmy = ymd ? null : DMY.exec(t);
  if (ymd) [y, m, d] = [Number(ymd[1]), Number(ymd[2]), Number(ymd[3])];
  else if (dmy) [d, m, y] = [Number(dmy[1]), Number(dmy[2]), Number(dmy[3])];
  else {
    // A spreadsheet may store a timestamp: "2021-06-10T00:00:00" or "2021-06-10 00:00:00".
    const ts = /^(\d{4})-(\d{2})-(\d{2})[T ]00:00(:00(\.0+)?)?Z?$/.exec(t);
    if (!ts) return null;
    [y, m, d] = [Number(ts[1]), Number(ts[2]), Number(ts[3])];
  }
  return isRealDate(y, m, d) ? formatIsoDate(y, m, d) : null;
}

/** What the validator's paths are called in the file, for error messages. */
/** The input field each validator path is about (shared with the console's record form). */
export const PATH_FIELD: Record<string, Field> = {
  'person.nik': 'nik',
  'person.identifier': 'nik',
  'person.identifier.value': 'nik',
  'person.identifier.type': 'nik',
  'person.identifier.country': 'passportCountry',
  'person.identifier.newlyIssued': 'nik',
  'person.name': 'name',
  'person.birthDate': 'birthDate',
  'person.sex': 'sex',
  'person.phone': 'phone',
  vaccine: 'vaccine',
  doseNumber: 'doseNumber',
  date: 'date',
  lot: 'lot',
  facility: 'facility',
};

/** One reason a row was rejected, named by the file's column. */
export interface RowReason {
  column: string;
  code: string;
  en: string;
  id: string;
}

/** A row turned into an entry body, with the problems only the file format can have (dates, Excel's NIK). */
export interface RowBody {
  body: Record<string, unknown>;
  /** Reasons found while reading the cells; validation adds its own. */
  pre: RowReason[];
  /** Validator paths whose own message is replaced by a pre reason (e.g. a date in an unknown format). */
  replaced: Set<string>;
  /** True when every cell is empty (such rows are skipped, not rejected). */
  blank: boolean;
}

/** Converts one row into the body of a single entry. */
export function rowToBody(row: SheetRow, cols: ColumnMap, opts: { date1904?: boolean; facility?: string | null }): RowBody {
  const pre: RowReason[] = [];
  const replaced = new Set<string>();
  const blank = row.cells.every((c) => c.trim() === '');
  const cell = (f: Field): string | undefined => {
    const i = cols.index[f];
    if (i === undefined) return undefined;
    const v = (row.cells[i] ?? '').trim();
    return v === '' ? undefined : v;
  };
  const isNumeric = (f: Field): boolean => {
    const i = cols.index[f];
    return i !== undefined && row.numeric?.[i] === true;
  };
  const column = (f: Field): string => {
    const i = cols.index[f];
    return i === undefined ? shown(f) : (cols.header[i] ?? shown(f));
  };

  const dateOf = (f: 'birthDate' | 'date', path: string): string | undefined => {
    const v = cell(f);
    if (v === undefined) return undefined;
    if (isNumeric(f) && /^\d+(\.\d+)?$/.test(v)) {
      const iso = excelSerialToIso(Number(v), opts.date1904);
      if (iso) return iso;
    }
    const iso = parseDateCell(v);
    if (iso) return iso;
    replaced.add(path);
    pre.push({
      column: column(f),
      code: 'date_format',
      en: `"${v}" is not a date: write DD/MM/YYYY, DD-MM-YYYY or YYYY-MM-DD (e.g. 17/05/1980), or use a date cell in Excel.`,
      id: `"${v}" bukan tanggal: tulis DD/MM/YYYY, DD-MM-YYYY atau YYYY-MM-DD (mis. 17/05/1980), atau gunakan sel tanggal di Excel.`,
    });
    return v;
  };

  // Excel shows a long number as 3.17101E+15 and saves it so: the last digits are gone.
  const idOf = (f: 'nik' | 'motherNik', path: string): string | undefined => {
    const v = cell(f);
    if (v !== undefined && /^\d+([.,]\d+)?E\+?\d+$/i.test(v)) {
      replaced.add(path);
      pre.push({
        column: column(f),
        code: 'nik_scientific',
        en: `The NIK "${v}" was saved by Excel as a number in scientific notation and its last digits are lost: format the column as Text and type the NIK again.`,
        id: `NIK "${v}" disimpan Excel sebagai angka dalam notasi ilmiah dan digit terakhirnya hilang: format kolom sebagai Teks lalu ketik ulang NIK.`,
      });
    }
    return v;
  };

  const person: Record<string, unknown> = {};
  const nik = idOf('nik', 'person.nik');
  const passport = cell('passport');
  const motherNik = idOf('motherNik', 'person.identifier.value');
  if (nik !== undefined) person.nik = nik;
  else if (passport !== undefined) person.identifier = { type: 'passport', value: passport, country: cell('passportCountry') };
  else if (motherNik !== undefined) person.identifier = { type: 'mother-nik', value: motherNik };
  person.name = cell('name');
  person.birthDate = dateOf('birthDate', 'person.birthDate');
  person.sex = cell('sex');
  const phone = cell('phone');
  if (phone !== undefined) person.phone = phone;

  const body: Record<string, unknown> = { person };
  body.vaccine = cell('vaccine');
  const dose = cell('doseNumber');
  // "1", "1.0" (a number cell), "Dosis 1", "ke-2": the digits are the dose number.
  const doseDigits = dose === undefined ? undefined : /^(?:dosis|dose|ke)?[\s-]*(\d+)(?:\.0+)?$/i.exec(dose)?.[1];
  body.doseNumber = doseDigits ?? dose;
  body.date = dateOf('date', 'date');
  const lot = cell('lot');
  if (lot !== undefined) body.lot = lot;
  const facility = cell('facility') ?? opts.facility ?? undefined;
  if (facility !== undefined && facility !== null) body.facility = facility;

  const extra = row.cells.slice(cols.header.length).filter((c) => c.trim() !== '').length;
  if (extra > 0) {
    pre.push({
      column: '',
      code: 'too_many_values',
      en: `The row has ${extra} more value${extra === 1 ? '' : 's'} than the header has columns (a separator inside a value? put such a value in double quotes).`,
      id: `Baris ini punya ${extra} nilai lebih banyak daripada judul kolom (ada pemisah di dalam nilai? apit nilai itu dengan tanda kutip ganda).`,
    });
  }
  return { body, pre, replaced, blank };
}

/** The validator's issues, named by the file's columns, after the reasons found while reading. */
export function rowReasons(cols: ColumnMap, read: RowBody, issues: readonly FieldIssue[]): RowReason[] {
  const out = [...read.pre];
  for (const i of issues) {
    if (read.replaced.has(i.path)) continue;
    out.push(reasonOf(cols, i));
  }
  return out;
}

/** One FieldIssue (validation, dose rules, scope) as a reason naming the file's column. */
export function reasonOf(cols: ColumnMap, i: FieldIssue | { path: string; code: string; message: Text }): RowReason {
  const field = PATH_FIELD[i.path];
  const idx = field === undefined ? undefined : cols.index[field];
  const column = idx !== undefined ? (cols.header[idx] ?? '') : field !== undefined ? shown(field) : i.path;
  return { column, code: i.code, en: i.message.en, id: i.message.id };
}

/** A reason that is about the whole row, not one column. */
export function rowReason(code: string, text: Text, column = ''): RowReason {
  return { column, code, en: text.en, id: text.id };
}

