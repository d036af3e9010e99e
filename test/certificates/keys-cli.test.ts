/**
 * The CSCA kept offline, as an operator runs it (issue 22 item 3): `dosis keys
 * csca init` on the "offline machine", `request` on the online one (the key
 * made on the token or sealed locally, a CSR printed), `sign-request` with the
 * CSCA (with pkcs11, the CSCA's key too is made on the token), `install`,
 * then `dosis serve` signs with the installed DSC. Without a
 * CSCA directory, `rotate` is refused, and a DSC from another CA is not
 * installed. Each signer as subprocesses: the local signer on the embedded
 * database (PGlite in DOSIS_DATA_DIR, the default), the pkcs11 signer on
 * PostgreSQL (DATABASE_URL, a scratch database). The keys do not depend on the
 * database (each command reaches it through the same Db); the pkcs11 signer
 * on PGlite too cost every command that opens the database a PGlite start
 * (about 1.5 s of CPU each, ten of them).
 *
 * The first test runs every command as the operator does, a subprocess each;
 * the refused install runs the same commands in this process (keysCommand,
 * which the subprocess runs after reading its environment): it is about the
 * chain check, not the process, and four `dosis` starts less per signer.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { parseKeyRef } from '../../src/certificates/key-store.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { childEnv, createScratchDatabase, facilityToken, request, runDosis, startServer, type ScratchDatabase } from '../helpers/server.ts';
import { keysCommand } from '../../src/certificates/cli.ts';
import { parseConfig } from '../../src/config.ts';
import { POSTGRES_SKIP } from '../helpers/db.ts';
import { softHsmProblem, testToken } from '../helpers/softhsm.ts';
import { seedDataDir } from '../helpers/services.ts';
import { doseBody, person } from '../helpers/app.ts';

const ADMIN = 'dos_keys_cli_admin_token_0123456789abcdef';

for (const signer of ['local', 'pkcs11'] as const) {
  const skip = signer === 'pkcs11' ? POSTGRES_SKIP || softHsmProblem() : undefined;
  const database = signer === 'pkcs11' ? 'postgres' : 'pglite';
  describe(`dosis keys with the ${signer} signer and an offline CSCA [${database}]`, { skip: skip ?? false }, () => {
    const dir = mkdtempSync(join(tmpdir(), `dosis-keys-cli-${signer}-`));
    let scratch: ScratchDatabase | undefined;
    after(async () => {
      rmSync(dir, { recursive: true, force: true });
      await scratch?.drop();
    });
    const env: Record<string, string> = {
      DOSIS_DATA_DIR: join(dir, 'data'),
      DOSIS_CSCA_DIR: 'offline',
      DOSIS_ADMIN_TOKEN: ADMIN,
      DOSIS_DEMO: 'false',
      ...(signer === 'pkcs11' ? testToken().env : {}),
    };
    before(async () => {
      if (database === 'pglite') seedDataDir(join(dir, 'data'));
      else {
        scratch = await createScratchDatabase('dosis_keys_cli');
        env.DATABASE_URL = scratch.url;
      }
    });
    const run = async (...args: string[]) => runDosis(['keys', ...args], { env });
    /** `dosis keys …` in this process, with the environment a subprocess would get: its exit code and what it printed. */
    const runHere = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
      const printed = { stdout: [] as string[], stderr: [] as string[] };
      const { log, error } = console;
      console.log = (...a: unknown[]) => void printed.stdout.push(a.join(' '));
      console.error = (...a: unknown[]) => void printed.stderr.push(a.join(' '));
      try {
        const code = await keysCommand(args, parseConfig(childEnv(env)));
        return { code, stdout: printed.stdout.join('\n'), stderr: printed.stderr.join('\n') };
      } finally {
        Object.assign(console, { log, error });
      }
    };
    const p = (f: string) => join(dir, f);

    it('csca init → request → sign-request → install; serve signs with the installed DSC, which chains to the CSCA', async () => {
      const init = await run('csca', 'init', '--out', p('csca'));
      assert.equal(init.code, 0, init.stderr);
      if (signer === 'pkcs11') {
        // The CSCA's key was made on the token: the directory only names it.
        assert.equal(existsSync(p('csca/csca.key')), false);
        assert.equal(parseKeyRef(readFileSync(p('csca/csca.ref'), 'utf8')).store, 'pkcs11');
        assert.equal(statSync(p('csca/csca.ref')).mode & 0o777, 0o600);
      } else {
        assert.equal(statSync(p('csca/csca.key')).mode & 0o777, 0o600);
      }

      const rotate = await run('rotate');
      assert.equal(rotate.code, 1, rotate.stderr);
      assert.match(rotate.stderr, /CSCA is offline/);

      const req = await run('request', '--out', p('dsc.csr'));
      assert.equal(req.code, 0, req.stderr);
      assert.match(readFileSync(p('dsc.csr'), 'utf8'), /^-----BEGIN CERTIFICATE REQUEST-----/);
      const csrCheck = spawnSync('openssl', ['req', '-verify', '-noout', '-in', p('dsc.csr')], { encoding: 'utf8' });
      assert.equal(csrCheck.status, 0, csrCheck.stderr);
      assert.match(csrCheck.stderr + csrCheck.stdout, /verify OK/);

      const signed = await run('sign-request', p('dsc.csr'), '--csca', p('csca'), '--out', p('dsc.pem'));
      assert.equal(signed.code, 0, signed.stderr);
      assert.match(execFileSync('openssl', ['verify', '-CAfile', p('csca/csca.pem'), p('dsc.pem')], { encoding: 'utf8' }), /: OK/);
      assert.match(execFileSync('openssl', ['x509', '-noout', '-text', '-in', p('dsc.pem')], { encoding: 'utf8' }), /1\.3\.6\.1\.4\.1\.1847\.2021\.1\.2/);

      const installed = await run('install', p('dsc.pem'), '--csca', p('csca/csca.pem'));
      assert.equal(installed.code, 0, installed.stderr);
      const kid = /Signing with (\S+);/.exec(installed.stdout)?.[1];
      assert.ok(kid, installed.stdout);

      const server = await startServer({ env, readyTimeoutMs: 60_000 });
      try {
        const fac = await facilityToken(server.url, ADMIN, 'PKM-KEYS');
        const r = await request(server.url, 'POST', '/api/v1/vaccinations', doseBody(person()), { authorization: `Bearer ${fac}` });
        assert.equal(r.status, 201, r.text);
        const v = await request(server.url, 'POST', '/api/v1/verify', { qr: r.body.certificate.qr });
        assert.equal(v.body.valid, true, v.text);
        assert.equal(v.body.kid, kid);
        const trust = await request(server.url, 'GET', '/api/v1/trust-list');
        assert.equal(trust.body.csca.length, 1);
        assert.equal(trust.body.csca[0].certificate, readFileSync(p('csca/csca.pem'), 'utf8').replace(/-----[A-Z ]+-----|\s/g, ''));
      } finally {
        await server.stop();
      }
    });

    it('does not install a DSC that another CA signed', async () => {
      for (const args of [
        ['csca', 'init', '--out', p('other')],
        ['request', '--out', p('dsc2.csr')],
        ['sign-request', p('dsc2.csr'), '--csca', p('other'), '--out', p('dsc2.pem')],
      ]) {
        const r = await runHere(...args);
        assert.equal(r.code, 0, r.stderr);
      }
      const r = await runHere('install', p('dsc2.pem'));
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /not signed by a known CSCA/);
    });

    if (signer === 'local') {
      it('without its key file, a start stops with a message naming DOSIS_KEY_ENCRYPTION_KEY and the file', async () => {
        rmSync(p('data.key'));
        const r = await runDosis(['serve'], { env, timeoutMs: 60_000 });
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /^dosis: .*DOSIS_KEY_ENCRYPTION_KEY.*data\.key/m);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'a message, not a stack');
      });
    }
  });
}
