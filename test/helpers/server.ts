/**
 * A real `dosis serve` (or any `dosis` command) as a subprocess, for the
 * process-level tests and the benchmarks: start it, wait until /readyz
 * answers (a state with a deadline, never a sleep), talk to it over HTTP,
 * stop it with SIGTERM or kill it with SIGKILL, and read what it printed.
 *
 * The child's environment is the parent's without any Dosis variable, plus
 * what the caller gives: a test names every setting it depends on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { TEST_NODE_FLAGS } from './services.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DOSIS_MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** The node flags before DOSIS_MAIN in a `dosis` child: this test process's own TEST_NODE_FLAGS (services.ts). */
export const DOSIS_NODE_FLAGS = process.execArgv.filter((a) => TEST_NODE_FLAGS.includes(a));

/** Variables the child must not inherit from the shell that runs the tests. */
const DOSIS_VARS = /^(PORT|HOST|PUBLIC_URL|DATABASE_URL|DOSIS_.*|SMS_GATEWAY|KANNEL_.*|SMS_SENDER|LOG_LEVEL|SATUSEHAT_.*)$/;

export function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!DOSIS_VARS.test(k)) out[k] = v;
  out.NODE_NO_WARNINGS = '1';
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** A TCP port nobody listens on right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  srv.close();
  await once(srv, 'close');
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running child process with its collected output. */
export class Child {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;
  /** Signals go to the whole process group (a child started detached, e.g. `npm start` → sh → node). */
  private readonly group: boolean;

  constructor(proc: ChildProcess, opts: { group?: boolean } = {}) {
    this.proc = proc;
    this.group = opts.group ?? false;
    proc.stdout?.setEncoding('utf8').on('data', (s: string) => (this.stdout += s));
    proc.stderr?.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve, reject) => {
      proc.once('error', reject);
      // 'close' (not 'exit'): all output has been read by then.
      proc.once('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    if (this.proc.pid === undefined) throw new Error('process did not start');
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Everything it printed, for assertion messages. */
  get output(): string {
    return `--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`;
  }

  /** Resolves when its stdout or stderr matches `re`; rejects if it exits first or the deadline passes. */
  async waitForOutput(re: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.stdout) ?? re.exec(this.stderr);
      if (m) return m;
      if (!this.running) throw new Error(`process exited (${JSON.stringify(this.exit)}) before printing ${re}\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`no ${re} within ${timeoutMs} ms\n${this.output}`);
      // Wake on new output, on exit, or at the deadline.
      await new Promise<void>((resolve) => {
        const done = () => {
          this.proc.stdout?.off('data', done);
          this.proc.stderr?.off('data', done);
          this.proc.off('close', done);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
        this.proc.stdout?.on('data', done);
        this.proc.stderr?.on('data', done);
        this.proc.on('close', done);
      });
    }
  }

  /** Sends a signal to the process (or its group); a process already gone is not an error. */
  signal(sig: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      if (this.group) process.kill(-this.pid, sig);
      else this.proc.kill(sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }

  /** SIGKILL: no shutdown code runs, as in a crash or an OOM kill. */
  async kill(): Promise<Exit> {
    this.signal('SIGKILL');
    return this.exited;
  }

  /** SIGTERM and wait for the graceful exit. */
  async stop(timeoutMs = 15_000): Promise<Exit> {
    if (!this.running) return this.exited;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
}

/** Starts `dosis <args…>` as a subprocess. */
export function spawnDosis(args: string[], opts: RunOptions = {}): Child {
  const proc = spawn(process.execPath, [...DOSIS_NODE_FLAGS, ...(opts.nodeArgs ?? []), DOSIS_MAIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: childEnv(opts.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Child(proc);
}

/** Runs `dosis <args…>` to completion. */
export async function runDosis(args: string[], opts: RunOptions & { timeoutMs?: number } = {}): Promise<Exit & { stdout: string; stderr: string }> {
  const child = spawnDosis(args, opts);
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  try {
    const exit = await child.exited;
    return { ...exit, stdout: child.stdout, stderr: child.stderr };
  } finally {
    clearTimeout(timer);
  }
}

export interface ServerOptions extends RunOptions {
  /** Port to listen on; a free one by default. Pass the same port to restart a server where clients expect it. */
  port?: number;
  /** How long to wait for /readyz. PGlite's first initdb takes seconds. */
  readyTimeoutMs?: number;
  /**
   * Another command that ends in `dosis serve`, e.g. `['npm', 'start']`; it runs
   * in its own process group so that signals reach the server behind npm and sh.
   */
  command?: string[];
}

/** A `dosis serve` subprocess that answered /readyz. */
export class DosisServer extends Child {
  readonly port: number;
  readonly url: string;

  constructor(proc: ChildProcess, port: number, opts: { group?: boolean } = {}) {
    super(proc, opts);
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
  }
}

/** Starts `dosis serve` and resolves once it listens and /readyz answers 200. */
export async function startServer(opts: ServerOptions = {}): Promise<DosisServer> {
  const port = opts.port ?? (await freePort());
  const [file, ...args] = opts.command ?? [process.execPath, ...DOSIS_NODE_FLAGS, ...(opts.nodeArgs ?? []), DOSIS_MAIN, 'serve'];
  const group = opts.command !== undefined;
  const proc = spawn(file!, args, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: childEnv({ LOG_LEVEL: 'warn', DOSIS_DEMO: 'false', ...opts.env, PORT: String(port), HOST: '127.0.0.1' }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: group,
  });
  const server = new DosisServer(proc, port, { group });
  try {
    await waitReady(server, opts.readyTimeoutMs ?? 30_000);
  } catch (e) {
    await server.kill();
    throw e;
  }
  return server;
}

/** Polls /readyz until it answers 200; fails early when the process exits. */
export async function waitReady(server: DosisServer, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // The listening line comes after migrations and key setup; poll /readyz from then on.
  await server.waitForOutput(/Dosis listening on/, timeoutMs);
  for (;;) {
    if (!server.running) throw new Error(`server exited before it was ready\n${server.output}`);
    try {
      const r = await request(server.url, 'GET', '/readyz', undefined, {}, { agent: false });
      if (r.status === 200) return;
    } catch {
      // not accepting connections yet
    }
    if (Date.now() > deadline) throw new Error(`server not ready within ${timeoutMs} ms\n${server.output}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface HttpAnswer {
  status: number;
  /** The parsed JSON body, or the text when it is not JSON. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON answers are checked by the assertions
  text: string;
}

/** A keep-alive agent: clients reuse connections as real API clients do. */
export function keepAliveAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

/**
 * One HTTP request with a JSON body. Rejects on a network error (connection
 * refused or reset: the server died), which callers treat as "no answer".
 */
export function request(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  opts: { agent?: http.Agent | false; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent: opts.agent ?? false,
        headers: {
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...headers,
        },
        timeout: opts.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${opts.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Uploads a CSV file as an import (`POST /api/v1/imports`, the file as the body, streamed from disk). */
export function uploadFile(
  base: string,
  token: string,
  path: string,
  query = 'fileName=bench.csv',
): Promise<{ status: number; body: { id: string; rowsTotal: number } & Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(`/api/v1/imports?${query}`, base), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv', 'content-length': String(statSync(path).size) },
      timeout: 600_000,
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch (e) {
          reject(new Error(`upload: ${res.statusCode} ${text}`, { cause: e }));
        }
      });
    });
    req.on('error', reject);
    createReadStream(path).pipe(req);
  });
}

/** Creates a facility and a facility token through the admin API. */
export async function facilityToken(base: string, adminToken: string, code: string): Promise<string> {
  const auth = { authorization: `Bearer ${adminToken}` };
  const f = await request(base, 'POST', '/api/v1/facilities', { code, name: `Puskesmas ${code}`, regionCode: '317101' }, auth);
  if (f.status !== 201) throw new Error(`creating facility ${code}: ${f.status} ${f.text}`);
  const t = await request(base, 'POST', '/api/v1/tokens', { role: 'facility', facility: code, label: code }, auth);
  if (t.status !== 201 || typeof t.body?.token !== 'string') throw new Error(`creating token for ${code}: ${t.status} ${t.text}`);
  return t.body.token as string;
}

/** The PostgreSQL server the process tests and benchmarks use (its `test` database is only the way in). */
export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface ScratchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/**
 * A new, empty PostgreSQL database for one server: `dosis serve` takes a
 * whole database (DATABASE_URL), so process tests get a database each where
 * in-process tests get a schema. `drop()` ends its connections first.
 * `template`: a copy of that database (which nobody may be connected to) instead of an empty one.
 */
export async function createScratchDatabase(prefix: string, serverUrl = PG_URL, template?: string): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  if (template !== undefined && !/^[a-z_][a-z0-9_]*$/.test(template)) throw new Error(`bad database name ${template}`);
  await admin(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
