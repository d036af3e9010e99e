/** Fixture factories for HTTP tests: an app over a test database, tokens, facilities, valid people. */
import { randomInt } from 'node:crypto';
import type { Db } from '../../src/db/client.ts';
import { buildRuntime, type Runtime } from '../../src/runtime.ts';
import { parseConfig } from '../../src/config.ts';
import { makeNik } from '../../src/domain/nik.ts';
import { createToken, type Role } from '../../src/access/tokens.ts';
import { createFacility } from '../../src/records/facilities.ts';

export const ADMIN_TOKEN = 'dos_test_admin_token_0123456789abcdef';

/**
 * Where tests keep the local signer's key-encryption key and the automatic
 * CSCA: one of each per test run (made by the first test that needs them),
 * not beside ./data in the working tree.
 */
export const TEST_KEYS_ENV = { DOSIS_KEY_FILE: 'test-results/keys/kek', DOSIS_CSCA_DIR: 'test-results/keys/csca' };

/** The app as `dosis serve` builds it, over `db` (already migrated or not). */
export async function testRuntime(db: Db, env: Record<string, string> = {}): Promise<Runtime> {
  const config = parseConfig({ DOSIS_ADMIN_TOKEN: ADMIN_TOKEN, PUBLIC_URL: 'https://dosis.test', ...TEST_KEYS_ENV, ...env });
  return buildRuntime(db, config);
}

let facilitySeq = 0;
/** A new facility and a token for it. */
export async function facilityWithToken(db: Db, regionCode = '317101'): Promise<{ code: string; token: string }> {
  const code = `PKM-${process.pid}-${++facilitySeq}`;
  await createFacility(db, { code, name: `Puskesmas ${facilitySeq}`, regionCode });
  const t = await createToken(db, { role: 'facility', facility: code, label: 'test' }, null);
  return { code, token: t.token };
}

export async function tokenFor(db: Db, role: Role, scope: { facility?: string; region?: string } = {}): Promise<string> {
  return (await createToken(db, { role, facility: scope.facility ?? null, region: scope.region ?? null, label: 'test' }, null)).token;
}

/** A person with a structurally valid NIK (fixtures only: Dosis never invents NIKs for real people). */
export function person(over: Partial<{ nik: string; name: string; birthDate: string; sex: 'M' | 'F'; phone: string }> = {}) {
  const sex = over.sex ?? (randomInt(2) ? 'M' : 'F');
  const year = 1950 + randomInt(50);
  const birthDate = over.birthDate ?? `${year}-${String(1 + randomInt(12)).padStart(2, '0')}-${String(1 + randomInt(28)).padStart(2, '0')}`;
  const nik = over.nik ?? makeNik({ province: '31', regency: '71', district: '01', birthDate, sex, serial: 1 + randomInt(9999) });
  return {
    nik,
    name: over.name ?? 'Budi Santoso',
    birthDate,
    sex,
    phone: over.phone ?? `0812${String(randomInt(10_000_000, 99_999_999))}`,
  };
}

/** A valid dose body. */
export function doseBody(p = person(), over: Record<string, unknown> = {}) {
  return { person: p, vaccine: 'CORONAVAC', doseNumber: 1, date: '2021-06-10', lot: 'A123', ...over };
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/**
 * Makes the public lookup and phone-correction answers of `rt` skip their
 * floor (access/portal.ts LOOKUP_FLOOR_MS, 400 ms of waiting per answer), for
 * tests that are not about the floor: each wait asked for is recorded instead.
 * The floor itself is tested with the real wait (http/portal.test.ts).
 */
export function skipFloorWaits(rt: Runtime): number[] {
  const asked: number[] = [];
  rt.deps.sleep = async (ms) => {
    asked.push(ms);
  };
  return asked;
}
