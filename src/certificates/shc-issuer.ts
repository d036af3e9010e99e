/**
 * Dosis as a SMART Health Card issuer (database side): its signing key, the
 * published JWK set, the revocation ids, and a person's card.
 *
 * Key decision: the SHC key is its own P-256 key (table shc_keys), not the
 * EU DCC document signer. The DSC is an X.509 certificate whose extended key
 * usage limits it to DCC vaccination certificates and which rotates with the
 * DCC trust list; an SHC issuer key is a bare JWK named by its thumbprint and
 * published at `<iss>/.well-known/jwks.json`. Keeping them apart lets either
 * rotate without touching the other, and a leak of one does not forge the
 * other format. The same key signs the published revocation list.
 *
 * The issuer URL (`iss`) is PUBLIC_URL: verifiers fetch its
 * `/.well-known/jwks.json` and `/.well-known/crl/<kid>.json`. The spec wants
 * https; a development server on http://localhost issues cards only Dosis's
 * own verifier accepts (allowHttpIssuer).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { type Db, type Queryable, lockSchemaKey, SCHEMA_LOCKS } from '../db/client.ts';
import { AppError } from '../domain/errors.ts';
import { vaccineByCode } from '../domain/vaccines.ts';
import { parseKeyRef, type KeyStore } from './key-store.ts';
import { healthCardBundle, type CardDose } from './shc-card.ts';
import { encodeNumericQr, healthCardClaims, healthCardFile, publicJwkOf, signShcJws, type ShcPublicJwk, type ShcSigningKey } from './shc.ts';


/** The issuer URL of this installation: PUBLIC_URL without a trailing slash. */
export function issuerUrl(publicUrl: string): string {
  return publicUrl.replace(/\/+$/, '');
}

/** A development issuer on the loopback interface may use http (never in production). */
export function isLoopbackHttp(iss: string): boolean {
  return /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(\/|$)/.test(iss);
}

interface KeyRow extends Record<string, unknown> {
  kid: string;
  public_jwk: ShcPublicJwk;
  key_ref: unknown;
  retired_at: Date | null;
}

/**
 * The key that signs cards (and the revocation list) now, in the configured
 * store; created on first use, and again when the active one lives in
 * another store (the signer was switched; the old key stays published).
 * Safe when several processes start at once.
 */
export async function activeShcKey(db: Db, store: KeyStore): Promise<ShcSigningKey> {
  const usable = (row: KeyRow | undefined): row is KeyRow => row !== undefined && row.key_ref !== null && store.holds(parseKeyRef(row.key_ref));
  const r = await db.query<KeyRow>('SELECT kid, public_jwk, key_ref, retired_at FROM shc_keys WHERE retired_at IS NULL');
  if (usable(r.rows[0])) return signerOf(store, r.rows[0]);
  return db.withTransaction(async (tx) => {
    await lockSchemaKey(tx, SCHEMA_LOCKS.shcKey);
    const again = await tx.query<KeyRow>('SELECT kid, public_jwk, key_ref, retired_at FROM shc_keys WHERE retired_at IS NULL');
    if (usable(again.rows[0])) return signerOf(store, again.rows[0]);
    return addShcKey(tx, store);
  });
}

function signerOf(store: KeyStore, row: KeyRow): ShcSigningKey {
  return { kid: row.kid, privateKey: store.open(parseKeyRef(row.key_ref)) };
}

async function addShcKey(tx: Queryable, store: KeyStore): Promise<ShcSigningKey> {
  const gen = store.generate(`dosis-shc-${new Date().toISOString().slice(0, 10)}`);
  const jwk = publicJwkOf(gen.publicKey);
  await tx.query('UPDATE shc_keys SET retired_at = now() WHERE retired_at IS NULL');
  await tx.query('INSERT INTO shc_keys (kid, public_jwk, key_ref) VALUES ($1, $2, $3)', [jwk.kid, JSON.stringify(jwk), JSON.stringify(gen.ref)]);
  return { kid: jwk.kid, privateKey: gen.signer };
}

/** A new SHC key; the old one stops signing and stays published. */
export async function rotateShcKey(db: Db, store: KeyStore): Promise<string> {
  return db.withTransaction(async (tx) => {
    await lockSchemaKey(tx, SCHEMA_LOCKS.shcKey);
    return (await addShcKey(tx, store)).kid;
  });
}

/** Every SHC key ever used, as published JWKs (without crlVersion), newest first. */
export async function shcPublicKeys(db: Queryable): Promise<ShcPublicJwk[]> {
  const r = await db.query<KeyRow>('SELECT kid, public_jwk FROM shc_keys ORDER BY created_at DESC, kid');
  return r.rows.map((k) => k.public_jwk);
}

/** The secret of the revocation ids (spec §Revocation: HMAC with a 256-bit secret), made once. */
export async function ridSecret(db: Queryable): Promise<Buffer> {
  await db.query("INSERT INTO settings (key, value) VALUES ('shc_rid_secret', $1) ON CONFLICT (key) DO NOTHING", [randomBytes(32).toString('base64')]);
  const r = await db.query<{ value: string }>("SELECT value FROM settings WHERE key = 'shc_rid_secret'");
  const v = r.rows[0]?.value;
  if (!v) throw new Error('shc_rid_secret missing');
  return Buffer.from(v, 'base64');
}

/**
 * A person's revocation id under a key: base64url of the first 64 bits of
 * HMAC-SHA-256(secret ‖ kid, person id) — the spec's recommendation. Listed
 * publicly, it reveals nothing about the person.
 */
export function ridFor(secret: Buffer, kid: string, personId: string): string {
  const mac = createHmac('sha256', Buffer.concat([secret, Buffer.from(kid, 'utf8')]))
    .update(personId, 'utf8')
    .digest();
  return mac.subarray(0, 8).toString('base64url');
}

export interface IssuedHealthCard {
  jws: string;
  /** The numeric QR text, `shc:/…` (one QR, no chunks). */
  qr: string;
  /** The `.smart-health-card` file content. */
  file: string;
  kid: string;
  issuedAt: Date;
  doses: number;
}

interface DoseRow extends Record<string, unknown> {
  vaccine: string;
  date: string;
  lot: string | null;
  facility_name: string;
}

/**
 * Signs a card of every dose of the person that has a valid certificate. The
 * certificates are read FOR SHARE, so a revocation running at the same time
 * either waits for this card (which then counts as issued before it, and is
 * revoked by it) or has committed (and the card leaves the dose out). `nbf`
 * is the database's clock, the same clock that stamps revocations.
 */
export async function issueHealthCard(db: Db, store: KeyStore, o: { iss: string; personId: string }): Promise<IssuedHealthCard> {
  const key = await activeShcKey(db, store);
  const secret = await ridSecret(db);
  return db.withTransaction(async (tx) => {
    const p = await tx.query<{ id: string; name: string; birth_date: string; merged_into: string | null }>(
      'SELECT id, name, birth_date, merged_into FROM people WHERE id = $1',
      [o.personId],
    );
    const person = p.rows[0];
    if (!person) throw new AppError('not_found', 'person_not_found', { en: `No person ${o.personId}.`, id: `Tidak ada orang ${o.personId}.` });
    if (person.merged_into) {
      throw new AppError('conflict', 'person_merged', { en: 'This record was merged into another.', id: 'Data ini sudah digabung ke data lain.' }, {
        detail: { mergedInto: person.merged_into },
      });
    }
    const d = await tx.query<DoseRow>(
      `SELECT v.vaccine, v.date, v.lot, f.name AS facility_name
         FROM vaccinations v
         JOIN certificates c ON c.person_id = v.person_id AND c.vaccination_id = v.id
         JOIN facilities f ON f.code = v.facility_code
        WHERE v.person_id = $1 AND v.status <> 'void' AND c.status = 'valid'
        ORDER BY v.date, v.dose_number
        FOR SHARE OF c`,
      [person.id],
    );
    if (d.rows.length === 0) {
      throw new AppError('not_found', 'no_certified_dose', {
        en: 'This person has no dose with a valid certificate: there is nothing to put on a health card.',
        id: 'Orang ini tidak memiliki dosis dengan sertifikat yang berlaku: tidak ada isi untuk kartu kesehatan.',
      });
    }
    const clock = await tx.query<{ now: Date }>('SELECT clock_timestamp() AS now');
    const issuedAt = clock.rows[0]?.now ?? new Date();
    const doses: CardDose[] = d.rows.map((r) => ({ vaccine: vaccineByCode(r.vaccine).code, date: r.date, lot: r.lot, facilityName: r.facility_name }));
    const { bundle, types } = healthCardBundle({ name: person.name, birthDate: person.birth_date }, doses);
    const claims = healthCardClaims({ iss: o.iss, issuedAt, types, bundle, rid: ridFor(secret, key.kid, person.id) });
    const jws = signShcJws(claims, key);
    return { jws, qr: encodeNumericQr(jws), file: healthCardFile([jws]), kid: key.kid, issuedAt, doses: doses.length };
  });
}
