/**
 * The crash test of the hand-off (issue 21): `dosis worker` is SIGKILLed again
 * and again while 1,000 doses go to the SATUSEHAT peer. Afterwards every dose
 * is in the peer exactly once (the conditional create on the dose's
 * identifier finds the record a killed worker made) and synced in Dosis.
 *
 * PostgreSQL only: the worker is its own process (PGlite allows one).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Immunization } from '@medplum/fhirtypes';
import { POSTGRES_SKIP } from '../helpers/db.ts';
import { TEST_KEYS_ENV, bearer, doseBody, facilityWithToken, person, testRuntime } from '../helpers/app.ts';
import { DOSIS_MAIN, DOSIS_NODE_FLAGS, childEnv, createScratchDatabase, type ScratchDatabase } from '../helpers/server.ts';
import { SatusehatPeer, byVaccination } from '../helpers/satusehat-peer.ts';
import { postgresDb, type Db } from '../../src/db/client.ts';
import type { Runtime } from '../../src/runtime.ts';

const DOSES = Number(process.env.DOSIS_SATUSEHAT_CRASH_DOSES ?? 1000);
const KILLS = Number(process.env.DOSIS_SATUSEHAT_CRASH_KILLS ?? 5);

describe('crash test: SIGKILL the worker while 1,000 doses go to SATUSEHAT', { skip: POSTGRES_SKIP }, () => {
  let scratch: ScratchDatabase | undefined;
  let db: Db;
  let rt: Runtime;
  let peer: SatusehatPeer;
  let worker: ChildProcess | undefined;

  before(async () => {
    scratch = await createScratchDatabase('dosis_sscrash');
    db = postgresDb({ connectionString: scratch.url, max: 16 });
    peer = await SatusehatPeer.start();
    rt = await testRuntime(db, peer.env());
  });

  after(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    await rt?.app.close();
    await db?.close();
    await peer?.close();
    await scratch?.drop().catch(() => {});
  });

  function startWorker(): Promise<ChildProcess> {
    const env = childEnv({
      ...TEST_KEYS_ENV,
      ...peer.env(),
      DATABASE_URL: scratch!.url,
      PUBLIC_URL: 'https://dosis.test',
      // A killed worker's jobs are due again after 10 s. Not shorter: a hand-off is three requests to a peer
      // that scans its whole memory for each, and a lease that expires mid-batch has the jobs run twice at once.
      DOSIS_JOB_LEASE_SECONDS: '10',
      SATUSEHAT_RETRY_BASE_MS: '100',
      SATUSEHAT_RETRY_MAX_MS: '1000',
      DOSIS_WORKER_POLL_MS: '50',
    });
    const c = spawn(process.execPath, [...DOSIS_NODE_FLAGS, DOSIS_MAIN, 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    return new Promise((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`worker did not start:\n${out}`)), 30_000);
      c.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      c.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('started')) {
          clearTimeout(t);
          resolve(c);
        }
      });
      c.once('exit', (code) => reject(new Error(`worker exited ${code}:\n${out}`)));
    });
  }

  const synced = async () => Number((await db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM satusehat_sync WHERE state = 'synced'")).rows[0]!.n);

  it('leaves every dose in the peer exactly once', async () => {
    const fac = await facilityWithToken(db);
    await db.query("UPDATE facilities SET satusehat_location_id = 'LOC-1' WHERE code = $1", [fac.code]);
    await db.query("INSERT INTO vaccine_lots (vaccine, lot_key, lot, expires_on) VALUES ('CORONAVAC', 'A123', 'A123', '2022-12-31')");
    const vids: string[] = [];
    let next = 0;
    const recordSome = async () => {
      for (let i = next++; i < DOSES; i = next++) {
        const p = person();
        await peer.addPatient(p.nik, p.name);
        const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p) });
        assert.equal(res.statusCode, 201, res.body);
        vids.push(res.json<{ vaccination: { id: string } }>().vaccination.id);
      }
    };
    await Promise.all(Array.from({ length: 8 }, recordSome));
    // Slow answers: kills land while requests are in flight (made in the peer, not yet stored in Dosis).
    peer.slow(15);

    const started = Date.now();
    let kills = 0;
    worker = await startWorker();
    while (kills < KILLS && (await synced()) < DOSES) {
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 1000));
      const w = worker;
      const exited = new Promise((r) => w.once('exit', r));
      w.kill('SIGKILL');
      await exited;
      kills++;
      worker = await startWorker();
    }
    const atLastKill = await synced();
    const deadline = Date.now() + 480_000;
    while ((await synced()) < DOSES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const w = worker;
    const exited = new Promise((r) => w.once('exit', r));
    w.kill('SIGTERM');
    await exited;

    const held = byVaccination(await peer.all<Immunization>('Immunization'));
    const twice = [...held.values()].filter((x) => x.length > 1).length;
    const missing = vids.filter((v) => !held.has(v)).length;
    console.log(
      `# SATUSEHAT crash test: ${DOSES} doses, ${kills} SIGKILLs (while ${atLastKill} were synced), all handed over after ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s (loaded machine); in the peer twice: ${twice}, missing: ${missing}`,
    );
    assert.ok(kills >= 2, `the worker was killed ${kills} times while work remained`);
    assert.equal(missing, 0, 'doses missing in the peer');
    assert.equal(twice, 0, 'doses in the peer more than once');
    assert.equal(held.size, DOSES);
    assert.equal(await synced(), DOSES);
  });
});
