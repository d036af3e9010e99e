/**
 * Phone numbers: normalised to E.164 at entry, because the certificate link goes out by SMS and a
 * number that is empty, mistyped or a landline is why people never got theirs.
 *
 * Decisions
 * - Indonesian mobiles: national significant number `8[1-35-9]\d{7,10}` (the same pattern as
 *   libphonenumber's metadata for ID). Written `08…`, `+62 8…`, `62 8…`, a bare `8…` (a spreadsheet
 *   dropped the 0), or the wrong forms `+62 08…` and `6208…`; spaces, dashes, dots and parentheses
 *   are stripped and a leading `00` becomes `+`. Anything else without `+` is refused rather than
 *   guessed at.
 * - Landlines (`021…`) are real numbers that cannot receive SMS: `phone_landline`, its own code so
 *   that the form can say "give a mobile number" instead of "invalid".
 * - Foreign numbers (a traveller's `+65 9…`) are accepted as E.164 when libphonenumber says they
 *   are mobile, or "fixed line or mobile" (North America cannot tell the two apart). The SMS
 *   gateway decides whether it can reach them; refusing would leave a traveller without a link.
 * - Empty or absent is not an error: the dose is recorded and the caller puts the person on the
 *   `invalid_phone` work list.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { issue } from './errors.ts';
import type { FieldIssue } from './errors.ts';

/** The result of normalising one phone number as typed. */
export type PhoneResult =
  | {
      ok: true;
      /** E.164, e.g. `+6281234567890`. */
      e164: string;
      /** ISO 3166 alpha-2 of the number's country (`ID` for Indonesian numbers). */
      country: string;
      /** True for a non-Indonesian number. */
      foreign: boolean;
      /** Indonesian operator from the prefix, when the prefix is in the table. */
      operator?: IndonesianOperator;
    }
  | { ok: true; e164: null; missing: true }
  | { ok: false; issue: FieldIssue };

export type IndonesianOperator = 'Telkomsel' | 'Indosat' | 'XL' | 'Axis' | 'Tri' | 'Smartfren';

/**
 * Operator by national prefix `08xx`. No number portability in Indonesia, so the prefix still
 * names the operator (DOMAIN.md). Used for routing and for reading delivery failures, never to
 * reject a number: a prefix missing here is still a valid mobile.
 */
const OPERATOR_PREFIXES: Record<string, IndonesianOperator> = {
  '0811': 'Telkomsel', '0812': 'Telkomsel', '0813': 'Telkomsel',
  '0821': 'Telkomsel', '0822': 'Telkomsel', '0823': 'Telkomsel',
  '0851': 'Telkomsel', '0852': 'Telkomsel', '0853': 'Telkomsel',
  '0814': 'Indosat', '0815': 'Indosat', '0816': 'Indosat',
  '0855': 'Indosat', '0856': 'Indosat', '0857': 'Indosat', '0858': 'Indosat',
  '0817': 'XL', '0818': 'XL', '0819': 'XL', '0859': 'XL', '0877': 'XL', '0878': 'XL',
  '0831': 'Axis', '0832': 'Axis', '0833': 'Axis', '0838': 'Axis',
  '0895': 'Tri', '0896': 'Tri', '0897': 'Tri', '0898': 'Tri', '0899': 'Tri',
  '0881': 'Smartfren', '0882': 'Smartfren', '0883': 'Smartfren', '0884': 'Smartfren',
  '0885': 'Smartfren', '0886': 'Smartfren', '0887': 'Smartfren', '0888': 'Smartfren',
  '0889': 'Smartfren',
};

const ID_MOBILE_NSN = /^8[1-35-9]\d{7,10}$/;
const SEPARATORS = /[\s\-.()]/g;

/** The operator of an Indonesian number (E.164 or national), or undefined. */
export function operatorOf(phone: string): IndonesianOperator | undefined {
  const national = phone.startsWith('+62') ? `0${phone.slice(3)}` : phone;
  return OPERATOR_PREFIXES[national.slice(0, 4)];
}

function invalid(path: string, en: string, id: string): PhoneResult {
  return { ok: false, issue: issue(path, 'phone_invalid', en, id) };
}

/**
 * Normalise a phone number as typed into E.164, or say why it cannot receive an SMS.
 * Codes: `phone_invalid`, `phone_landline`, `phone_not_mobile`. Empty, `-` or absent → missing.
 */
export function normalizePhone(raw: unknown, path = 'phone'): PhoneResult {
  if (raw === null || raw === undefined) return { ok: true, e164: null, missing: true };
  let text: string;
  if (typeof raw === 'string') text = raw;
  else if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw > 0) text = String(raw);
  else {
    return invalid(path, 'A phone number must be written as text, e.g. "0812-3456-7890".', 'Nomor HP harus ditulis sebagai teks, mis. "0812-3456-7890".');
  }
  let s = text.replace(SEPARATORS, '');
  if (s === '') return { ok: true, e164: null, missing: true };
  if (!/^\+?\d+$/.test(s)) {
    return invalid(
      path,
      'A phone number may contain only digits, a leading +, spaces, dashes, dots and parentheses.',
      'Nomor HP hanya boleh berisi angka, tanda + di depan, spasi, tanda hubung, titik, dan tanda kurung.',
    );
  }
  if (s.startsWith('00')) s = `+${s.slice(2)}`;

  let e164: string;
  if (s.startsWith('+620')) e164 = `+62${s.slice(4)}`; // "+62 0812…": the trunk 0 kept by mistake
  else if (s.startsWith('+')) e164 = s;
  else if (s.startsWith('620')) e164 = `+62${s.slice(3)}`; // "62 0812…"
  else if (s.startsWith('62')) e164 = `+${s}`;
  else if (s.startsWith('0')) e164 = `+62${s.slice(1)}`;
  else if (s.startsWith('8')) e164 = `+62${s}`; // the leading 0 lost in a spreadsheet
  else {
    return invalid(
      path,
      'Write an Indonesian number starting with 08 or +62, or a foreign number with + and its country code.',
      'Tulis nomor Indonesia diawali 08 atau +62, atau nomor luar negeri dengan + dan kode negaranya.',
    );
  }

  const indonesian = e164.startsWith('+62');
  const nsn = indonesian ? e164.slice(3) : '';
  if (indonesian && ID_MOBILE_NSN.test(nsn)) {
    // libphonenumber's ID mobile pattern is this very pattern; the check above is the domain rule.
    // So the common case needs no parse (~20 µs each, on every recorded dose and imported row).
    const operator = OPERATOR_PREFIXES[`0${nsn.slice(0, 3)}`];
    return operator === undefined
      ? { ok: true, e164, country: 'ID', foreign: false }
      : { ok: true, e164, country: 'ID', foreign: false, operator };
  }
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed || !parsed.isValid()) {
    if (indonesian && nsn.startsWith('8')) {
      return invalid(
        path,
        'An Indonesian mobile number is 08 followed by 8 to 11 digits (10–13 digits in all), and cannot start with 084 or 080.',
        'Nomor HP Indonesia adalah 08 diikuti 8 sampai 11 angka (seluruhnya 10–13 angka), dan tidak diawali 084 atau 080.',
      );
    }
    return invalid(path, 'This is not a valid phone number.', 'Nomor telepon ini tidak valid.');
  }
  const type = parsed.getType();
  if (type === 'FIXED_LINE') {
    return {
      ok: false,
      issue: issue(
        path,
        'phone_landline',
        'This is a landline number, which cannot receive SMS. Give a mobile number (08…) so the certificate link can be sent.',
        'Ini nomor telepon rumah/kantor yang tidak dapat menerima SMS. Isi nomor HP (08…) agar tautan sertifikat dapat dikirim.',
      ),
    };
  }
  if (!indonesian && (type === 'MOBILE' || type === 'FIXED_LINE_OR_MOBILE')) {
    return { ok: true, e164: parsed.number, country: parsed.country ?? '', foreign: true };
  }
  return {
    ok: false,
    issue: issue(
      path,
      'phone_not_mobile',
      `This number cannot receive SMS (${type === undefined ? 'not a mobile number' : type.toLowerCase().replace(/_/g, ' ')}). Give a mobile number.`,
      'Nomor ini tidak dapat menerima SMS (bukan nomor HP). Isi nomor HP.',
    ),
  };
}

function isRun(digits: string, step: 1 | -1): boolean {
  for (let i = 1; i < digits.length; i++) {
    if ((Number(digits[i - 1]) + step + 10) % 10 !== Number(digits[i])) return false;
  }
  return true;
}

function oneDigit(digits: string): boolean {
  return /^(\d)\1*$/.test(digits);
}

/**
 * True for numbers typed to fill a required field rather than to reach someone: a single repeated
 * digit, a subscriber part of zeros or of one repeated digit (0812-0000-0000, 0811-1111-1111), or
 * a counting run (08123456789, 0857-1234-5678). Deliberately conservative; a flag for a work list,
 * never a reason to refuse. (One number on many unrelated people — a facility's or a nurse's —
 * is the other signal, and needs the database: see records/.)
 */
export function isPlaceholderPhone(e164: string): boolean {
  const digits = e164.replace(/^\+/, '');
  if (!/^\d+$/.test(digits)) return false;
  if (digits.startsWith('62')) {
    const nsn = digits.slice(2);
    if (oneDigit(nsn)) return true;
    const subscriber = nsn.slice(3); // after the 8xx operator prefix
    if (subscriber.length >= 6 && oneDigit(subscriber)) return true;
    const afterEight = nsn.slice(1);
    if (afterEight.length >= 8 && afterEight.startsWith('1') && isRun(afterEight, 1)) return true;
    if (subscriber.length >= 7 && (isRun(subscriber, 1) || isRun(subscriber, -1))) return true;
    return false;
  }
  const parsed = parsePhoneNumberFromString(`+${digits}`);
  const national = parsed ? String(parsed.nationalNumber) : digits;
  return oneDigit(national) || (national.length >= 8 && (isRun(national, 1) || isRun(national, -1)));
}
