/**
 * Signing keys in the database and the issuer that signs each dose's EU DCC.
 *
 * The database holds certificates and key references, never a private key
 * (key-store.ts): a DSC's key is on a PKCS#11 token or sealed under a
 * key-encryption key the database does not have. The CSCA's key is not here
 * at all: only its certificate (csca_certificates), published with the DSCs.
 *
 * A DSC comes from a certificate request: `requestSigningKey` makes the key
 * in the store and the CSR, the CSCA signs it (offline: `dosis keys
 * sign-request`), `installSigningKey` checks the chain and starts signing
 * with it. When this process may use a CSCA directory (the embedded default,
 * DOSIS_CSCA_DIR) the three steps run here at once: on first start, when the
 * active key would end before a new certificate does, and on `dosis keys
 * rotate`. The old key stops signing and stays in the trust list, so
 * certificates signed with it keep verifying. Exactly one key signs at a time
 * (a partial unique index enforces it).
 */
import { createHash, randomUUID, verify, X509Certificate } from 'node:crypto';
import type { Config } from '../config.ts';
import { type Db, type Queryable, lockSchemaKey, SCHEMA_LOCKS } from '../db/client.ts';
import { AppError } from '../domain/errors.ts';
import type { Vaccine } from '../domain/vaccines.ts';
import { ensureCscaDir, readCscaDir, writeCscaDir, type CscaFiles } from './csca.ts';
import { buildVaccinationPayload } from './dcc.ts';
import { encodeHc1 } from './hc1.ts';
import { KeyStoreError, openKeyStore, parseKeyRef, resolveKeyStoreSpec, seal, type KeyRef, type KeyStore } from './key-store.ts';
import { chainProblem, createCertificateRequest, kidOf, signCertificateRequest, type Es256Key } from './keys.ts';
import type { TrustedKey } from './trust.ts';
import { makeUvci } from './uvci.ts';

export const CERTIFICATE_ISSUER = 'Kementerian Kesehatan Republik Indonesia';
const DAY_MS = 86_400_000;
/** A DSC is valid for two years (EU DCC certificate governance: at most 2 years). */
const DSC_VALIDITY_DAYS = 730;

/** Where this process's keys are: the store that holds DSC keys, and the CSCA directory when it may issue DSCs itself. */
export interface SigningSetup {
  store: KeyStore;
  /** DOSIS_CSCA_DIR: undefined when the CSCA is offline (DSCs only through request / sign-request / install). */
  cscaDir: string | undefined;
}

interface KeyRow extends Record<string, unknown> {
  kid: string;
  certificate: Uint8Array;
  key_ref: unknown;
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

export interface CscaEntry {
  /** hex SHA-256 of the DER. */
  thumbprint: string;
  certificate: string; // base64 DER
  validFrom: string;
  validUntil: string;
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

/** The CSCA certificates that issued the DSCs, newest first (published with the trust list). */
export async function cscaList(db: Queryable): Promise<CscaEntry[]> {
  const r = await db.query<{ thumbprint: string; certificate: Uint8Array; valid_from: Date; valid_until: Date }>(
    'SELECT thumbprint, certificate, valid_from, valid_until FROM csca_certificates ORDER BY created_at DESC, thumbprint',
  );
  return r.rows.map((c) => ({
    thumbprint: c.thumbprint,
    certificate: Buffer.from(c.certificate).toString('base64'),
    validFrom: c.valid_from.toISOString(),
    validUntil: c.valid_until.toISOString(),
  }));
}

async function cscaDers(db: Queryable): Promise<Uint8Array[]> {
  const r = await db.query<{ certificate: Uint8Array }>('SELECT certificate FROM csca_certificates');
  return r.rows.map((c) => new Uint8Array(c.certificate));
}

/**
 * The trust list in the form verifyHc1 takes: only the DSCs that chain to a
 * published CSCA (signature, issuer, validity within), as a verifier that
 * follows the chain would see them.
 */
export async function trustedKeys(db: Queryable): Promise<TrustedKey[]> {
  const [r, cas] = await Promise.all([db.query<KeyRow>('SELECT kid, certificate FROM signing_keys'), cscaDers(db)]);
  return r.rows.filter((k) => chainProblem(new Uint8Array(k.certificate), cas) === undefined).map((k) => ({ kid: k.kid, certificate: new Uint8Array(k.certificate) }));
}

/** Publishes a CSCA certificate (idempotent). */
export async function addCscaCertificate(db: Queryable, der: Uint8Array): Promise<string> {
  const cert = new X509Certificate(der);
  if (!cert.ca) throw new KeyStoreError('the CSCA certificate is not a CA certificate (basicConstraints cA)');
  const thumbprint = createHash('sha256').update(der).digest('hex');
  await db.query(
    'INSERT INTO csca_certificates (thumbprint, certificate, valid_from, valid_until) VALUES ($1, $2, $3, $4) ON CONFLICT (thumbprint) DO NOTHING',
    [thumbprint, der, cert.validFromDate, cert.validToDate],
  );
  return thumbprint;
}

/**
 * Seals (local store) or drops (pkcs11) the plaintext keys written before
 * migration 024, and takes the CSCA key out of the database into the CSCA
 * directory (or drops it, when the CSCA is offline). Runs at every start; does
 * nothing once done. Dropped keys stay trusted, retired from signing.
 */
export async function upgradeKeyStorage(db: Db, setup: SigningSetup): Promise<{ sealed: number; dropped: number }> {
  return db.withTransaction(async (tx) => {
    await lockSchemaKey(tx, SCHEMA_LOCKS.signingKeys);
    let sealed = 0;
    let dropped = 0;
    const kek = setup.store.spec.kind === 'local' ? setup.store.spec.kek : undefined;
    for (const table of ['signing_keys', 'shc_keys'] as const) {
      const r = await tx.query<{ kid: string; private_key: Uint8Array }>(`SELECT kid, private_key FROM ${table} WHERE private_key IS NOT NULL`);
      for (const row of r.rows) {
        if (kek) {
          const ref: KeyRef = { store: 'local', sealed: seal(kek, row.private_key).toString('base64') };
          await tx.query(`UPDATE ${table} SET key_ref = $2, private_key = NULL WHERE kid = $1`, [row.kid, JSON.stringify(ref)]);
          sealed++;
        } else {
          await tx.query(`UPDATE ${table} SET private_key = NULL, retired_at = coalesce(retired_at, now()) WHERE kid = $1`, [row.kid]);
          dropped++;
        }
      }
    }
    const legacy = await tx.query<{ value: string }>("SELECT value FROM settings WHERE key = 'csca'");
    const csca = legacy.rows[0];
    if (csca) {
      const v = JSON.parse(csca.value) as { certificate: string; privateKey?: string };
      const der = Buffer.from(v.certificate, 'base64');
      await addCscaCertificate(tx, der);
      if (setup.cscaDir && v.privateKey && !readCscaDir(setup.cscaDir, setup.store)) {
        writeCscaDir(setup.cscaDir, der, Buffer.from(v.privateKey, 'base64'));
      }
      await tx.query("DELETE FROM settings WHERE key = 'csca'");
    }
    return { sealed, dropped };
  });
}

/** True when the database holds no key sealed for the local store yet (so a new key file may be made). */
export async function holdsNoLocalKey(db: Queryable): Promise<boolean> {
  const r = await db.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM signing_keys WHERE key_ref ->> 'store' = 'local')
          + (SELECT count(*) FROM shc_keys WHERE key_ref ->> 'store' = 'local')
          + (SELECT count(*) FROM key_requests WHERE key_ref ->> 'store' = 'local') AS n`,
  );
  return Number(r.rows[0]?.n ?? 0) === 0;
}

/**
 * Opens the key store the configuration names over a migrated database. The
 * local store's key file is made only while the database holds no key sealed
 * for it (a first start); after that a missing key file stops the start.
 */
export async function openSigningSetup(db: Db, config: Pick<Config, 'signer' | 'cscaDir'>): Promise<SigningSetup> {
  const spec = resolveKeyStoreSpec(config.signer, await holdsNoLocalKey(db));
  return { store: openKeyStore(spec), cscaDir: config.cscaDir };
}

function offline(what: string): AppError {
  return new AppError(
    'conflict',
    'csca_offline',
    {
      en: `${what}: the CSCA is offline (no DOSIS_CSCA_DIR). Make a key with "dosis keys request", have the CSCA sign it with "dosis keys sign-request", and install the DSC with "dosis keys install".`,
      id: `${what}: CSCA luring (tanpa DOSIS_CSCA_DIR). Buat kunci dengan "dosis keys request", minta CSCA menandatanganinya dengan "dosis keys sign-request", lalu pasang DSC dengan "dosis keys install".`,
    },
  );
}

/** A new key in the store and its certificate request (PKCS#10 DER). */
async function newRequest(store: KeyStore, now: Date): Promise<{ ref: KeyRef; publicKeyDer: Buffer; csr: Uint8Array }> {
  const label = `dosis-dsc-${now.toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`;
  const gen = store.generate(label);
  const csr = await createCertificateRequest({ commonName: `Dosis Document Signer ${now.toISOString().slice(0, 10)}`, country: 'ID', publicKey: gen.publicKey, signer: gen.signer });
  return { ref: gen.ref, publicKeyDer: gen.publicKey.export({ format: 'der', type: 'spki' }), csr };
}

/**
 * Starts signing with a DSC: its chain to a published CSCA and its key usage
 * are checked, its key must be the one `ref` names, the active key retires.
 */
async function install(tx: Queryable, store: KeyStore, certificateDer: Uint8Array, ref: KeyRef, now: Date): Promise<{ kid: string; retired: string[] }> {
  const problem = chainProblem(certificateDer, await cscaDers(tx));
  if (problem) throw new KeyStoreError(`not installed: ${problem}`);
  const cert = new X509Certificate(certificateDer);
  if (cert.validToDate <= now) throw new KeyStoreError('not installed: the document signer certificate has expired');
  if (cert.keyUsage !== undefined && !cert.keyUsage.some((u) => u.startsWith('1.3.6.1.4.1.1847.2021.1.'))) {
    throw new KeyStoreError('not installed: the certificate carries no EU DCC extended key usage');
  }
  // The certificate must be for the key in the store: sign something and check it with the certificate.
  const probe = Buffer.from(`dosis install ${now.toISOString()}`);
  if (!verify('sha256', probe, { key: cert.publicKey, dsaEncoding: 'ieee-p1363' }, store.open(ref).sign(probe))) {
    throw new KeyStoreError("not installed: the certificate's public key is not the key in the store");
  }
  const kid = kidOf(certificateDer);
  const old = await tx.query<{ kid: string }>('UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL AND (key_ref IS NOT NULL OR private_key IS NOT NULL) RETURNING kid', [now]);
  await tx.query(
    `INSERT INTO signing_keys (kid, algorithm, certificate, key_ref, valid_from, valid_until, signing_from)
     VALUES ($1, 'ES256', $2, $3, $4, $5, $6)`,
    [kid, certificateDer, JSON.stringify(ref), cert.validFromDate, cert.validToDate, now],
  );
  return { kid, retired: old.rows.map((k) => k.kid) };
}

/** request → the CSCA directory signs → install, in one go (the automatic CSCA). */
async function addKeyWithLocalCsca(tx: Queryable, setup: SigningSetup, now: Date): Promise<{ kid: string; retired: string[] }> {
  if (!setup.cscaDir) throw offline('A new signing key is needed');
  const csca: CscaFiles = await ensureCscaDir(setup.cscaDir, now, setup.store);
  await addCscaCertificate(tx, csca.certificateDer);
  const req = await newRequest(setup.store, now);
  const dsc = await signCertificateRequest({
    csrDer: req.csr,
    csca,
    validFrom: new Date(now.getTime() - 60_000),
    validUntil: new Date(now.getTime() + DSC_VALIDITY_DAYS * DAY_MS),
  });
  return install(tx, setup.store, dsc, req.ref, now);
}

/**
 * Makes sure a key of this store can sign certificates valid for
 * `validityDays`: creates the first key, or rotates when the active one would
 * end before such a certificate does (or lives in another store). Safe when
 * several processes start at once.
 */
export async function ensureSigningKey(db: Db, setup: SigningSetup, validityDays: number, now = new Date()): Promise<string> {
  await upgradeKeyStorage(db, setup);
  return db.withTransaction(async (tx) => {
    await lockSchemaKey(tx, SCHEMA_LOCKS.signingKeys);
    const r = await tx.query<KeyRow>('SELECT kid, key_ref, valid_until FROM signing_keys WHERE retired_at IS NULL AND key_ref IS NOT NULL');
    const active = r.rows[0];
    if (active && setup.store.holds(parseKeyRef(active.key_ref)) && active.valid_until.getTime() - now.getTime() > validityDays * DAY_MS) return active.kid;
    if (!setup.cscaDir && active && setup.store.holds(parseKeyRef(active.key_ref))) return active.kid; // offline: keep signing until an operator installs the next DSC
    return (await addKeyWithLocalCsca(tx, setup, now)).kid;
  });
}

/** Adds a new signing key and retires the current one (it stays trusted). Needs the CSCA directory. */
export async function rotateSigningKey(db: Db, setup: SigningSetup, now = new Date()): Promise<{ kid: string; retired: string[] }> {
  if (!setup.cscaDir) throw offline('Rotation');
  await upgradeKeyStorage(db, setup);
  return db.withTransaction(async (tx) => {
    await lockSchemaKey(tx, SCHEMA_LOCKS.signingKeys);
    return addKeyWithLocalCsca(tx, setup, now);
  });
}

/** `dosis keys request`: a new DSC key in the store, kept pending; returns its CSR (DER). */
export async function requestSigningKey(db: Db, store: KeyStore, now = new Date()): Promise<{ id: string; csr: Uint8Array }> {
  const req = await newRequest(store, now);
  const id = randomUUID();
  await db.query('INSERT INTO key_requests (id, key_ref, public_key, csr) VALUES ($1, $2, $3, $4)', [id, JSON.stringify(req.ref), req.publicKeyDer, req.csr]);
  return { id, csr: req.csr };
}

/**
 * `dosis keys install`: the DSC the CSCA signed for a pending request starts
 * signing (matched by public key). `csca`, when given, is published first
 * (the CSCA certificate that comes with the DSC).
 */
export async function installSigningKey(db: Db, store: KeyStore, certificateDer: Uint8Array, o: { csca?: Uint8Array; now?: Date } = {}): Promise<{ kid: string; retired: string[] }> {
  const now = o.now ?? new Date();
  let spki: Buffer;
  try {
    spki = new X509Certificate(certificateDer).publicKey.export({ format: 'der', type: 'spki' });
  } catch {
    throw new KeyStoreError('not installed: not an X.509 certificate');
  }
  return db.withTransaction(async (tx) => {
    await lockSchemaKey(tx, SCHEMA_LOCKS.signingKeys);
    if (o.csca) await addCscaCertificate(tx, o.csca);
    const r = await tx.query<{ id: string; key_ref: unknown }>('SELECT id, key_ref FROM key_requests WHERE public_key = $1', [spki]);
    const pending = r.rows[0];
    if (!pending) throw new KeyStoreError('not installed: no pending key request (dosis keys request) has this public key');
    const done = await install(tx, store, certificateDer, parseKeyRef(pending.key_ref), now);
    await tx.query('DELETE FROM key_requests WHERE id = $1', [pending.id]);
    return done;
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
  privateKey: Es256Key;
  ref: KeyRef;
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
  /** Where the keys are; the SHC key and the revocation list sign through the same store. */
  readonly setup: SigningSetup;

  constructor(db: Db, validityDays: number, setup: SigningSetup) {
    this.db = db;
    this.validityDays = validityDays;
    this.setup = setup;
  }

  /** The key store this issuer signs through. */
  get keys(): KeyStore {
    return this.setup.store;
  }

  /** Loads (or first creates) the active key. */
  async ready(): Promise<this> {
    if (this.active && Date.now() - this.active.loadedAt < Issuer.RELOAD_MS) return this;
    const r = await this.db.query<KeyRow>('SELECT kid, key_ref, valid_until FROM signing_keys WHERE retired_at IS NULL AND key_ref IS NOT NULL');
    const row = r.rows[0];
    const ref = row ? parseKeyRef(row.key_ref) : undefined;
    if (!row || !ref || !this.setup.store.holds(ref)) {
      await ensureSigningKey(this.db, this.setup, this.validityDays);
      return this.reload();
    }
    if (this.active?.kid !== row.kid) {
      this.active = {
        kid: row.kid,
        kidBytes: Buffer.from(row.kid, 'base64'),
        privateKey: this.setup.store.open(ref),
        ref,
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

  /** The active key's reference (for the import's signing threads); `ready()` must have run. */
  get keyRef(): { kid: string; ref: KeyRef; validUntil: Date } {
    if (!this.active) throw new Error('Issuer.ready() was not awaited');
    return { kid: this.active.kid, ref: this.active.ref, validUntil: this.active.validUntil };
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
