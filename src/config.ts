/**
 * Configuration, parsed once from the environment (and `.env`) into a typed
 * object. A bad value stops the start with a message naming the variable.
 */
import { existsSync, readFileSync } from 'node:fs';

export interface Config {
  port: number;
  host: string;
  publicUrl: string;
  databaseUrl: string | undefined;
  dataDir: string;
  adminToken: string | undefined;
  smsGateway: 'sink' | 'kannel';
  kannel: { url: string; user: string; password: string; sender: string } | undefined;
  runWorker: boolean;
  /** Days an issued EU DCC stays valid (CWT exp). */
  certificateValidityDays: number;
  dbPoolSize: number;
  logLevel: string;
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

/** Parses the configuration; throws ConfigError naming the variable at fault. */
export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const databaseUrl = url(env, 'DATABASE_URL');
  const port = int(env, 'PORT', 3000, 0, 65535);
  const smsGateway = env.SMS_GATEWAY || 'sink';
  if (smsGateway !== 'sink' && smsGateway !== 'kannel') throw new ConfigError(`SMS_GATEWAY must be "sink" or "kannel", got "${smsGateway}"`);
  let kannel: Config['kannel'];
  if (smsGateway === 'kannel') {
    const kurl = url(env, 'KANNEL_URL');
    if (!kurl) throw new ConfigError('KANNEL_URL is required when SMS_GATEWAY=kannel');
    if (!env.KANNEL_USER || !env.KANNEL_PASSWORD) throw new ConfigError('KANNEL_USER and KANNEL_PASSWORD are required when SMS_GATEWAY=kannel');
    kannel = { url: kurl, user: env.KANNEL_USER, password: env.KANNEL_PASSWORD, sender: env.SMS_SENDER || 'DOSIS' };
  }
  const adminToken = env.DOSIS_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 24) throw new ConfigError('DOSIS_ADMIN_TOKEN must be at least 24 characters');
  return {
    port,
    host: env.HOST || '127.0.0.1',
    publicUrl: url(env, 'PUBLIC_URL', `http://localhost:${port}`) as string,
    databaseUrl,
    dataDir: env.DOSIS_DATA_DIR || './data',
    adminToken,
    smsGateway,
    kannel,
    runWorker: bool(env, 'DOSIS_WORKER', databaseUrl === undefined),
    certificateValidityDays: int(env, 'DOSIS_CERT_VALIDITY_DAYS', 365, 1, 3650),
    dbPoolSize: int(env, 'DOSIS_DB_POOL', 16, 1, 200),
    logLevel: env.LOG_LEVEL || 'info',
  };
}
