/**
 * The crash test: `dosis worker` is SIGKILLed again and again while 2,000
 * certificates are notified through a real Kannel. After the last restart,
 * every certificate must have a delivered SMS. Duplicate sends (a number that
 * the SMSC accepted more than once) are counted and reported; by design they
 * should be 0, and never more than the number of kills.
 *
 * Needs PostgreSQL (the worker is its own process: PGlite allows one) and Kannel.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { POSTGRES_SKIP, TEST_DATABASE_URL } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime } from '../helpers/app.ts';
import { SmppSimulator } from '../helpers/smpp-sim.ts';
import { freePort, kannelSkip, startKannel, type KannelRig } from '../helpers/kannel.ts';
import { postgresDb, type Db } from '../../src/db/client.ts';
import type { Runtime } from '../../src/runtime.ts';
import { DOSIS_NODE_FLAGS } from '../helpers/server.ts';

const CERTIFICATES = Number(process.env.DOSIS_CRASH_CERTIFICATES ?? 2000);
const KILLS = Number(process.env.DOSIS_CRASH_KILLS ?? 8);
const MAIN = join(import.meta.dirname, '../../src/cli/main.ts');

const skip = kannelSkip() || POSTGRES_SKIP;

describe('crash test: SIGKILL the worker while 2,000 certificates are notified', { skip }, () => {
  const dbName = `dosis_crash_${randomBytes(4).toString('hex')}`;
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${dbName}`;
  let db: Db;
  let sim: SmppSimulator;
  let rig: KannelRig;
  let rt: Runtime;
  let port: number;
  let worker: ChildProcess | undefined;

  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };

  before(async () => {
    await admin(`CREATE DATABASE ${dbName}`);
    db = postgresDb({ connectionString: url.toString(), max: 16 });
    sim = await new SmppSimulator().start();
    rig = await startKannel({ smscs: [{ id: 'SIM', port: sim.port }], logLevel: 2 });
    port = await freePort();
    rt = await testRuntime(db, {
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      SMS_GATEWAY: 'kannel',
      KANNEL_URL: rig.sendsmsUrl,
      KANNEL_USER: rig.user,
      KANNEL_PASSWORD: rig.password,
    });
    await rt.app.listen({ port, host: '127.0.0.1' }); // receives Kannel's delivery reports throughout
  });

  after(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    await rt?.app.close();
    await db?.close();
    await rig?.stop();
    await sim?.stop();
    await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
  });

  function startWorker(): Promise<ChildProcess> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: url.toString(),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      SMS_GATEWAY: 'kannel',
      KANNEL_URL: rig.sendsmsUrl,
      KANNEL_USER: rig.user,
      KANNEL_PASSWORD: rig.password,
      DOSIS_JOB_LEASE_SECONDS: '2', // a killed worker's jobs are due again after 2 s
      // An attempt in doubt is settled after this; it must exceed Kannel's report lag under a backlog
      // (reports trail acceptance by seconds when thousands are queued), or sent messages are retried.
      SMS_REPORT_TIMEOUT_SECONDS: '15',
      SMS_SWEEP_SECONDS: '2', // the sweep that finds attempts past their report timeout
      SMS_RETRY_BASE_MS: '200',
      SMS_RETRY_MAX_MS: '1000',
      DOSIS_WORKER_CONCURRENCY: '32',
      DOSIS_WORKER_POLL_MS: '50',
    };
    const c = spawn(process.execPath, [...DOSIS_NODE_FLAGS, MAIN, 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    return new Promise((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`worker did not start:\n${out}`)), 20_000);
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

  const delivered = async () =>
    (await db.query<{ n: number }>("SELECT count(DISTINCT certificate_id)::int8 AS n FROM notifications WHERE status = 'delivered'")).rows[0]!.n;

  it('leaves no certificate without a delivered SMS, and counts duplicate sends', async () => {
    const fac = await facilityWithToken(db);
    let next = 0;
    const recordSome = async () => {
      for (let i = next++; i < CERTIFICATES; i = next++) {
        const p = person({ phone: `0813${String(10_000_000 + i)}` });
        const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p) });
        assert.equal(res.statusCode, 201, res.body);
      }
    };
    await Promise.all(Array.from({ length: 8 }, recordSome));

    const started = Date.now();
    let kills = 0;
    worker = await startWorker();
    while (kills < KILLS && (await delivered()) < CERTIFICATES) {
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 700));
      const w = worker;
      const exited = new Promise((r) => w.once('exit', r));
      w.kill('SIGKILL');
      await exited;
      kills++;
      worker = await startWorker();
    }
    const killedAtDelivered = await delivered();

    const deadline = Date.now() + 120_000;
    while ((await delivered()) < CERTIFICATES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const w = worker;
    const exited = new Promise((r) => w.once('exit', r));
    w.kill('SIGTERM');
    await exited;

    const missing = await db.query<{ n: number }>(
      `SELECT count(*)::int8 AS n FROM certificates c
        WHERE NOT EXISTS (SELECT 1 FROM notifications n WHERE n.person_id = c.person_id AND n.certificate_id = c.id AND n.status = 'delivered')`,
    );
    const dups = [...sim.duplicates().values()].reduce((a, b) => a + b, 0);
    const retried = (await db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM notifications WHERE attempt > 1')).rows[0]!.n;
    console.log(
      `# crash test: ${CERTIFICATES} certificates, ${kills} SIGKILLs (while ${killedAtDelivered} were delivered), ` +
        `all delivered after ${((Date.now() - started) / 1000).toFixed(1)} s; duplicate sends: ${dups}; notifications retried: ${retried}`,
    );
    assert.ok(kills >= 3, `the worker was killed ${kills} times while work remained`);
    assert.equal(missing.rows[0]!.n, 0, 'certificates without a delivered SMS');
    assert.ok(dups <= kills, `${dups} duplicate sends for ${kills} kills`);
  });
});
