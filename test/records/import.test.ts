import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import { importRunnerOf } from '../../src/http/routes/imports.ts';
import { BAD_KINDS, generateDoses, lyingZipXlsx, toCsv, toXlsx, windows1252, zipBombXlsx } from '../fixtures/import-files.ts';
import { checkFile, createImport, runImport } from '../../src/records/import/run.ts';
import { chunkSource, storeChunks } from '../../src/records/import/source.ts';
import { createFacility } from '../../src/records/facilities.ts';
import { hashLinkToken, linkTokenFor } from '../../src/access/links.ts';
import { hc1OfStored } from '../../src/certificates/hc1.ts';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** Parses our errors.csv (quoted cells, CRLF) into {line → codes}. */
function parseErrors(csv: string): Map<number, { codes: string[]; reasons: string; cells: string[] }> {
  const out = new Map<number, { codes: string[]; reasons: string; cells: string[] }>();
  const lines = csv.replace(/^\uFEFF/, '').split('\r\n').filter(Boolean);
  const delimiter = lines[0]?.includes(';') ? ';' : ',';
  for (const l of lines.slice(1)) {
    const cells: string[] = [];
    let cur = '';
    let q = false;
    for (let i = 0; i < l.length; i++) {
      const ch = l[i] as string;
      if (q) {
        if (ch === '"' && l[i + 1] === '"') {
          cur += '"';
          i++;
        } else if (ch === '"') q = false;
        else cur += ch;
      } else if (ch === '"') q = true;
      else if (ch === delimiter) {
        cells.push(cur);
        cur = '';
      } else cur += ch;
    }
    cells.push(cur);
    out.set(Number(cells[0]), { reasons: cells[1] ?? '', codes: (cells[2] ?? '').split(' '), cells: cells.slice(3) });
  }
  return out;
}

async function count(rt: Runtime, sql: string, params: unknown[] = []): Promise<number> {
  const r = await rt.db.query<{ n: number }>(sql, params);
  return Number(r.rows[0]?.n ?? 0);
}

const ROWS_WHILE_SINGLE = 1500;

// The two 64 MiB XLSX bombs, deflated once for both backends' suites (a few hundred ms of CPU each).
let bombs: { zipBomb: Buffer; lyingZip: Buffer } | undefined;
const xlsxBombs = () => (bombs ??= { zipBomb: zipBombXlsx(64), lyingZip: lyingZipXlsx() });

describeEachBackend('bulk import', (t) => {
  let rt: Runtime;
  let fac: { code: string; token: string };
  const upload = (body: string | Buffer, headers: Record<string, string> = {}, query = '') =>
    rt.app.inject({ method: 'POST', url: `/api/v1/imports${query}`, headers: { ...bearer(fac.token), 'content-type': 'text/csv', ...headers }, payload: body });
  const status = async (id: string, token = fac.token) => (await rt.app.inject({ method: 'GET', url: `/api/v1/imports/${id}`, headers: bearer(token) })).json();
  const finish = async (res: { statusCode: number; body: string; json(): { id: string } }, token = fac.token) => {
    assert.equal(res.statusCode, 202, res.body);
    await importRunnerOf(rt.app).settled(res.json().id);
    return status(res.json().id, token);
  };

  it('starts', async () => {
    rt = await testRuntime(t.db);
    fac = await facilityWithToken(t.db);
    const api = (await rt.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.ok(api.paths['/api/v1/imports']?.post, 'the upload is in the OpenAPI document');
    assert.ok(api.paths['/api/v1/imports/{id}']?.get);
    assert.ok(api.paths['/api/v1/imports/{id}/errors.csv']?.get);
  });

  const file = generateDoses({ rows: 600, seed: 11, badShare: 0.02 });
  const csv = toCsv(file, { bom: true, delimiter: ';' });
  let firstId = '';
  let accepted = 0;

  it('records every good row with its certificate and rejects exactly the bad rows, each with its reasons', async () => {
    const s = await finish(await upload(csv, {}, '?fileName=backlog.csv'));
    firstId = s.id;
    const dups = [...file.bad.values()].filter((k) => k === 'duplicate_row').length;
    assert.equal(new Set(file.bad.values()).size, Object.keys(BAD_KINDS).length, 'every kind of bad row is in the file');
    assert.equal(s.status, 'done');
    assert.equal(s.rows, 600);
    assert.equal(s.rowsTotal, 600);
    assert.equal(s.rejected, file.bad.size);
    assert.equal(s.accepted, file.good);
    assert.equal(s.alreadyRecorded, 0);
    assert.ok(dups > 0);
    accepted = s.accepted;

    const e = await rt.app.inject({ method: 'GET', url: `/api/v1/imports/${s.id}/errors.csv`, headers: bearer(fac.token) });
    assert.equal(e.statusCode, 200);
    assert.match(String(e.headers['content-type']), /^text\/csv/);
    const errors = parseErrors(e.body);
    assert.deepEqual([...errors.keys()].sort((a, b) => a - b), [...file.bad.keys()].sort((a, b) => a - b));
    for (const [line, kind] of file.bad) {
      const got = errors.get(line);
      assert.ok(got?.codes.includes(BAD_KINDS[kind]), `line ${line} (${kind}): ${got?.codes.join(' ')}`);
      assert.notEqual(got?.reasons, '');
      assert.deepEqual(got?.cells, file.rows[line - 2], `line ${line} keeps the row as it was`);
    }
    // In Indonesian too, naming the column.
    const id = await rt.app.inject({ method: 'GET', url: `/api/v1/imports/${s.id}/errors.csv`, headers: { ...bearer(fac.token), 'accept-language': 'id' } });
    assert.match(id.body, /Nama: Nama wajib diisi\./);

    // Every accepted row: a vaccination from this import with a valid certificate and an SMS job.
    assert.equal(await count(rt, 'SELECT count(*)::int8 AS n FROM vaccinations WHERE import_id = $1', [s.id]), accepted);
    assert.equal(
      await count(rt, 'SELECT count(*)::int8 AS n FROM certificates c JOIN vaccinations v ON v.person_id = c.person_id AND v.id = c.vaccination_id WHERE v.import_id = $1', [s.id]),
      accepted,
    );
    assert.equal(
      await count(rt, "SELECT count(*)::int8 AS n FROM jobs j JOIN certificates c ON j.dedupe_key = 'notify:' || c.id JOIN vaccinations v ON v.id = c.vaccination_id WHERE v.import_id = $1", [s.id]),
      accepted,
    );
    const q = await rt.db.query<{ qr: string | null; hc1: Uint8Array | null; dn: number; sd: number }>(
      "SELECT c.qr, c.hc1, c.dn, c.sd FROM certificates c JOIN vaccinations v ON v.id = c.vaccination_id WHERE v.import_id = $1 AND v.dose_number = 2 AND v.status = 'recorded' LIMIT 1",
      [s.id],
    );
    assert.ok(q.rows[0], 'a dose 2 later in the file found its dose 1');
    const v = await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr: hc1OfStored(q.rows[0]) } });
    assert.equal(v.json().valid, true, v.body);
    assert.equal(v.json().payload.v[0].dn, 2);
    assert.equal(await count(rt, "SELECT count(*)::int8 AS n FROM vaccinations WHERE import_id = $1 AND status = 'claims_prior_dose'", [s.id]), 0);
    // The SMS link of an imported certificate opens it (its token was made on a signing thread).
    const cert = await rt.db.query<{ id: string }>('SELECT c.id FROM certificates c JOIN vaccinations v ON v.id = c.vaccination_id WHERE v.import_id = $1 LIMIT 1', [s.id]);
    const hash = hashLinkToken(linkTokenFor(rt.deps.linkSecret, cert.rows[0]?.id as string));
    assert.equal(await count(rt, 'SELECT count(*)::int8 AS n FROM link_tokens WHERE token_hash = $1 AND certificate_id = $2', [hash, cert.rows[0]?.id]), 1);
  });

  it('records nothing new when the same file is uploaded again', async () => {
    const before = await count(rt, 'SELECT count(*)::int8 AS n FROM vaccinations');
    const dups = [...file.bad.values()].filter((k) => k === 'duplicate_row').length;
    const s = await finish(await upload(csv));
    assert.notEqual(s.id, firstId);
    assert.equal(s.accepted, 0);
    // Each good row is already recorded, and so is each repeated row (its first copy was recorded by the first upload).
    assert.equal(s.alreadyRecorded, accepted + dups);
    assert.equal(s.rejected, file.bad.size - dups);
    assert.equal(await count(rt, 'SELECT count(*)::int8 AS n FROM vaccinations'), before);
  });

  it('reads XLSX as Excel writes it: shared strings, date cells as serial numbers (1900 and 1904 systems), English headers', async () => {
    for (const date1904 of [false, true]) {
      const f = generateDoses({ rows: 40, seed: date1904 ? 13 : 12, english: true });
      const xlsx = toXlsx(f, { dateColumns: ['birth_date', 'date'], date1904 });
      const s = await finish(await upload(xlsx, { 'content-type': XLSX }));
      assert.equal(s.format, 'xlsx');
      assert.equal(s.accepted, 40, JSON.stringify(s));
      const first = f.rows[0] as string[];
      const r = await rt.db.query<{ date: string; birth_date: string }>(
        'SELECT v.date, p.birth_date FROM vaccinations v JOIN people p ON p.id = v.person_id WHERE p.id_value = $1',
        [first[0]],
      );
      assert.equal(r.rows[0]?.date, '2021-07-15');
      assert.equal(r.rows[0]?.birth_date, first[2]);
    }
    // Inline strings, and a file that is XLSX although sent as octet-stream.
    const f = generateDoses({ rows: 10, seed: 14, english: true });
    const s = await finish(await upload(toXlsx(f, { inlineStrings: true }), { 'content-type': 'application/octet-stream' }));
    assert.equal(s.accepted, 10);
  });

  it('rejects a file without a required column at once, naming it, and keeps nothing', async () => {
    const f = generateDoses({ rows: 5, seed: 15, english: true });
    const header = f.header.filter((h) => h !== 'birth_date');
    const rows = f.rows.map((r) => r.filter((_, i) => f.header[i] !== 'birth_date'));
    const res = await upload(toCsv({ header, rows }, { delimiter: ',' }));
    assert.equal(res.statusCode, 422);
    assert.equal(res.json().error.code, 'missing_columns');
    assert.match(res.json().error.message, /"Tanggal Lahir"/);
    const idRes = await upload(toCsv({ header, rows }, { delimiter: ',' }), { 'accept-language': 'id' });
    assert.match(idRes.json().error.message, /Berkas tidak punya kolom "Tanggal Lahir"/);
    assert.equal(await count(rt, "SELECT count(*)::int8 AS n FROM imports WHERE status NOT IN ('done')"), 0);
  });

  it('rejects broken files with a 4xx and a reason, writes nothing, and goes on serving', async () => {
    const before = await count(rt, 'SELECT count(*)::int8 AS n FROM vaccinations');
    const imports = await count(rt, 'SELECT count(*)::int8 AS n FROM imports');
    const good = generateDoses({ rows: 3, seed: 16 });
    const longLine = toCsv(good) + `1;${'3'.repeat(10 * 1024 * 1024)};x\r\n` + toCsv(good).split('\r\n').slice(1).join('\r\n');
    const junkNoNul = Buffer.from(Array.from({ length: 4096 }, (_, i) => 0x80 + (i % 100)));
    const cases: [string, string | Buffer, Record<string, string>, number, string][] = [
      ['binary junk', Buffer.concat([randomBytes(50_000), Buffer.from([0])]), {}, 422, 'file_binary'],
      ['junk that is not UTF-8', junkNoNul, {}, 422, 'file_not_utf8'],
      ['a 10 MB line', longLine, {}, 422, 'line_too_long'],
      ['Windows-1252 text', windows1252(toCsv({ header: good.header, rows: good.rows.map((r) => r.map((c, i) => (i === 2 ? `${c} Ré` : c))) })), {}, 422, 'file_not_utf8'],
      ['UTF-16 text', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(toCsv(good), 'utf16le')]), {}, 422, 'file_utf16'],
      ['an unclosed quote', toCsv(good) + '9;"3171;x\r\n', {}, 422, 'csv_quote_not_closed'],
      ['an XLSX zip bomb', xlsxBombs().zipBomb, { 'content-type': XLSX }, 422, 'xlsx_too_large_inflated'],
      ['an XLSX whose part lies about its size', xlsxBombs().lyingZip, { 'content-type': XLSX }, 422, 'xlsx_too_large_inflated'],
      ['a truncated XLSX', toXlsx(good).subarray(0, 700), { 'content-type': XLSX }, 422, 'xlsx_corrupt'],
      ['text sent as XLSX', toCsv(good), { 'content-type': XLSX }, 422, 'xlsx_corrupt'],
      ['JSON', '{"rows": []}', { 'content-type': 'application/json' }, 415, 'unsupported_content_type'],
      ['an empty body', '', {}, 400, 'file_empty'],
    ];
    for (const [what, body, headers, code, errorCode] of cases) {
      const res = await upload(body, headers);
      assert.equal(res.statusCode, code, `${what}: ${res.body.slice(0, 300)}`);
      assert.equal(res.json().error.code, errorCode, what);
      assert.ok(res.json().error.message.length > 20, what);
    }
    assert.equal(await count(rt, 'SELECT count(*)::int8 AS n FROM vaccinations'), before);
    assert.equal(await count(rt, 'SELECT count(*)::int8 AS n FROM imports'), imports);
    assert.equal(await count(rt, 'SELECT count(*)::int8 AS n FROM import_chunks'), 0);
    const single = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody() });
    assert.equal(single.statusCode, 201);
  });

  it('lets a district import for facilities in its region only, by a Kode Faskes column', async () => {
    await createFacility(t.db, { code: 'PKM-IMP-A', name: 'Puskesmas A', regionCode: '327301' });
    await createFacility(t.db, { code: 'PKM-IMP-B', name: 'Puskesmas B', regionCode: '510101' });
    const district = await tokenFor(t.db, 'district', { region: '3273' });
    const f = generateDoses({ rows: 6, seed: 17, english: true });
    const header = [...f.header, 'Kode Faskes'];
    const rows = f.rows.map((r, i) => [...r, i < 4 ? 'pkm-imp-a' : i === 4 ? 'PKM-IMP-B' : 'NOPE']);
    const res = await upload(toCsv({ header, rows }, { delimiter: ',' }), bearer(district));
    const s = await finish(res, district);
    assert.equal(s.accepted, 4);
    assert.equal(s.rejected, 2);
    const errors = parseErrors((await rt.app.inject({ method: 'GET', url: `/api/v1/imports/${s.id}/errors.csv`, headers: bearer(district) })).body);
    assert.deepEqual(errors.get(6)?.codes, ['facility_out_of_scope']);
    assert.deepEqual(errors.get(7)?.codes, ['unknown_facility']);
    // Without the column a district must name the facility.
    const noCol = await upload(toCsv(f, { delimiter: ',' }), bearer(district));
    assert.equal(noCol.statusCode, 422);
    assert.match(noCol.json().error.message, /Kode Faskes/);
    // The facility that uploaded nothing sees nothing of it.
    const other = await facilityWithToken(t.db);
    assert.equal((await rt.app.inject({ method: 'GET', url: `/api/v1/imports/${s.id}`, headers: bearer(other.token) })).statusCode, 404);
  });

  it('records rows with an unusable phone when asked to, and puts the person on the work list', async () => {
    const p = person({ phone: '12345' });
    const body = toCsv({ header: ['NIK', 'Nama', 'Tanggal Lahir', 'JK', 'No HP', 'Vaksin', 'Dosis', 'Tanggal Vaksinasi'], rows: [[p.nik, p.name, p.birthDate, p.sex, p.phone, 'Sinovac', '1', '10/06/2021']] });
    const s = await finish(await upload(body, {}, '?invalidPhone=flag'));
    assert.equal(s.accepted, 1);
    assert.equal(await count(rt, "SELECT count(*)::int8 AS n FROM cases c JOIN people p ON p.id = c.person_id WHERE p.id_value = $1 AND c.kind = 'invalid_phone'", [p.nik]), 1);
  });

  it('resumes an interrupted import where it stopped, without duplicates', async () => {
    const f = generateDoses({ rows: 900, seed: 18, badShare: 0.02 });
    const bytes = Buffer.from(toCsv(f));
    const who = { id: '00000000-0000-4000-8000-00000000000a', role: 'facility' as const, facilityCode: fac.code, regionCode: null, label: 'test' };
    const id = await createImport(t.db, { principal: who, format: 'csv', fileName: 'x.csv', facility: null, invalidPhone: 'reject', status: 'running', owner: 'crashed' });
    const stored = await storeChunks(t.db, id, [bytes], { maxBytes: 1e9, tooLarge: () => new Error('too large') });
    const check = await checkFile(chunkSource(t.db, id, stored.size), 'csv', { facilityGiven: true });
    await t.db.query('UPDATE imports SET file_bytes = $2, rows_total = $3, columns = $4 WHERE id = $1', [id, stored.size, check.rowsTotal, JSON.stringify(check.columns)]);
    // "Crash" after the second committed batch: the process stops, its lease is left behind.
    const stop = new AbortController();
    let batches = 0;
    const deps = { db: t.db, issuer: rt.deps.issuer, linkSecret: rt.deps.linkSecret, publicUrl: 'https://dosis.test' };
    await runImport(deps, id, { owner: 'crashed', source: chunkSource(t.db, id, stored.size), batchSize: 100, concurrency: 1, signal: stop.signal, onProgress: () => ++batches === 2 && stop.abort() });
    const partial = await status(id);
    assert.equal(partial.status, 'running');
    assert.ok(partial.rows >= 200 && partial.rows < 900, `stopped part way: ${partial.rows}`);
    // The lease expires; a running process takes the import over.
    await t.db.query("UPDATE imports SET locked_until = now() - interval '1 second' WHERE id = $1", [id]);
    importRunnerOf(rt.app).submit(id);
    await importRunnerOf(rt.app).settled(id);
    const s = await status(id);
    assert.equal(s.status, 'done');
    assert.equal(s.rows, 900);
    assert.equal(s.accepted, f.good);
    assert.equal(s.rejected, f.bad.size);
    assert.equal(s.alreadyRecorded, 0);
    assert.equal(await count(rt, 'SELECT count(*)::int8 AS n FROM vaccinations WHERE import_id = $1', [id]), f.good);
    assert.equal(await count(rt, 'SELECT count(*)::int8 AS n FROM import_chunks WHERE import_id = $1', [id]), 0);
  });

  it('takes single entries while an import runs', async () => {
    // Several batches (200 rows on PGlite, 500 on PostgreSQL): a single entry that had to wait for the whole import would
    // find it done. 1,500 rows rather than 3,000: every row is signed and written, and the count changes nothing else.
    const f = generateDoses({ rows: ROWS_WHILE_SINGLE, seed: 19 });
    const res = await upload(toCsv(f));
    assert.equal(res.statusCode, 202, res.body);
    const id = res.json().id as string;
    const single = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody() });
    assert.equal(single.statusCode, 201);
    const during = await status(id);
    assert.equal(during.status, 'running', 'the single entry did not wait for the import');
    await importRunnerOf(rt.app).settled(id);
    assert.equal((await status(id)).accepted, ROWS_WHILE_SINGLE);
  });

  it('stops', async () => {
    await rt.app.close();
  });
});
