/**
 * Run-time validation of an hcert payload against the EU DCC schema 1.3
 * structure, without the schema file.
 *
 * Why our own: the EU schemas are JSON Schema 2020-12 files that no maintained
 * npm package ships (the one DCC package on npm, @pathcheck/dcc-sdk, is a whole
 * SDK built on lax Base45 decoders), and the conformance copy in test/conformance is
 * test data that must not be read at run time. The rules below are those of
 * schema 1.3.0–1.3.3; the conformance test checks that this validator and ajv
 * with the official schema agree on the EU test corpus.
 *
 * Tolerance ("strict in what you generate, tolerant in what you accept", EU DCC
 * schema FAQ): a few issuers put a full RFC 3339 date-time where the schema says
 * `format: date` (dt, fr, df, du); JSON Schema 2020-12 treats `format` as an
 * annotation by default, so the official schema accepts them, and so do we as
 * long as the value starts with a valid calendar date. Dosis itself always
 * issues plain dates.
 */

import { certificateType, isFullDate, type HcertPayload } from './dcc.ts';

/** One schema violation: a JSON-pointer-like path and what is wrong. */
export interface SchemaIssue {
  path: string;
  message: string;
}

export type SchemaResult = { valid: true; payload: HcertPayload } | { valid: false; issues: SchemaIssue[] };

const MAX = 80;
const TRANSLITERATED = /^[A-Z<]*$/;
const COUNTRY = /^[A-Z]{1,10}$/;
const VERSION = /^\d+\.\d+\.\d+$/;
const DOB = /^((19|20)\d\d(-\d\d){0,2})?$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** Validate an hcert payload (already converted from CBOR to plain JSON values). */
export function validateHcert(value: unknown): SchemaResult {
  const issues: SchemaIssue[] = [];
  const add = (path: string, message: string): void => {
    issues.push({ path, message });
  };
  if (!isObject(value)) return { valid: false, issues: [{ path: '', message: 'must be an object' }] };

  checkString(value, 'ver', '', true, add, (s) => VERSION.test(s) || 'must be a version like 1.3.0');
  const nam = value.nam;
  if (nam === undefined) add('/nam', 'is required');
  else if (!isObject(nam)) add('/nam', 'must be an object');
  else {
    if (nam.fnt === undefined && nam.gnt === undefined) add('/nam', 'must have fnt or gnt');
    checkString(nam, 'fn', '/nam', false, add);
    checkString(nam, 'gn', '/nam', false, add);
    checkString(nam, 'fnt', '/nam', false, add, (s) => TRANSLITERATED.test(s) || 'must match ^[A-Z<]*$');
    checkString(nam, 'gnt', '/nam', false, add, (s) => TRANSLITERATED.test(s) || 'must match ^[A-Z<]*$');
  }
  // Only the schema's pattern, no calendar check: early issuers wrote unknown parts as "00"
  // ("1963-00"), which the 1.3 pattern accepts and verifiers must too.
  checkString(value, 'dob', '', true, add, (s) => DOB.test(s) || 'must be YYYY, YYYY-MM or YYYY-MM-DD (1900–2099) or empty', Infinity);

  const type = certificateType(value);
  if (type === undefined) add('', 'must have exactly one of v, t, r');
  for (const group of ['v', 't', 'r'] as const) {
    const list = value[group];
    if (list === undefined) continue;
    const path = `/${group}`;
    if (!Array.isArray(list) || list.length !== 1) {
      add(path, 'must be an array of exactly one entry');
      continue;
    }
    const entry: unknown = list[0];
    if (!isObject(entry)) {
      add(`${path}/0`, 'must be an object');
      continue;
    }
    const at = `${path}/0`;
    checkString(entry, 'tg', at, true, add, undefined, Infinity);
    checkString(entry, 'co', at, true, add, (s) => COUNTRY.test(s) || 'must be an uppercase country code', Infinity);
    checkString(entry, 'is', at, true, add);
    checkString(entry, 'ci', at, true, add);
    if (group === 'v') {
      for (const k of ['vp', 'mp', 'ma']) checkString(entry, k, at, true, add, undefined, Infinity);
      for (const k of ['dn', 'sd']) {
        const n = entry[k];
        if (n === undefined) add(`${at}/${k}`, 'is required');
        else if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) add(`${at}/${k}`, 'must be an integer ≥ 1');
      }
      checkString(entry, 'dt', at, true, add, dateOrDateTime, Infinity);
    } else if (group === 't') {
      checkString(entry, 'tt', at, true, add, undefined, Infinity);
      checkString(entry, 'nm', at, false, add);
      checkString(entry, 'ma', at, false, add, undefined, Infinity);
      checkString(entry, 'sc', at, true, add, (s) => isDateTime(s) || 'must be an RFC 3339 date-time', Infinity);
      checkString(entry, 'tr', at, true, add, undefined, Infinity);
      checkString(entry, 'tc', at, false, add);
    } else {
      for (const k of ['fr', 'df', 'du']) checkString(entry, k, at, true, add, dateOrDateTime, Infinity);
    }
  }
  // The checks above prove the shape of HcertPayload.
  return issues.length === 0 ? { valid: true, payload: value as unknown as HcertPayload } : { valid: false, issues };
}

/** RFC 3339 date-time with a valid calendar date and time. */
export function isDateTime(s: string): boolean {
  const m = DATE_TIME.exec(s);
  if (!m || !isFullDate(m[1]!)) return false;
  const [h, mi, sec] = [Number(m[2]), Number(m[3]), Number(m[4])];
  if (h > 23 || mi > 59 || sec > 60) return false;
  return m[7] === undefined || (Number(m[7]) <= 23 && Number(m[8]) <= 59);
}

function dateOrDateTime(s: string): true | string {
  return isFullDate(s) || isDateTime(s) || 'must be an ISO 8601 date (YYYY-MM-DD)';
}

function checkString(
  obj: Record<string, unknown>,
  key: string,
  at: string,
  required: boolean,
  add: (path: string, message: string) => void,
  rule?: (s: string) => true | string,
  maxLength = MAX,
): void {
  const v = obj[key];
  const path = `${at}/${key}`;
  if (v === undefined) {
    if (required) add(path, 'is required');
    return;
  }
  if (typeof v !== 'string') {
    add(path, 'must be a string');
    return;
  }
  // JSON Schema counts maxLength in code points, not UTF-16 units.
  if (maxLength !== Infinity && Array.from(v).length > maxLength) add(path, `must have at most ${maxLength} characters`);
  if (rule) {
    const ok = rule(v);
    if (ok !== true) add(path, ok);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
