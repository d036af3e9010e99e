/**
 * The `dosis` command as a user runs it, in a subprocess: help, exit codes,
 * configuration errors that name the variable, `migrate` from two processes
 * at once, and `verify` / `keys rotate` against a real database.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { POSTGRES_SKIP } from '../helpers/db.ts';
import { createScratchDatabase, runDosis, startServer, type ScratchDatabase } from '../helpers/server.ts';
import { PeopleGenerator, doseRequest } from '../helpers/people.ts';
import { postgresDb } from '../../src/db/client.ts';
import { loadMigrations } from '../../src/db/migrate.ts';
import { buildRuntime } from '../../src/runtime.ts';
import { parseConfig, startWarnings } from '../../src/config.ts';
import { createFacility } from '../../src/records/facilities.ts';
import { createToken } from '../../src/access/tokens.ts';

const COMMANDS = ['serve', 'migrate', 'keys', 'verify'];

describe('dosis: help and exit codes', () => {
  it('dosis --help prints the usage naming every command and exits 0', async () => {
    const r = await runDosis(['--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^\\s+${c}\\b`, 'm'), `usage names ${c}`);
  });

  it('dosis without a command prints the usage and exits non-zero', async () => {
    const r = await runDosis([]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /Usage: dosis <command>/);
  });

  it('every command has --help, exit 0', async () => {
    const answers = await Promise.all(COMMANDS.map((c) => runDosis([c, '--help'])));
    for (const [i, r] of answers.entries()) {
      assert.equal(r.code, 0, `${COMMANDS[i]} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^dosis ${COMMANDS[i]}`), `${COMMANDS[i]} --help describes ${COMMANDS[i]}`);
    }
  });

  it('an unknown command exits non-zero naming it', async () => {
    const r = await runDosis(['serev']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Unknown command "serev"/);
  });

  it('bad configuration stops the start, naming the variable', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ PORT: 'abc' }, /PORT must be an integer/],
      [{ DATABASE_URL: 'not a url' }, /DATABASE_URL must be a URL/],
      [{ DOSIS_ADMIN_TOKEN: 'short' }, /DOSIS_ADMIN_TOKEN must be at least 24 characters/],
    ];
    const answers = await Promise.all(cases.map(([env]) => runDosis(['serve'], { env, timeoutMs: 20_000 })));
    for (const [i, r] of answers.entries()) {
      const [env, message] = cases[i]!;
      assert.ok(r.code !== 0 && r.code !== null, `${JSON.stringify(env)} exits non-zero (got ${r.code}, ${r.signal})`);
      assert.match(r.stderr, message, `${JSON.stringify(env)}: ${r.stderr}`);
      assert.doesNotMatch(r.stdout, /listening/);
    }
  });
});


describe('dosis migrate, verify and keys rotate [postgres]', { skip: POSTGRES_SKIP }, () => {
  let scratch: ScratchDatabase;
  let hc1: string;
  const env = () => ({ DATABASE_URL: scratch.url });

  before(async () => {
    scratch = await createScratchDatabase('dosis_cli');
  });
  after(async () => {
    await scratch?.drop();
  });

  it('migrate run twice at once: both succeed, each migration applied once', async () => {
    const [a, b] = await Promise.all([runDosis(['migrate'], { env: env() }), runDosis(['migrate'], { env: env() })]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const appliedBy = (out: string) =>
      /Applied migrations: ([\d, ]+)/.exec(out)?.[1]?.split(', ').map(Number) ?? (/Database is up to date/.test(out) ? [] : null);
    const byA = appliedBy(a.stdout);
    const byB = appliedBy(b.stdout);
    assert.ok(byA && byB, `both report what they did:\n${a.stdout}\n${b.stdout}`);
    const all = loadMigrations().map((m) => m.version);
    assert.deepEqual([...byA, ...byB].sort((x, y) => x - y), all, 'together they applied every migration, none twice');

    const db = postgresDb({ connectionString: scratch.url, max: 1 });
    try {
      const r = await db.query<{ version: number; n: number }>('SELECT version, count(*)::int8 AS n FROM schema_migrations GROUP BY version ORDER BY version');
      assert.deepEqual(r.rows, all.map((version) => ({ version, n: 1 })));
    } finally {
      await db.close();
    }
    const again = await runDosis(['migrate'], { env: env() });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Database is up to date/);
  });

  it('verify exits 0 for a certificate Dosis issued, 1 for a tampered or expired one', async () => {
    // Issue one certificate in-process, on the database the command will read.
    const db = postgresDb({ connectionString: scratch.url, max: 2 });
    try {
      const rt = await buildRuntime(db, parseConfig({ DOSIS_ADMIN_TOKEN: 'dos_cli_admin_token_0123456789abcdef' }));
      await createFacility(db, { code: 'PKM-CLI', name: 'Puskesmas CLI', regionCode: '317101' });
      const { token } = await createToken(db, { role: 'facility', facility: 'PKM-CLI', label: 'cli test' }, null);
      const res = await rt.app.inject({
        method: 'POST',
        url: '/api/v1/vaccinations',
        headers: { authorization: `Bearer ${token}` },
        payload: doseRequest(new PeopleGenerator().next()),
      });
      assert.equal(res.statusCode, 201, res.body);
      hc1 = res.json().certificate.qr;
      await rt.app.close();
    } finally {
      await db.close();
    }

    // A changed character in the signed part: still Base45, no longer the signed bytes (or no longer inflates).
    const at = Math.floor(hc1.length / 2);
    const tampered = hc1.slice(0, at) + (hc1[at] === 'A' ? 'B' : 'A') + hc1.slice(at + 1);
    const [valid, bad, expired, missing] = await Promise.all([
      runDosis(['verify', hc1], { env: env() }),
      runDosis(['verify', tampered], { env: env() }),
      runDosis(['verify', hc1, '--now', '2100-01-01T00:00:00Z'], { env: env() }),
      runDosis(['verify'], { env: env() }),
    ]);
    assert.equal(valid.code, 0, valid.stdout + valid.stderr);
    assert.equal(JSON.parse(valid.stdout).valid, true);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.equal(JSON.parse(bad.stdout).valid, false);
    assert.equal(expired.code, 1, expired.stdout + expired.stderr);
    assert.equal(JSON.parse(expired.stdout).reason, 'expired');
    assert.notEqual(missing.code, 0, 'verify without a certificate is a usage error');
    assert.notEqual(missing.code, 1, 'a usage error is not "invalid certificate"');
  });

  it('keys rotate adds a key; certificates signed by the old one still verify', async () => {
    const rotated = await runDosis(['keys', 'rotate'], { env: env() });
    assert.equal(rotated.code, 0, rotated.stderr);
    const m = /New signing key (\S+); retired from signing \(still trusted\): (\S+)/.exec(rotated.stdout);
    assert.ok(m, rotated.stdout);
    assert.notEqual(m[1], m[2]);
    const old = await runDosis(['verify', hc1], { env: env() });
    assert.equal(old.code, 0, old.stdout + old.stderr);
    assert.equal(JSON.parse(old.stdout).kid, m[2], 'the certificate was signed by the retired key');
    const wrong = await runDosis(['keys', 'spin'], { env: env() });
    assert.notEqual(wrong.code, 0);
  });
});

describe('PUBLIC_URL must be https in production', () => {
  it('warns for an http PUBLIC_URL, not for https nor on this machine (development)', () => {
    const warned = (PUBLIC_URL: string, env: Record<string, string> = {}) => startWarnings(parseConfig({ PUBLIC_URL }), env);
    assert.match(warned('http://dosis.example.id').join(' '), /PUBLIC_URL is http:\/\/dosis\.example\.id, not https/);
    assert.deepEqual(warned('https://dosis.example.id'), []);
    assert.deepEqual(warned('http://localhost:3000'), []);
    assert.deepEqual(warned('http://127.0.0.1:8080'), []);
    assert.deepEqual(warned('http://dosis.example.id', { NODE_ENV: 'development' }), []);
  });

  it('dosis serve says so at start [postgres]', { skip: POSTGRES_SKIP }, async () => {
    const scratch = await createScratchDatabase('dosis_https');
    try {
      const server = await startServer({ env: { DATABASE_URL: scratch.url, PUBLIC_URL: 'http://dosis.example.id', DOSIS_ADMIN_TOKEN: 'dos_https_admin_token_0123456789abcdef' } });
      try {
        assert.match(server.output, /dosis: warning: PUBLIC_URL is http:\/\/dosis\.example\.id, not https/);
      } finally {
        await server.kill();
      }
    } finally {
      await scratch.drop();
    }
  });
});
