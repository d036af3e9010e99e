/**
 * Backup and restore of a running Dosis on PostgreSQL, with each signer
 * (issue 22): `pg_dump` while it serves, the dump searched for private key
 * material (none), restored into a new database, a new server started on it
 * with the same token (pkcs11) or the same key file (local): old certificates
 * verify, new doses are signed with the same key, an idempotent replay answers
 * the first answer's bytes. The procedure is the one in README.md (Keys).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { decodeKek, parseKeyRef, unseal } from '../../src/certificates/key-store.ts';
import { createScratchDatabase, facilityToken, request, startServer, type DosisServer, type ScratchDatabase } from '../helpers/server.ts';
import { POSTGRES_SKIP } from '../helpers/db.ts';
import { softHsmProblem, testToken } from '../helpers/softhsm.ts';
import { doseBody, person } from '../helpers/app.ts';

const ADMIN = 'dos_backup_admin_token_0123456789abcdef';
const PKCS8_P256_PREFIX = Buffer.from('308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420', 'hex');

function forms(bytes: Uint8Array): string[] {
  const b = Buffer.from(bytes);
  const cut = b.subarray(0, b.length - (b.length % 3));
  return [b.toString('hex'), cut.toString('base64'), cut.toString('base64url')];
}

for (const signer of ['local', 'pkcs11'] as const) {
  const skip = POSTGRES_SKIP || (signer === 'pkcs11' ? softHsmProblem() : undefined);
  describe(`backup and restore with the ${signer} signer [postgres]`, { skip: skip ?? false }, () => {
    const dir = mkdtempSync(join(tmpdir(), `dosis-backup-${signer}-`));
    const dbs: ScratchDatabase[] = [];
    const servers: DosisServer[] = [];
    after(async () => {
      for (const s of servers) await s.stop();
      for (const d of dbs) await d.drop();
      rmSync(dir, { recursive: true, force: true });
    });
    const env = (url: string) => ({
      DATABASE_URL: url,
      DOSIS_ADMIN_TOKEN: ADMIN,
      DOSIS_WORKER: 'false',
      PUBLIC_URL: 'https://dosis.test',
      DOSIS_KEY_FILE: join(dir, 'dosis.key'),
      DOSIS_CSCA_DIR: join(dir, 'csca'),
      ...(signer === 'pkcs11' ? testToken().env : {}),
    });

    it('a dump of the running instance holds no private key; restored with the same keys, it verifies, signs and replays', async () => {
      const a = await createScratchDatabase('dosis_backup_a');
      dbs.push(a);
      const first = await startServer({ env: env(a.url) });
      servers.push(first);
      const fac = await facilityToken(first.url, ADMIN, 'PKM-BACKUP');
      const auth = { authorization: `Bearer ${fac}` };
      const answers: { key: string; body: ReturnType<typeof doseBody>; text: string; qr: string; kid: string }[] = [];
      for (let i = 0; i < 3; i++) {
        const key = `backup-${signer}-${i}`;
        const body = doseBody(person());
        const r = await request(first.url, 'POST', '/api/v1/vaccinations', body, { ...auth, 'idempotency-key': key });
        assert.equal(r.status, 201, r.text);
        const v = await request(first.url, 'POST', '/api/v1/verify', { qr: r.body.certificate.qr });
        answers.push({ key, body, text: r.text, qr: r.body.certificate.qr, kid: v.body.kid });
      }
      // The SHC key and the revocation list sign through the store too: make them exist before the dump.
      assert.equal((await request(first.url, 'GET', '/api/v1/revocation-list')).status, 200);

      // pg_dump while the server runs (a consistent snapshot; no pause needed).
      const dumpFile = join(dir, 'dosis.sql');
      execFileSync('pg_dump', ['--no-owner', '--file', dumpFile, a.url]);
      const dump = readFileSync(dumpFile, 'utf8').toLowerCase();
      assert.match(dump, /copy public\.signing_keys/, 'the dump has the signing keys table');
      for (const f of forms(PKCS8_P256_PREFIX)) assert.ok(!dump.includes(f.toLowerCase()), `a PKCS#8 header (${f}) is in the dump`);
      const c = new pg.Client({ connectionString: a.url });
      await c.connect();
      const refs = await c.query<{ key_ref: unknown }>('SELECT key_ref FROM signing_keys WHERE key_ref IS NOT NULL UNION ALL SELECT key_ref FROM shc_keys');
      await c.end();
      assert.ok(refs.rows.length >= 2);
      for (const row of refs.rows) {
        const ref = parseKeyRef(row.key_ref);
        assert.equal(ref.store, signer);
        if (ref.store === 'local') {
          // The key itself, unsealed with the key file the dump does not contain: its bytes are not in the dump.
          const kek = decodeKek(readFileSync(join(dir, 'dosis.key'), 'utf8'));
          assert.ok(kek);
          const pkcs8 = unseal(kek, Buffer.from(ref.sealed, 'base64'));
          for (const f of forms(pkcs8.subarray(PKCS8_P256_PREFIX.length, PKCS8_P256_PREFIX.length + 32))) assert.ok(!dump.includes(f.toLowerCase()), 'a private key is in the dump');
        }
      }
      await first.stop();

      // Restore into a new database and start on it with the same token / key file.
      const b = await createScratchDatabase('dosis_backup_b');
      dbs.push(b);
      execFileSync('psql', ['--quiet', '--set', 'ON_ERROR_STOP=1', '--file', dumpFile, b.url], { stdio: 'pipe' });
      const second = await startServer({ env: env(b.url) });
      servers.push(second);
      for (const old of answers) {
        const v = await request(second.url, 'POST', '/api/v1/verify', { qr: old.qr });
        assert.equal(v.body.valid, true, v.text);
        const replay = await request(second.url, 'POST', '/api/v1/vaccinations', old.body, { ...auth, 'idempotency-key': old.key });
        assert.equal(replay.status, 200, replay.text);
        assert.equal(replay.text, old.text, 'the replay answers the first answer, byte for byte');
      }
      const fresh = await request(second.url, 'POST', '/api/v1/vaccinations', doseBody(person()), auth);
      assert.equal(fresh.status, 201, fresh.text);
      const v = await request(second.url, 'POST', '/api/v1/verify', { qr: fresh.body.certificate.qr });
      assert.equal(v.body.valid, true, v.text);
      assert.equal(v.body.kid, answers[0]!.kid, 'the restored instance signs with the same key, from the token or the key file');
    });
  });
}
