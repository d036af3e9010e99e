/**
 * A real Kannel (Debian's `bearerbox` + `smsbox`) for tests and benchmarks,
 * on free loopback ports, in a temporary directory, wired to our SMPP
 * simulator. See ../shared/SMS-GATEWAY.md: start the simulator first, then
 * bearerbox (wait for its smsbox port), then smsbox (it exits when bearerbox
 * is not listening yet); ready when sendsms answers and the admin status page
 * shows the SMSC online. Stop with SIGTERM to the PIDs we started.
 *
 * Suites that need Kannel call `kannelSkip()`: when the binaries are absent the
 * test file fails (apt-get install kannel kannel-extras), unless the user left
 * Kannel out with DOSIS_SKIP_KANNEL=1 (services.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BEARERBOX, KANNEL_LEFT_OUT, SMSBOX, kannelProblem } from './services.ts';

export { BEARERBOX, SMSBOX };

/** False when Kannel runs here; the reason when the user left it out. Throws when it is missing. */
export function kannelSkip(): string | false {
  if (KANNEL_LEFT_OUT) return KANNEL_LEFT_OUT;
  const problem = kannelProblem();
  if (problem) throw new Error(`${problem}; set DOSIS_SKIP_KANNEL=1 to leave Kannel out`);
  return false;
}

/** A free TCP port on 127.0.0.1 (bound and released; tests in parallel each get their own). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = a && typeof a === 'object' ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

async function waitFor(what: string, deadlineMs: number, check: () => Promise<boolean>, alive?: () => string | null): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (await check()) return;
    const dead = alive?.();
    if (dead) throw new Error(`${what}: ${dead}`);
    if (Date.now() > until) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface SmscSpec {
  /** Kannel smsc-id. */
  id: string;
  /** Port of the SMPP server (our simulator; a closed port for an SMSC that is down). */
  port: number;
  /** Only messages sent with `smsc=<id>` go here (an extra route). */
  onlyWhenForced?: boolean;
  /** Wait for it to be online before answering ready (default true). */
  waitOnline?: boolean;
}

export interface KannelOptions {
  smscs: SmscSpec[];
  /** Seconds between Kannel's own resends of temporarily failed messages (default 60 in Kannel; 1 here). */
  resendFreq?: number;
  /** 0 debug … 4 panic. */
  logLevel?: number;
  /**
   * Persistent stores (default true): `store-type = spool` keeps accepted messages across a
   * bearerbox restart, `dlr-storage = spool` keeps the map from SMSC id to our dlr-url. False:
   * Kannel's in-memory defaults (`dlr-storage = internal`, no store), for the benchmark's comparison.
   */
  stores?: boolean;
  /**
   * With stores: the message store's kind. `spool` (default, as deploy/kannel.conf): a file per
   * message. `file`: one file, compacted periodically — a third cheaper here (bench/README.md); not
   * yet proven across a restart (one run of test (b) lost 26 of 200 reports with it).
   */
  storeType?: 'spool' | 'file';
  /** With stores: where DLRs are kept (default spool; internal: only the message store persists). */
  dlrStorage?: 'spool' | 'internal';
}

export interface KannelRig {
  sendsmsUrl: string;
  user: string;
  password: string;
  adminPort: number;
  dir: string;
  /** The admin status page (text). */
  status(): Promise<string>;
  /** Whether the SMSC `id` shows online in the admin status. */
  online(id: string): Promise<boolean>;
  logs(): string;
  /** PIDs of bearerbox and smsbox (for CPU accounting). */
  pids(): number[];
  /** SIGTERM (or SIGKILL) one box and wait for it to exit; sendsms refuses connections while smsbox is down. */
  stopBox(box: 'bearerbox' | 'smsbox', signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts a box stopped by stopBox and waits until it serves. bearerbox: its smsbox port and the
   * SMSCs online, then smsbox again (smsbox exits when its bearerbox goes).
   */
  startBox(box: 'bearerbox' | 'smsbox'): Promise<void>;
  stop(): Promise<void>;
}

function conf(o: { dir: string; adminPort: number; boxPort: number; sendsmsPort: number; user: string; password: string } & KannelOptions): string {
  const lines = [
    'group = core',
    `admin-port = ${o.adminPort}`,
    'admin-interface = 127.0.0.1',
    `admin-password = ${o.password}`,
    'admin-allow-ip = "127.0.0.1"',
    `smsbox-port = ${o.boxPort}`,
    'smsbox-interface = 127.0.0.1',
    'box-allow-ip = "127.0.0.1"',
    'wdp-interface-name = ""',
    `log-file = "${o.dir}/bearerbox.log"`,
    `log-level = ${o.logLevel ?? 1}`,
    `access-log = "${o.dir}/access.log"`,
    ...(o.stores === false
      ? ['dlr-storage = internal']
      : [
          ...(o.dlrStorage === 'internal' ? ['dlr-storage = internal'] : ['dlr-storage = spool', `dlr-spool = "${o.dir}/dlr"`]),
          ...(o.storeType === 'file' ? ['store-type = file', `store-location = "${o.dir}/store/store.dat"`] : ['store-type = spool', `store-location = "${o.dir}/store"`]),
        ]),
    `sms-resend-freq = ${o.resendFreq ?? 1}`,
    '',
    'group = smsbox',
    'bearerbox-host = 127.0.0.1',
    `bearerbox-port = ${o.boxPort}`,
    `sendsms-port = ${o.sendsmsPort}`,
    'sendsms-interface = 127.0.0.1',
    `log-file = "${o.dir}/smsbox.log"`,
    `log-level = ${o.logLevel ?? 1}`,
    `access-log = "${o.dir}/smsbox-access.log"`,
    'http-request-retry = 3',
    'http-queue-delay = 1',
    '',
    'group = sendsms-user',
    `username = ${o.user}`,
    `password = ${o.password}`,
    'concatenation = true',
    'max-messages = 4',
    '',
  ];
  const forced = o.smscs.filter((s) => s.onlyWhenForced).map((s) => s.id);
  for (const s of o.smscs) {
    lines.push(
      'group = smsc',
      'smsc = smpp',
      `smsc-id = ${s.id}`,
      'host = 127.0.0.1',
      `port = ${s.port}`,
      'transceiver-mode = true',
      'smsc-username = dosis',
      'smsc-password = secret',
      'system-type = ""',
      'interface-version = 34',
      'reconnect-delay = 1',
      'our-host = 127.0.0.1',
      ...(s.onlyWhenForced ? [`allowed-smsc-id = ${s.id}`] : forced.length ? [`denied-smsc-id = ${forced.join(';')}`] : []),
      '',
    );
  }
  return lines.join('\n');
}

/** Starts bearerbox and smsbox on free ports. The SMPP simulator(s) must already listen. */
export async function startKannel(opts: KannelOptions): Promise<KannelRig> {
  const dir = mkdtempSync(join(tmpdir(), 'dosis-kannel-'));
  const [adminPort, boxPort, sendsmsPort] = [await freePort(), await freePort(), await freePort()];
  const user = 'dosis';
  const password = 'kannel-test-pw';
  const path = join(dir, 'kannel.conf'); // absolute: a relative config path dies silently
  writeFileSync(path, conf({ dir, adminPort, boxPort, sendsmsPort, user, password, ...opts }));

  if (opts.stores !== false) for (const d of ['dlr', 'store']) mkdirSync(join(dir, d));
  const boxes = new Map<'bearerbox' | 'smsbox', ChildProcess>();
  const exits = new Map<ChildProcess, string>();
  const run = (box: 'bearerbox' | 'smsbox') => {
    const bin = box === 'bearerbox' ? BEARERBOX : SMSBOX;
    const c = spawn(bin, [path], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr?.on('data', (d: Buffer) => {
      if (err.length < 20_000) err += d.toString();
    });
    c.on('exit', (code, sig) => exits.set(c, `${bin} exited (${code ?? sig}) ${err.slice(-500)}`));
    c.on('error', (e) => exits.set(c, `${bin} failed to start: ${e.message}`));
    boxes.set(box, c);
    return c;
  };
  const logs = () =>
    ['bearerbox.log', 'smsbox.log']
      .map((f) => join(dir, f))
      .filter((f) => existsSync(f))
      .map((f) => `--- ${f}\n${readFileSync(f, 'utf8').slice(-4000)}`)
      .join('\n');
  const status = async () => {
    const r = await fetch(`http://127.0.0.1:${adminPort}/status.txt?password=${password}`);
    return r.text();
  };
  const online = async (id: string) => {
    try {
      return new RegExp(`${id}\\[[^\\]]*\\][^\\n]*\\(online`).test(await status());
    } catch {
      return false;
    }
  };
  const stopBox = async (box: 'bearerbox' | 'smsbox', signal: NodeJS.Signals = 'SIGTERM') => {
    const c = boxes.get(box);
    if (!c || exits.has(c) || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => c.kill('SIGKILL'), 5000);
      c.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      c.kill(signal);
    });
  };
  const running = (box: 'bearerbox' | 'smsbox') => {
    const c = boxes.get(box);
    return c !== undefined && !exits.has(c) && c.exitCode === null;
  };
  const startBox = async (box: 'bearerbox' | 'smsbox') => {
    if (box === 'bearerbox') {
      // smsbox usually exits when its bearerbox goes (measured; not always at once): wait a little for
      // that, else stop it, then start both again.
      const sbox = boxes.get('smsbox');
      if (sbox) await waitFor('smsbox to follow bearerbox out', 3000, async () => !running('smsbox')).catch(() => stopBox('smsbox'));
      const bb = run('bearerbox');
      await waitFor('bearerbox smsbox port', 15_000, () => portOpen(boxPort), () => exits.get(bb) ?? null);
      // smsbox at once, as at the first start: reports the SMSC sends on binding need it connected.
      if (sbox) await startBox('smsbox');
      for (const s of opts.smscs) {
        if (s.waitOnline === false) continue;
        await waitFor(`SMSC ${s.id} online`, 15_000, () => online(s.id), () => exits.get(bb) ?? null);
      }
    } else {
      const sb = run('smsbox');
      await waitFor('smsbox sendsms port', 15_000, () => portOpen(sendsmsPort), () => exits.get(sb) ?? null);
    }
  };
  const stop = async () => {
    await stopBox('smsbox');
    await stopBox('bearerbox');
    if (process.env.DOSIS_KEEP_KANNEL_LOGS !== '1') rmSync(dir, { recursive: true, force: true });
  };

  try {
    // bearerbox first (smsbox exits when it is not listening yet); the SMSCs online before answering ready.
    const bb = run('bearerbox');
    await waitFor('bearerbox smsbox port', 15_000, () => portOpen(boxPort), () => exits.get(bb) ?? null);
    await startBox('smsbox');
    for (const s of opts.smscs) {
      if (s.waitOnline === false) continue;
      await waitFor(`SMSC ${s.id} online`, 15_000, () => online(s.id), () => exits.get(bb) ?? null);
    }
  } catch (e) {
    const l = logs();
    await stop();
    throw new Error(`${(e as Error).message}\n${l}`, { cause: e });
  }
  const pids = () => [...boxes.values()].map((c) => c.pid).filter((p): p is number => p !== undefined);
  return { sendsmsUrl: `http://127.0.0.1:${sendsmsPort}/cgi-bin/sendsms`, user, password, adminPort, dir, status, online, logs, pids, stopBox, startBox, stop };
}
