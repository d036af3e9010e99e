/** `dosis import` as a person runs it: a subprocess over an embedded database in a temporary directory. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../src/db/open.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createFacility } from '../../src/records/facilities.ts';
import { generateDoses, toCsv } from '../fixtures/import-files.ts';
import { seedDataDir } from '../helpers/services.ts';
import { DOSIS_NODE_FLAGS } from '../helpers/server.ts';

function dosis(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...DOSIS_NODE_FLAGS, 'src/cli/main.ts', ...args], { env: { ...process.env, NODE_NO_WARNINGS: '1', DATABASE_URL: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('dosis import (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dosis-import-'));
  const env = { DOSIS_DATA_DIR: join(dir, 'data'), DOSIS_ADMIN_TOKEN: 'dos_test_admin_token_0123456789abcdef' };
  const file = generateDoses({ rows: 300, seed: 21, badShare: 0.02 });
  const input = join(dir, 'backlog.csv');
  const errorsFile = join(dir, 'backlog.errors.csv');

  before(async () => {
    seedDataDir(env.DOSIS_DATA_DIR);
    const db = await openDb({ databaseUrl: undefined, dataDir: env.DOSIS_DATA_DIR });
    await migrate(db);
    await createFacility(db, { code: 'PKM-CLI', name: 'Puskesmas CLI', regionCode: '327301' });
    await db.close();
    writeFileSync(input, toCsv(file, { bom: true }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has --help', async () => {
    const r = await dosis(['import', '--help'], env);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /dosis import FILE \[--facility CODE\]/);
  });

  it('records the file, shows progress and a summary, writes the rejected rows next to it, and exits 1', async () => {
    const r = await dosis(['import', input, '--facility', 'pkm-cli'], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /rows\/s · ETA/);
    assert.match(r.stdout, new RegExp(`recorded now: +${file.good}\\b`));
    assert.match(r.stdout, new RegExp(`rejected: +${file.bad.size} → .*backlog\\.errors\\.csv`));
    const errors = readFileSync(errorsFile, 'utf8').replace(/^\uFEFF/, '').split('\r\n').filter(Boolean);
    assert.equal(errors.length, 1 + file.bad.size);
    assert.deepEqual(
      errors.slice(1).map((l) => Number(l.split(';')[0])),
      [...file.bad.keys()].sort((a, b) => a - b),
    );
  });

  it('records nothing twice when run again', async () => {
    const dups = [...file.bad.values()].filter((k) => k === 'duplicate_row').length;
    const r = await dosis(['import', input, '--facility', 'PKM-CLI'], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /recorded now: +0\b/);
    assert.match(r.stdout, new RegExp(`already recorded: +${file.good + dups}\\b`));
  });

  it('exits 0 for a clean file and 3 for a broken one, recording nothing from it', async () => {
    const clean = join(dir, 'clean.csv');
    writeFileSync(clean, toCsv(generateDoses({ rows: 5, seed: 22 })));
    const ok = await dosis(['import', clean, '--facility', 'PKM-CLI'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(existsSync(join(dir, 'clean.errors.csv')), false);
    const broken = join(dir, 'broken.csv');
    writeFileSync(broken, Buffer.concat([Buffer.from(toCsv(generateDoses({ rows: 5, seed: 23 }))), Buffer.from([0xe9, 0x0a])]));
    const bad = await dosis(['import', broken, '--facility', 'PKM-CLI'], env);
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /not UTF-8/);
    const missing = await dosis(['import', join(dir, 'nope.csv')], env);
    assert.equal(missing.code, 2);
  });
});
