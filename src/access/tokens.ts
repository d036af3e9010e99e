/**
 * API tokens: random bearer secrets, stored only as SHA-256 hashes. A token
 * carries a role and a scope (a facility or a region code) — the principal
 * every route is authorised against.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type Db, type Queryable, lockSchemaKey, SCHEMA_LOCKS } from '../db/client.ts';
import { AppError, invalid } from '../domain/errors.ts';
import { parseRegionCode, regionCodeIssue } from '../domain/regions.ts';

export type Role = 'facility' | 'district' | 'support' | 'admin';
export const ROLES: readonly Role[] = ['facility', 'district', 'support', 'admin'];

/** Who is calling, as established from their token. */
export interface Principal {
  id: string; // token (or user) id; recorded as the actor
  role: Role;
  facilityCode: string | null;
  regionCode: string | null;
  label: string;
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A new token: 32 random bytes, prefixed so it is recognisable in a leaked log. */
export function newTokenSecret(): string {
  return 'dos_' + randomBytes(32).toString('base64url');
}

export interface NewToken {
  role: Role;
  facility?: string | null;
  region?: string | null;
  label: string;
}

/** Creates a token; the secret is returned once and never stored. */
export async function createToken(
  db: Queryable,
  input: NewToken,
  createdBy: string | null,
  secret = newTokenSecret(),
): Promise<{ id: string; token: string }> {
  await checkRoleScope(db, input, 'token');
  const id = randomUUID();
  await db.query(
    `INSERT INTO api_tokens (id, token_hash, role, facility_code, region_code, label, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [id, hashToken(secret), input.role, input.role === 'facility' ? input.facility : null, input.role === 'district' ? scopeRegion(input.region) : null, input.label, createdBy],
  );
  return { id, token: secret };
}

/**
 * A facility credential needs a known facility, a district one a region (the
 * same rule for API tokens and staff accounts; `what` names which in messages).
 */
export async function checkRoleScope(db: Queryable, input: { role: Role; facility?: string | null; region?: string | null }, what: 'token' | 'account'): Promise<void> {
  const [en, id] = what === 'token' ? ['token', 'token'] : ['account', 'akun'];
  if (input.role === 'facility') {
    if (!input.facility) throw missing('facility', `a facility ${en} needs "facility" (its facility code)`, `${id} fasilitas memerlukan "facility" (kode faskes)`);
    const f = await db.query('SELECT 1 FROM facilities WHERE code = $1', [input.facility]);
    if (f.rowCount === 0)
      throw new AppError('invalid', 'unknown_facility', { en: `Unknown facility "${input.facility}".`, id: `Faskes "${input.facility}" tidak dikenal.` }, {
        fields: [{ path: 'facility', code: 'unknown_facility', message: { en: 'unknown facility code', id: 'kode faskes tidak dikenal' } }],
      });
  }
  if (input.role === 'district' && !input.region)
    throw missing('region', `a district ${en} needs "region" (its region code)`, `${id} dinas memerlukan "region" (kode wilayah)`);
  if (input.role === 'district' && scopeRegion(input.region) === null) throw invalid([regionCodeIssue('region')]);
}

/** A district credential's region in the stored form (12.71 → 1271), null when it is not a region code. */
export function scopeRegion(region: string | null | undefined): string | null {
  return parseRegionCode(region);
}

function missing(path: string, en: string, id: string): AppError {
  return new AppError('invalid', 'validation_failed', { en, id }, { fields: [{ path, code: 'required', message: { en, id } }] });
}

interface TokenRow extends Record<string, unknown> {
  id: string;
  role: Role;
  facility_code: string | null;
  region_code: string | null;
  label: string;
}

/**
 * Resolves bearer tokens to principals. Lookups are cached for a few seconds
 * (every dose request authenticates; the cache saves a query on the hot path);
 * a revoked token therefore stops working within CACHE_MS.
 */
export class TokenAuthenticator {
  static readonly CACHE_MS = 10_000;
  private readonly cache = new Map<string, { at: number; principal: Principal | null }>();
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async authenticate(secret: string): Promise<Principal | null> {
    const now = Date.now();
    const hit = this.cache.get(secret);
    if (hit && now - hit.at < TokenAuthenticator.CACHE_MS) return hit.principal;
    const r = await this.db.query<TokenRow>(
      'SELECT id, role, facility_code, region_code, label FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL',
      [hashToken(secret)],
    );
    const row = r.rows[0];
    const principal: Principal | null = row
      ? { id: row.id, role: row.role, facilityCode: row.facility_code, regionCode: row.region_code, label: row.label }
      : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(secret, { at: now, principal });
    return principal;
  }
}


/**
 * Makes sure an administrator can get in: a preset DOSIS_ADMIN_TOKEN is
 * registered; otherwise on an empty database a token is generated and
 * returned (to be printed once). Returns the new secret, or null.
 */
export async function ensureAdminToken(db: Db, preset: string | undefined): Promise<string | null> {
  return db.withTransaction(async (tx) => {
    await lockSchemaKey(tx, SCHEMA_LOCKS.adminToken);
    if (preset) {
      const r = await tx.query('SELECT 1 FROM api_tokens WHERE token_hash = $1', [hashToken(preset)]);
      if (r.rowCount === 0) await createToken(tx, { role: 'admin', label: 'DOSIS_ADMIN_TOKEN' }, null, preset);
      return null;
    }
    const r = await tx.query("SELECT 1 FROM api_tokens WHERE role = 'admin' AND revoked_at IS NULL LIMIT 1");
    if (r.rowCount > 0) return null;
    return (await createToken(tx, { role: 'admin', label: 'first administrator' }, null)).token;
  });
}
