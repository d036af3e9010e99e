/**
 * HC1, the EU DCC QR payload, decoded step by step and judged: the parts of
 * decoding and verification that are the same on the server and in the
 * verifier page. Browser-safe (no Node built-ins, no Buffer).
 *
 *   "HC1:" → Base45 → zlib → COSE_Sign1 → CWT claims → hcert JSON
 *
 * Two steps depend on the platform and are done by the caller: inflating
 * (node:zlib in hc1.ts, DecompressionStream in hc1-web.ts) and checking the
 * signature (node:crypto, Web Crypto). Everything decided before and after
 * them — the steps, the reason codes and their messages, the time, schema,
 * key-usage and revocation checks — lives here once.
 *
 * Verification failures are results with a reason code, never exceptions:
 * a damaged or forged QR code is an expected input of a verifier.
 */

import type { Text } from '../domain/errors.ts';
import { base45Decode } from './base45.ts';
import { cborToJson, decodeCbor, type Json } from './cbor.ts';
import { coseKid, decodeCoseSign1, type CoseSign1 } from './cose-core.ts';
import { EU_VACCINE_PRODUCTS } from '../domain/vaccines.ts';
import { certificateType, type HcertPayload } from './dcc.ts';
import { validateHcert, type SchemaIssue } from './dcc-schema.ts';
import { vaccineNameOf } from './display.ts';
import { bytesToBase64, keyUsageAllows, type SignerValidity, type TrustedKey } from './trust-core.ts';

/** The context identifier of this encoding (EU DCC spec: "HC1:"; HC2 would be an incompatible successor). */
export const HC1_PREFIX = 'HC1:';

/** CWT claim keys (RFC 8392) and the hcert claim (EU DCC). */
export const CLAIM_ISS = 1;
export const CLAIM_EXP = 4;
export const CLAIM_IAT = 6;
export const CLAIM_HCERT = -260;
export const HCERT_EU_DCC_V1 = 1;

/** A QR payload larger than this after inflating is not a DCC (real ones are < 2 KiB): refuse zip bombs. */
export const MAX_INFLATED_BYTES = 64 * 1024;

/** Clock skew allowed between issuer and verifier for the issue time. */
const DEFAULT_SKEW_SECONDS = 300;

// ---------------------------------------------------------------- reasons

/** Why a certificate is valid or not: one code per failure, in the order they are checked. */
export type ReasonCode =
  | 'ok'
  | 'bad_prefix'
  | 'bad_base45'
  | 'bad_compression'
  | 'bad_cose'
  | 'bad_cbor'
  | 'unknown_kid'
  | 'bad_signature'
  | 'key_not_valid_at_issue'
  | 'bad_schema'
  | 'wrong_key_usage'
  | 'revoked'
  | 'not_yet_valid'
  | 'expired';

/** What each reason tells a person checking a certificate, in English and Indonesian. */
export const REASON_MESSAGES: Readonly<Record<ReasonCode, Text>> = {
  ok: { en: 'Valid certificate', id: 'Sertifikat valid' },
  bad_prefix: {
    en: 'This is not an EU Digital COVID Certificate (the code does not start with HC1:)',
    id: 'Ini bukan Sertifikat COVID Digital UE (kode tidak diawali HC1:)',
  },
  bad_base45: {
    en: 'The QR code content is damaged (invalid Base45 text)',
    id: 'Isi kode QR rusak (teks Base45 tidak valid)',
  },
  bad_compression: {
    en: 'The QR code content is damaged (it cannot be decompressed)',
    id: 'Isi kode QR rusak (tidak dapat didekompresi)',
  },
  bad_cose: {
    en: 'The signed envelope of the certificate is malformed',
    id: 'Amplop bertanda tangan pada sertifikat tidak valid',
  },
  bad_cbor: {
    en: 'The data inside the certificate is malformed',
    id: 'Data di dalam sertifikat tidak valid',
  },
  unknown_kid: {
    en: 'The certificate was signed with a key that is not in the trust list',
    id: 'Sertifikat ditandatangani dengan kunci yang tidak ada dalam daftar kunci tepercaya',
  },
  bad_signature: {
    en: 'The signature is invalid: the certificate was altered or not issued with this key',
    id: 'Tanda tangan tidak valid: sertifikat telah diubah atau tidak diterbitkan dengan kunci ini',
  },
  key_not_valid_at_issue: {
    en: "The signing key's certificate does not cover this certificate's issue time and validity period",
    id: 'Sertifikat kunci penanda tangan tidak mencakup waktu terbit dan masa berlaku sertifikat ini',
  },
  bad_schema: {
    en: 'The certificate content does not follow the EU DCC schema',
    id: 'Isi sertifikat tidak sesuai dengan skema EU DCC',
  },
  wrong_key_usage: {
    en: 'The signing key is not allowed to sign this type of certificate',
    id: 'Kunci penanda tangan tidak diizinkan menandatangani jenis sertifikat ini',
  },
  revoked: { en: 'The certificate has been revoked', id: 'Sertifikat telah dicabut' },
  not_yet_valid: {
    en: 'The certificate is not valid yet: its issue time is in the future',
    id: 'Sertifikat belum berlaku: waktu terbitnya ada di masa depan',
  },
  expired: { en: 'The certificate has expired', id: 'Sertifikat sudah kedaluwarsa' },
};

/**
 * Something a person checking a certificate should know that does not make it invalid.
 * `vaccine_not_in_eu_list`: the vaccination's `mp` is not in the EU value set (IndoVac and the other
 * products only Indonesia authorised, or a foreign product): EU verifiers may show it as unknown.
 */
export interface VerificationNotice {
  code: 'vaccine_not_in_eu_list';
  message: Text;
}

/** The notices of a schema-valid payload: none for a vaccine of the EU list. */
export function noticesOf(payload: HcertPayload): VerificationNotice[] {
  const mp = payload.v?.[0]?.mp;
  if (mp === undefined || EU_VACCINE_PRODUCTS.has(mp)) return [];
  const name = vaccineNameOf(mp);
  return [
    {
      code: 'vaccine_not_in_eu_list',
      message: {
        en: `Vaccine not in the EU list: ${name} is not in the EU DCC vaccine value set, so verifiers in the EU may show it as unknown; that alone does not make the certificate invalid.`,
        id: `Vaksin tidak ada dalam daftar UE: ${name} tidak termasuk daftar vaksin EU DCC, sehingga pemeriksa di UE dapat menampilkannya sebagai tidak dikenal; hal itu saja tidak membuat sertifikat tidak sah.`,
      },
    },
  ];
}

// ---------------------------------------------------------------- decode, step by step

/** The decoding steps, in order. */
export type Hc1Step = 'unprefix' | 'base45' | 'inflate' | 'cose' | 'claims' | 'hcert';

/** The reason code when a step fails. */
export const STEP_REASON: Readonly<Record<Hc1Step, Exclude<ReasonCode, 'ok'>>> = {
  unprefix: 'bad_prefix',
  base45: 'bad_base45',
  inflate: 'bad_compression',
  cose: 'bad_cose',
  claims: 'bad_cbor',
  hcert: 'bad_cbor',
};

/** The CWT claims of an HC1, with the hcert still as decoded CBOR. */
export interface CwtClaims {
  iss: string | undefined;
  /** NumericDate seconds, undefined when absent. */
  iat: number | undefined;
  exp: number | undefined;
  /** The hcert (claim -260, key 1), as decoded CBOR. */
  hcertCbor: unknown;
}

/** What each step produced. */
export interface Hc1Parts {
  base45: string;
  compressed: Uint8Array;
  coseBytes: Uint8Array;
  cose: CoseSign1;
  claims: CwtClaims;
  /** The hcert payload as JSON (not yet schema-checked). */
  hcert: Json;
}

export type Hc1Decoded =
  | ({ ok: true } & Hc1Parts)
  | { ok: false; failedAt: Hc1Step; reason: Exclude<ReasonCode, 'ok'>; error: string; parts: Partial<Hc1Parts> };

/** A step's failure. */
export class Hc1StepError extends Error {
  readonly step: Hc1Step;
  constructor(step: Hc1Step, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'Hc1StepError';
    this.step = step;
  }
}

/** Step 1: strip the "HC1:" context identifier. Throws Hc1StepError. */
export function unprefixHc1(text: string): string {
  if (!text.startsWith(HC1_PREFIX)) throw new Hc1StepError('unprefix', `does not start with ${HC1_PREFIX}`);
  return text.slice(HC1_PREFIX.length);
}

/** Step 2: Base45 → compressed bytes (strict RFC 9285). Throws Hc1StepError. */
export function decodeBase45Step(base45: string): Uint8Array {
  try {
    return base45Decode(base45);
  } catch (e) {
    throw new Hc1StepError('base45', (e as Error).message, { cause: e });
  }
}

/** Step 4: COSE_Sign1 structure. Throws Hc1StepError. */
export function coseStep(coseBytes: Uint8Array): CoseSign1 {
  try {
    return decodeCoseSign1(coseBytes);
  } catch (e) {
    throw new Hc1StepError('cose', (e as Error).message, { cause: e });
  }
}

/** Step 5: the COSE payload as CWT claims; the hcert claim must be there. Throws Hc1StepError. */
export function claimsStep(payload: Uint8Array): CwtClaims {
  let map: unknown;
  try {
    map = decodeCbor(payload);
  } catch (e) {
    throw new Hc1StepError('claims', `payload is not CBOR: ${(e as Error).message}`, { cause: e });
  }
  if (!(map instanceof Map)) throw new Hc1StepError('claims', 'CWT claims must be a map');
  const claims = map as Map<unknown, unknown>;
  const iss = claims.get(CLAIM_ISS);
  if (iss !== undefined && typeof iss !== 'string') throw new Hc1StepError('claims', 'iss must be text');
  const iat = numericDate(claims.get(CLAIM_IAT), 'iat');
  const exp = numericDate(claims.get(CLAIM_EXP), 'exp');
  const hcert = claims.get(CLAIM_HCERT);
  if (!(hcert instanceof Map) || !hcert.has(HCERT_EU_DCC_V1)) {
    throw new Hc1StepError('claims', 'claim -260 (hcert) with key 1 is missing');
  }
  return { iss, iat, exp, hcertCbor: (hcert as Map<unknown, unknown>).get(HCERT_EU_DCC_V1) };
}

function numericDate(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'bigint') v = Number(v);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Hc1StepError('claims', `${name} must be a NumericDate`);
  return v;
}

/** Step 6: the hcert as JSON. Throws Hc1StepError. */
export function hcertStep(claims: CwtClaims): Json {
  try {
    return cborToJson(claims.hcertCbor);
  } catch (e) {
    throw new Hc1StepError('hcert', (e as Error).message, { cause: e });
  }
}

/**
 * Steps 1 and 2: the compressed bytes of an HC1 text. Records what each step
 * produced in `parts`. Throws Hc1StepError.
 */
export function decodeUntilInflate(text: string, parts: Partial<Hc1Parts>): Uint8Array {
  parts.base45 = unprefixHc1(text);
  parts.compressed = decodeBase45Step(parts.base45);
  return parts.compressed;
}

/**
 * Steps 4 to 6, once the caller has inflated the compressed bytes (step 3)
 * into `parts.coseBytes`. Throws Hc1StepError.
 */
export function decodeFromCose(parts: Partial<Hc1Parts> & { coseBytes: Uint8Array }): Hc1Decoded {
  parts.cose = coseStep(parts.coseBytes);
  parts.claims = claimsStep(parts.cose.payload);
  parts.hcert = hcertStep(parts.claims);
  return { ok: true, ...(parts as Hc1Parts) };
}

/** The result of a failed step; rethrows anything that is not a step's failure (a bug, not bad input). */
export function decodeFailure(e: unknown, parts: Partial<Hc1Parts>): Hc1Decoded {
  if (!(e instanceof Hc1StepError)) throw e;
  return { ok: false, failedAt: e.step, reason: STEP_REASON[e.step], error: e.message, parts };
}

// ---------------------------------------------------------------- verification checks

/** The signature check's outcome: the signer it verified under, or why none did. */
export type SignatureOutcome<S extends SignerValidity = SignerValidity> =
  | { ok: true; signer: S }
  | { ok: false; reason: 'unknown_kid' | 'bad_signature' };

/**
 * The time checks, in seconds since the epoch. EU DCC spec (CWT claims): iat
 * "MUST not predate the validity period of the DSC", exp "MUST not exceed the
 * validity period of the DSC"; a verifier rejects after exp. A DSC that has
 * expired since the certificate was issued does not matter: old certificates
 * keep verifying while their key stays in the trust list.
 */
export function checkTimes(t: {
  iat: number;
  exp: number;
  now: number;
  signerNotBefore: number;
  signerNotAfter: number;
  skewSeconds?: number;
}): 'ok' | 'key_not_valid_at_issue' | 'not_yet_valid' | 'expired' {
  if (t.iat < t.signerNotBefore || t.iat > t.signerNotAfter || t.exp > t.signerNotAfter) return 'key_not_valid_at_issue';
  if (t.iat > t.now + (t.skewSeconds ?? DEFAULT_SKEW_SECONDS)) return 'not_yet_valid';
  if (t.now > t.exp) return 'expired';
  return 'ok';
}

// ---------------------------------------------------------------- verify

export interface VerifyOptions {
  trustList: readonly TrustedKey[];
  now: Date;
  /** True when the certificate with this UVCI has been revoked. */
  isRevoked?: (uvci: string) => boolean;
  /** Allowed clock skew for the issue time; default 300 s. */
  skewSeconds?: number;
}

export interface VerificationFacts {
  /** base64 kid from the COSE header, once the envelope could be read. */
  kid?: string;
  /** The following are only given once the signature has been verified: unauthenticated data is never shown. */
  payload?: HcertPayload;
  issuedAt?: Date;
  expiresAt?: Date;
  issuer?: string;
  /** Schema violations, for reason bad_schema. */
  schemaIssues?: SchemaIssue[];
  /** What the reader should know besides the verdict (e.g. "vaccine not in the EU list"), once the payload is shown. */
  notices?: VerificationNotice[];
}

export type Hc1Verification =
  | ({ valid: true; reason: 'ok'; message: Text; payload: HcertPayload } & VerificationFacts)
  | ({ valid: false; reason: Exclude<ReasonCode, 'ok'>; message: Text } & VerificationFacts);

/**
 * The verdict on a decoded HC1 once its signature has been checked (or
 * decoding failed, `signature` undefined): that the signer's certificate
 * covers iat and exp, the schema, that the signer may sign this type of
 * certificate, revocation, then the validity at `now`. The payload is only
 * returned once the signature is verified.
 */
export function judgeHc1(decoded: Hc1Decoded, signature: SignatureOutcome | undefined, opts: Omit<VerifyOptions, 'trustList'>): Hc1Verification {
  const kid = decoded.ok ? coseKid(decoded.cose) : decoded.parts.cose && coseKid(decoded.parts.cose);
  const facts: VerificationFacts = kid ? { kid: bytesToBase64(kid) } : {};
  const fail = (reason: Exclude<ReasonCode, 'ok'>, more: VerificationFacts = {}): Hc1Verification => ({
    valid: false,
    reason,
    message: REASON_MESSAGES[reason],
    ...facts,
    ...more,
  });
  if (!decoded.ok) return fail(decoded.reason);
  if (!signature) throw new Error('judgeHc1: a decoded certificate needs its signature check');
  if (!signature.ok) return fail(signature.reason);

  const { iat, exp, iss } = decoded.claims;
  if (iat === undefined || exp === undefined) return fail('bad_cbor');
  const schema = validateHcert(decoded.hcert);
  const known: VerificationFacts = {
    issuedAt: new Date(iat * 1000),
    expiresAt: new Date(exp * 1000),
    ...(iss === undefined ? {} : { issuer: iss }),
    ...(schema.valid ? { payload: schema.payload } : {}),
  };
  const notices = schema.valid ? noticesOf(schema.payload) : [];
  if (notices.length > 0) known.notices = notices;
  const times = checkTimes({
    iat,
    exp,
    now: opts.now.getTime() / 1000,
    signerNotBefore: signature.signer.notBefore.getTime() / 1000,
    signerNotAfter: signature.signer.notAfter.getTime() / 1000,
    ...(opts.skewSeconds === undefined ? {} : { skewSeconds: opts.skewSeconds }),
  });
  if (times === 'key_not_valid_at_issue') return fail(times, known);
  if (!schema.valid) return fail('bad_schema', { ...known, schemaIssues: schema.issues });

  const payload = schema.payload;
  const type = certificateType(payload);
  if (type === undefined || !keyUsageAllows(signature.signer.extendedKeyUsage, type)) return fail('wrong_key_usage', known);

  const entry = type === 'v' ? payload.v?.[0] : type === 't' ? payload.t?.[0] : payload.r?.[0];
  if (entry && opts.isRevoked?.(entry.ci)) return fail('revoked', known);
  if (times !== 'ok') return fail(times, known);
  return { valid: true, reason: 'ok', message: REASON_MESSAGES.ok, ...facts, ...known, payload };
}
