/**
 * Configuration, parsed once from the environment (and `.env`) into a typed
 * object. A bad value stops the start with a message naming the variable.
 */
import { existsSync, readFileSync } from 'node:fs';
import { decodeKek, type SignerConfig } from './certificates/key-store.ts';

export interface Config {
  port: number;
  host: string;
  publicUrl: string;
  databaseUrl: string | undefined;
  dataDir: string;
  adminToken: string | undefined;
  smsGateway: 'sink' | 'kannel';
  kannel: KannelConfig | undefined;
  /** A second Kannel route, used from attempt `sms.fallbackAfter + 1` on. */
  kannelFallback: KannelConfig | undefined;
  sms: SmsConfig;
  runWorker: boolean;
  /** Seed demo facilities, tokens and people on the first start (embedded default only by default). */
  demo: boolean;
  worker: WorkerConfig;
  /** Days an issued EU DCC stays valid (CWT exp). */
  certificateValidityDays: number;
  dbPoolSize: number;
  logLevel: string;
  doseRequests: DoseRequestConfig;
  http: HttpConfig;
  /** Where the signing keys are (DOSIS_SIGNER and its settings; certificates/key-store.ts). */
  signer: SignerConfig;
  /**
   * DOSIS_CSCA_DIR: a CSCA directory this process may sign its own DSCs with
   * (first start, rotation); default `<DOSIS_DATA_DIR>.csca`. `offline`: none,
   * DSCs come only through dosis keys request / sign-request / install.
   */
  cscaDir: string | undefined;
  /** The hand-off of every dose to SATUSEHAT (issue 21, satusehat/); undefined (off) when SATUSEHAT_URL is unset. */
  satusehat: SatusehatConfig | undefined;
}

/** SATUSEHAT_*: where the national FHIR API is and this client's credentials (satusehat/README.md). */
export interface SatusehatConfig {
  /** Base of the FHIR API, e.g. https://api-satusehat.kemkes.go.id/fhir-r4/v1 (SATUSEHAT_URL). */
  url: string;
  /** The OAuth2 base, e.g. https://api-satusehat.kemkes.go.id/oauth2/v1 (SATUSEHAT_AUTH_URL): tokens from `<it>/accesstoken?grant_type=client_credentials`. */
  authUrl: string;
  clientId: string;
  clientSecret: string;
  /** The Organization id of the whole deployment; a facility's own (facilities.satusehat_organization_id) comes first. */
  organizationId: string;
  /** Give up on one request after this long (SATUSEHAT_TIMEOUT_MS, default 20 s): a retry, not a verdict. */
  timeoutMs: number;
  /** Backoff of retried hand-offs (network, 5xx): base·2^(n−1), capped (SATUSEHAT_RETRY_BASE_MS, default 5 s; SATUSEHAT_RETRY_MAX_MS, default 10 min). */
  retryBaseMs: number;
  retryMaxMs: number;
}

/** How long the HTTP server waits for slow clients (issue 15, item 6). */
export interface HttpConfig {
  /**
   * A request body must arrive within this long (DOSIS_BODY_TIMEOUT_MS, default 30 s), else 408
   * and the connection is closed; an import upload instead must keep moving (64 KiB per window).
   */
  bodyTimeoutMs: number;
  /** On SIGTERM/SIGINT, requests still open after this long are cut off (DOSIS_SHUTDOWN_GRACE_MS, default 25 s). */
  shutdownGraceMs: number;
}

/** Missing-dose requests (issue 9). */
export interface DoseRequestConfig {
  /** A request still open after this many days escalates to the district (DOSIS_DOSE_REQUEST_ESCALATE_DAYS, default 3). */
  escalateAfterDays: number;
  /** How often the worker looks for overdue requests (DOSIS_DOSE_REQUEST_CHECK_MINUTES, default 60). */
  checkEveryMinutes: number;
}

export interface KannelConfig {
  url: string;
  user: string;
  password: string;
  sender: string;
  /** Kannel smsc-id to force (`smsc=`); none: Kannel routes. */
  smsc: string | undefined;
}

export interface SmsConfig {
  /** Language of SMS to Indonesian numbers (others get English). */
  language: 'id' | 'en';
  /** Secret for signing delivery-report URLs; absent: generated once and kept in the database. */
  reportSecret: string | undefined;
  /** Attempts per message (first send included) before the person goes on the unreachable work list. */
  maxAttempts: number;
  /** Backoff between attempts: base·2^(n−1), capped, with jitter. */
  retryBaseMs: number;
  retryMaxMs: number;
  /**
   * No final report within this time: the attempt is `unknown` (counted). Not resent then when the
   * gateway took it (notifier.ts, "A missing report"); resent at once only when the gateway's answer
   * was never recorded (a worker killed mid-send).
   */
  reportTimeoutMs: number;
  /** A taken attempt still `unknown` this long after its timeout: resent once if the SMSC never acknowledged it, else final `unknown`. */
  unknownResendAfterMs: number;
  /** How often the periodic sweep looks for attempts past their report timeout (SMS_SWEEP_SECONDS, default 60). */
  sweepEveryMs: number;
  /** Receipt `err:` codes that mean the number can never receive (classifyFailure in gateways.ts). */
  permanentReceiptErrors: readonly string[];
  /** Circuit breaker of a route: gateway failures in a row that pause it, and its probe interval (first, and at most). */
  gatewayFailuresToOpen: number;
  gatewayProbeMs: number;
  gatewayProbeMaxMs: number;
  /** Failed attempts on the primary route before the fallback route is used. */
  fallbackAfter: number;
  /** Give up on one sendsms request after this long. */
  sendTimeoutMs: number;
  /** sendsms requests in flight per Kannel route and process at most, whatever the worker's concurrency (0: no bound). */
  sendsInFlight: number;
  /** At most this many sends per second from one process (0: no cap); match the link's TPS. */
  maxPerSecond: number;
  /**
   * A number on more people than this is suspicious (a placeholder, the nurse's phone): the
   * certificate SMS of the people after the first `phoneShareLimit` is held and a
   * `suspicious_phone` case opened (DOSIS_PHONE_SHARE_LIMIT, default 6).
   */
  phoneShareLimit: number;
  /** Secret that one-time codes are derived from; absent: generated once and kept in the database. */
  otpSecret: string | undefined;
}

export interface WorkerConfig {
  batchSize: number;
  concurrency: number;
  leaseMs: number;
  pollMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /**
   * The worker VACUUMs the outbox's tables itself when enough of their rows changed (notify/vacuum.ts,
   * DOSIS_QUEUE_VACUUM, default on): off where the server's autovacuum is tuned to keep up with them.
   */
  queueVacuum: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads KEY=VALUE lines of `.env` into the environment, without overriding what is set. */
export function loadDotEnv(path = '.env', env: NodeJS.ProcessEnv = process.env): void {
  if (!existsSync(path)) return;
  for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || line.trimStart().startsWith('#')) continue;
    const [, key, raw] = m as unknown as [string, string, string];
    if (env[key] === undefined) env[key] = raw.replace(/^(['"])(.*)\1$/, '$2');
  }
}

function int(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number, max: number): number {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return n;
}

function bool(env: NodeJS.ProcessEnv, name: string, dflt: boolean): boolean {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(`${name} must be true or false, got "${v}"`);
}

function url(env: NodeJS.ProcessEnv, name: string, dflt?: string): string | undefined {
  const v = env[name] || dflt;
  if (v === undefined) return undefined;
  try {
    new URL(v);
  } catch {
    throw new ConfigError(`${name} must be a URL, got "${v}"`);
  }
  return v.replace(/\/+$/, '');
}

/**
 * Warnings about a configuration that starts but should not run in production. Development is a
 * PUBLIC_URL on this machine (localhost, 127.0.0.1, ::1) or NODE_ENV=development: nothing there is
 * warned about.
 * - PUBLIC_URL not https: it is the `iss` of every SMART Health Card, which the SHC specification
 *   requires to be https (the dev tools and verifier apps reject an http issuer), and the base of
 *   the links sent by SMS.
 */
export function startWarnings(config: Pick<Config, 'publicUrl'>, env: NodeJS.ProcessEnv = process.env): string[] {
  const url = new URL(config.publicUrl);
  const development = env.NODE_ENV === 'development' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (development || url.protocol === 'https:') return [];
  return [
    `PUBLIC_URL is ${config.publicUrl}, not https: SMART Health Cards name it as their issuer, which must be https (verifiers reject them), and SMS links would go out unencrypted. Use https in production.`,
  ];
}

/**
 * Receipt `err:` codes (GSM MAP errors as SMSCs write them, `err:001`) after which no retry to the
 * number can succeed: unknown subscriber (001), unidentified (005), illegal subscriber (009),
 * teleservice not provisioned (011), illegal equipment (012), call barred (013). SMSCs differ.
 */
export const DEFAULT_PERMANENT_RECEIPT_ERRORS: readonly string[] = ['001', '005', '009', '011', '012', '013'];

/** SMS_PERMANENT_RECEIPT_ERRORS: comma-separated receipt `err:` codes (digits), written with three digits. */
function receiptErrors(v: string | undefined): readonly string[] {
  if (v === undefined || v === '') return DEFAULT_PERMANENT_RECEIPT_ERRORS;
  const codes = v.split(',').map((x) => x.trim()).filter(Boolean);
  if (!codes.every((c) => /^\d{1,3}$/.test(c))) throw new ConfigError(`SMS_PERMANENT_RECEIPT_ERRORS must be receipt error codes (digits) separated by commas, got "${v}"`);
  return codes.map((c) => c.padStart(3, '0'));
}

/** Parses the configuration; throws ConfigError naming the variable at fault. */
export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const databaseUrl = url(env, 'DATABASE_URL');
  const port = int(env, 'PORT', 3000, 0, 65535);
  const smsGateway = env.SMS_GATEWAY || 'sink';
  if (smsGateway !== 'sink' && smsGateway !== 'kannel') throw new ConfigError(`SMS_GATEWAY must be "sink" or "kannel", got "${smsGateway}"`);
  let kannel: Config['kannel'];
  let kannelFallback: Config['kannelFallback'];
  if (smsGateway === 'kannel') {
    const kurl = url(env, 'KANNEL_URL');
    if (!kurl) throw new ConfigError('KANNEL_URL is required when SMS_GATEWAY=kannel');
    if (!env.KANNEL_USER || !env.KANNEL_PASSWORD) throw new ConfigError('KANNEL_USER and KANNEL_PASSWORD are required when SMS_GATEWAY=kannel');
    const sender = env.SMS_SENDER || 'DOSIS';
    if (!/^[A-Za-z0-9 ]{1,11}$|^\+?\d{3,15}$/.test(sender)) throw new ConfigError(`SMS_SENDER must be 1–11 letters/digits or a phone number, got "${sender}"`);
    kannel = { url: kurl, user: env.KANNEL_USER, password: env.KANNEL_PASSWORD, sender, smsc: env.KANNEL_SMSC || undefined };
    const furl = url(env, 'KANNEL_FALLBACK_URL');
    if (furl || env.KANNEL_FALLBACK_SMSC) {
      kannelFallback = {
        url: furl ?? kurl,
        user: env.KANNEL_FALLBACK_USER || kannel.user,
        password: env.KANNEL_FALLBACK_PASSWORD || kannel.password,
        sender,
        smsc: env.KANNEL_FALLBACK_SMSC || undefined,
      };
    }
  }
  const language = env.SMS_LANGUAGE || 'id';
  if (language !== 'id' && language !== 'en') throw new ConfigError(`SMS_LANGUAGE must be "id" or "en", got "${language}"`);
  const reportSecret = env.SMS_REPORT_SECRET || undefined;
  if (reportSecret !== undefined && reportSecret.length < 16) throw new ConfigError('SMS_REPORT_SECRET must be at least 16 characters');
  const otpSecret = env.DOSIS_OTP_SECRET || undefined;
  if (otpSecret !== undefined && otpSecret.length < 32) throw new ConfigError('DOSIS_OTP_SECRET must be at least 32 characters');
  const sms: SmsConfig = {
    language,
    reportSecret,
    maxAttempts: int(env, 'SMS_MAX_ATTEMPTS', 4, 1, 20),
    retryBaseMs: int(env, 'SMS_RETRY_BASE_MS', 60_000, 1, 86_400_000),
    retryMaxMs: int(env, 'SMS_RETRY_MAX_MS', 3_600_000, 1, 7 * 86_400_000),
    reportTimeoutMs: int(env, 'SMS_REPORT_TIMEOUT_SECONDS', 7200, 1, 30 * 86_400) * 1000,
    unknownResendAfterMs: int(env, 'SMS_UNKNOWN_RESEND_AFTER_SECONDS', 86_400, 1, 30 * 86_400) * 1000,
    sweepEveryMs: int(env, 'SMS_SWEEP_SECONDS', 60, 1, 3600) * 1000,
    permanentReceiptErrors: receiptErrors(env.SMS_PERMANENT_RECEIPT_ERRORS),
    gatewayFailuresToOpen: int(env, 'SMS_GATEWAY_FAILURES_TO_PAUSE', 3, 1, 1000),
    gatewayProbeMs: int(env, 'SMS_GATEWAY_PROBE_MS', 2000, 10, 600_000),
    gatewayProbeMaxMs: int(env, 'SMS_GATEWAY_PROBE_MAX_MS', 60_000, 10, 3_600_000),
    fallbackAfter: int(env, 'SMS_FALLBACK_AFTER', 2, 0, 20),
    sendTimeoutMs: int(env, 'SMS_SEND_TIMEOUT_MS', 10_000, 100, 120_000),
    sendsInFlight: int(env, 'SMS_SENDS_IN_FLIGHT', 16, 0, 1000),
    maxPerSecond: int(env, 'SMS_MAX_PER_SECOND', 0, 0, 100_000),
    phoneShareLimit: int(env, 'DOSIS_PHONE_SHARE_LIMIT', 6, 1, 100_000),
    otpSecret,
  };
  const worker: WorkerConfig = {
    batchSize: int(env, 'DOSIS_WORKER_BATCH', 100, 1, 500),
    // 400: four batches of 100 certificate SMS in flight, not 1.3 (128): the drain doubled (`npm run bench -- queue`,
    // bench/README.md). Kannel still sees at most SMS_SENDS_IN_FLIGHT requests per route (health.ts SendWindow).
    concurrency: int(env, 'DOSIS_WORKER_CONCURRENCY', 400, 1, 1000),
    leaseMs: int(env, 'DOSIS_JOB_LEASE_SECONDS', 60, 1, 86_400) * 1000,
    pollMs: int(env, 'DOSIS_WORKER_POLL_MS', 100, 10, 60_000),
    retryBaseMs: int(env, 'DOSIS_JOB_RETRY_BASE_MS', 1000, 1, 3_600_000),
    retryMaxMs: int(env, 'DOSIS_JOB_RETRY_MAX_MS', 3_600_000, 1, 86_400_000),
    queueVacuum: bool(env, 'DOSIS_QUEUE_VACUUM', true),
  };
  const dataDir = env.DOSIS_DATA_DIR || './data';
  const adminToken = env.DOSIS_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 24) throw new ConfigError('DOSIS_ADMIN_TOKEN must be at least 24 characters');
  return {
    port,
    host: env.HOST || '127.0.0.1',
    publicUrl: url(env, 'PUBLIC_URL', `http://localhost:${port}`) as string,
    databaseUrl,
    dataDir,
    adminToken,
    smsGateway,
    kannel,
    kannelFallback,
    sms,
    runWorker: bool(env, 'DOSIS_WORKER', databaseUrl === undefined),
    demo: bool(env, 'DOSIS_DEMO', databaseUrl === undefined),
    worker,
    certificateValidityDays: int(env, 'DOSIS_CERT_VALIDITY_DAYS', 365, 1, 3650),
    dbPoolSize: int(env, 'DOSIS_DB_POOL', 16, 1, 200),
    logLevel: env.LOG_LEVEL || 'info',
    http: {
      bodyTimeoutMs: int(env, 'DOSIS_BODY_TIMEOUT_MS', 30_000, 100, 3_600_000),
      shutdownGraceMs: int(env, 'DOSIS_SHUTDOWN_GRACE_MS', 25_000, 0, 3_600_000),
    },
    doseRequests: {
      escalateAfterDays: int(env, 'DOSIS_DOSE_REQUEST_ESCALATE_DAYS', 3, 1, 365),
      checkEveryMinutes: int(env, 'DOSIS_DOSE_REQUEST_CHECK_MINUTES', 60, 1, 1440),
    },
    signer: signerConfig(env, dataDir),
    cscaDir: env.DOSIS_CSCA_DIR === 'offline' ? undefined : env.DOSIS_CSCA_DIR || `${dataDir.replace(/\/+$/, '')}.csca`,
    satusehat: satusehatConfig(env),
  };
}

/**
 * SATUSEHAT_*: off when none is set; with any set, all five are required (the message names the first
 * missing), the two URLs must be http(s) URLs.
 */
function satusehatConfig(env: NodeJS.ProcessEnv): SatusehatConfig | undefined {
  const names = ['SATUSEHAT_URL', 'SATUSEHAT_AUTH_URL', 'SATUSEHAT_CLIENT_ID', 'SATUSEHAT_CLIENT_SECRET', 'SATUSEHAT_ORGANIZATION_ID'] as const;
  if (names.every((n) => !env[n])) return undefined;
  for (const n of names) if (!env[n]) throw new ConfigError(`${n} is required when any SATUSEHAT_* variable is set (the hand-off to SATUSEHAT is on)`);
  for (const n of ['SATUSEHAT_URL', 'SATUSEHAT_AUTH_URL'] as const) {
    const u = url(env, n) as string;
    if (!/^https?:\/\//.test(u)) throw new ConfigError(`${n} must be an http(s) URL, got "${u}"`);
  }
  const organizationId = env.SATUSEHAT_ORGANIZATION_ID as string;
  if (!/^[A-Za-z0-9.-]{1,64}$/.test(organizationId)) throw new ConfigError(`SATUSEHAT_ORGANIZATION_ID must be SATUSEHAT's Organization id (letters, digits, dots, dashes), got "${organizationId}"`);
  return {
    url: url(env, 'SATUSEHAT_URL') as string,
    authUrl: url(env, 'SATUSEHAT_AUTH_URL') as string,
    clientId: env.SATUSEHAT_CLIENT_ID as string,
    clientSecret: env.SATUSEHAT_CLIENT_SECRET as string,
    organizationId,
    timeoutMs: int(env, 'SATUSEHAT_TIMEOUT_MS', 20_000, 100, 300_000),
    retryBaseMs: int(env, 'SATUSEHAT_RETRY_BASE_MS', 5000, 1, 3_600_000),
    retryMaxMs: int(env, 'SATUSEHAT_RETRY_MAX_MS', 600_000, 1, 86_400_000),
  };
}

/** DOSIS_SIGNER and what it needs; secrets themselves (PIN file, key file) are read at start, not here. */
function signerConfig(env: NodeJS.ProcessEnv, dataDir: string): SignerConfig {
  const kind = env.DOSIS_SIGNER || 'local';
  if (kind === 'pkcs11') {
    const token = env.DOSIS_PKCS11_TOKEN;
    if (!token) throw new ConfigError('DOSIS_PKCS11_TOKEN (the token label) is required when DOSIS_SIGNER=pkcs11');
    const pin = env.DOSIS_PKCS11_PIN || undefined;
    const pinFile = env.DOSIS_PKCS11_PIN_FILE || undefined;
    if (pin === undefined && pinFile === undefined) throw new ConfigError('DOSIS_PKCS11_PIN or DOSIS_PKCS11_PIN_FILE is required when DOSIS_SIGNER=pkcs11');
    return { kind, module: env.DOSIS_PKCS11_MODULE || '/usr/lib/softhsm/libsofthsm2.so', token, pin, pinFile };
  }
  if (kind !== 'local') throw new ConfigError(`DOSIS_SIGNER must be "local" or "pkcs11", got "${kind}"`);
  let kek: Uint8Array | undefined;
  if (env.DOSIS_KEY_ENCRYPTION_KEY) {
    kek = decodeKek(env.DOSIS_KEY_ENCRYPTION_KEY);
    if (!kek) throw new ConfigError('DOSIS_KEY_ENCRYPTION_KEY must be 32 bytes: 64 hex digits or base64 (openssl rand -hex 32)');
  }
  return { kind, kek, keyFile: env.DOSIS_KEY_FILE || `${dataDir.replace(/\/+$/, '')}.key` };
}
