/**
 * Runs one case of the EU DCC test corpus format (dgc-testdata) through our
 * own code, step by step, and compares each step with EXPECTEDRESULTS.
 *
 * Used by eu-dcc-conformance.test.ts for the EU corpus and for the cases we
 * make ourselves. A helper module: it defines no tests and does nothing when
 * imported.
 *
 * Scoring follows test/conformance/README.md (which follows the corpus's own
 * harness): a step is run only when its key is in EXPECTEDRESULTS and the case
 * has the fields it reads; EXPECTEDSCHEMAVALIDATION = false is not scored;
 * rows of known_issues.csv are expected failures.
 */

import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import { decodeQrPng } from '../../src/certificates/qr-image.ts';
import { cborToJson, decodeCbor, type Json } from '../../src/certificates/cbor.ts';
import {
  checkSignature,
  checkTimes,
  claimsStep,
  coseStep,
  decodeBase45Step,
  decodeHc1,
  hcertStep,
  inflateStep,
  unprefixHc1,
  type CwtClaims,
} from '../../src/certificates/hc1.ts';
import { certificateType } from '../../src/certificates/dcc.ts';
import { kidOf } from '../../src/certificates/keys.ts';
import { keyUsageAllows, parseCertificate } from '../../src/certificates/trust.ts';
import { validateHcert } from '../../src/certificates/dcc-schema.ts';

export const STEPS = [
  'PICTUREDECODE',
  'UNPREFIX',
  'B45DECODE',
  'COMPRESSION',
  'VERIFY',
  'DECODE',
  'VALIDJSON',
  'SCHEMAVALIDATION',
  'EXPIRATIONCHECK',
  'KEYUSAGE',
] as const;
export type Step = (typeof STEPS)[number];

/** One case file. Hex fields may be upper or lower case. */
export interface TestCase {
  JSON?: Json;
  CBOR?: string;
  COSE?: string;
  COMPRESSED?: string;
  BASE45?: string;
  PREFIX?: string;
  '2DCODE'?: string;
  TESTCTX: {
    VERSION?: number;
    SCHEMA?: string;
    CERTIFICATE?: string;
    VALIDATIONCLOCK?: string;
    DESCRIPTION?: string;
  };
  EXPECTEDRESULTS: Record<string, boolean>;
}

export interface StepResult {
  step: Step;
  expected: boolean;
  actual: boolean;
  /** False for EXPECTEDSCHEMAVALIDATION = false, which the corpus does not score. */
  scored: boolean;
  /** The known_issues.csv reason when this step is an expected failure. */
  knownIssue?: string;
  /** What our code said, for the report. */
  detail: string;
  /** Time the step took. */
  ms: number;
}

export interface CaseContext {
  /** ajv for the case's schema version; undefined skips SCHEMAVALIDATION (no schema folder). */
  schemaFor?: (version: string) => ValidateFunction | undefined;
  /** Known issue reason for (step, case), if any. */
  knownIssue?: (step: Step) => string | undefined;
}

/** Which steps a case asks for and can run (the fields each step reads are present). */
export function runnableSteps(c: TestCase): Step[] {
  const has = (...keys: (keyof TestCase)[]): boolean => keys.every((k) => c[k] !== undefined);
  const cert = c.TESTCTX.CERTIFICATE !== undefined;
  const needs: Record<Step, boolean> = {
    PICTUREDECODE: has('2DCODE', 'PREFIX'),
    UNPREFIX: has('PREFIX', 'BASE45'),
    B45DECODE: has('BASE45', 'COMPRESSED'),
    COMPRESSION: has('COMPRESSED', 'COSE'),
    VERIFY: has('COSE') && cert,
    DECODE: (has('JSON') && (has('CBOR') || has('COSE'))) || has('CBOR', 'COSE'),
    VALIDJSON: has('PREFIX', 'JSON'),
    SCHEMAVALIDATION: has('COSE') || has('CBOR') || has('JSON'),
    EXPIRATIONCHECK: has('COSE') && cert,
    KEYUSAGE: has('COSE') && cert,
  };
  return STEPS.filter((s) => typeof c.EXPECTEDRESULTS[`EXPECTED${s}`] === 'boolean' && needs[s]);
}

/** Run every requested step of a case with our code. */
export async function runCase(c: TestCase, ctx: CaseContext = {}): Promise<StepResult[]> {
  const out: StepResult[] = [];
  for (const step of runnableSteps(c)) {
    const expected = c.EXPECTEDRESULTS[`EXPECTED${step}`] === true;
    if (step === 'SCHEMAVALIDATION' && !ctx.schemaFor) continue;
    let actual: boolean;
    let detail: string;
    const started = performance.now();
    try {
      [actual, detail] = await STEP_RUNNERS[step](c, ctx);
    } catch (e) {
      actual = false;
      detail = `threw: ${(e as Error).message}`;
    }
    const known = ctx.knownIssue?.(step);
    out.push({
      step,
      expected,
      actual,
      scored: !(step === 'SCHEMAVALIDATION' && !expected),
      ...(known === undefined ? {} : { knownIssue: known }),
      detail,
      ms: performance.now() - started,
    });
  }
  return out;
}

/** A step result that must match: scored and not a known issue. */
export function mustMatch(r: StepResult): boolean {
  return r.scored && r.knownIssue === undefined;
}

type Runner = (c: TestCase, ctx: CaseContext) => Promise<[boolean, string]>;

const STEP_RUNNERS: Record<Step, Runner> = {
  // PNG → text, compared with PREFIX.
  async PICTUREDECODE(c) {
    try {
      const text = await decodeQrPng(Buffer.from(c['2DCODE']!, 'base64'));
      return [text === c.PREFIX, text === c.PREFIX ? 'read PREFIX' : `read other text (${text.length} chars)`];
    } catch (e) {
      return [false, (e as Error).message];
    }
  },
  // PREFIX → BASE45.
  async UNPREFIX(c) {
    return attempt(() => unprefixHc1(c.PREFIX!) === c.BASE45, 'equals BASE45');
  },
  // BASE45 → COMPRESSED.
  async B45DECODE(c) {
    return attempt(() => bytesEqual(decodeBase45Step(c.BASE45!), hex(c.COMPRESSED!)), 'equals COMPRESSED');
  },
  // COMPRESSED → COSE.
  async COMPRESSION(c) {
    return attempt(() => bytesEqual(inflateStep(hex(c.COMPRESSED!)), hex(c.COSE!)), 'equals COSE');
  },
  // COSE signature with TESTCTX.CERTIFICATE as the only trusted key (kid computed by us).
  async VERIFY(c) {
    return attempt(() => {
      const certificate = new Uint8Array(Buffer.from(c.TESTCTX.CERTIFICATE!, 'base64'));
      const check = checkSignature(coseStep(hex(c.COSE!)), [{ kid: kidOf(certificate), certificate }]);
      return check.ok ? true : `${check.reason}`;
    }, 'signature valid');
  },
  // The payload decoded from CBOR and from COSE, equal to JSON (and to each other).
  async DECODE(c) {
    return attempt(() => {
      const decoded: Json[] = [];
      if (c.CBOR !== undefined) decoded.push(hcertOfCborField(hex(c.CBOR)));
      if (c.COSE !== undefined) decoded.push(hcertStep(claimsStep(coseStep(hex(c.COSE)).payload)));
      const reference = c.JSON ?? decoded[0]!;
      const differing = decoded.findIndex((d) => !jsonEqual(d, reference));
      return differing < 0 ? true : `${differing === 0 && c.CBOR !== undefined ? 'CBOR' : 'COSE'} payload differs`;
    }, 'equals JSON');
  },
  // The whole chain from PREFIX, equal to JSON.
  async VALIDJSON(c) {
    const d = decodeHc1(c.PREFIX!);
    if (!d.ok) return [false, `${d.failedAt}: ${d.error}`];
    return jsonEqual(d.hcert, c.JSON!) ? [true, 'equals JSON'] : [false, 'decoded payload differs from JSON'];
  },
  // The payload against the official schema of its version (ajv), exactly one of v/t/r.
  async SCHEMAVALIDATION(c, ctx) {
    const hcert = payloadOf(c);
    if (typeof hcert !== 'object' || hcert === null || Array.isArray(hcert)) return [false, 'payload is not an object'];
    const version = typeof hcert.ver === 'string' ? hcert.ver : undefined;
    const validate = version === undefined ? undefined : ctx.schemaFor!(version);
    if (!validate) return [false, `no schema for version ${String(version)}`];
    const ajvValid = validate(hcert) && certificateType(hcert) !== undefined;
    return [ajvValid, ajvValid ? 'valid' : ajvMessage(validate)];
  },
  // nbf(DSC) ≤ iat ≤ clock ≤ exp ≤ notAfter(DSC), with the verifier's own time check.
  async EXPIRATIONCHECK(c) {
    return attempt(() => {
      const claims = claimsStep(coseStep(hex(c.COSE!)).payload);
      if (claims.iat === undefined || claims.exp === undefined) return 'iat or exp missing';
      const signer = parseCertificate(new Uint8Array(Buffer.from(c.TESTCTX.CERTIFICATE!, 'base64')));
      const now = parseClock(c.TESTCTX.VALIDATIONCLOCK);
      const result = checkTimes({
        iat: claims.iat,
        exp: claims.exp,
        now: now.getTime() / 1000,
        signerNotBefore: signer.notBefore.getTime() / 1000,
        signerNotAfter: signer.notAfter.getTime() / 1000,
      });
      return result === 'ok' ? true : result;
    }, 'within validity');
  },
  // The DSC's extended key usage allows the payload's certificate type.
  async KEYUSAGE(c) {
    return attempt(() => {
      const claims: CwtClaims = claimsStep(coseStep(hex(c.COSE!)).payload);
      const hcert = hcertStep(claims);
      const type = typeof hcert === 'object' && hcert !== null && !Array.isArray(hcert) ? certificateType(hcert) : undefined;
      if (type === undefined) return 'not exactly one of v/t/r';
      const signer = parseCertificate(new Uint8Array(Buffer.from(c.TESTCTX.CERTIFICATE!, 'base64')));
      return keyUsageAllows(signer.extendedKeyUsage, type) ? true : `EKU ${String(signer.extendedKeyUsage)} does not allow ${type}`;
    }, 'allowed');
  },
};

/**
 * The run-time validator (schema 1.3 rules, no schema file) against ajv with
 * the official schema, on the payload our code decodes from a case: with the
 * newest 1.3 schema for every payload (the rules the validator implements),
 * and with the schema of the payload's own version when that is 1.3.x.
 * Empty when the case has no decodable payload.
 */
export function compareValidators(
  c: TestCase,
  schemaFor: (version: string) => ValidateFunction | undefined,
): { schema: string; agree: boolean; detail: string }[] {
  let hcert: Json;
  try {
    hcert = payloadOf(c);
  } catch {
    return [];
  }
  if (typeof hcert !== 'object' || hcert === null || Array.isArray(hcert)) return [];
  const versions = new Set([LATEST_1_3]);
  if (typeof hcert.ver === 'string' && hcert.ver.startsWith('1.3.')) versions.add(hcert.ver);
  const ours = validateHcert(hcert);
  const out: { schema: string; agree: boolean; detail: string }[] = [];
  for (const version of versions) {
    const validate = schemaFor(version);
    if (!validate) continue;
    const official = validate(hcert) && certificateType(hcert) !== undefined;
    const detail = `schema ${version}: ajv ${official ? 'accepts' : `rejects (${ajvMessage(validate)})`}, run-time validator ${
      ours.valid ? 'accepts' : `rejects (${ours.issues.map((i) => `${i.path} ${i.message}`).join('; ')})`
    }`;
    out.push({ schema: version, agree: official === ours.valid, detail });
  }
  return out;
}

const LATEST_1_3 = '1.3.3';

/** Run `fn`: true → [true, ok]; a string → [false, that string]; a throw → [false, message]. */
async function attempt(fn: () => boolean | string, ok: string): Promise<[boolean, string]> {
  try {
    const r = fn();
    if (r === true) return [true, ok];
    return [false, r === false ? `not ${ok}` : r];
  } catch (e) {
    return [false, (e as Error).message];
  }
}

/**
 * The payload in a CBOR field. Most countries put the CWT claims there, some
 * the bare hcert map; the corpus's harness accepts both levels, so do we.
 */
function hcertOfCborField(bytes: Uint8Array): Json {
  const item = decodeCbor(bytes);
  if (item instanceof Map && item.has(-260)) return hcertStep(claimsStep(bytes));
  return cborToJson(item);
}

/** The payload as the issuer signed it: from COSE, else CBOR, else JSON. */
function payloadOf(c: TestCase): Json {
  if (c.COSE !== undefined) return hcertStep(claimsStep(coseStep(hex(c.COSE)).payload));
  if (c.CBOR !== undefined) return hcertOfCborField(hex(c.CBOR));
  return c.JSON!;
}

function ajvMessage(validate: ValidateFunction): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`).join('; ') || 'not exactly one of v/t/r';
}

/**
 * Equality of two JSON payloads. Strict (same keys, same values, arrays in
 * order), except that two RFC 3339 date-times are equal when they denote the
 * same instant: issuers spell one instant differently in their JSON and their
 * CBOR (PT/1.3.0/4: "+00:00" vs "Z"), and a CBOR date tag (0/1) comes back
 * from the decoder in UTC. The corpus's harness normalises dates the same way.
 */
export function jsonEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (typeof a === 'string' && typeof b === 'string') {
    const ta = instant(a);
    return ta !== undefined && ta === instant(b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]!));
  }
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k]!, b[k]!));
  }
  return false;
}

function instant(s: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s)) return undefined;
  return Date.parse(s);
}

/**
 * VALIDATIONCLOCK: ISO 8601 with or without offset ("+02:00", "+0200", "Z")
 * and up to 9 fractional digits; no offset means UTC (as the corpus harness
 * reads it). Date.parse would read an offset-less time as local time.
 */
export function parseClock(s: string | undefined): Date {
  if (s === undefined) return new Date();
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(s.trim());
  if (!m) throw new Error(`unreadable VALIDATIONCLOCK ${s}`);
  const fraction = m[2] ? m[2].slice(0, 4) : '';
  let zone = m[3] ?? 'Z';
  if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  return new Date(`${m[1]}${fraction}${zone}`);
}

function hex(s: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(s)) throw new Error('field is not hex');
  return new Uint8Array(Buffer.from(s, 'hex'));
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

// ---------------------------------------------------------------- corpus files

/** Every case file of the corpus: `<country>/…/2DCode/raw|Raw/*.json`, relative paths, sorted. */
export function listCaseFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const relPath = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(path, relPath);
      else if (entry.name.endsWith('.json') && /(^|\/)2DCode\/[rR]aw\/[^/]+$/.test(relPath)) out.push(relPath);
    }
  };
  walk(root, '');
  return out.sort();
}

export function readCase(root: string, rel: string): TestCase {
  return JSON.parse(readFileSync(join(root, rel), 'utf8')) as TestCase;
}

/** known_issues.csv test names → the step each corpus test checks. */
const TEST_STEP: Readonly<Record<string, Step>> = {
  test_picture_decode: 'PICTUREDECODE',
  test_un_prefix: 'UNPREFIX',
  test_b45decode: 'B45DECODE',
  test_compression: 'COMPRESSION',
  test_verification_check: 'VERIFY',
  test_cose_json: 'DECODE',
  test_cose_cbor: 'DECODE',
  test_cbor_json: 'VALIDJSON',
  test_cose_schema: 'SCHEMAVALIDATION',
  test_expiration_check: 'EXPIRATIONCHECK',
  test_expected_key_usage: 'KEYUSAGE',
};

/**
 * The known issues as a lookup (step, case path) → reason. A row names a
 * country and optionally a test set (the file name without .json); an empty
 * test set covers every file of that country.
 */
export function loadKnownIssues(root: string): (step: Step, rel: string) => string | undefined {
  const path = join(root, 'known_issues.csv');
  const rows = existsSync(path) ? readFileSync(path, 'utf8').trim().split(/\r?\n/).slice(1) : [];
  const issues = rows.map((line) => {
    const [test = '', country = '', set = '', reason = ''] = line.split(',');
    const step = TEST_STEP[test];
    if (!step) throw new Error(`known_issues.csv: unknown test ${test}`);
    return { step, country, set, reason };
  });
  return (step, rel) => {
    const country = rel.split('/')[0];
    const set = rel.split('/').pop()!.replace(/\.json$/, '');
    return issues.find((i) => i.step === step && i.country === country && (i.set === '' || i.set === set))?.reason;
  };
}

/** ajv validators per schema version, from the official schema files (test data, read by tests only). */
export function schemaLoader(schemaDir: string): (version: string) => ValidateFunction | undefined {
  // JSON Schema 2020-12 makes `format` an annotation unless a vocabulary says
  // otherwise (§7.2.1); the EU schemas do not, and the corpus expects e.g. a
  // date-time in a `format: date` field to pass. The extra `valueset-uri`
  // keyword is an annotation too, hence strict: false.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  const published = readdirSync(schemaDir)
    .filter((f) => /^\d+\.\d+\.\d+\.json$/.test(f))
    .map((f) => f.slice(0, -5))
    .sort(compareVersions);
  const compiled = new Map<string, ValidateFunction>();
  return (version) => {
    // The file of that version; else the newest published one not newer than it (1.0.4 → 1.0.1).
    const chosen = published.filter((v) => compareVersions(v, version) <= 0).pop();
    if (chosen === undefined) return undefined;
    let fn = compiled.get(chosen);
    if (!fn) {
      const schema = JSON.parse(readFileSync(join(schemaDir, `${chosen}.json`), 'utf8')) as Record<string, unknown>;
      delete schema.$id; // several versions share one $id; ajv would refuse the second
      fn = ajv.compile(schema);
      compiled.set(chosen, fn);
    }
    return fn;
  };
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}
