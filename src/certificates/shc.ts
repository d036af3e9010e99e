/**
 * SMART Health Cards (spec v1.3, https://spec.smarthealth.cards): signing and
 * verification as plain functions, without I/O. Issuer keys and revocation
 * lists come in through an `IssuerSource`; nothing here fetches anything.
 *
 * Chain: FHIR Bundle → JWT claims `{iss, nbf, vc: {type, credentialSubject:
 * {fhirVersion, fhirBundle}, rid?}}` → minified JSON → raw DEFLATE (RFC 1951)
 * → compact JWS, ES256, header `{zip: "DEF", alg: "ES256", kid}` with kid the
 * RFC 7638 thumbprint of the key → numeric QR `shc:/` + two digits per
 * character (ord − 45), or a `.smart-health-card` file `{verifiableCredential: [jws…]}`.
 *
 * Verification reports every problem it finds, with the error codes of the
 * framework's own validator (health-cards-dev-tools), so the conformance data
 * in test/conformance/shc can be scored against it. Severity is ours:
 * - warnings (the card is genuine and intact, only packaged against advice):
 *   JWS_TOO_LONG, QR_CHUNKING_DEPRECATED, and data-minimisation advice
 *   (resource ids, text, Coding.display, long references);
 * - everything else is an error and the card is not accepted.
 * Revocation is not an error: a revoked card is genuine; it is reported in
 * `revoked` (spec §Revocation: rid, optionally `rid.<timestamp>`, in the
 * issuer's CRL for the signing key when the key has `crlVersion`).
 */
import { createHash, createPublicKey, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { signEs256, type Es256Key } from './keys.ts';
import { deflateRawSync, inflateRawSync, inflateSync } from 'node:zlib';

export const SHC_PREFIX = 'shc:/';
export const VC_HEALTH_CARD = 'https://smarthealth.cards#health-card';
export const VC_IMMUNIZATION = 'https://smarthealth.cards#immunization';
export const VC_LABORATORY = 'https://smarthealth.cards#laboratory';
export const VC_COVID19 = 'https://smarthealth.cards#covid19';
/** The credential types of the SMART Health Cards vocabulary that Dosis understands. */
const KNOWN_VC_TYPES = new Set([VC_HEALTH_CARD, VC_IMMUNIZATION, VC_LABORATORY, VC_COVID19]);

/** A JWS longer than this does not fit one QR code of version ≤ 22 at error level L (spec §Encoding QRs). */
export const MAX_SINGLE_QR_JWS = 1195;
/** Each chunk of the deprecated chunked form holds at most this many JWS characters. */
export const MAX_CHUNK_JWS = 1191;
/** Inflated payloads larger than this are refused: a card is a few KiB, an IPS some tens. */
const MAX_INFLATED_BYTES = 512 * 1024;
/** A `nbf`/`exp` above this cannot be seconds (it would be after the year 5000): it was written in milliseconds. */
const MAX_PLAUSIBLE_SECONDS = 1e11;
/** Clock skew allowed for `nbf` between issuer and verifier. */
const DEFAULT_SKEW_SECONDS = 300;

// ---------------------------------------------------------------- issues

/** The error codes of the SMART Health Cards validator (health-cards-dev-tools `ErrorCode`) that apply here. */
export type ShcCode =
  | 'TRAILING_CHARACTERS'
  | 'JSON_PARSE_ERROR'
  | 'JWS_TOO_LONG'
  | 'JWS_HEADER_ERROR'
  | 'JWS_VERIFICATION_ERROR'
  | 'SIGNATURE_FORMAT_ERROR'
  | 'INFLATION_ERROR'
  | 'SCHEMA_ERROR'
  | 'FHIR_SCHEMA_ERROR'
  | 'CRITICAL_DATA_MISSING'
  | 'NOT_YET_VALID'
  | 'EXPIRATION_ERROR'
  | 'INVALID_ISSUER_URL'
  | 'ISSUER_KEY_DOWNLOAD_ERROR'
  | 'ISSUER_KID_MISMATCH'
  | 'INVALID_KEY'
  | 'INVALID_KEY_X5C'
  | 'ISSUER_NOT_TRUSTED'
  | 'REVOCATION_ERROR'
  | 'INVALID_NUMERIC_QR'
  | 'INVALID_NUMERIC_QR_HEADER'
  | 'MISSING_QR_CHUNK'
  | 'QR_CHUNKING_DEPRECATED'
  | 'UNBALANCED_QR_CHUNKS'
  | 'INVALID_QR';

export interface ShcIssue {
  code: ShcCode;
  severity: 'error' | 'warning';
  message: string;
}

/** Codes that never make a card unacceptable on their own. */
const WARNING_CODES: ReadonlySet<ShcCode> = new Set(['JWS_TOO_LONG', 'QR_CHUNKING_DEPRECATED']);

class Report {
  readonly issues: ShcIssue[] = [];
  error(code: ShcCode, message: string): void {
    this.issues.push({ code, severity: WARNING_CODES.has(code) ? 'warning' : 'error', message });
  }
  warn(code: ShcCode, message: string): void {
    this.issues.push({ code, severity: 'warning', message });
  }
  get errors(): ShcIssue[] {
    return this.issues.filter((i) => i.severity === 'error');
  }
}

// ---------------------------------------------------------------- keys

/** A public P-256 signing key as an issuer publishes it in `/.well-known/jwks.json`. */
export interface ShcPublicJwk {
  kty: 'EC';
  kid: string;
  use: 'sig';
  alg: 'ES256';
  crv: 'P-256';
  x: string;
  y: string;
  /** The counter of this key's revocation list (`/.well-known/crl/<kid>.json`), when the issuer publishes one. */
  crlVersion?: number;
  x5c?: string[];
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC key: over `{"crv","kty","x","y"}` in that order. */
export function jwkThumbprint(jwk: { crv: string; kty: string; x: string; y: string }): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}

/** The published JWK of a P-256 key (private or public KeyObject), kid = thumbprint. */
export function publicJwkOf(key: KeyObject): ShcPublicJwk {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' }) as { kty?: string; crv?: string; x?: string; y?: string };
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new TypeError('SMART Health Card keys are EC P-256');
  const base = { kty: 'EC' as const, crv: 'P-256' as const, x: jwk.x, y: jwk.y };
  return { kty: 'EC', kid: jwkThumbprint(base), use: 'sig', alg: 'ES256', crv: 'P-256', x: jwk.x, y: jwk.y };
}

// ---------------------------------------------------------------- signing

export interface ShcSigningKey {
  kid: string;
  privateKey: Es256Key;
}

/** Signs a JWT claims object as an SHC JWS: minified, raw-DEFLATEd, ES256 with r‖s signature (RFC 7518 §3.4). */
export function signShcJws(claims: unknown, key: ShcSigningKey): string {
  const header = Buffer.from(JSON.stringify({ zip: 'DEF', alg: 'ES256', kid: key.kid })).toString('base64url');
  const payload = deflateRawSync(Buffer.from(JSON.stringify(claims), 'utf8'), { level: 9 }).toString('base64url');
  const signingInput = `${header}.${payload}`;
  const signature = signEs256(Buffer.from(signingInput, 'ascii'), key.privateKey);
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** `shc:/` + each JWS character as two digits, ord(c) − 45 (spec §Encoding QRs). No chunking: Dosis's cards fit one QR. */
export function encodeNumericQr(jws: string): string {
  let digits = '';
  for (let i = 0; i < jws.length; i++) {
    const v = jws.charCodeAt(i) - 45;
    if (v < 0 || v > 77) throw new RangeError('not a compact JWS character');
    digits += v < 10 ? `0${v}` : String(v);
  }
  return SHC_PREFIX + digits;
}

/** The `.smart-health-card` file (served as application/smart-health-card). */
export function healthCardFile(jwss: readonly string[]): string {
  return JSON.stringify({ verifiableCredential: jwss });
}

export interface HealthCardClaims {
  iss: string;
  nbf: number;
  exp?: number;
  vc: {
    type: string[];
    credentialSubject: { fhirVersion: string; fhirBundle: Record<string, unknown> };
    rid?: string;
  };
}

/** The JWT claims of a card. `nbf` in seconds (fractions kept: they order a card against a revocation's timestamp). */
export function healthCardClaims(o: { iss: string; issuedAt: Date; types: string[]; bundle: Record<string, unknown>; rid?: string }): HealthCardClaims {
  return {
    iss: o.iss,
    nbf: o.issuedAt.getTime() / 1000,
    vc: {
      type: [VC_HEALTH_CARD, ...o.types.filter((t) => t !== VC_HEALTH_CARD)],
      credentialSubject: { fhirVersion: '4.0.1', fhirBundle: o.bundle },
      ...(o.rid ? { rid: o.rid } : {}),
    },
  };
}

// ---------------------------------------------------------------- revocation ids

/** A revocation id: base64url alphabet, at most 24 characters (spec §Revocation). */
export const RID_PATTERN = /^[A-Za-z0-9_-]{1,24}$/;

/** One entry of a CRL's `rids`: `rid` or `rid.<seconds>`. */
export function parseRidEntry(entry: unknown): { rid: string; before?: number } | undefined {
  if (typeof entry !== 'string') return undefined;
  const parts = entry.split('.');
  if (parts.length > 3) return undefined;
  const rid = parts[0] ?? '';
  if (!RID_PATTERN.test(rid)) return undefined;
  if (parts.length === 1) return { rid };
  const ts = parts.slice(1).join('.');
  if (!/^\d+(\.\d+)?$/.test(ts)) return undefined;
  return { rid, before: Number(ts) };
}

/** A CRL as the spec defines it: `{kid, method: "rid", ctr, rids}`. */
export interface ShcCrl {
  kid: string;
  method: 'rid';
  ctr: number;
  rids: string[];
}

// ---------------------------------------------------------------- where keys come from

/**
 * The issuer data a verifier needs, as published under `<iss>/.well-known/`.
 * Values are the parsed JSON documents (unknown: they are checked here), or
 * undefined when they cannot be had. The server passes its own keys; the
 * conformance test maps the corpus's issuer URLs to its files.
 */
export interface IssuerSource {
  jwks(iss: string): unknown;
  crl(iss: string, kid: string): unknown;
}

export interface ShcVerifyOptions {
  source: IssuerSource;
  now: Date;
  /** A trusted-issuer directory: when given, an issuer not in it is an error. */
  trustedIssuers?: readonly string[];
  /** Structural FHIR R4 validation of each bundle entry (src/fhir/validate.ts); messages are errors. */
  validateFhir?: (resource: Record<string, unknown>) => string[];
  /**
   * Keys the verifier holds apart from the issuer's published set (a JWK set
   * given by hand). A card signed with one of them but naming an issuer that
   * does not publish it is rejected as ISSUER_KID_MISMATCH.
   */
  localKeys?: unknown;
  /** Issuers allowed to use plain http (a development server on localhost). */
  allowHttpIssuer?: (iss: string) => boolean;
  skewSeconds?: number;
}

export interface ShcVerification {
  /** No error: genuine, intact and current (revocation aside). */
  ok: boolean;
  /** The signature was checked and holds. */
  signatureVerified: boolean;
  /** On the issuer's CRL. */
  revoked: boolean;
  issues: ShcIssue[];
  /** Only when the signature holds: unauthenticated content is never handed out. */
  claims?: HealthCardClaims;
  iss?: string;
  kid?: string;
}

function result(report: Report, extra: Partial<ShcVerification> = {}): ShcVerification {
  return {
    ok: report.errors.length === 0,
    signatureVerified: false,
    revoked: false,
    issues: report.issues,
    ...extra,
  };
}

// ---------------------------------------------------------------- numeric QR

/**
 * Decodes the text of one or more scanned QR codes into a JWS. One code is
 * the normal form; several are the deprecated chunked form `shc:/C/N/…`
 * (accepted with a warning, in any order, when complete and well balanced).
 */
export function decodeNumericQr(texts: readonly string[], report = new Report()): { jws?: string; report: Report } {
  if (texts.length === 0) {
    report.error('INVALID_NUMERIC_QR', 'no QR text');
    return { report };
  }
  const chunks: { index: number; total: number; digits: string }[] = [];
  for (const raw of texts) {
    let text = raw;
    if (text.trim() !== text) {
      report.error('TRAILING_CHARACTERS', 'QR text has leading or trailing characters');
      text = text.trim();
    }
    if (!text.startsWith(SHC_PREFIX)) {
      report.error('INVALID_NUMERIC_QR_HEADER', `QR text must start with ${SHC_PREFIX}`);
      return { report };
    }
    const m = /^shc:\/(?:(\d+)\/(\d+)\/)?(.*)$/s.exec(text);
    const digits = m?.[3] ?? '';
    if (m?.[1] !== undefined) {
      const index = Number(m[1]);
      const total = Number(m[2]);
      if (total < 2) {
        report.error('INVALID_NUMERIC_QR_HEADER', 'a single QR code carries no chunk header');
      } else if (index < 1 || index > total) {
        report.error('INVALID_NUMERIC_QR_HEADER', `chunk index ${index} is outside 1..${total}`);
        return { report };
      }
      chunks.push({ index, total, digits });
    } else {
      chunks.push({ index: 1, total: 1, digits });
    }
  }

  const total = chunks[0]?.total ?? 1;
  if (chunks.length > 1 || total > 1) {
    report.warn('QR_CHUNKING_DEPRECATED', 'chunked QR codes are deprecated: one QR per card');
    if (chunks.some((c) => c.total !== total)) {
      report.error('INVALID_NUMERIC_QR_HEADER', 'the chunks disagree on their number');
      return { report };
    }
    const seen = new Set<number>();
    for (const c of chunks) {
      if (seen.has(c.index)) {
        report.error('INVALID_NUMERIC_QR_HEADER', `chunk ${c.index} appears twice`);
        return { report };
      }
      seen.add(c.index);
    }
    if (seen.size !== total) {
      const missing = Array.from({ length: total }, (_, i) => i + 1).filter((i) => !seen.has(i));
      report.error('MISSING_QR_CHUNK', `missing chunk ${missing.join(', ')} of ${total}`);
      return { report };
    }
    chunks.sort((a, b) => a.index - b.index);
  }

  const parts: string[] = [];
  for (const c of chunks) {
    const jwsPart = numericToText(c.digits, report);
    if (jwsPart === undefined) return { report };
    if (chunks.length > 1 && jwsPart.length > MAX_CHUNK_JWS) {
      report.error('INVALID_NUMERIC_QR', `chunk ${c.index} holds ${jwsPart.length} JWS characters; at most ${MAX_CHUNK_JWS}`);
    }
    parts.push(jwsPart);
  }
  const jws = parts.join('');
  if (chunks.length > 1) {
    const needed = Math.ceil(jws.length / MAX_CHUNK_JWS);
    if (jws.length <= MAX_SINGLE_QR_JWS || chunks.length > needed) {
      report.error('INVALID_QR', `${chunks.length} chunks for a JWS of ${jws.length} characters, which needs ${jws.length <= MAX_SINGLE_QR_JWS ? 1 : needed}`);
    }
    const lengths = parts.map((p) => p.length);
    if (Math.max(...lengths) - Math.min(...lengths) > 1) report.warn('UNBALANCED_QR_CHUNKS', `chunk sizes ${lengths.join('/')} are not balanced`);
  }
  return { jws, report };
}

function numericToText(digits: string, report: Report): string | undefined {
  if (!/^\d*$/.test(digits)) {
    report.error('INVALID_NUMERIC_QR', 'the numeric part holds characters other than digits');
    return undefined;
  }
  if (digits.length % 2 !== 0) {
    report.error('INVALID_NUMERIC_QR', 'the numeric part has an odd number of digits');
    return undefined;
  }
  let out = '';
  for (let i = 0; i < digits.length; i += 2) {
    const v = Number(digits.slice(i, i + 2));
    if (v > 77) {
      report.error('INVALID_NUMERIC_QR', `digit pair ${digits.slice(i, i + 2)} at ${i} is above 77 (no JWS character)`);
      return undefined;
    }
    out += String.fromCharCode(v + 45);
  }
  return out;
}

// ---------------------------------------------------------------- JWS

interface ParsedJws {
  header?: { alg?: unknown; zip?: unknown; kid?: unknown };
  signingInput: string;
  signature: Buffer;
  payloadText?: string;
}

function parseJws(jwsIn: string, report: Report): ParsedJws | undefined {
  let jws = jwsIn;
  if (jws.trim() !== jws) {
    report.error('TRAILING_CHARACTERS', 'JWS has leading or trailing characters');
    jws = jws.trim();
  }
  if (jws.length > MAX_SINGLE_QR_JWS) report.warn('JWS_TOO_LONG', `JWS is ${jws.length} characters: more than one QR code (${MAX_SINGLE_QR_JWS})`);
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(jws);
  if (!m) {
    report.error('JSON_PARSE_ERROR', "not a compact JWS 'base64url.base64url.base64url'");
    return undefined;
  }
  const [, h = '', p = '', s = ''] = m;
  let header: ParsedJws['header'];
  try {
    const parsed: unknown = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    header = parsed;
  } catch {
    report.error('JWS_HEADER_ERROR', 'the JWS header is not a JSON object');
  }
  if (header) {
    if (header.alg === undefined) report.error('JWS_HEADER_ERROR', "JWS header has no 'alg'");
    else if (header.alg !== 'ES256') report.error('JWS_HEADER_ERROR', `JWS header 'alg' is ${JSON.stringify(header.alg)}, must be "ES256"`);
    if (header.zip === undefined) report.error('JWS_HEADER_ERROR', "JWS header has no 'zip'");
    else if (header.zip !== 'DEF') report.error('JWS_HEADER_ERROR', `JWS header 'zip' is ${JSON.stringify(header.zip)}, must be "DEF"`);
    if (typeof header.kid !== 'string' || header.kid === '') report.error('JWS_HEADER_ERROR', "JWS header has no 'kid'");
  }

  const signature = Buffer.from(s, 'base64url');
  if (signature.length > 64 && signature[0] === 0x30 && signature[2] === 0x02) {
    report.error('SIGNATURE_FORMAT_ERROR', 'the signature is DER-encoded; ES256 in JWS is the 64-byte r‖s form (RFC 7515 A.3)');
  } else if (signature.length !== 64) {
    report.error('SIGNATURE_FORMAT_ERROR', `the signature is ${signature.length} bytes; ES256 signatures are 64`);
  }

  const payloadBytes = Buffer.from(p, 'base64url');
  let payloadText: string | undefined;
  try {
    payloadText = inflateRawSync(payloadBytes, { maxOutputLength: MAX_INFLATED_BYTES }).toString('utf8');
  } catch {
    try {
      payloadText = inflateSync(payloadBytes, { maxOutputLength: MAX_INFLATED_BYTES }).toString('utf8');
      report.error('INFLATION_ERROR', 'the payload is zlib-wrapped; SHC payloads are raw DEFLATE (RFC 1951)');
    } catch {
      report.error('INFLATION_ERROR', 'the payload is not raw-DEFLATE compressed');
      payloadText = payloadBytes.toString('utf8'); // keep checking what can be checked
    }
  }
  return { ...(header ? { header } : {}), signingInput: `${h}.${p}`, signature, payloadText };
}

// ---------------------------------------------------------------- payload

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** CVX codes of COVID-19 vaccines (SMART Health Cards value set immunization-covid-cvx; see domain/vaccine-codes.ts). */
const COVID_CVX = new Set([
  '207', '208', '210', '211', '212', '213', '217', '218', '219', '221', '225', '226', '227', '228', '229', '230', '300', '301', '302',
  ...Array.from({ length: 21 }, (_, i) => String(500 + i)),
]);
/** LOINC codes of SARS-CoV-2 tests (the validator's list, from the VSAC value set 2.16.840.1.113762.1.4.1114.9). */
const COVID_LOINC = new Set([
  '50548-7', '68993-5', '82159-5', '94306-8', '94307-6', '94308-4', '94309-2', '94500-6', '94502-2', '94503-0', '94504-8', '94507-1',
  '94508-9', '94531-1', '94533-7', '94534-5', '94547-7', '94558-4', '94559-2', '94562-6', '94563-4', '94564-2', '94565-9', '94640-0',
  '94661-6', '94756-4', '94757-2', '94758-0', '94759-8', '94760-6', '94761-4', '94762-2', '94764-8', '94845-5', '95209-3', '95406-5',
  '95409-9', '95416-4', '95423-0', '95424-8', '95425-5', '95542-7', '95608-6', '95609-4',
]);

function codings(cc: unknown): { system?: unknown; code?: unknown }[] {
  return isObject(cc) && Array.isArray(cc.coding) ? (cc.coding.filter(isObject)) : [];
}

/** Checks the JWT claims (spec §Health Cards are encoded as…) and the times; returns the claims when they have the card's shape. */
function checkClaims(payloadTextIn: string, report: Report, opts: Pick<ShcVerifyOptions, 'now' | 'skewSeconds' | 'validateFhir'>): HealthCardClaims | undefined {
  let payloadText = payloadTextIn;
  if (payloadText.trim() !== payloadText) {
    report.error('TRAILING_CHARACTERS', 'the payload has leading or trailing characters (whitespace or a byte-order mark)');
    payloadText = payloadText.trim();
  }
  let claims: unknown;
  try {
    claims = JSON.parse(payloadText);
  } catch {
    report.error('JSON_PARSE_ERROR', 'the payload is not JSON');
    return undefined;
  }
  if (!isObject(claims)) {
    report.error('JSON_PARSE_ERROR', 'the payload is not a JSON object');
    return undefined;
  }
  if (typeof claims.iss !== 'string') report.error('SCHEMA_ERROR', "the payload has no 'iss' (issuer URL)");
  const now = opts.now.getTime() / 1000;
  const skew = opts.skewSeconds ?? DEFAULT_SKEW_SECONDS;
  const nbf = claims.nbf;
  if (typeof nbf !== 'number' || !Number.isFinite(nbf)) report.error('SCHEMA_ERROR', "the payload has no numeric 'nbf'");
  else if (nbf > now + skew) {
    report.error(
      'NOT_YET_VALID',
      nbf > MAX_PLAUSIBLE_SECONDS ? `nbf ${nbf} looks like milliseconds; it must be seconds since 1970` : `not valid before ${new Date(nbf * 1000).toISOString()}`,
    );
  }
  const exp = claims.exp;
  if (exp !== undefined) {
    if (typeof exp !== 'number' || !Number.isFinite(exp)) report.error('EXPIRATION_ERROR', "'exp' is not a number");
    else if (exp > MAX_PLAUSIBLE_SECONDS) report.error('EXPIRATION_ERROR', `exp ${exp} looks like milliseconds; it must be seconds since 1970`);
    else {
      if (typeof nbf === 'number' && exp < nbf) report.error('EXPIRATION_ERROR', 'exp is before nbf');
      if (exp < now) report.error('EXPIRATION_ERROR', `expired at ${new Date(exp * 1000).toISOString()}`);
    }
  }

  const vc = claims.vc;
  if (!isObject(vc)) {
    report.error('SCHEMA_ERROR', "the payload has no 'vc' object");
    return undefined;
  }
  const types = Array.isArray(vc.type) ? vc.type : [];
  if (!Array.isArray(vc.type) || !types.every((t) => typeof t === 'string')) report.error('SCHEMA_ERROR', 'vc.type must be an array of strings');
  if (!types.includes(VC_HEALTH_CARD)) report.error('SCHEMA_ERROR', `vc.type must contain ${VC_HEALTH_CARD}`);
  for (const t of types) {
    if (typeof t === 'string' && !KNOWN_VC_TYPES.has(t)) report.error('SCHEMA_ERROR', `vc.type ${t} is not a SMART Health Cards credential type`);
  }
  if (vc.rid !== undefined && (typeof vc.rid !== 'string' || !RID_PATTERN.test(vc.rid))) {
    report.error('SCHEMA_ERROR', 'vc.rid must be at most 24 characters of the base64url alphabet');
  }
  const subject = vc.credentialSubject;
  if (!isObject(subject) || !isObject(subject.fhirBundle)) {
    report.error('CRITICAL_DATA_MISSING', 'vc.credentialSubject.fhirBundle is missing');
    return undefined;
  }
  if (typeof subject.fhirVersion !== 'string' || !/^4\.0\.\d+$/.test(subject.fhirVersion)) {
    report.error('SCHEMA_ERROR', 'vc.credentialSubject.fhirVersion must be an R4 version (4.0.x)');
  }
  const bundle = subject.fhirBundle;
  checkBundle(bundle, report, opts.validateFhir);

  // The sub-types are optional, but when a card names any, they must describe what it holds.
  const subTypes = types.filter((t) => t !== VC_HEALTH_CARD);
  if (subTypes.length > 0) {
    const entries = Array.isArray(bundle.entry) ? bundle.entry.filter(isObject).map((e) => e.resource).filter(isObject) : [];
    const immunizations = entries.filter((r) => r.resourceType === 'Immunization');
    const covidImmunization = immunizations.some((r) => codings(r.vaccineCode).some((c) => c.system === 'http://hl7.org/fhir/sid/cvx' && COVID_CVX.has(String(c.code))));
    const covidLab = entries.some((r) => r.resourceType === 'Observation' && codings(r.code).some((c) => COVID_LOINC.has(String(c.code))));
    if (immunizations.length > 0 && !types.includes(VC_IMMUNIZATION)) report.error('SCHEMA_ERROR', `vc.type lacks ${VC_IMMUNIZATION} for a card of immunizations`);
    if (covidLab && !types.includes(VC_LABORATORY)) report.error('SCHEMA_ERROR', `vc.type lacks ${VC_LABORATORY} for a card of laboratory results`);
    if ((covidImmunization || covidLab) && !types.includes(VC_COVID19)) report.error('SCHEMA_ERROR', `vc.type lacks ${VC_COVID19} for a COVID-19 card`);
  }
  return claims as unknown as HealthCardClaims;
}

// ---------------------------------------------------------------- FHIR bundle

/**
 * The card's FHIR content: a collection Bundle of resources, every element
 * non-empty, immunizations completed, and each resource valid FHIR R4
 * (`validateFhir`). The data-minimisation rules for cards shown as QR codes
 * (no ids, text, displays; short `resource:N` references) are advice:
 * warnings. `meta` is the exception the spec states as a rule: when a
 * resource has a meta object, it holds `security` and nothing else.
 */
export function checkBundle(bundle: unknown, report: Report, validateFhir?: (r: Record<string, unknown>) => string[]): void {
  if (!isObject(bundle)) {
    report.error('FHIR_SCHEMA_ERROR', 'the FHIR bundle is not an object');
    return;
  }
  if (bundle.resourceType !== 'Bundle') report.error('FHIR_SCHEMA_ERROR', "resourceType must be 'Bundle'");
  if (bundle.type !== 'collection') report.error('FHIR_SCHEMA_ERROR', "Bundle.type must be 'collection'");
  if (!Array.isArray(bundle.entry) || bundle.entry.length === 0) {
    report.error('CRITICAL_DATA_MISSING', 'Bundle.entry must list the resources');
    return;
  }
  bundle.entry.forEach((entryIn: unknown, i: number) => {
    const at = `entry[${i}]`;
    if (!isObject(entryIn) || !isObject(entryIn.resource) || typeof entryIn.resource.resourceType !== 'string') {
      report.error('FHIR_SCHEMA_ERROR', `${at}.resource with a resourceType is required`);
      return;
    }
    const resource = entryIn.resource;
    if (typeof entryIn.fullUrl !== 'string' || !/^resource:\d+$/.test(entryIn.fullUrl)) report.warn('FHIR_SCHEMA_ERROR', `${at}.fullUrl should be a short resource:N URI`);
    const checked: Record<string, unknown> = { ...resource };
    if (resource.id !== undefined) report.warn('FHIR_SCHEMA_ERROR', `${at}.resource.id should be left out of a card`);
    if (resource.text !== undefined) report.warn('FHIR_SCHEMA_ERROR', `${at}.resource.text should be left out of a card`);
    if (resource.meta !== undefined) {
      if (isObject(resource.meta)) {
        const keys = Object.keys(resource.meta);
        if (!keys.includes('security') || keys.length !== 1) report.error('FHIR_SCHEMA_ERROR', `${at}.resource.meta may hold only 'security'`);
      } else {
        // Not a Meta at all: nothing a verifier reads. Advice, and left out of the structural check.
        report.warn('FHIR_SCHEMA_ERROR', `${at}.resource.meta should be left out of a card`);
        delete checked.meta;
      }
    }
    walk(resource, `${at}.resource`, report);
    if (resource.resourceType === 'Immunization' && resource.status !== 'completed') {
      report.error('FHIR_SCHEMA_ERROR', `${at}.resource.status is ${JSON.stringify(resource.status)}; a card's immunizations are 'completed'`);
    }
    if (validateFhir) for (const m of validateFhir(checked)) report.error('FHIR_SCHEMA_ERROR', `${at}.resource: ${m}`);
  });
}

/** Empty elements are invalid FHIR (R4 §2.6.2 JSON); minimisation advice for CodeableConcept.text, Coding.display, long references. */
function walk(node: unknown, path: string, report: Report): void {
  if (Array.isArray(node)) {
    if (node.length === 0) report.error('FHIR_SCHEMA_ERROR', `${path} is an empty array`);
    node.forEach((v, i) => walk(v, `${path}[${i}]`, report));
    return;
  }
  if (typeof node === 'string') {
    if (node === '') report.error('FHIR_SCHEMA_ERROR', `${path} is an empty string`);
    return;
  }
  if (!isObject(node)) return;
  const keys = Object.keys(node);
  if (keys.length === 0) {
    report.error('FHIR_SCHEMA_ERROR', `${path} is an empty object`);
    return;
  }
  if (Array.isArray(node.coding) && node.text !== undefined) report.warn('FHIR_SCHEMA_ERROR', `${path}.text (CodeableConcept) should be left out of a card`);
  if (typeof node.system === 'string' && node.code !== undefined && node.display !== undefined) report.warn('FHIR_SCHEMA_ERROR', `${path}.display (Coding) should be left out of a card`);
  if (typeof node.reference === 'string' && !/^resource:\d+$/.test(node.reference)) report.warn('FHIR_SCHEMA_ERROR', `${path}.reference should be a short resource:N URI`);
  for (const k of keys) if (k !== 'div') walk(node[k], `${path}.${k}`, report);
}

// ---------------------------------------------------------------- issuer keys

interface IssuerKey {
  jwk: ShcPublicJwk;
  key: KeyObject;
}

/** Checks an issuer's published JWK set (spec §Determining keys); returns its usable signing keys by kid. */
function loadIssuerKeys(iss: string, raw: unknown, report: Report): Map<string, IssuerKey> | undefined {
  if (raw === undefined) {
    report.error('ISSUER_KEY_DOWNLOAD_ERROR', `no JWK set at ${iss}/.well-known/jwks.json`);
    return undefined;
  }
  if (!isObject(raw) || !Array.isArray(raw.keys)) {
    report.error('ISSUER_KEY_DOWNLOAD_ERROR', `${iss}/.well-known/jwks.json is not a JWK set`);
    return undefined;
  }
  const keys = new Map<string, IssuerKey>();
  for (const k of raw.keys) {
    if (!isObject(k)) continue;
    const kid = typeof k.kid === 'string' ? k.kid : '';
    if (k.kty !== 'EC' || k.crv !== 'P-256' || typeof k.x !== 'string' || typeof k.y !== 'string') {
      report.error('INVALID_KEY', `key ${kid}: SMART Health Card keys are EC P-256`);
      continue;
    }
    if (k.alg !== 'ES256' || k.use !== 'sig') report.error('INVALID_KEY', `key ${kid}: must have alg ES256 and use sig`);
    if (k.d !== undefined) report.error('INVALID_KEY', `key ${kid}: a published key must not hold the private part 'd'`);
    const thumb = jwkThumbprint({ crv: k.crv, kty: k.kty, x: k.x, y: k.y });
    if (thumb !== kid) {
      report.error('ISSUER_KID_MISMATCH', `key ${kid}: kid is not the key's thumbprint (${thumb})`);
      continue;
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: k.x, y: k.y }, format: 'jwk' });
    } catch {
      report.error('INVALID_KEY', `key ${kid}: not a point on P-256`);
      continue;
    }
    if (Array.isArray(k.x5c) && k.x5c.length > 0) checkX5c(iss, kid, k.x5c, key, report);
    keys.set(kid, { jwk: k as unknown as ShcPublicJwk, key });
  }
  return keys;
}

/** x5c: the leaf certificate holds this key and names the issuer as a SAN URI (spec §Certificates). Chains are not built: Dosis has no SHC trust anchors. */
function checkX5c(iss: string, kid: string, x5c: unknown[], key: KeyObject, report: Report): void {
  try {
    const leaf = new X509Certificate(Buffer.from(String(x5c[0]), 'base64'));
    if (!leaf.publicKey.equals(key)) report.error('INVALID_KEY_X5C', `key ${kid}: the x5c certificate holds another key`);
    const sans = (leaf.subjectAltName ?? '').split(/,\s*/).filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
    if (!sans.includes(iss)) report.error('INVALID_KEY_X5C', `key ${kid}: the x5c certificate does not name ${iss}`);
  } catch {
    report.error('INVALID_KEY_X5C', `key ${kid}: x5c is not an X.509 certificate`);
  }
}

/** Checks a CRL document against the key's crlVersion; returns its entries. */
function loadCrl(kid: string, crlVersion: number, raw: unknown, report: Report): { rid: string; before?: number }[] | undefined {
  if (!isObject(raw)) {
    report.error('REVOCATION_ERROR', `no readable revocation list for key ${kid}`);
    return undefined;
  }
  let ok = true;
  const fail = (message: string): void => {
    ok = false;
    report.error('REVOCATION_ERROR', message);
  };
  if (raw.kid !== kid) fail(`the CRL is for key ${String(raw.kid)}, not ${kid}`);
  if (raw.method !== 'rid') fail(`unknown CRL method ${JSON.stringify(raw.method)}`);
  if (raw.ctr !== crlVersion) fail(`CRL ctr ${String(raw.ctr)} is not the key's crlVersion ${crlVersion}`);
  const entries: { rid: string; before?: number }[] = [];
  const rids: unknown[] = Array.isArray(raw.rids) ? raw.rids : [];
  if (!Array.isArray(raw.rids)) fail('the CRL has no rids array');
  const seen = new Set<string>();
  for (const r of rids) {
    const e = parseRidEntry(r);
    if (!e) {
      fail(`invalid CRL entry ${JSON.stringify(r)}`);
      continue;
    }
    if (seen.has(e.rid)) fail(`rid ${e.rid} is listed twice`);
    seen.add(e.rid);
    entries.push(e);
  }
  return ok ? entries : undefined;
}

// ---------------------------------------------------------------- verify

/** Verifies one compact JWS as a SMART Health Card. */
export function verifyShcJws(jws: string, opts: ShcVerifyOptions, report = new Report()): ShcVerification {
  const parsed = parseJws(jws, report);
  if (!parsed) return result(report);
  const claims = parsed.payloadText === undefined ? undefined : checkClaims(parsed.payloadText, report, opts);
  const kid = typeof parsed.header?.kid === 'string' ? parsed.header.kid : undefined;
  const iss = claims && typeof claims.iss === 'string' ? claims.iss : undefined;
  if (!iss) {
    report.error('JWS_VERIFICATION_ERROR', 'no issuer: the signature cannot be checked');
    return result(report, kid ? { kid } : {});
  }
  const allowHttp = opts.allowHttpIssuer?.(iss) ?? false;
  if (!iss.startsWith('https://') && !(allowHttp && iss.startsWith('http://'))) report.error('INVALID_ISSUER_URL', `issuer ${iss} must use https`);
  if (iss.endsWith('/')) report.error('INVALID_ISSUER_URL', `issuer ${iss} must not end with /`);
  if (opts.trustedIssuers && !opts.trustedIssuers.includes(iss)) report.error('ISSUER_NOT_TRUSTED', `issuer ${iss} is not in the trusted directory`);

  const keys = loadIssuerKeys(iss, opts.source.jwks(iss), report);
  const key = kid ? keys?.get(kid) : undefined;
  let signatureVerified = false;
  if (!keys) {
    report.error('JWS_VERIFICATION_ERROR', 'the issuer keys are not available');
  } else if (!key) {
    const local = opts.localKeys;
    const held = kid && isObject(local) && Array.isArray(local.keys) && local.keys.some((k) => isObject(k) && k.kid === kid);
    if (held) report.error('ISSUER_KID_MISMATCH', `key ${kid} is not among the keys that ${iss} publishes`);
    else report.error('JWS_VERIFICATION_ERROR', kid ? `the issuer has no key ${kid}` : 'the JWS names no key');
  } else if (parsed.header?.alg !== 'ES256') {
    report.error('JWS_VERIFICATION_ERROR', 'only ES256 signatures are verified');
  } else if (parsed.signature.length === 64 && verify('sha256', Buffer.from(parsed.signingInput, 'ascii'), { key: key.key, dsaEncoding: 'ieee-p1363' }, parsed.signature)) {
    signatureVerified = true;
  } else {
    report.error('JWS_VERIFICATION_ERROR', 'the signature does not verify with the issuer key');
  }

  let revoked = false;
  if (key && typeof key.jwk.crlVersion === 'number') {
    const entries = loadCrl(key.jwk.kid, key.jwk.crlVersion, opts.source.crl(iss, key.jwk.kid), report);
    const rid = claims?.vc.rid;
    if (entries && typeof rid === 'string' && claims) {
      revoked = entries.some((e) => e.rid === rid && (e.before === undefined || claims.nbf < e.before));
    }
  }
  return {
    ok: report.errors.length === 0,
    signatureVerified,
    revoked,
    issues: report.issues,
    ...(signatureVerified && claims ? { claims } : {}),
    iss,
    ...(kid ? { kid } : {}),
  };
}

/** Verifies the text of one or more scanned QR codes (`shc:/…`). */
export function verifyNumericQr(texts: readonly string[], opts: ShcVerifyOptions): ShcVerification {
  const { jws, report } = decodeNumericQr(texts);
  if (jws === undefined) return result(report);
  return verifyShcJws(jws, opts, report);
}

/** Several JWSs (a file, a FHIR $health-cards-issue answer): one verification that holds only if each does. */
function combine(results: ShcVerification[], report: Report): ShcVerification[] {
  return results.length > 0 ? results : [result(report)];
}

/** Verifies a `.smart-health-card` file. */
export function verifyHealthCardFile(text: string, opts: ShcVerifyOptions): ShcVerification[] {
  const report = new Report();
  const parsed = parseJsonDocument(text, report);
  if (!isObject(parsed) || !Array.isArray(parsed.verifiableCredential)) {
    if (parsed !== undefined) report.error('SCHEMA_ERROR', 'a health card file is {"verifiableCredential": [JWS…]}');
    return [result(report)];
  }
  return combine(
    parsed.verifiableCredential.map((jws, i) => {
      const r = i === 0 ? report : new Report();
      if (typeof jws !== 'string') {
        r.error('SCHEMA_ERROR', `verifiableCredential[${i}] is not a string`);
        return result(r);
      }
      return verifyShcJws(jws, opts, r);
    }),
    report,
  );
}

/** Verifies the answer of the FHIR `$health-cards-issue` operation: a Parameters resource of verifiableCredential strings. */
export function verifyFhirHealthCards(text: string, opts: ShcVerifyOptions): ShcVerification[] {
  const report = new Report();
  const parsed = parseJsonDocument(text, report);
  if (!isObject(parsed) || parsed.resourceType !== 'Parameters' || !Array.isArray(parsed.parameter)) {
    if (parsed !== undefined) report.error('SCHEMA_ERROR', 'expected a FHIR Parameters resource');
    return [result(report)];
  }
  const vcs = parsed.parameter.filter((p) => isObject(p) && p.name === 'verifiableCredential');
  if (vcs.length === 0) report.error('CRITICAL_DATA_MISSING', 'no verifiableCredential parameter');
  return combine(
    vcs.map((p, i) => {
      const r = i === 0 ? report : new Report();
      const jws = isObject(p) ? p.valueString : undefined;
      if (typeof jws !== 'string') {
        r.error('SCHEMA_ERROR', `verifiableCredential parameter ${i} has no valueString`);
        return result(r);
      }
      return verifyShcJws(jws, opts, r);
    }),
    report,
  );
}

/** Checks an unsigned JWS payload (claims JSON) on its own: shape, times, FHIR content. */
export function checkShcPayload(text: string, opts: Pick<ShcVerifyOptions, 'now' | 'skewSeconds' | 'validateFhir'>): ShcVerification {
  const report = new Report();
  checkClaims(text, report, opts);
  return result(report);
}

/** Checks a card's FHIR bundle on its own. */
export function checkShcBundle(text: string, opts: Pick<ShcVerifyOptions, 'validateFhir'>): ShcVerification {
  const report = new Report();
  const parsed = parseJsonDocument(text, report);
  if (parsed !== undefined) checkBundle(parsed, report, opts.validateFhir);
  return result(report);
}

function parseJsonDocument(textIn: string, report: Report): unknown {
  let text = textIn;
  if (text.trim() !== text) {
    report.error('TRAILING_CHARACTERS', 'the document has leading or trailing characters');
    text = text.trim();
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    report.error('JSON_PARSE_ERROR', 'not JSON');
    return undefined;
  }
}
