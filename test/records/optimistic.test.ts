/**
 * Optimistic, single-statement writes (records/record-dose.ts): a dose is
 * written only if its person is still as read; otherwise it is read and
 * judged again. The races are made deterministic with the `beforeWrite` hook:
 * another dose of the same person is recorded between the read and the write.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { describeEachBackend } from '../helpers/db.ts';
import { doseBody, facilityWithToken, person, testRuntime } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import type { Principal } from '../../src/access/tokens.ts';
import { AppError } from '../../src/domain/errors.ts';
import { todayInJakarta } from '../../src/domain/vaccination-input.ts';
import { recordDose, recordEntries, validateEntry, type PreparedEntry, type RecordDeps, type RecordResult } from '../../src/records/record-dose.ts';
import { correctPhone, mergePeople, voidVaccination } from '../../src/records/operations.ts';

describeEachBackend('optimistic writes', (t) => {
  let rt: Runtime;
  let deps: RecordDeps;
  let facility: Principal;
  const support: Principal = { id: randomUUID(), role: 'support', facilityCode: null, regionCode: null, label: 'support' };
  const record = (body: object, idempotencyKey?: string) => recordDose(deps, { principal: facility, body, idempotencyKey, source: 'api' });
  const prepared = (body: object, key?: string): PreparedEntry => ({
    entry: validateEntry(body, todayInJakarta(new Date())),
    facilityCode: facility.facilityCode as string,
    ...(key ? { idempotencyKey: key, requestHash: createHash('sha256').update(JSON.stringify(body)).digest() } : {}),
  });
  const count = async (sql: string, params: unknown[] = []) => (await t.db.query<{ n: number }>(sql, params)).rows[0]!.n;
  const version = async (personId: string) => (await t.db.query<{ version: number }>('SELECT version FROM people WHERE id = $1', [personId])).rows[0]!.version;

  it('starts', async () => {
    rt = await testRuntime(t.db);
    const fac = await facilityWithToken(t.db);
    facility = { id: randomUUID(), role: 'facility', facilityCode: fac.code, regionCode: null, label: 'test' };
    deps = { db: t.db, issuer: rt.deps.issuer, linkSecret: rt.deps.linkSecret, publicUrl: 'https://dosis.test' };
  });

  it('judges a dose again when its person got the same dose between the read and the write', async () => {
    const p = person();
    const first = await record(doseBody(p, { doseNumber: 1, date: '2021-06-01' }));
    let meanwhile: RecordResult | undefined;
    const [outcome] = await recordEntries(t.db, deps, { principal: facility, source: 'api', now: new Date(), beforeWrite: async () => {
      meanwhile = await record(doseBody(p, { doseNumber: 2, date: '2021-07-01' }));
    } }, [prepared(doseBody(p, { doseNumber: 2, date: '2021-07-01' }))]);
    assert.equal(meanwhile?.status, 201);
    assert.equal(outcome?.kind, 'duplicate', 'judged again against the dose 2 written meanwhile');
    assert.ok(outcome?.kind === 'duplicate' && outcome.existing.vaccinationId === meanwhile?.body.vaccination.id);
    assert.equal(await count('SELECT count(*)::int8 AS n FROM vaccinations WHERE person_id = $1', [first.body.person.id]), 2);
  });

  it('undoes a claimed Idempotency-Key with its write when the person changed, and answers as judged again', async () => {
    const p = person();
    const body = doseBody(p);
    const [outcome] = await recordEntries(t.db, deps, { principal: facility, source: 'api', now: new Date(), beforeWrite: async () => {
      await record(doseBody(p));
    } }, [prepared(body, 'race-key-1')]);
    assert.equal(outcome?.kind, 'duplicate');
    assert.equal(await count("SELECT count(*)::int8 AS n FROM idempotency_keys WHERE key = 'race-key-1'"), 0, 'the key went with the undone write');
    // The key is free: the same request sent again gets the same judgement, not a replay.
    await assert.rejects(record(body, 'race-key-1'), (e: unknown) => e instanceof AppError && e.code === 'dose_already_recorded');
  });

  it('finds a person another call created between the read and the write', async () => {
    const p = person();
    let created: RecordResult | undefined;
    const [outcome] = await recordEntries(t.db, deps, { principal: facility, source: 'api', now: new Date(), beforeWrite: async () => {
      created = await record(doseBody(p, { doseNumber: 1, date: '2021-06-01' }));
    } }, [prepared(doseBody(p, { doseNumber: 2, date: '2021-07-01' }), 'race-key-2')]);
    assert.equal(outcome?.kind, 'recorded');
    assert.ok(outcome?.kind === 'recorded');
    assert.equal(outcome.answer.person.id, created?.body.person.id, 'one person');
    assert.equal(outcome.answer.person.created, false);
    assert.equal(outcome.answer.vaccination.status, 'recorded', 'dose 2 sees the dose 1 recorded meanwhile');
    assert.equal(await count("SELECT count(*)::int8 AS n FROM people WHERE id_value = $1", [p.nik]), 1);
    const again = await record(doseBody(p, { doseNumber: 2, date: '2021-07-01' }), 'race-key-2');
    assert.equal(again.status, 200, 'the key holds the answer of the write that won');
    assert.deepEqual(again.body, outcome.answer);
  });

  it('moves a person’s version on a void, a phone correction and a merge', async () => {
    const a = (await record(doseBody(person()))).body;
    const aId = String(a.person.id);
    let v = await version(aId);
    await voidVaccination({ ...deps }, support, a.vaccination.id, 'entered for the wrong person');
    assert.ok((await version(aId)) > v, 'void');
    v = await version(aId);
    await correctPhone({ ...deps }, support, aId, '0813-1111-2222');
    assert.ok((await version(aId)) > v, 'phone correction');
    const b = (await record(doseBody(person()))).body;
    const bId = String(b.person.id);
    const [va, vb] = [await version(aId), await version(bId)];
    await mergePeople({ ...deps }, support, aId, bId);
    assert.ok((await version(aId)) > va && (await version(bId)) > vb, 'merge');
  });

  it('records concurrent calls together, each with its own outcome', async () => {
    const singles = Array.from({ length: 20 }, () => person());
    const series = Array.from({ length: 5 }, () => person());
    const sameKey = Array.from({ length: 5 }, () => person());
    const twoKeys = Array.from({ length: 5 }, () => person());
    const settle = (p: Promise<RecordResult>) => p.then((r) => r.status, (e: unknown) => (e instanceof AppError ? `${e.status} ${e.code}` : 'error'));
    const [s, se, sk, tk] = await Promise.all([
      Promise.all(singles.map((p, i) => settle(record(doseBody(p), `c-single-${i}`)))),
      Promise.all(series.map((p, i) => Promise.all([settle(record(doseBody(p), `c-series-${i}-1`)), settle(record(doseBody(p, { doseNumber: 2, date: '2021-07-10' }), `c-series-${i}-2`))]))),
      Promise.all(sameKey.map((p, i) => Promise.all([settle(record(doseBody(p), `c-same-${i}`)), settle(record(doseBody(p), `c-same-${i}`))]))),
      Promise.all(twoKeys.map((p, i) => Promise.all([settle(record(doseBody(p), `c-two-${i}-a`)), settle(record(doseBody(p), `c-two-${i}-b`))]))),
    ]);
    assert.deepEqual(s, singles.map(() => 201));
    for (const pair of se) assert.deepEqual(pair, [201, 201]);
    for (const pair of sk) assert.deepEqual([...pair].sort(), [200, 201]);
    for (const pair of tk) assert.deepEqual([...pair].map(String).sort(), ['201', '409 dose_already_recorded']);
    const nik = [...singles, ...series, ...sameKey, ...twoKeys].map((p) => p.nik);
    assert.equal(await count('SELECT count(*)::int8 AS n FROM people WHERE id_value = ANY($1::text[])', [nik]), 35);
    assert.equal(
      await count('SELECT count(*)::int8 AS n FROM vaccinations v JOIN people p ON p.id = v.person_id WHERE p.id_value = ANY($1::text[])', [nik]),
      20 + 10 + 5 + 5,
    );
  });

  it('stops', async () => {
    await rt.app.close();
  });
});
