/**
 * No personal data in the logs. A real `dosis serve` at the most verbose
 * level (debug), with its SMS worker, takes doses, searches by NIK, phone
 * and name, public lookups, bad input of every kind and a replayed request;
 * then everything it printed is searched for each NIK, phone number (in every
 * writing), name and one-time code it handled. Request logs carry the path
 * only, errors are logged without the request body, SMS texts stay in the
 * database.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BACKENDS } from '../helpers/db.ts';
import { seedDataDir } from '../helpers/services.ts';
import { doseBody, person } from '../helpers/app.ts';
import { createScratchDatabase, facilityToken, request, startServer, type DosisServer, type ScratchDatabase } from '../helpers/server.ts';

const ADMIN = 'dos_logs_admin_token_0123456789abcdefgh';

describe('logs carry no NIK, phone number, name or code', () => {
  let server: DosisServer;
  let scratch: ScratchDatabase | undefined;
  let home: string | undefined;

  before(async () => {
    let env: Record<string, string>;
    if (BACKENDS.includes('postgres')) {
      scratch = await createScratchDatabase('dosis_logs');
      env = { DATABASE_URL: scratch.url };
    } else {
      home = mkdtempSync(join(tmpdir(), 'dosis-logs-'));
      seedDataDir(home);
      env = { DOSIS_DATA_DIR: home };
    }
    server = await startServer({
      env: { ...env, DOSIS_ADMIN_TOKEN: ADMIN, DOSIS_WORKER: 'true', DOSIS_WORKER_POLL_MS: '20', LOG_LEVEL: 'debug', PUBLIC_URL: 'https://dosis.test' },
      readyTimeoutMs: 60_000,
    });
  });
  after(async () => {
    await server?.kill();
    await scratch?.drop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('after doses, searches, lookups, codes and bad input, the output names nobody', async () => {
    const token = await facilityToken(server.url, ADMIN, 'PKM-LOGS');
    const auth = { authorization: `Bearer ${token}` };
    const admin = { authorization: `Bearer ${ADMIN}` };
    const people = [
      person({ name: 'Rahmawati Kusumadewi', phone: '0812-7391-4402', birthDate: '1984-03-09', sex: 'F' }),
      person({ name: 'Bonifasius Sinaga', phone: '+62 857 2204 9913', birthDate: '1971-11-30', sex: 'M' }),
    ];
    for (const p of people) {
      const r = await request(server.url, 'POST', '/api/v1/vaccinations', doseBody(p), { ...auth, 'idempotency-key': `logs-${p.nik}` });
      assert.equal(r.status, 201, r.text);
      const again = await request(server.url, 'POST', '/api/v1/vaccinations', doseBody(p), { ...auth, 'idempotency-key': `logs-${p.nik}` });
      assert.equal(again.status, 200, 'a replay answers the first answer');
    }
    const [a, b] = people as [ReturnType<typeof person>, ReturnType<typeof person>];
    // Searches put NIKs, phones and names in query strings.
    for (const q of [`nik=${a.nik}`, `phone=${encodeURIComponent(a.phone)}`, `name=${encodeURIComponent(b.name)}`, `phone=6285722049913`]) {
      const r = await request(server.url, 'GET', `/api/v1/people?${q}`, undefined, admin);
      assert.equal(r.status, 200, r.text);
    }
    // Bad input that carries personal data: a NIK that disagrees with the birth date, a landline, a duplicate dose.
    const bad = await request(server.url, 'POST', '/api/v1/vaccinations', doseBody({ ...b, birthDate: '1971-12-01' }), auth);
    assert.equal(bad.status, 422, bad.text);
    const landline = await request(server.url, 'POST', '/api/v1/vaccinations', doseBody(person({ name: 'Yosefina Manurung', phone: '021-5550-1234' })), auth);
    assert.equal(landline.status, 422, landline.text);
    const noPhone = await request(server.url, 'POST', '/api/v1/vaccinations', doseBody({ ...person({ name: 'Martinus Hutagalung' }), phone: '' }), auth);
    assert.equal(noPhone.status, 201, noPhone.text);
    const dup = await request(server.url, 'POST', '/api/v1/vaccinations', doseBody(a), auth);
    assert.equal(dup.status, 409, dup.text);
    // The public lookup: a code goes by SMS to the phone on record; one wrong try.
    const lookup = await request(server.url, 'POST', '/api/v1/public/lookup', { nik: a.nik, birthDate: a.birthDate });
    assert.equal(lookup.status, 202, lookup.text);
    const wrong = await request(server.url, 'POST', `/api/v1/public/lookup/${lookup.body.requestId}/verify`, { code: '000000' });
    assert.ok(wrong.status >= 400 && wrong.status < 500, wrong.text);
    const nobody = await request(server.url, 'POST', '/api/v1/public/lookup', { nik: person().nik, birthDate: '1990-01-01' });
    assert.equal(nobody.status, 202, nobody.text);

    // The worker sends every SMS (certificates and the code) to the sink.
    const sink = async () => (await request(server.url, 'GET', '/api/v1/sms/sink?limit=100', undefined, admin)).body as { messages: { to: string; text: string }[] };
    let messages: { to: string; text: string }[] = [];
    for (let i = 0; i < 200 && messages.length < 3; i++) {
      messages = (await sink()).messages ?? [];
      if (messages.length < 3) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(messages.length >= 3, `certificate SMS and the code reached the sink: ${JSON.stringify(messages)}`);
    const codes = messages.map((m) => /\b(\d{6})\b/.exec(m.text)?.[1]).filter((c): c is string => c !== undefined);
    assert.ok(codes.length >= 1, 'the code SMS was sent');

    const out = server.stdout + server.stderr;
    assert.ok(out.length > 2_000 && /"path":"\/api\/v1\/people"/.test(out), `request logging was on and wrote lines:\n${out.slice(0, 500)}`);
    const secrets: [string, string][] = [];
    for (const p of [...people, { nik: '', name: 'Yosefina Manurung', phone: '' }, { nik: '', name: 'Martinus Hutagalung', phone: '' }]) {
      if (p.nik) secrets.push(['NIK', p.nik]);
      secrets.push(['name', p.name]);
    }
    for (const phone of ['081273914402', '6281273914402', '85722049913', '0215550', '5550-1234']) secrets.push(['phone', phone]);
    for (const c of codes) secrets.push(['one-time code', c]);
    const digitsOnly = out.replace(/[\s\-.]/g, '');
    for (const [what, value] of secrets) {
      const needle = what === 'name' ? value : value.replace(/[\s\-.]/g, '');
      const hay = what === 'name' ? out : digitsOnly;
      const at = hay.indexOf(needle);
      assert.equal(at, -1, `the ${what} ${value} is in the log:\n…${hay.slice(Math.max(0, at - 300), at + 100)}…`);
    }
  });
});
