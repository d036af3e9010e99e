/**
 * Revocation, database side: the published list (signed, versioned, kept),
 * the SHC CRLs, the server's own revocation checks, and lot recalls.
 *
 * What is revoked is decided in one place: a certificate whose status leaves
 * 'valid' — a voided dose (records/operations.ts), a superseded record
 * (records/certify.ts), a recalled lot (here) — is written to `revocations`
 * by the trigger of migration 004 in the same statement. So the list can
 * never disagree with the certificates, whichever code changed them, and
 * `POST /api/v1/verify` answers from the same rows the list is made of.
 */
import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { audit } from '../access/audit.ts';
import { AppError, invalid, issue, type FieldIssue } from '../domain/errors.ts';
import { findVaccine } from '../domain/vaccines.ts';
import { signRevocationList, uvciHash, type RevocationListBody } from './revocation-list.ts';
import type { KeyStore } from './key-store.ts';
import { activeShcKey, ridFor, ridSecret, shcPublicKeys } from './shc-issuer.ts';
import type { IssuerSource, ShcCrl, ShcPublicJwk } from './shc.ts';

/** The current version of the revocation list (starts at 1, the spec's first CRL counter). */
export async function revocationVersion(db: Queryable): Promise<number> {
  const r = await db.query<{ version: number }>('SELECT version FROM revocation_state');
  return r.rows[0]?.version ?? 1;
}

/** The JWK set to publish: every SHC key, each with the CRL counter. */
export async function publishedJwks(db: Queryable): Promise<{ keys: (ShcPublicJwk & { crlVersion: number })[] }> {
  const [keys, version] = await Promise.all([shcPublicKeys(db), revocationVersion(db)]);
  return { keys: keys.map((k) => ({ ...k, crlVersion: version })) };
}

/** Latest revocation time per person, up to a version: the SHC rids. */
async function personRevocations(db: Queryable, version: number): Promise<{ person_id: string; at: Date }[]> {
  const r = await db.query<{ person_id: string; at: Date }>(
    'SELECT person_id, max(revoked_at) AS at FROM revocations WHERE version <= $1 GROUP BY person_id ORDER BY person_id',
    [version],
  );
  return r.rows;
}

/**
 * `rid.<seconds>`: cards with nbf before the time are revoked. The time is
 * the revocation's, in seconds with milliseconds, plus one millisecond so a
 * card issued in the same millisecond just before the revocation is covered.
 */
function ridEntry(rid: string, at: Date): string {
  return `${rid}.${((at.getTime() + 1) / 1000).toFixed(3)}`;
}

/**
 * CRLs already computed, by key and version: a version's CRL never changes,
 * and computing one costs an HMAC per revoked person, so every verification
 * and download of the same version shares it. Small: a few keys, and old
 * versions are dropped as new ones come.
 */
const crlCache = new WeakMap<Queryable, Map<string, ShcCrl>>();
const CRL_CACHE_MAX = 16;

/** The CRL of one key at a version (spec §Revocation: `{kid, method: "rid", ctr, rids}`). */
export async function shcCrl(db: Queryable, kid: string, version?: number): Promise<ShcCrl> {
  const v = version ?? (await revocationVersion(db));
  let cache = crlCache.get(db);
  if (!cache) crlCache.set(db, (cache = new Map<string, ShcCrl>()));
  const hit = cache.get(`${kid}@${v}`);
  if (hit) return hit;
  const [secret, people] = await Promise.all([ridSecret(db), personRevocations(db, v)]);
  const crl: ShcCrl = { kid, method: 'rid', ctr: v, rids: people.map((p) => ridEntry(ridFor(secret, kid, p.person_id), p.at)) };
  if (cache.size >= CRL_CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(`${kid}@${v}`, crl);
  return crl;
}

export interface PublishedList {
  version: number;
  issuedAt: Date;
  kid: string;
  jws: string;
  body: RevocationListBody;
}

/**
 * The signed list of the current version: made once per version (the first
 * request after a revocation signs it) and kept in revocation_lists; every
 * later request for that version gets the same bytes, so ETags hold.
 */
export async function publishedRevocationList(db: Db, store: KeyStore, iss: string): Promise<PublishedList> {
  const version = await revocationVersion(db);
  const stored = await db.query<{ version: number; issued_at: Date; kid: string; jws: string }>(
    'SELECT version, issued_at, kid, jws FROM revocation_lists WHERE version = $1',
    [version],
  );
  const row = stored.rows[0];
  if (row) return { version: row.version, issuedAt: row.issued_at, kid: row.kid, jws: row.jws, body: bodyOf(row.jws) };

  const key = await activeShcKey(db, store);
  const [hashes, keys] = await Promise.all([
    db.query<{ uvci_hash: Uint8Array }>('SELECT uvci_hash FROM revocations WHERE version <= $1 ORDER BY uvci_hash', [version]),
    shcPublicKeys(db),
  ]);
  const crls = await Promise.all(keys.map((k) => shcCrl(db, k.kid, version)));
  const issuedAt = new Date();
  const body: RevocationListBody = {
    iss,
    version,
    issuedAt: issuedAt.toISOString(),
    dcc: { hashType: 'UCI', hashAlgorithm: 'SHA-256/128', entries: hashes.rows.map((h) => Buffer.from(h.uvci_hash).toString('base64')) },
    shc: crls,
  };
  const jws = signRevocationList(body, key);
  await db.query('INSERT INTO revocation_lists (version, issued_at, kid, jws) VALUES ($1, $2, $3, $4) ON CONFLICT (version) DO NOTHING', [
    version,
    issuedAt,
    key.kid,
    jws,
  ]);
  // Another process may have signed this version first: serve the one that was kept.
  const kept = await db.query<{ issued_at: Date; kid: string; jws: string }>('SELECT issued_at, kid, jws FROM revocation_lists WHERE version = $1', [version]);
  const k = kept.rows[0] ?? { issued_at: issuedAt, kid: key.kid, jws };
  return { version, issuedAt: k.issued_at, kid: k.kid, jws: k.jws, body: bodyOf(k.jws) };
}

function bodyOf(jws: string): RevocationListBody {
  return JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as RevocationListBody;
}

/** How a certificate was revoked, looked up by the hash the list publishes; undefined when it is not. */
export async function uvciRevocation(db: Queryable, uvci: string): Promise<{ status: string; reason: string | null; revokedAt: Date; version: number } | undefined> {
  const r = await db.query<{ status: string; reason: string | null; revoked_at: Date; version: number }>(
    'SELECT status, reason, revoked_at, version FROM revocations WHERE uvci_hash = $1 ORDER BY revoked_at LIMIT 1',
    [Buffer.from(uvciHash(uvci), 'base64')],
  );
  const row = r.rows[0];
  return row ? { status: row.status, reason: row.reason, revokedAt: row.revoked_at, version: row.version } : undefined;
}

/** This installation as an issuer source for the SHC verifier: its own keys and CRLs, read now. */
export async function ownIssuerSource(db: Queryable, iss: string): Promise<IssuerSource> {
  const jwks = await publishedJwks(db);
  const crls = new Map<string, ShcCrl>();
  for (const k of jwks.keys) crls.set(k.kid, await shcCrl(db, k.kid, k.crlVersion));
  return {
    jwks: (i) => (i === iss ? jwks : undefined),
    crl: (i, kid) => (i === iss ? crls.get(kid) : undefined),
  };
}

// ---------------------------------------------------------------- lot recall

export interface RecallInput {
  vaccine: unknown;
  lot: string;
  reason: unknown;
}

export interface RecallResult {
  recallId: string;
  /** False when this lot had been recalled before (this call revoked only what was issued since). */
  created: boolean;
  vaccine: string;
  lot: string;
  /** Certificates revoked by this call. */
  revoked: number;
  /** People affected by this call, each queued one SMS. */
  people: number;
  /** Recall notices newly queued (a person already told about this lot is not told again). */
  notices: number;
  revocationVersion: number;
}

/** The outbox job kind of a recall SMS (handler: src/notify, see the README section "Revocation"). */
export const RECALL_JOB_KIND = 'recall_notice';

/**
 * Recalls a lot: every valid certificate of a dose of that vaccine and lot is
 * revoked (reason lot_recalled), each affected person gets one SMS job
 * (dedupe key `recall:<LOT>:<personId>`), and the recall is audited — once
 * for the lot and once per person for their timeline. One transaction.
 * Calling it again for the same lot revokes what was certified since and
 * tells only people not told yet.
 */
export async function recallLot(db: Db, who: Principal, input: RecallInput): Promise<RecallResult> {
  const problems: FieldIssue[] = [];
  const vaccine = typeof input.vaccine === 'string' ? findVaccine(input.vaccine) : undefined;
  if (!vaccine) problems.push(issue('vaccine', 'vaccine_unknown', 'Name the vaccine of the lot (catalogue code or name).', 'Sebutkan vaksin dari batch ini (kode atau nama katalog).'));
  const lot = input.lot.trim();
  if (lot === '' || lot.length > 50) problems.push(issue('lot', 'lot_invalid', 'The lot number: 1–50 characters.', 'Nomor batch: 1–50 karakter.'));
  const reason = typeof input.reason === 'string' ? input.reason.trim() : '';
  if (reason.length < 3 || reason.length > 500) problems.push(issue('reason', 'reason_required', 'Give a reason (3–500 characters).', 'Isi alasan (3–500 karakter).'));
  if (problems.length > 0 || !vaccine) throw invalid(problems);
  const lotKey = lot.toUpperCase();

  return db.withTransaction(async (tx) => {
    const inserted = await tx.query<{ id: string }>(
      `INSERT INTO lot_recalls (id, vaccine, lot, lot_key, reason, recalled_by) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (vaccine, lot_key) DO NOTHING RETURNING id`,
      [randomUUID(), vaccine.code, lot, lotKey, reason, who.id],
    );
    const created = inserted.rowCount === 1;
    const recall = created
      ? inserted.rows[0]
      : (await tx.query<{ id: string }>('SELECT id FROM lot_recalls WHERE vaccine = $1 AND lot_key = $2', [vaccine.code, lotKey])).rows[0];
    if (!recall) throw new Error('lot recall row missing');

    const revoked = await tx.query<{ person_id: string; id: string }>(
      `UPDATE certificates c SET status = 'revoked', status_reason = 'lot_recalled'
         FROM vaccinations v
        WHERE v.person_id = c.person_id AND v.id = c.vaccination_id
          AND v.vaccine = $1 AND upper(v.lot) = $2 AND c.status = 'valid'
        RETURNING c.person_id, c.id`,
      [vaccine.code, lotKey],
    );
    const people = [...new Set(revoked.rows.map((r) => r.person_id))];
    const notices = await tx.query(
      `INSERT INTO jobs (kind, payload, dedupe_key, person_id, lane)
       SELECT $1, jsonb_build_object('personId', p, 'recallId', $2::uuid), 'recall:' || $3 || ':' || p, p, 'notice' -- laneOf('recall_notice')
         FROM unnest($4::uuid[]) AS p
       ON CONFLICT (dedupe_key) DO NOTHING`,
      [RECALL_JOB_KIND, recall.id, lotKey, people],
    );
    await audit(tx, {
      actor: who.id,
      action: 'lot_recalled',
      subject: `${vaccine.code}/${lot}`,
      detail: { recallId: recall.id, vaccine: vaccine.code, lot, reason, certificates: revoked.rowCount, people: people.length, repeated: !created },
    });
    await tx.query(
      `INSERT INTO audit_log (actor, action, subject, person_id, detail)
       SELECT $1, 'certificate_revoked', r.id::text, r.person_id, jsonb_build_object('reason', 'lot_recalled', 'recallId', $2::uuid, 'vaccine', $3::text, 'lot', $4::text)
         FROM unnest($5::uuid[], $6::uuid[]) AS r(person_id, id)`,
      [who.id, recall.id, vaccine.code, lot, revoked.rows.map((r) => r.person_id), revoked.rows.map((r) => r.id)],
    );
    return {
      recallId: recall.id,
      created,
      vaccine: vaccine.code,
      lot,
      revoked: revoked.rowCount,
      people: people.length,
      notices: notices.rowCount,
      revocationVersion: await revocationVersion(tx),
    };
  });
}

/** A recall by id (for the notify handler: the payload holds ids only). */
export async function getLotRecall(db: Queryable, id: string): Promise<{ id: string; vaccine: string; lot: string; reason: string; recalledAt: Date } | undefined> {
  const r = await db.query<{ id: string; vaccine: string; lot: string; reason: string; recalled_at: Date }>(
    'SELECT id, vaccine, lot, reason, recalled_at FROM lot_recalls WHERE id = $1',
    [id],
  );
  const row = r.rows[0];
  return row ? { id: row.id, vaccine: row.vaccine, lot: row.lot, reason: row.reason, recalledAt: row.recalled_at } : undefined;
}

/** Only administrators recall lots. */
export function assertCanRecall(who: Principal): void {
  if (who.role !== 'admin') {
    throw new AppError('forbidden', 'role_not_allowed', { en: 'Only an administrator can recall a lot.', id: 'Hanya administrator yang dapat menarik batch.' });
  }
}
