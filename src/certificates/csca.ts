/**
 * The country signing CA (CSCA) as files: `csca.pem` (the certificate, which
 * is public and goes into the trust list) and `csca.key` (PKCS#8 PEM, mode
 * 0600) — or, made with DOSIS_SIGNER=pkcs11, `csca.ref`: the key stays on the
 * (offline machine's) token and the file only names it. The directory belongs on an offline machine: `dosis keys csca init`
 * makes it there, `dosis keys sign-request` uses it, and the online system
 * only ever gets `csca.pem`. The embedded default keeps one beside its data
 * directory so that a demo issues certificates with one command.
 */
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCscaCertificate, generateCsca, type CscaKey } from './keys.ts';
import { parseKeyRef, type KeyStore } from './key-store.ts';

const DAY_MS = 86_400_000;
export const CSCA_VALIDITY_DAYS = 3650;
export const CSCA_COMMON_NAME = 'Dosis Country Signing CA Indonesia';

/** A CSCA as read from its directory. */
export interface CscaFiles extends CscaKey {
  validFrom: Date;
  validUntil: Date;
}

/** PEM of DER bytes under a label. */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

/** DER of the first PEM block with `label` (or of base64 text without armour); undefined if none. */
export function fromPem(text: string, label: string): Uint8Array | undefined {
  const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(text);
  const body = m ? m[1]! : /^[A-Za-z0-9+/=\s]+$/.test(text.trim()) ? text : undefined;
  if (body === undefined) return undefined;
  const der = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  return der.length > 0 ? new Uint8Array(der) : undefined;
}

/** True when the CSCA in `dir` keeps its key on a PKCS#11 token (csca.ref). */
export function cscaOnToken(dir: string): boolean {
  return existsSync(join(dir, 'csca.ref'));
}

/** Reads a CSCA directory; undefined when it has no CSCA. A key on a token needs the store that holds it. */
export function readCscaDir(dir: string, store?: KeyStore): CscaFiles | undefined {
  const certPath = join(dir, 'csca.pem');
  const keyPath = join(dir, 'csca.key');
  const refPath = join(dir, 'csca.ref');
  if (!existsSync(certPath) || !(existsSync(keyPath) || existsSync(refPath))) return undefined;
  const der = fromPem(readFileSync(certPath, 'utf8'), 'CERTIFICATE');
  if (!der) throw new Error(`${certPath} holds no certificate`);
  const cert = new X509Certificate(der);
  let key: CscaKey['key'];
  if (existsSync(refPath)) {
    if (!store) throw new Error(`${dir}: the CSCA key is on a PKCS#11 token (csca.ref): set DOSIS_SIGNER=pkcs11 and its token`);
    key = store.open(parseKeyRef(readFileSync(refPath, 'utf8')));
  } else {
    key = createPrivateKey({ key: readFileSync(keyPath, 'utf8'), format: 'pem' });
  }
  return { certificateDer: der, key, validFrom: cert.validFromDate, validUntil: cert.validToDate };
}

/**
 * Makes a new CSCA in `dir` (which must not hold one): a self-signed P-256
 * CA, path length 0. Written to a fresh directory and renamed into place, so
 * two processes starting at once keep the same one.
 */
export async function initCscaDir(
  dir: string,
  o: { commonName?: string; country?: string; days?: number; now?: Date; token?: KeyStore } = {},
): Promise<CscaFiles> {
  if (existsSync(join(dir, 'csca.pem'))) throw new Error(`${dir} already holds a CSCA (csca.pem)`);
  const now = o.now ?? new Date();
  const req = {
    commonName: o.commonName ?? CSCA_COMMON_NAME,
    country: o.country ?? 'ID',
    validFrom: new Date(now.getTime() - DAY_MS),
    validUntil: new Date(now.getTime() + (o.days ?? CSCA_VALIDITY_DAYS) * DAY_MS),
  };
  if (o.token) {
    // The key is generated on the token (sensitive, not extractable) and signs its own certificate there.
    const gen = o.token.generate(`dosis-csca-${now.toISOString().slice(0, 10)}`);
    const der = await createCscaCertificate({ ...req, publicKey: gen.publicKey, key: gen.signer });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'csca.ref'), JSON.stringify(gen.ref) + '\n', { mode: 0o600, flag: 'wx' });
    writeFileSync(join(dir, 'csca.pem'), toPem('CERTIFICATE', der), { mode: 0o644, flag: 'wx' });
    const kept = readCscaDir(dir, o.token);
    if (!kept) throw new Error(`${dir}: the CSCA was not written`);
    return kept;
  }
  const csca = await generateCsca(req);
  writeCscaDir(dir, csca.certificateDer, csca.privateKeyPkcs8);
  const kept = readCscaDir(dir);
  if (!kept) throw new Error(`${dir}: the CSCA was not written`);
  return kept;
}

/** Writes a CSCA's files (an existing directory without a CSCA is filled; one with a CSCA is kept). */
export function writeCscaDir(dir: string, certificateDer: Uint8Array, pkcs8: Uint8Array): void {
  const tmp = `${dir}.tmp-${randomBytes(6).toString('hex')}`;
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  writeFileSync(join(tmp, 'csca.key'), toPem('PRIVATE KEY', pkcs8), { mode: 0o600 });
  writeFileSync(join(tmp, 'csca.pem'), toPem('CERTIFICATE', certificateDer), { mode: 0o644 });
  try {
    if (existsSync(dir) && !readCscaDir(dir)) {
      for (const f of ['csca.key', 'csca.pem']) renameSync(join(tmp, f), join(dir, f));
    } else {
      renameSync(tmp, dir);
    }
  } catch (e) {
    // Another process put its CSCA there first: keep that one.
    if (!['EEXIST', 'ENOTEMPTY'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The CSCA in `dir`, made on first use (the embedded default's automatic CSCA). */
export async function ensureCscaDir(dir: string, now = new Date(), store?: KeyStore): Promise<CscaFiles> {
  const existing = readCscaDir(dir, store);
  if (existing) return existing;
  try {
    return await initCscaDir(dir, { now });
  } catch (e) {
    const raced = readCscaDir(dir, store);
    if (raced) return raced;
    throw e;
  }
}
