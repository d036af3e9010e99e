/**
 * Signing keys that a stolen database cannot give away (issue 22), with each
 * signer — `local` (sealed under a key-encryption key) and `pkcs11` (SoftHSM2,
 * a token this test initialises) — on both databases: issue, verify, rotate
 * (the DSC chains to the published CSCA before and after, checked by
 * openssl), no private key anywhere in the database, a restore from the rows
 * alone plus the same token or key file.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Db } from '../../src/db/client.ts';
import { parseConfig } from '../../src/config.ts';
import { euGatewayTrustList } from '../../src/certificates/trust-publish.ts';
import { KeyStoreError, openKeyStore, parseKeyRef, resolveKeyStoreSpec, unseal } from '../../src/certificates/key-store.ts';
import { ensureSigningKey, rotateSigningKey, upgradeKeyStorage } from '../../src/certificates/issuer.ts';
import { forgetTrustList } from '../../src/certificates/verify.ts';
import { generateCsca, generateSigningKey } from '../../src/certificates/keys.ts';
import { toPem } from '../../src/certificates/csca.ts';
import { chainsToWeb } from '../../src/certificates/x509-der.ts';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, TEST_KEYS_ENV, testRuntime } from '../helpers/app.ts';
import { softHsmProblem, testToken } from '../helpers/softhsm.ts';
import { generateDoses, toCsv } from '../fixtures/import-files.ts';
import { importRunnerOf } from '../../src/http/routes/imports.ts';
import type { Runtime } from '../../src/runtime.ts';
import { hc1OfStored } from '../../src/certificates/hc1.ts';

/** The DER prefix of every P-256 PKCS#8 private key node:crypto and WebCrypto export (RFC 5915 inside RFC 5208). */
const PKCS8_P256_PREFIX = Buffer.from('308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420', 'hex');

/** Each way a byte string can show up in a database's text: hex (bytea output), base64, base64url. */
function forms(bytes: Uint8Array): string[] {
  const b = Buffer.from(bytes);
  // base64 of a prefix is only stable up to a multiple of 3 bytes.
  const cut = b.subarray(0, b.length - (b.length % 3));
  return [b.toString('hex'), cut.toString('base64'), cut.toString('base64url')];
}

/** Every row of every table of the schema as text: what a dump of it would hold. */
async function everything(db: Db, schema: string): Promise<string> {
  const tables = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
    [schema],
  );
  const parts: string[] = [];
  for (const t of tables.rows) {
    const r = await db.query<{ t: string }>(`SELECT coalesce(string_agg(x::text, E'\\n'), '') AS t FROM "${schema}"."${t.table_name}" x`);
    parts.push(r.rows[0]?.t ?? '');
  }
  return parts.join('\n').toLowerCase();
}

function opensslVerify(cscaDer: Uint8Array, dscDer: Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), 'dosis-chain-'));
  try {
    writeFileSync(join(dir, 'csca.pem'), toPem('CERTIFICATE', cscaDer));
    writeFileSync(join(dir, 'dsc.pem'), toPem('CERTIFICATE', dscDer));
    return execFileSync('openssl', ['verify', '-CAfile', join(dir, 'csca.pem'), join(dir, 'dsc.pem')], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pkcs11Skip = softHsmProblem();
const SIGNERS = [
  { name: 'local', skip: undefined, env: (): Record<string, string> => ({}) },
  { name: 'pkcs11', skip: pkcs11Skip, env: (): Record<string, string> => testToken().env },
] as const;

for (const signer of SIGNERS) {
  describe(`signer ${signer.name}`, { skip: signer.skip ?? false }, () => {
    describeEachBackend(`signing keys with ${signer.name}`, (t) => {
      let rt: Runtime;
      let facilityToken: string;
      after(async () => {
        await rt?.app.close();
        rt?.deps.issuer.keys.close();
      });

      const record = async (key?: string) => {
        const res = await rt.app.inject({
          method: 'POST',
          url: '/api/v1/vaccinations',
          headers: { ...bearer(facilityToken), ...(key ? { 'idempotency-key': key } : {}) },
          payload: doseBody(person()),
        });
        assert.equal(res.statusCode, 201, res.body);
        return res.json<{ certificate: { qr: string } }>();
      };
      const verify = async (qr: string) => {
        forgetTrustList();
        const v = await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr } });
        return v.json<{ valid: boolean; reason: string; kid?: string }>();
      };
      const trust = async () =>
        (await rt.app.inject({ method: 'GET', url: '/api/v1/trust-list' })).json<{
          keys: { kid: string; certificate: string; retiredAt: string | null }[];
          csca: { certificate: string; validFrom: string; validUntil: string }[];
        }>();

      it('issues and verifies; the trust list publishes the CSCA, and the DSC chains to it (openssl)', async () => {
        rt = await testRuntime(t.db, signer.env());
        ({ token: facilityToken } = await facilityWithToken(t.db));
        const cert = await record();
        const v = await verify(cert.certificate.qr);
        assert.equal(v.valid, true, v.reason);
        const list = await trust();
        assert.equal(list.csca.length, 1);
        assert.equal(list.keys.length, 1);
        const csca = Buffer.from(list.csca[0]!.certificate, 'base64');
        assert.equal(new X509Certificate(csca).ca, true);
        assert.match(opensslVerify(csca, Buffer.from(list.keys[0]!.certificate, 'base64')), /: OK/);
        // The EU gateway's shape: one CSCA and one DSC entry, rawData the DER.
        const eu = await euGatewayTrustList(t.db);
        assert.deepEqual(eu.map((e) => e.certificateType), ['CSCA', 'DSC']);
        assert.equal(eu[1]!.kid, list.keys[0]!.kid);
        assert.equal(eu[0]!.rawData, list.csca[0]!.certificate);
        const row = await t.db.query<{ key_ref: unknown }>('SELECT key_ref FROM signing_keys WHERE retired_at IS NULL');
        assert.equal(parseKeyRef(row.rows[0]!.key_ref).store, signer.name);
      });

      it('rotates: the new DSC chains to the same CSCA, the old one stays trusted and retired, both certificates verify', async () => {
        const before = await record();
        const rotated = await rotateSigningKey(t.db, rt.deps.issuer.setup);
        rt.deps.issuer.invalidate();
        const afterRotation = await record();
        const [vOld, vNew] = [await verify(before.certificate.qr), await verify(afterRotation.certificate.qr)];
        assert.equal(vOld.valid, true, vOld.reason);
        assert.equal(vNew.valid, true, vNew.reason);
        assert.equal(vNew.kid, rotated.kid);
        assert.notEqual(vOld.kid, vNew.kid);
        const list = await trust();
        assert.equal(list.keys.length, 2);
        assert.equal(list.keys.find((k) => k.kid === rotated.kid)?.retiredAt, null);
        assert.notEqual(list.keys.find((k) => k.kid === vOld.kid)?.retiredAt, null);
        const csca = Buffer.from(list.csca[0]!.certificate, 'base64');
        for (const k of list.keys) assert.match(opensslVerify(csca, Buffer.from(k.certificate, 'base64')), /: OK/);
      });

      it('a DSC that does not chain to the published CSCA is not trusted by the verifier', async () => {
        // A DSC issued by some other CA, slipped into the table (a forged row): certificates it signs must not verify.
        const now = Date.now();
        const stranger = await generateCsca({ commonName: 'Not the CSCA', country: 'ID', validFrom: new Date(now - 86_400_000), validUntil: new Date(now + 3 * 86_400_000 * 365) });
        const dsc = await generateSigningKey({ commonName: 'Forged DSC', country: 'ID', validFrom: new Date(now - 60_000), validUntil: new Date(now + 86_400_000 * 365), csca: stranger });
        const { encodeHc1 } = await import('../../src/certificates/hc1.ts');
        const { buildVaccinationPayload } = await import('../../src/certificates/dcc.ts');
        const payload = buildVaccinationPayload({ name: 'Forged', birthDate: '1980-01-01', vp: 'J07BX03', mp: 'EU/1/20/1528', ma: 'ORG-100030215', doseNumber: 1, seriesDoses: 2, date: '2021-06-10', uvci: 'URN:UVCI:01:ID:FORGED#0', issuer: 'x' });
        const qr = encodeHc1(payload, { issuer: 'ID', issuedAt: new Date(), expiresAt: new Date(now + 86_400_000), kid: Buffer.from(dsc.kid, 'base64'), privateKey: createPrivateKey({ key: Buffer.from(dsc.privateKeyPkcs8), format: 'der', type: 'pkcs8' }) });
        await t.db.query("INSERT INTO signing_keys (kid, algorithm, certificate, valid_from, valid_until, signing_from, retired_at) VALUES ($1, 'ES256', $2, $3, $4, now(), now())", [dsc.kid, dsc.certificateDer, dsc.validFrom, dsc.validUntil]);
        const v = await verify(qr);
        assert.equal(v.valid, false);
        // The browser verifier's chain check (Web Crypto) agrees: ours chain, the forged one does not.
        const list = await trust();
        const cscas = list.csca.map((c) => new Uint8Array(Buffer.from(c.certificate, 'base64')));
        assert.equal(await chainsToWeb(dsc.certificateDer, cscas), false);
        for (const k of list.keys.filter((x) => x.kid !== dsc.kid)) assert.equal(await chainsToWeb(new Uint8Array(Buffer.from(k.certificate, 'base64')), cscas), true);
        assert.equal(await chainsToWeb(dsc.certificateDer, [stranger.certificateDer]), true, 'and it does follow a chain it can');
        await t.db.query('DELETE FROM signing_keys WHERE kid = $1', [dsc.kid]);
      });

      it("an import signs on the signing threads through the same store (each thread its own session), and what they sign verifies", async () => {
        const file = generateDoses({ rows: 60, seed: 22, badShare: 0 });
        const res = await rt.app.inject({ method: 'POST', url: '/api/v1/imports', headers: { ...bearer(facilityToken), 'content-type': 'text/csv' }, payload: toCsv(file, { delimiter: ';' }) });
        assert.equal(res.statusCode, 202, res.body);
        const id = res.json<{ id: string }>().id;
        await importRunnerOf(rt.app).settled(id);
        const s = (await rt.app.inject({ method: 'GET', url: `/api/v1/imports/${id}`, headers: bearer(facilityToken) })).json<{ status: string; accepted: number }>();
        assert.equal(s.status, 'done', JSON.stringify(s));
        assert.ok(s.accepted > 0);
        const certs = await t.db.query<{ qr: string | null; hc1: Uint8Array | null; kid: string }>('SELECT c.qr, c.hc1, c.kid FROM certificates c JOIN vaccinations v ON v.person_id = c.person_id AND v.id = c.vaccination_id WHERE v.import_id = $1', [id]);
        assert.equal(certs.rows.length, s.accepted);
        const active = await t.db.query<{ kid: string }>('SELECT kid FROM signing_keys WHERE retired_at IS NULL AND key_ref IS NOT NULL');
        for (const c of certs.rows.slice(0, 5)) {
          assert.equal(c.kid, active.rows[0]!.kid);
          const v = await verify(hc1OfStored(c));
          assert.equal(v.valid, true, v.reason);
        }
      });

      it('holds no private key: no PKCS#8, no key bytes, in any table', async () => {
        // An SHC card and the revocation list sign through the same store.
        const list = await rt.app.inject({ method: 'GET', url: '/api/v1/revocation-list' });
        assert.equal(list.statusCode, 200, list.body);
        const shc = await t.db.query<{ key_ref: unknown; private_key: Uint8Array | null }>('SELECT key_ref, private_key FROM shc_keys');
        assert.ok(shc.rows.length >= 1);
        const text = await everything(t.db, t.schema);
        for (const f of forms(PKCS8_P256_PREFIX)) assert.ok(!text.includes(f.toLowerCase()), `PKCS#8 header (${f}) found in the database`);
        const keys = await t.db.query<{ key_ref: unknown; private_key: Uint8Array | null }>('SELECT key_ref, private_key FROM signing_keys WHERE key_ref IS NOT NULL');
        for (const row of [...keys.rows, ...shc.rows]) {
          assert.equal(row.private_key, null);
          const ref = parseKeyRef(row.key_ref);
          assert.equal(ref.store, signer.name);
          if (ref.store === 'local') {
            // The key itself (its private scalar), as the process knows it: nowhere in the rows.
            const spec = rt.deps.issuer.keys.spec;
            assert.equal(spec.kind, 'local');
            const pkcs8 = unseal(spec.kind === 'local' ? spec.kek : new Uint8Array(32), Buffer.from(ref.sealed, 'base64'));
            const scalar = pkcs8.subarray(PKCS8_P256_PREFIX.length, PKCS8_P256_PREFIX.length + 32);
            for (const f of forms(scalar)) assert.ok(!text.includes(f.toLowerCase()), 'a private key is in the database');
          } else {
            assert.deepEqual(Object.keys(ref).sort(), ['id', 'label', 'store', 'token']);
          }
        }
      });

      if (signer.name === 'pkcs11') {
        it('the key on the token is sensitive and not extractable', async () => {
          const m = createRequire(import.meta.url)('pkcs11js') as typeof import('pkcs11js');
          const { PKCS11 } = m;
          const tok = testToken();
          const p11 = new PKCS11();
          p11.load(tok.module);
          try {
            p11.C_Initialize();
          } catch {
            // already initialised by the store in this process
          }
          const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === tok.token)!;
          const session = p11.C_OpenSession(slot, m.CKF_SERIAL_SESSION);
          try {
            p11.C_Login(session, m.CKU_USER, tok.pin);
          } catch {
            // logged in by the store already
          }
          const r = await t.db.query<{ key_ref: unknown }>('SELECT key_ref FROM signing_keys WHERE retired_at IS NULL AND key_ref IS NOT NULL');
          const ref = parseKeyRef(r.rows[0]!.key_ref);
          assert.equal(ref.store, 'pkcs11');
          p11.C_FindObjectsInit(session, [
            { type: m.CKA_CLASS, value: m.CKO_PRIVATE_KEY },
            { type: m.CKA_ID, value: Buffer.from(ref.store === 'pkcs11' ? ref.id : '', 'hex') },
          ]);
          const [h] = p11.C_FindObjects(session, 1);
          p11.C_FindObjectsFinal(session);
          assert.ok(h);
          const attrs = p11.C_GetAttributeValue(session, h, [{ type: m.CKA_SENSITIVE }, { type: m.CKA_EXTRACTABLE }]);
          assert.deepEqual(attrs.map((a) => a.value[0]), [1, 0]);
          assert.throws(() => p11.C_GetAttributeValue(session, h, [{ type: m.CKA_VALUE }]), /ATTRIBUTE_SENSITIVE/);
          p11.C_CloseSession(session);
        });
      }
    });
  });
}

describeEachBackend('the local signer without its key-encryption key', (t) => {
  it('refuses to start, naming DOSIS_KEY_ENCRYPTION_KEY and the key file; a wrong key does not open the seals', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dosis-kek-'));
    try {
      const env = { ...TEST_KEYS_ENV, DOSIS_KEY_FILE: join(dir, 'data.key') };
      const rt = await testRuntime(t.db, env);
      assert.equal((await import('node:fs')).statSync(join(dir, 'data.key')).mode & 0o777, 0o600);
      await rt.app.close();
      rt.deps.issuer.keys.close();
      rmSync(join(dir, 'data.key'));
      await assert.rejects(testRuntime(t.db, env), (e: Error) => e instanceof KeyStoreError && /DOSIS_KEY_ENCRYPTION_KEY/.test(e.message) && e.message.includes(join(dir, 'data.key')));
      const wrong = parseConfig({ ...env, DOSIS_KEY_ENCRYPTION_KEY: 'ab'.repeat(32) });
      const store = openKeyStore(resolveKeyStoreSpec(wrong.signer, false));
      const r = await t.db.query<{ key_ref: unknown }>('SELECT key_ref FROM signing_keys WHERE key_ref IS NOT NULL');
      assert.throws(() => store.open(parseKeyRef(r.rows[0]!.key_ref)), /key-encryption key does not open/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeEachBackend('keys written before migration 024', (t) => {
  it('are sealed at the first start, the CSCA key leaves the database, and old certificates still verify', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dosis-legacy-'));
    try {
      // A database as an older Dosis left it: the DSC's PKCS#8 in signing_keys, the CSCA with its key in settings.
      const now = Date.now();
      const csca = await generateCsca({ commonName: 'Old CSCA', country: 'ID', validFrom: new Date(now - 86_400_000), validUntil: new Date(now + 3650 * 86_400_000) });
      const dsc = await generateSigningKey({ commonName: 'Old DSC', country: 'ID', validFrom: new Date(now - 60_000), validUntil: new Date(now + 730 * 86_400_000), csca });
      await t.db.query('DELETE FROM csca_certificates');
      await t.db.query(
        "INSERT INTO signing_keys (kid, algorithm, certificate, private_key, valid_from, valid_until, signing_from) VALUES ($1, 'ES256', $2, $3, $4, $5, now())",
        [dsc.kid, dsc.certificateDer, dsc.privateKeyPkcs8, dsc.validFrom, dsc.validUntil],
      );
      await t.db.query("INSERT INTO settings (key, value) VALUES ('csca', $1)", [
        JSON.stringify({ certificate: Buffer.from(csca.certificateDer).toString('base64'), privateKey: Buffer.from(csca.privateKeyPkcs8).toString('base64'), validFrom: csca.validFrom, validUntil: csca.validUntil }),
      ]);
      // Migration 024 ran before these rows existed here: publish the CSCA certificate as it would have.
      await t.db.query(`INSERT INTO csca_certificates (thumbprint, certificate, valid_from, valid_until)
        SELECT encode(sha256(decode(value::json ->> 'certificate', 'base64')), 'hex'), decode(value::json ->> 'certificate', 'base64'),
               (value::json ->> 'validFrom')::timestamptz, (value::json ->> 'validUntil')::timestamptz FROM settings WHERE key = 'csca'`);
      const kek = new Uint8Array(32).fill(7);
      const setup = { store: openKeyStore({ kind: 'local', kek }), cscaDir: join(dir, 'csca') };
      const kid = await ensureSigningKey(t.db, setup, 365);
      assert.equal(kid, dsc.kid, 'the old key keeps signing, now sealed');
      const row = await t.db.query<{ private_key: Uint8Array | null; key_ref: unknown }>('SELECT private_key, key_ref FROM signing_keys WHERE kid = $1', [dsc.kid]);
      assert.equal(row.rows[0]!.private_key, null);
      const ref = parseKeyRef(row.rows[0]!.key_ref);
      assert.equal(ref.store, 'local');
      assert.deepEqual(new Uint8Array(unseal(kek, Buffer.from(ref.store === 'local' ? ref.sealed : '', 'base64'))), new Uint8Array(dsc.privateKeyPkcs8));
      const settings = await t.db.query("SELECT 1 FROM settings WHERE key = 'csca'");
      assert.equal(settings.rows.length, 0, 'the CSCA key left the database');
      assert.equal(readFileSync(join(dir, 'csca', 'csca.pem'), 'utf8'), toPem('CERTIFICATE', csca.certificateDer));
      assert.deepEqual(await upgradeKeyStorage(t.db, setup), { sealed: 0, dropped: 0 }, 'nothing left to do the second time');
      setup.store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
