/**
 * Kemendagri region codes as people write them. The ministry publishes them
 * dotted — province `12`, regency/city `12.71`, district `12.71.01`, village
 * `12.71.01.1001` — and district staff type them so; NIKs and older lists
 * carry the digits alone (`1271`, `127101`). Both writings are accepted
 * wherever a region code is taken; one form is stored (the digits, as in a
 * NIK, so that a region's places are found by prefix); the dotted one is
 * shown. Browser-safe, no I/O: the API and the console read them alike.
 */
import { issue, type FieldIssue } from './errors.ts';

/** Digits of a whole code: PP, PPKK, PPKKCC or PPKKCCDDDD. */
const WHOLE_DIGITS = /^\d{2}(?:\d{2}(?:\d{2}(?:\d{4})?)?)?$/;
/** The dotted writing of a whole code. */
const DOTTED = /^\d{2}(?:\.\d{2}(?:\.\d{2}(?:\.\d{4})?)?)?$/;

/**
 * The stored form (digits) of a region code written either way, or null when
 * it is not one. `prefix`: any 2–10 digits (a filter by region prefix), or a
 * dotted code.
 */
export function parseRegionCode(value: unknown, opts: { prefix?: boolean } = {}): string | null {
  if (typeof value !== 'string') return null;
  const v = value.trim();
  if (DOTTED.test(v)) return v.replace(/\./g, '');
  if (opts.prefix ? /^\d{2,10}$/.test(v) : WHOLE_DIGITS.test(v)) return v;
  return null;
}

/** A stored region code as the ministry writes it: `1271` → `12.71`, `1271011001` → `12.71.01.1001`; anything else as it is. */
export function formatRegionCode(code: string): string {
  if (!WHOLE_DIGITS.test(code)) return code;
  return [code.slice(0, 2), code.slice(2, 4), code.slice(4, 6), code.slice(6)].filter(Boolean).join('.');
}

/** The refusal of a region code, naming its field. */
export function regionCodeIssue(path: string): FieldIssue {
  return issue(
    path,
    'region_code',
    'Region code as Kemendagri writes it: 12, 12.71, 12.71.01 or 12.71.01.1001 (dots may be left out: 1271).',
    'Kode wilayah seperti tulisan Kemendagri: 12, 12.71, 12.71.01 atau 12.71.01.1001 (boleh tanpa titik: 1271).',
  );
}
