/**
 * A small XLSX made to be slow to read (issue 15, item 12) must not stall
 * the server: before, one upload held the event loop of the embedded server
 * (PGlite) for seconds, `/healthz` included. The file here is 2 KB: a
 * workbook.xml of 100,000 unclosed `<sheet ` tags (700 KB inflated, within
 * every size and ratio limit), which the old pattern match read in quadratic
 * time (minutes). Now files are parsed in a worker thread
 * (records/import/sheet-thread.ts) and tags are scanned in one pass.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, facilityWithToken, testRuntime } from '../helpers/app.ts';
import { zip } from '../fixtures/import-files.ts';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** 2 KB that unpack to a workbook of 100,000 `<sheet ` tags never closed. */
export function unclosedTagsXlsx(tags = 100_000): Buffer {
  return zip([
    { name: '[Content_Types].xml', data: Buffer.from('<Types/>') },
    { name: 'xl/workbook.xml', data: Buffer.from('<workbook>' + '<sheet '.repeat(tags)) },
    { name: 'xl/worksheets/sheet1.xml', data: Buffer.from('<worksheet><sheetData></sheetData></worksheet>') },
  ]);
}

describeEachBackend('an XLSX made to be slow to read', (t) => {
  it('is answered at once, and /healthz answers while it is read', async () => {
    const rt = await testRuntime(t.db);
    const fac = await facilityWithToken(t.db);
    const file = unclosedTagsXlsx();
    assert.ok(file.length < 4096, `a small file (${file.length} bytes)`);
    let answered = false;
    const upload = rt.app
      .inject({ method: 'POST', url: '/api/v1/imports', headers: { ...bearer(fac.token), 'content-type': XLSX }, payload: file })
      .finally(() => (answered = true));
    // Once the upload is stored, it is being read: the server must still answer.
    const deadline = Date.now() + 60_000;
    while (!answered && (await t.db.query("SELECT 1 FROM imports WHERE status = 'uploading'")).rowCount === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    const health = await rt.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), Math.max(0, deadline - Date.now())).unref());
    const res = await Promise.race([upload, timeout]);
    assert.notEqual(res, 'timeout', 'the upload is answered within a minute (it used to take minutes)');
    if (res === 'timeout') return;
    assert.ok(res.statusCode < 500, res.body);
    await rt.app.close();
  });
});
