/**
 * The embedded default as a new user meets it: `npm start` with no
 * configuration runs on PGlite, prints a working administrator token once,
 * and keeps its data; a second `dosis serve` on the same data directory
 * refuses to start (PGlite does not lock its directory: two processes would
 * corrupt it); a graceful stop releases the directory; the next start prints
 * no token.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGLITE_SKIP } from '../helpers/db.ts';
import { seedDataDir } from '../helpers/services.ts';
import { REPO_ROOT, freePort, request, runDosis, startServer, type DosisServer } from '../helpers/server.ts';

const TOKEN_LINE = /First start: an administrator token was created[^\n]*\n\s*\n\s*(dos_\S+)/;

describe('embedded default (PGlite): npm start, one process per data directory', { skip: PGLITE_SKIP }, () => {
  let home: string;
  let first: DosisServer | undefined;
  let adminToken: string;

  before(() => {
    home = mkdtempSync(join(tmpdir(), 'dosis-embedded-'));
    // The database in the seeded directory is still empty: this is a first start for Dosis.
    seedDataDir(join(home, 'data'));
  });
  after(async () => {
    await first?.kill();
    rmSync(home, { recursive: true, force: true });
  });

  it('npm start runs the server on PGlite and prints a working administrator token once', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    assert.equal(pkg.scripts.start, 'node src/cli/main.ts serve', 'npm start is `dosis serve` (this test relies on it)');
    // npm runs scripts in the package root, so the data directory is pointed at the scratch
    // home; the default (./data of the working directory) is checked by the next test.
    first = await startServer({
      command: ['npm', 'start', '--silent'],
      env: { DOSIS_DATA_DIR: join(home, 'data') },
      readyTimeoutMs: 60_000,
    });
    assert.match(first.stdout, /database: PGlite/, first.output);
    const m = TOKEN_LINE.exec(first.stdout);
    assert.ok(m, `the first start prints the token:\n${first.output}`);
    adminToken = m[1]!;
    assert.ok(existsSync(join(home, 'data', 'dosis.lock')), 'the data directory is locked');
    const f = await request(first.url, 'POST', '/api/v1/facilities', { code: 'PKM-EMB', name: 'Puskesmas Embedded', regionCode: '317101' }, { authorization: `Bearer ${adminToken}` });
    assert.equal(f.status, 201, f.text);
    const v = await request(first.url, 'GET', '/api/v1/vaccines');
    assert.equal(v.status, 200);
  });

  it('a second dosis serve on the same data directory refuses, naming the directory and the holder', async () => {
    assert.ok(first?.running, 'the first server runs');
    // No DOSIS_DATA_DIR: the default ./data of the working directory is the same directory.
    const second = await runDosis(['serve'], { cwd: home, env: { PORT: String(await freePort()) }, timeoutMs: 30_000 });
    assert.ok(second.code !== 0 && second.code !== null, `exits non-zero (got ${second.code}, ${second.signal})\n${second.stdout}${second.stderr}`);
    assert.match(second.stderr, /data directory .*data is in use by another Dosis process \(pid \d+\)/);
    assert.doesNotMatch(second.stdout, /listening|First start/);
    // The first one is unharmed.
    const ready = await request(first.url, 'GET', '/readyz');
    assert.equal(ready.status, 200);
  });

  it('a graceful stop releases the directory; the next start keeps the data and prints no token', async () => {
    await first!.stop();
    assert.ok(!existsSync(join(home, 'data', 'dosis.lock')), `SIGTERM released the lock\n${first!.output}`);
    first = undefined;
    const again = await startServer({ cwd: home, readyTimeoutMs: 30_000 });
    try {
      assert.doesNotMatch(again.stdout, /First start|dos_/, 'no token on the second start');
      assert.match(again.stdout, /PGlite in \.\/data/);
      const f = await request(again.url, 'POST', '/api/v1/facilities', { code: 'PKM-EMB', name: 'again', regionCode: '317101' }, { authorization: `Bearer ${adminToken}` });
      assert.equal(f.status, 409, `the first start's token still works and its facility is still there: ${f.text}`);
    } finally {
      const exit = await again.stop();
      assert.equal(exit.code, 0, again.output);
    }
  });
});
