/**
 * `dosis accounts` as an operator runs it, in a subprocess against a scratch
 * PostgreSQL database: create (password generated and printed once), list,
 * a new password; usage errors exit 2, refused input exits 1; the printed
 * password signs in through the API.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { POSTGRES_SKIP } from '../helpers/db.ts';
import { createScratchDatabase, runDosis, type ScratchDatabase } from '../helpers/server.ts';
import { postgresDb, type Db } from '../../src/db/client.ts';
import { ADMIN_TOKEN, testRuntime } from '../helpers/app.ts';
import { createFacility } from '../../src/records/facilities.ts';
import type { Runtime } from '../../src/runtime.ts';

describe('dosis accounts', { skip: POSTGRES_SKIP }, () => {
  let scratch: ScratchDatabase;
  let db: Db;
  let rt: Runtime;
  const env = () => ({ DATABASE_URL: scratch.url, DOSIS_ADMIN_TOKEN: ADMIN_TOKEN });

  before(async () => {
    scratch = await createScratchDatabase('dosis_accounts');
    db = postgresDb({ connectionString: scratch.url, max: 2 });
    rt = await testRuntime(db);
    await createFacility(db, { code: 'PKM-CLI', name: 'Puskesmas CLI', regionCode: '317101' });
  });
  after(async () => {
    await rt?.close();
    await scratch?.drop();
  });

  it('has --help and exits 2 on usage errors', async () => {
    const help = await runDosis(['accounts', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^dosis accounts/);
    const noRole = await runDosis(['accounts', 'create', '--username', 'x-user', '--name', 'X'], { env: env() });
    assert.equal(noRole.code, 2);
    assert.match(noRole.stderr, /--name and --role are required/);
    const badRole = await runDosis(['accounts', 'create', '--username', 'x-user', '--name', 'X', '--role', 'nurse'], { env: env() });
    assert.equal(badRole.code, 2);
  });

  it('creates an account with a generated password that signs in; refuses an unknown facility (exit 1)', async () => {
    const r = await runDosis(['accounts', 'create', '--username', 'Rina.Bidan', '--name', 'Rina (bidan)', '--role', 'facility', '--facility', 'pkm-cli'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const password = /Password \(shown only this once\): (\S+)/.exec(r.stdout)?.[1];
    assert.ok(password, r.stdout);
    const signIn = await rt.app.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'rina.bidan', password } });
    assert.equal(signIn.statusCode, 200, signIn.body);
    assert.equal(signIn.json().user.facilityCode, 'PKM-CLI');
    const bad = await runDosis(['accounts', 'create', '--username', 'nobody', '--name', 'N', '--role', 'facility', '--facility', 'NOPE'], { env: env() });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Unknown facility "NOPE"/);
    const audited = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE actor = 'cli' AND action = 'account_created'");
    assert.equal(audited.rows[0]!.n, 1);
  });

  it('lists accounts and sets a new password, ending the sessions', async () => {
    const list = await runDosis(['accounts', 'list'], { env: env() });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^Rina\.Bidan\tfacility\tPKM-CLI\tactive\tRina \(bidan\)$/m);
    const r = await runDosis(['accounts', 'password', '--username', 'rina.bidan'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const password = /Password \(shown only this once\): (\S+)/.exec(r.stdout)?.[1];
    const sessions = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM staff_sessions');
    assert.equal(sessions.rows[0]!.n, 0);
    const signIn = await rt.app.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'rina.bidan', password } });
    assert.equal(signIn.statusCode, 200);
    const missing = await runDosis(['accounts', 'password', '--username', 'nobody'], { env: env() });
    assert.equal(missing.code, 1);
  });
});
