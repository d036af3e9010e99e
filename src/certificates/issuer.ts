/**
 * Signing keys in the database and the issuer that signs each dose's EU DCC.
 *
 * First start generates a country signing CA (CSCA) and a document signer
 * (DSC) signed by it; `dosis keys rotate` adds a new DSC and retires the old
 * one for signing while it stays in the trust list, so certificates signed
 * with it keep verifying. Exactly one key signs at a time (a partial unique
 * index enforces it).
 */
import { randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Db, Queryable } from '../db/client.ts';
import type { Vaccine } from '../domain/vaccines.ts';
import { buildVaccinationPayload } from './dcc.ts';
import { encodeHc1 } from './hc1.ts';
import { type CertifiedKey, generateCsca, generateSigningKey, importPrivateKey } from './keys.ts';
import type { TrustedKey } from './trust.ts';
import { makeUvci } from './uvci.ts';

export const CERTIFICATE_ISSUER = 'Kementerian Kesehatan Republik Indonesia';
const DAY_MS = 86_400_000;
/** A DSC is valid for two years (EU DCC certificate governance: at most 2 years). */
const DSC_VALIDITY_DAYS = 730;
const CSCA_VALIDITY_DAYS = 3650;
const KEY_LOCK = 720_303;

interface KeyRow extends Record<string, unknown> {
  kid: string;
  certificate: Uint8Array;
  private_key: Uint8Array | null;
  valid_from: Date;
  valid_until: Date;
  retired_at: Date | null;
}

export interface TrustListEntry {
  kid: string;
  certificate: string; // base64 DER
  validFrom: string;
  validUntil: string;
  retiredAt: string | null;
}

/** Every key Dosis has signed with, newest first: what verifiers trust. */
export async function trustList(db: Queryable): Promise<TrustListEntry[]> {
  const r = await db.query<KeyRow>('SELECT kid, certificate, valid_from, valid_until, retired_at FROM signing_keys ORDER BY created_at DESC, kid');
  return r.rows.map((k) => ({
    kid: k.kid,
    certificate: Buffer.from(k.certificate).toString('base64'),
    validFrom: k.valid_from.toISOString(),
    validUntil: k.valid_until.toISOString(),
    retiredAt: k.retired_at ? k.retired_at.toISOString() : null,
  }));
}

/** The trust list in the form verifyHc1 takes. */
export async function trustedKeys(db: Queryable): Promise<TrustedKey[]> {
  const r = await db.query<KeyRow>('SELECT kid, certificate FROM signing_keys');
  return r.rows.map((k) => ({ kid: k.kid, certificate: new Uint8Array(k.certificate) }));
}

async function loadCsca(tx: Queryable, now: Date): Promise<CertifiedKey> {
  const r = await tx.query<{ value: string }>("SELECT value FROM settings WHERE key = 'csca'");
  const stored = r.rows[0];
  if (stored) {
    const v = JSON.parse(stored.value) as { certificate: string; privateKey: string; validFrom: string; validUntil: string };
    return {
      certificateDer: Buffer.from(v.certificate, 'base64'),
      privateKeyPkcs8: Buffer.from(v.privateKey, 'base64'),
      validFrom: new Date(v.validFrom),
      validUntil: new Date(v.validUntil),
    };
  }
  const csca = await generateCsca({
    commonName: 'Dosis Country Signing CA Indonesia',
    country: 'ID',
    validFrom: new Date(now.getTime() - DAY_MS),
    validUntil: new Date(now.getTime() + CSCA_VALIDITY_DAYS * DAY_MS),
  });
  await tx.query("INSERT INTO settings (key, value) VALUES ('csca', $1)", [
    JSON.stringify({
      certificate: Buffer.from(csca.certificateDer).toString('base64'),
      privateKey: Buffer.from(csca.privateKeyPkcs8).toString('base64'),
      validFrom: csca.validFrom.toISOString(),
      validUntil: csca.validUntil.toISOString(),
    }),
  ]);
  return csca;
}

async function addKey(tx: Queryable, now: Date): Promise<string> {
  const csca = await loadCsca(tx, now);
  const validUntil = new Date(Math.min(now.getTime() + DSC_VALIDITY_DAYS * DAY_MS, csca.validUntil.getTime()));
  const key = await generateSigningKey({
    commonName: `Dosis Document Signer ${now.toISOString().slice(0, 10)}`,
    country: 'ID',
    validFrom: new Date(now.getTime() - 60_000),
    validUntil,
    csca,
  });
  await tx.query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL AND private_key IS NOT NULL", [now]);
  await tx.query(
    `INSERT INTO signing_keys (kid, algorithm, certificate, private_key, valid_from, valid_until, signing_from)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [key.kid, key.algorithm, key.certificateDer, key.privateKeyPkcs8, key.validFrom, key.validUntil, now],
  );
  return key.kid;
}

/**
 * Makes sure a key can sign certificates valid for `validityDays`: creates the
 * first key, or rotates when the active one would end before such a
 * certificate does. Safe when several processes start at once.
 */
export async function ensureSigningKey(db: Db, validityDays: number, now = new Date()): Promise<string> {
  return db.withTransaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_LOCK]);
    const r = await tx.query<KeyRow>('SELECT kid, valid_until FROM signing_keys WHERE retired_at IS NULL AND private_key IS NOT NULL');
    const active = r.rows[0];
    if (active && active.valid_until.getTime() - now.getTime() > validityDays * DAY_MS) return active.kid;
    return addKey(tx, now);
  });
}

/** Adds a new signing key and retires the current one (it stays trusted). */
export async function rotateSigningKey(db: Db, now = new Date()): Promise<{ kid: string; retired: string[] }> {
  return db.withTransaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_LOCK]);
    const old = await tx.query<{ kid: string }>('SELECT kid FROM signing_keys WHERE retired_at IS NULL AND private_key IS NOT NULL');
    const kid = await addKey(tx, now);
    return { kid, retired: old.rows.map((k) => k.kid) };
  });
}

export interface IssueInput {
  name: string;
  birthDate: string;
  vaccine: Vaccine;
  dn: number;
  sd: number;
  date: string;
  issuedAt: Date;
}

export interface IssuedCertificate {
  id: string;
  uvci: string;
  qr: string;
  kid: string;
  issuedAt: Date;
  expiresAt: Date;
}

interface ActiveKey {
  kid: string;
  kidBytes: Uint8Array;
  privateKey: KeyObject;
  validUntil: Date;
  loadedAt: number;
}

/**
 * Signs certificates with the active key. The key is re-read every
 * RELOAD_MS so a rotation by another process is picked up; until then this
 * process keeps signing with the key it has, which stays trusted.
 */
export class Issuer {
  static readonly RELOAD_MS = 30_000;
  private active: ActiveKey | undefined;
  private readonly db: Db;
  /** Days a certificate stays valid (capped by the key's own validity). */
  readonly validityDays: number;

  constructor(db: Db, validityDays: number) {
    this.db = db;
    this.validityDays = validityDays;
  }

  /** Loads (or first creates) the active key. */
  async ready(): Promise<this> {
    if (this.active && Date.now() - this.active.loadedAt < Issuer.RELOAD_MS) return this;
    const r = await this.db.query<KeyRow>(
      'SELECT kid, private_key, valid_until FROM signing_keys WHERE retired_at IS NULL AND private_key IS NOT NULL',
    );
    const row = r.rows[0];
    if (!row) {
      await ensureSigningKey(this.db, this.validityDays);
      return this.reload();
    }
    if (!row.private_key) throw new Error('active signing key has no private key');
    if (this.active?.kid !== row.kid) {
      this.active = {
        kid: row.kid,
        kidBytes: Buffer.from(row.kid, 'base64'),
        privateKey: importPrivateKey(new Uint8Array(row.private_key)),
        validUntil: row.valid_until,
        loadedAt: Date.now(),
      };
    } else {
      this.active.loadedAt = Date.now();
    }
    return this;
  }

  private async reload(): Promise<this> {
    this.active = undefined;
    return this.ready();
  }

  /** Forces the next `ready()` to re-read the active key (after a rotation in this process). */
  invalidate(): void {
    this.active = undefined;
  }

  /** The kid of the key that signs now; `ready()` must have run. */
  get kid(): string {
    if (!this.active) throw new Error('Issuer.ready() was not awaited');
    return this.active.kid;
  }

  /** Signs one dose's certificate (synchronous: called inside the dose transaction). */
  issue(input: IssueInput): IssuedCertificate {
    const key = this.active;
    if (!key) throw new Error('Issuer.ready() was not awaited');
    const id = randomUUID();
    const uvci = makeUvci(uvciBodyOf(id));
    const expiresAt = new Date(Math.min(input.issuedAt.getTime() + this.validityDays * DAY_MS, key.validUntil.getTime()));
    const payload = buildVaccinationPayload({
      name: input.name,
      birthDate: input.birthDate,
      vp: input.vaccine.eu.vp,
      mp: input.vaccine.eu.mp,
      ma: input.vaccine.eu.ma,
      doseNumber: input.dn,
      seriesDoses: input.sd,
      date: input.date,
      uvci,
      issuer: CERTIFICATE_ISSUER,
    });
    const qr = encodeHc1(payload, { issuer: 'ID', issuedAt: input.issuedAt, expiresAt, kid: key.kidBytes, privateKey: key.privateKey });
    return { id, uvci, qr, kid: key.kid, issuedAt: input.issuedAt, expiresAt };
  }
}

/**
 * The opaque part of a UVCI: the certificate's UUID in base 36 (at most 25
 * characters), so the whole UVCI stays within the 50 characters older
 * verifiers accept and names no facility or person.
 */
function uvciBodyOf(id: string): string {
  return BigInt('0x' + id.replace(/-/g, '')).toString(36).toUpperCase();
}
