/**
 * A database outage is a 503 with Retry-After, never a 500 `internal`
 * (issue 15, item 7): PostgreSQL is reached through a proxy that the test
 * cuts (every connection closed, new ones refused) and restores.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDb, POSTGRES_SKIP, TEST_DATABASE_URL, type TestDb } from '../helpers/db.ts';
import { cuttableProxy, type CuttableProxy } from '../helpers/proxy.ts';
import { ADMIN_TOKEN, bearer, doseBody, facilityWithToken, person, testRuntime } from '../helpers/app.ts';
import { postgresDb, type Db } from '../../src/db/client.ts';
import type { Runtime } from '../../src/runtime.ts';

describe('a database outage [postgres]', { skip: POSTGRES_SKIP }, () => {
  let test: TestDb;
  let proxy: CuttableProxy;
  let db: Db;
  let rt: Runtime;
  let facility: { code: string; token: string };

  before(async () => {
    test = await openTestDb('postgres');
    proxy = await cuttableProxy(TEST_DATABASE_URL);
    db = postgresDb({ connectionString: proxy.url, schema: test.schema, max: 4, connectTimeoutMs: 2000 });
    rt = await testRuntime(db);
    facility = await facilityWithToken(db);
  });
  after(async () => {
    await rt?.app.close();
    await db?.close();
    await proxy?.close();
    await test?.close();
  });

  it('answers 503 with Retry-After while the database is down, and works again after', async () => {
    const p = person();
    const record = (who = p) => rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facility.token), payload: doseBody(who) });
    assert.equal((await record()).statusCode, 201);
    await proxy.cut();
    const requests = [
      record(person()),
      rt.app.inject({ method: 'GET', url: `/api/v1/people?nik=${p.nik}`, headers: bearer(ADMIN_TOKEN) }),
      rt.app.inject({ method: 'POST', url: '/api/v1/public/lookup', payload: { nik: p.nik, birthDate: p.birthDate }, remoteAddress: '10.80.0.1' }),
      rt.app.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'siapa', password: 'kata-sandi-1234' }, remoteAddress: '10.80.0.2' }),
    ];
    for (const r of await Promise.all(requests)) {
      assert.equal(r.statusCode, 503, r.body);
      assert.equal(r.json().error.code, 'database_unavailable');
      assert.ok(Number(r.headers['retry-after']) > 0, 'Retry-After says when to come back');
    }
    await proxy.restore();
    const again = await rt.app.inject({ method: 'GET', url: `/api/v1/people?nik=${p.nik}`, headers: bearer(ADMIN_TOKEN) });
    assert.equal(again.statusCode, 200, again.body);
  });
});
