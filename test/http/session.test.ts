/**
 * Console sign-in and sessions over HTTP, on both databases: cookies, CSRF,
 * lockout, expiry, sign-out, disabled accounts, and a session recording a
 * dose with the same rights as a facility token.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { cheapAccounts } from '../helpers/accounts.ts';
import { ADMIN_TOKEN, bearer, doseBody, facilityWithToken, person, testRuntime } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import { MAX_FAILED_ATTEMPTS } from '../../src/access/accounts.ts';
import { hashPassword, needsRehash, verifyPassword } from '../../src/access/passwords.ts';
import { seedDemo } from '../../src/demo.ts';
import { FAILURES_PER_CLIENT } from '../../src/http/routes/session.ts';

const PASSWORD = 'kata-sandi-rahasia-1';

interface Signed {
  cookie: string;
  csrf: string;
  setCookie: string[];
  body: { user: { id: string; username: string; role: string; facilityCode: string | null }; csrfToken: string };
}

async function signIn(rt: Runtime, username: string, password = PASSWORD): Promise<Signed> {
  const res = await rt.app.inject({ method: 'POST', url: '/api/v1/session', payload: { username, password } });
  assert.equal(res.statusCode, 200, res.body);
  const setCookie = [res.headers['set-cookie']].flat().filter((c): c is string => typeof c === 'string');
  const jar = Object.fromEntries(setCookie.map((c) => c.split(';')[0]!.split('=') as [string, string]));
  return { cookie: `dosis_session=${jar.dosis_session}; dosis_csrf=${jar.dosis_csrf}`, csrf: decodeURIComponent(jar.dosis_csrf!), setCookie, body: res.json() };
}

describeEachBackend('console sessions', (t) => {
  let rt: Runtime;
  let facility: { code: string; token: string };
  const admin = bearer(ADMIN_TOKEN);
  const ids: Record<string, string> = {};

  const createAccount = async (body: Record<string, unknown>) => rt.app.inject({ method: 'POST', url: '/api/v1/accounts', headers: admin, payload: body });

  it('lets an admin create accounts, one username whatever its case', async () => {
    rt = await testRuntime(t.db);
    facility = await facilityWithToken(t.db, '317101');
    const res = await createAccount({ username: 'Siti.Perawat', displayName: 'Siti (perawat)', role: 'facility', facility: facility.code.toLowerCase(), password: PASSWORD });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().facilityCode, facility.code);
    assert.equal(res.json().disabled, false);
    assert.ok(!('passwordHash' in res.json()) && !res.body.includes('scrypt'));
    ids.siti = res.json().id;
    const again = await createAccount({ username: 'siti.perawat', displayName: 'x', role: 'support', password: PASSWORD });
    assert.equal(again.statusCode, 409, again.body);
    assert.equal(again.json().error.code, 'username_taken');
    const bad = await createAccount({ username: 'a', displayName: ' ', role: 'facility', password: 'short' });
    assert.equal(bad.statusCode, 422);
    assert.deepEqual(bad.json().error.fields.map((f: { path: string }) => f.path).sort(), ['displayName', 'password', 'username']);
    const noFacility = await createAccount({ username: 'tanpa-faskes', displayName: 'x', role: 'facility', facility: 'NOPE', password: PASSWORD });
    assert.equal(noFacility.statusCode, 422);
    assert.equal(noFacility.json().error.code, 'unknown_facility');
    const district = await createAccount({ username: 'dinkes-jakpus', displayName: 'Dinkes', role: 'district', region: '3171', password: PASSWORD });
    assert.equal(district.statusCode, 201, district.body);
    ids.district = district.json().id;
    const list = await rt.app.inject({ method: 'GET', url: '/api/v1/accounts', headers: admin });
    assert.deepEqual(list.json().accounts.map((a: { username: string }) => a.username), ['dinkes-jakpus', 'Siti.Perawat']);
    const log = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE action = 'account_created'");
    assert.equal(log.rows[0]!.n, 2);
  });

  it('stores scrypt hashes with their parameters, verified in constant time', async () => {
    const r = await t.db.query<{ password_hash: string }>('SELECT password_hash FROM staff_accounts WHERE id = $1', [ids.siti]);
    const stored = r.rows[0]!.password_hash;
    assert.match(stored, /^scrypt\$32768\$8\$1\$/);
    assert.equal(await verifyPassword(PASSWORD, stored), true);
    assert.equal(await verifyPassword(PASSWORD + 'x', stored), false);
    assert.equal(needsRehash(stored), false);
    assert.equal(needsRehash(await hashPassword('weaker-password', { N: 1024, r: 8, p: 1 })), true);
  });

  it('signs in with cookies (HttpOnly session, readable CSRF, SameSite=Strict, Secure for an https PUBLIC_URL)', async () => {
    const s = await signIn(rt, 'SITI.perawat');
    assert.equal(s.body.user.username, 'Siti.Perawat');
    assert.equal(s.body.user.role, 'facility');
    assert.equal(s.body.csrfToken, s.csrf);
    const session = s.setCookie.find((c) => c.startsWith('dosis_session='))!;
    const csrf = s.setCookie.find((c) => c.startsWith('dosis_csrf='))!;
    assert.match(session, /HttpOnly/);
    assert.match(session, /SameSite=Strict/);
    assert.match(session, /Secure/);
    assert.match(session, /Path=\//);
    assert.doesNotMatch(csrf, /HttpOnly/);
    assert.match(csrf, /SameSite=Strict/);
    const me = await rt.app.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie: s.cookie } });
    assert.equal(me.statusCode, 200);
    assert.equal(me.json().user.id, ids.siti);
    assert.equal(me.json().csrfToken, s.csrf);
    // Only the hash of the secret is stored.
    const secret = s.cookie.split(';')[0]!.split('=')[1]!;
    const rows = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM staff_sessions WHERE encode(token_hash, 'escape') LIKE $1", [`%${secret}%`]);
    assert.equal(rows.rows[0]!.n, 0);
  });

  it('gives the same 401 for a wrong password and an unknown username', async () => {
    const wrong = await rt.app.inject({ method: 'POST', url: '/api/v1/session', headers: { 'accept-language': 'id' }, payload: { username: 'siti.perawat', password: 'salah-sandi-123' } });
    const unknown = await rt.app.inject({ method: 'POST', url: '/api/v1/session', headers: { 'accept-language': 'id' }, payload: { username: 'tidak.ada', password: 'salah-sandi-123' } });
    assert.equal(wrong.statusCode, 401);
    assert.equal(unknown.statusCode, 401);
    assert.equal(wrong.body, unknown.body);
    assert.equal(wrong.headers['set-cookie'], undefined);
    assert.equal((await rt.app.inject({ method: 'GET', url: '/api/v1/session' })).statusCode, 401);
    // The wrong guess counted; a right password resets the count.
    await signIn(rt, 'siti.perawat');
    const r = await t.db.query<{ failed_attempts: number }>('SELECT failed_attempts FROM staff_accounts WHERE id = $1', [ids.siti]);
    assert.equal(r.rows[0]!.failed_attempts, 0);
  });

  it('works every API route as the account’s role: a session records a dose', async () => {
    const s = await signIn(rt, 'siti.perawat');
    const p = person();
    const res = await rt.app.inject({
      method: 'POST',
      url: '/api/v1/vaccinations',
      headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, 'idempotency-key': 'console-1' },
      payload: doseBody(p),
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.match(res.json().certificate.qr, /^HC1:/);
    const v = await t.db.query<{ recorded_by: string; facility_code: string; source: string }>('SELECT recorded_by::text, facility_code, source FROM vaccinations WHERE id = $1', [
      res.json().vaccination.id,
    ]);
    assert.deepEqual(v.rows[0], { recorded_by: ids.siti, facility_code: facility.code, source: 'form' });
    // Same rights as a facility token: its own person's timeline, no merge, no admin routes.
    const timeline = await rt.app.inject({ method: 'GET', url: `/api/v1/people/${res.json().person.id}/timeline`, headers: { cookie: s.cookie } });
    assert.equal(timeline.statusCode, 200);
    const merge = await rt.app.inject({ method: 'POST', url: `/api/v1/people/${res.json().person.id}/merge`, headers: { cookie: s.cookie, 'x-csrf-token': s.csrf }, payload: { from: res.json().person.id } });
    assert.equal(merge.statusCode, 403);
    const accounts = await rt.app.inject({ method: 'GET', url: '/api/v1/accounts', headers: { cookie: s.cookie } });
    assert.equal(accounts.statusCode, 403);
    // The record page follows the certificate's SMS.
    const sms = (personId: string, certificateId: string) =>
      rt.app.inject({ method: 'GET', url: `/api/v1/people/${personId}/certificates/${certificateId}/sms`, headers: { cookie: s.cookie } });
    const d = res.json();
    assert.equal((await sms(d.person.id, d.certificate.id)).json().status, 'queued');
    const worker = rt.deps.notify.worker({ pollMs: 10 });
    await worker.drain();
    const sent = (await sms(d.person.id, d.certificate.id)).json();
    assert.ok(['submitted', 'delivered'].includes(sent.status), JSON.stringify(sent));
    assert.match(sent.recipient, /^\+62 8\d\d-\*\*\*\*-\d{4}$/);
    const noPhone = await rt.app.inject({
      method: 'POST',
      url: '/api/v1/vaccinations',
      headers: { cookie: s.cookie, 'x-csrf-token': s.csrf },
      payload: doseBody({ ...person(), phone: '' }),
    });
    assert.equal(noPhone.statusCode, 201, noPhone.body);
    await worker.drain();
    assert.equal((await sms(noPhone.json().person.id, noPhone.json().certificate.id)).json().status, 'no_phone');
    // Another facility's person is not found.
    const other = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer((await facilityWithToken(t.db, '327301')).token), payload: doseBody(person()) });
    assert.equal((await sms(other.json().person.id, other.json().certificate.id)).statusCode, 404);
  });

  it('refuses a change without the right CSRF token (403 csrf) and changes nothing', async () => {
    const s = await signIn(rt, 'siti.perawat');
    const before = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM vaccinations');
    for (const csrf of [undefined, 'wrong-token', s.csrf.slice(1)]) {
      const res = await rt.app.inject({
        method: 'POST',
        url: '/api/v1/vaccinations',
        headers: { cookie: s.cookie, ...(csrf === undefined ? {} : { 'x-csrf-token': csrf }) },
        payload: doseBody(person()),
      });
      assert.equal(res.statusCode, 403, res.body);
      assert.equal(res.json().error.code, 'csrf');
    }
    const del = await rt.app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: s.cookie } });
    assert.equal(del.statusCode, 403);
    const after = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM vaccinations');
    assert.equal(after.rows[0]!.n, before.rows[0]!.n);
    // Reads need no CSRF token; a bearer token needs none either (browsers do not send it on their own).
    assert.equal((await rt.app.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie: s.cookie } })).statusCode, 200);
    const machine = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: { ...bearer(facility.token), cookie: s.cookie }, payload: doseBody(person()) });
    assert.equal(machine.statusCode, 201, machine.body);
    // Another session's token does not fit this one.
    const other = await signIn(rt, 'siti.perawat');
    const cross = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: { cookie: s.cookie, 'x-csrf-token': other.csrf }, payload: doseBody(person()) });
    assert.equal(cross.statusCode, 403);
  });

  it('signs out: the session stops working at once', async () => {
    const s = await signIn(rt, 'siti.perawat');
    const out = await rt.app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    assert.equal(out.statusCode, 204);
    const cleared = [out.headers['set-cookie']].flat().join('\n');
    assert.match(cleared, /dosis_session=;.*Max-Age=0/);
    assert.equal((await rt.app.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie: s.cookie } })).statusCode, 401);
    const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf }, payload: doseBody(person()) });
    assert.equal(res.statusCode, 401);
    // A stale cookie does not stand in the way of signing in again.
    const again = await rt.app.inject({ method: 'POST', url: '/api/v1/session', headers: { cookie: s.cookie }, payload: { username: 'siti.perawat', password: PASSWORD } });
    assert.equal(again.statusCode, 200);
  });

  it('ends idle sessions and sessions past their absolute expiry', async () => {
    const idle = await signIn(rt, 'siti.perawat');
    const old = await signIn(rt, 'siti.perawat');
    await t.db.query("UPDATE staff_sessions SET last_seen_at = now() - interval '3 hours' WHERE csrf_token = $1", [idle.csrf]);
    await t.db.query("UPDATE staff_sessions SET expires_at = now() - interval '1 second' WHERE csrf_token = $1", [old.csrf]);
    for (const s of [idle, old]) {
      assert.equal((await rt.app.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie: s.cookie } })).statusCode, 401);
      assert.equal((await rt.app.inject({ method: 'GET', url: '/api/v1/cases', headers: { cookie: s.cookie } })).statusCode, 401);
    }
  });

  it(`locks an account after ${MAX_FAILED_ATTEMPTS} wrong passwords, the right one included, until it expires or an admin unlocks it`, async () => {
    const made = await createAccount({ username: 'budi.bidan', displayName: 'Budi', role: 'facility', facility: facility.code, password: PASSWORD });
    const id = made.json().id as string;
    const attempt = (password: string) => rt.app.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'budi.bidan', password } });
    for (let i = 0; i < MAX_FAILED_ATTEMPTS; i++) assert.equal((await attempt(`salah-${i}-sandinya`)).statusCode, 401);
    const locked = await attempt(PASSWORD);
    assert.equal(locked.statusCode, 401);
    assert.equal(locked.json().error.code, 'bad_credentials');
    const list = await rt.app.inject({ method: 'GET', url: '/api/v1/accounts', headers: admin });
    assert.ok(list.json().accounts.find((a: { id: string }) => a.id === id).lockedUntil);
    const audited = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE action = 'account_locked' AND subject = 'budi.bidan'");
    assert.equal(audited.rows[0]!.n, 1);
    // The lock runs out…
    await t.db.query("UPDATE staff_accounts SET locked_until = now() - interval '1 second' WHERE id = $1", [id]);
    assert.equal((await attempt(PASSWORD)).statusCode, 200);
    // …or an admin lifts it.
    for (let i = 0; i < MAX_FAILED_ATTEMPTS; i++) await attempt(`salah-${i}-lagi-sandinya`);
    assert.equal((await attempt(PASSWORD)).statusCode, 401);
    const unlock = await rt.app.inject({ method: 'PATCH', url: `/api/v1/accounts/${id}`, headers: admin, payload: { unlock: true } });
    assert.equal(unlock.statusCode, 200, unlock.body);
    assert.equal(unlock.json().lockedUntil, null);
    assert.equal((await attempt(PASSWORD)).statusCode, 200);
  });

  it('disables an account: no sign-in, and its open sessions end; enabling and a new password work', async () => {
    const s = await signIn(rt, 'dinkes-jakpus');
    const off = await rt.app.inject({ method: 'PATCH', url: `/api/v1/accounts/${ids.district}`, headers: admin, payload: { disabled: true } });
    assert.equal(off.statusCode, 200, off.body);
    assert.equal(off.json().disabled, true);
    assert.equal((await rt.app.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie: s.cookie } })).statusCode, 401);
    const refused = await rt.app.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'dinkes-jakpus', password: PASSWORD } });
    assert.equal(refused.statusCode, 401);
    const on = await rt.app.inject({ method: 'PATCH', url: `/api/v1/accounts/${ids.district}`, headers: admin, payload: { disabled: false, password: 'sandi-baru-yang-panjang', displayName: 'Dinkes Jakarta Pusat' } });
    assert.equal(on.statusCode, 200, on.body);
    assert.equal(on.json().displayName, 'Dinkes Jakarta Pusat');
    const oldPassword = await rt.app.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'dinkes-jakpus', password: PASSWORD } });
    assert.equal(oldPassword.statusCode, 401);
    const fresh = await signIn(rt, 'dinkes-jakpus', 'sandi-baru-yang-panjang');
    assert.equal(fresh.body.user.role, 'district');
    const log = await t.db.query<{ detail: Record<string, unknown> }>("SELECT detail FROM audit_log WHERE action = 'account_updated' AND subject = $1 ORDER BY id", [ids.district]);
    assert.deepEqual(log.rows.map((r) => r.detail), [{ disabled: true }, { disabled: false, displayName: 'Dinkes Jakarta Pusat', password: 'reset' }]);
    assert.ok(!JSON.stringify(log.rows).includes('sandi-baru'));
    const missing = await rt.app.inject({ method: 'PATCH', url: '/api/v1/accounts/00000000-0000-0000-0000-000000000000', headers: admin, payload: { disabled: true } });
    assert.equal(missing.statusCode, 404);
    // An admin signed in to the console cannot disable their own account.
    await createAccount({ username: 'admin-sendiri', displayName: 'Admin', role: 'admin', password: PASSWORD });
    const me = await signIn(rt, 'admin-sendiri');
    const self = await rt.app.inject({ method: 'PATCH', url: `/api/v1/accounts/${me.body.user.id}`, headers: { cookie: me.cookie, 'x-csrf-token': me.csrf }, payload: { disabled: true } });
    assert.equal(self.statusCode, 409);
    assert.equal(self.json().error.code, 'cannot_disable_self');
  });

  it(`throttles an address after ${FAILURES_PER_CLIENT} failed sign-ins (password spraying), not the others`, async () => {
    const from = (remoteAddress: string, username: string, password: string) =>
      rt.app.inject({ method: 'POST', url: '/api/v1/session', remoteAddress, payload: { username, password } });
    // Sprayed at usernames that exist, with a cheap hash (helpers/accounts.ts: a wrong password there is a
    // failure like any other, at 2 ms of CPU instead of 95), and at five that do not (the full-cost dummy hash).
    const usernames = [...(await cheapAccounts(t.db, 'spray', FAILURES_PER_CLIENT - 5)), ...Array.from({ length: 5 }, (_, i) => `spray-unknown-${i}`)];
    for (const username of usernames) assert.equal((await from('10.9.8.7', username, 'Musim-Hujan-2024')).statusCode, 401);
    const blocked = await from('10.9.8.7', 'siti.perawat', PASSWORD);
    assert.equal(blocked.statusCode, 429);
    assert.equal(blocked.json().error.code, 'too_many_attempts');
    assert.equal((await from('10.9.8.6', 'siti.perawat', PASSWORD)).statusCode, 200);
  });

  it('seeds one demo console account per role, each signing in with its printed password', async () => {
    const demo = await seedDemo(t.db, { issuer: rt.deps.issuer, linkSecret: rt.deps.linkSecret, publicUrl: 'https://dosis.test' });
    assert.ok(demo);
    assert.deepEqual(demo.accounts.map((a) => a.role).sort(), ['admin', 'district', 'facility', 'support']);
    for (const a of demo.accounts) {
      const s = await signIn(rt, a.username, a.password);
      assert.equal(s.body.user.role, a.role);
    }
    assert.equal(demo.accounts.find((a) => a.role === 'facility')?.scope, 'PKM-MENTENG');
  });

  it('stops', async () => {
    await rt.app.close();
  });
});
