/**
 * The embedded default as a person runs it: `dosis serve` (PGlite, worker
 * inside, local sink), a dose recorded over HTTP, its SMS shown by
 * `dosis sms tail -f` — and `dosis sms tail` / `dosis jobs` once serve stopped.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/kannel.ts';
import { ADMIN_TOKEN, doseBody, person } from '../helpers/app.ts';
import { seedDataDir } from '../helpers/services.ts';
import { DOSIS_NODE_FLAGS } from '../helpers/server.ts';

const MAIN = join(import.meta.dirname, '../../src/cli/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'dosis-cli-'));
seedDataDir(join(dir, 'data'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function env(port: number): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, DOSIS_DATA_DIR: join(dir, 'data'), PORT: String(port), DOSIS_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'warn', DOSIS_DEMO: 'false' };
  for (const k of ['DATABASE_URL', 'SMS_GATEWAY', 'DOSIS_WORKER', 'PUBLIC_URL']) delete e[k];
  return e;
}

function start(args: string[], e: NodeJS.ProcessEnv): { child: ChildProcess; out: () => string; waitFor: (re: RegExp, ms: number) => Promise<number> } {
  const child = spawn(process.execPath, [...DOSIS_NODE_FLAGS, MAIN, ...args], { env: e, stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  children.push(child);
  let out = '';
  const waiters: { re: RegExp; resolve: (t: number) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (!w.re.test(out)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(Date.now());
    }
  };
  child.stdout?.on('data', (d: Buffer) => ((out += d.toString()), check()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return {
    child,
    out: () => out,
    waitFor: (re, ms) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${out}`)), ms);
        waiters.push({ re, resolve: (at) => (clearTimeout(t), resolve(at)) });
        check();
      }),
  };
}

describe('dosis CLI, embedded default', () => {
  const p = person({ name: 'Dewi Lestari', phone: '0813-5555-0101' });

  it('shows a recorded dose\'s SMS in "dosis sms tail -f" while serve runs', async () => {
    const port = await freePort();
    const serve = start(['serve'], env(port));
    await serve.waitFor(/Dosis listening/, 30_000);
    const base = `http://127.0.0.1:${port}`;
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const f = await fetch(`${base}/api/v1/facilities`, { method: 'POST', headers: admin, body: JSON.stringify({ code: 'PKM-CLI', name: 'Puskesmas CLI', regionCode: '317101' }) });
    assert.equal(f.status, 201, await f.text());
    const tok = await fetch(`${base}/api/v1/tokens`, { method: 'POST', headers: admin, body: JSON.stringify({ role: 'facility', facility: 'PKM-CLI', label: 'cli test' }) });
    const { token } = (await tok.json()) as { token: string };

    const tail = start(['sms', 'tail', '-f'], env(port));
    await new Promise((r) => setTimeout(r, 300)); // let tail open the (locked) data directory's log first
    const latencies: number[] = [];
    for (const [i, who] of [p, person({ name: 'Rudi Hartono', phone: '0813-5555-0102' }), person({ name: 'Ani Yudhoyono', phone: '0813-5555-0103' })].entries()) {
      const recorded = await fetch(`${base}/api/v1/vaccinations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(doseBody(who)),
      });
      const answeredAt = Date.now();
      assert.equal(recorded.status, 201, await recorded.clone().text());
      const { certificate } = (await recorded.json()) as { certificate: { link: string } };
      const phone = `\\+62813555501${String(i + 1).padStart(2, '0')}`;
      const shownAt = await tail.waitFor(new RegExp(`${phone} {2}Sertifikat vaksin dosis 1/2 a\\.n\\. [A-Za-z]+ [A-Z]\\. sudah terbit: `), 5000);
      latencies.push(shownAt - answeredAt);
      assert.ok(tail.out().includes(certificate.link), tail.out());
    }
    console.log(`# SMS shown by "dosis sms tail -f" ${latencies.join(' ms, ')} ms after each dose was recorded`);
    tail.child.kill('SIGTERM');
    serve.child.kill('SIGTERM');
    await new Promise((r) => serve.child.once('exit', r));
    assert.equal(serve.child.exitCode, 0, serve.out());
  });

  it('reads the sink from the database once serve has stopped, and counts SMS by status', async () => {
    const e = env(0);
    const closed = await freePort();
    const r = spawnSync(process.execPath, [...DOSIS_NODE_FLAGS, MAIN, 'sms', 'tail', '-n', '2'], { env: e, cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? '', /^\d{4}-\d\d-\d\dT[\d:.]+Z {2}\+6281355550102 {2}Sertifikat vaksin dosis 1\/2 a\.n\. Rudi H\./);
    assert.match(lines[1] ?? '', /^\d{4}-\d\d-\d\dT[\d:.]+Z {2}\+6281355550103 {2}Sertifikat vaksin dosis 1\/2 a\.n\. Ani Y\./);
    const s = spawnSync(process.execPath, [...DOSIS_NODE_FLAGS, MAIN, 'sms', 'stats'], { env: e, cwd: dir, encoding: 'utf8' });
    assert.equal(s.status, 0, s.stderr);
    assert.equal(JSON.parse(s.stdout).byStatus.delivered, 3);
    // The gateway check: a Kannel nobody listens for does not answer (exit 1); the sink always does.
    const kannel = { ...e, SMS_GATEWAY: 'kannel', KANNEL_URL: `http://127.0.0.1:${closed}/cgi-bin/sendsms`, KANNEL_USER: 'u', KANNEL_PASSWORD: 'p' };
    const down = spawnSync(process.execPath, [...DOSIS_NODE_FLAGS, MAIN, 'sms', 'check'], { env: kannel, cwd: dir, encoding: 'utf8' });
    assert.equal(down.status, 1, down.stderr);
    assert.match(down.stdout, /^primary: DOES NOT ANSWER \(ECONNREFUSED\)$/m);
    const sink = spawnSync(process.execPath, [...DOSIS_NODE_FLAGS, MAIN, 'sms', 'check'], { env: e, cwd: dir, encoding: 'utf8' });
    assert.equal(sink.status, 0, sink.stderr);
    assert.match(sink.stdout, /^sink: answers$/m);
    const bad = spawnSync(process.execPath, [...DOSIS_NODE_FLAGS, MAIN, 'sms', 'nope'], { env: e, cwd: dir, encoding: 'utf8' });
    assert.equal(bad.status, 2);
    const help = spawnSync(process.execPath, [...DOSIS_NODE_FLAGS, MAIN, 'worker', '--help'], { env: e, cwd: dir, encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /dosis worker — run the outbox worker/);
  });
});
