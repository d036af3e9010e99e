import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describeEachBackend } from '../helpers/db.ts';
import { testRuntime } from '../helpers/app.ts';
import { housekeep } from '../../src/access/housekeeping.ts';
import { schedulePeriodicJobs } from '../../src/notify/service.ts';
import type { Db } from '../../src/db/client.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const periodic = { doseRequests: { escalateAfterDays: 3, checkEveryMinutes: 60 } };

/** Rows of every kind housekeeping looks at, each in a version past keeping and one still needed; returns the ids that must stay. */
async function seed(db: Db, now: Date): Promise<{ keep: Record<string, string[]> }> {
  const at = (ms: number) => new Date(now.getTime() - ms);
  const correction = async (status: string, created: Date) => {
    const id = randomUUID();
    const decided = status === 'approved' ? created : null;
    await db.query(
      `INSERT INTO phone_corrections (id, status, nik, person_key, birth_date, name, new_phone, client, created_at, submitted_at, decided_at)
       VALUES ($1, $2, '3171044101900001', 'nik:3171044101900001', '1990-01-01', 'Siti Aminah', '+6281234567890', '10.0.0.1', $3, $4, $5)`,
      [id, status, created, status === 'unverified' ? null : created, decided],
    );
    return id;
  };
  const code = async (expires: Date) => {
    const id = randomUUID();
    await db.query(`INSERT INTO otp_requests (id, phone, purpose, created_at, expires_at) VALUES ($1, '+6281234567890', 'lookup', $2, $2)`, [id, expires]);
    return id;
  };
  const lookup = async (when: Date) => {
    const r = await db.query<{ id: string }>('INSERT INTO portal_lookups (nik_hash, client, at) VALUES ($1, $2, $3) RETURNING id::text', [randomBytes(32), '10.0.0.1', when]);
    return r.rows[0]!.id;
  };
  const session = async (expires: Date) => {
    const hash = randomBytes(32);
    await db.query('INSERT INTO portal_sessions (token_hash, person_id, expires_at) VALUES ($1, $2, $3)', [hash, randomUUID(), expires]);
    return hash.toString('hex');
  };
  // Past keeping: an unproven correction and an expired code three days old, an old lookup, a session that has ended.
  await correction('unverified', at(3 * DAY));
  await code(at(3 * DAY));
  await lookup(at(3 * DAY));
  await session(at(1000));
  return {
    keep: {
      corrections: [await correction('unverified', at(HOUR)), await correction('open', at(10 * DAY)), await correction('approved', at(10 * DAY))],
      codes: [await code(at(HOUR)), await code(new Date(now.getTime() + 10 * 60_000))],
      lookups: [await lookup(at(HOUR))],
      sessions: [await session(new Date(now.getTime() + HOUR))],
    },
  };
}

async function remaining(db: Db): Promise<Record<string, string[]>> {
  const ids = async (sql: string) => (await db.query<{ id: string }>(sql)).rows.map((r) => r.id).sort();
  return {
    corrections: await ids('SELECT id::text AS id FROM phone_corrections'),
    codes: await ids('SELECT id::text AS id FROM otp_requests'),
    lookups: await ids('SELECT id::text AS id FROM portal_lookups'),
    sessions: await ids("SELECT encode(token_hash, 'hex') AS id FROM portal_sessions"),
  };
}

async function empty(db: Db): Promise<void> {
  for (const table of ['phone_corrections', 'otp_requests', 'portal_lookups', 'portal_sessions']) await db.query(`DELETE FROM ${table}`);
}

const sorted = (o: Record<string, string[]>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, [...v].sort()]));

describeEachBackend('housekeeping', (t) => {
  it('deletes unproven corrections, spent codes, old lookups and ended sessions, and nothing still needed', async () => {
    await empty(t.db);
    const now = new Date();
    const { keep } = await seed(t.db, now);
    assert.deepEqual(await housekeep(t.db, now), { unverifiedCorrections: 1, codeRequests: 1, portalLookups: 1, portalSessions: 1 });
    assert.deepEqual(await remaining(t.db), sorted(keep));
    assert.deepEqual(await housekeep(t.db, now), { unverifiedCorrections: 0, codeRequests: 0, portalLookups: 0, portalSessions: 0 }, 'a second run finds nothing');
  });

  it('runs as the worker’s periodic job, which schedules its next run once however many workers start', async () => {
    await empty(t.db);
    const rt = await testRuntime(t.db);
    const now = new Date();
    const { keep } = await seed(t.db, now);
    await Promise.all([schedulePeriodicJobs(t.db, periodic, now), schedulePeriodicJobs(t.db, periodic, now)]);
    const w = rt.deps.notify.worker({ pollMs: 10, now: () => now });
    await w.drain();
    assert.deepEqual(await remaining(t.db), sorted(keep));
    const next = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE kind = 'housekeeping' AND status = 'pending' AND run_at > now()");
    assert.equal(next.rows[0]!.n, 1, 'the next run is scheduled, once');
  });
});
