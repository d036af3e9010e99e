/**
 * A PostgreSQL 15 cluster of one's own, in a temporary directory on a free
 * port, for tests and benchmarks that restart the server (the machine's server
 * is shared by every test running meanwhile and must never be stopped).
 * initdb and pg_ctl refuse to run as root: as root they run as the `postgres`
 * user (`runuser -u postgres --`).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './server.ts';

const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface Cluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  dir: string;
  /** Fast shutdown (every session ends with 57P01) and start again; resolves once it accepts connections. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** Its server log, for assertion messages. */
  log(): string;
}

function asPostgres(cmd: string, args: string[]): string {
  const root = userInfo().uid === 0;
  const [file, argv] = root ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Creates and starts a cluster: trust authentication, no fsync (a test's data need not survive a power cut). */
export async function startCluster(opts: { settings?: Record<string, string> } = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'dosis-pg-'));
  if (userInfo().uid === 0) chownSync(dir, Number(asUid('postgres')), Number(asGid('postgres')));
  const data = join(dir, 'data');
  const port = await freePort();
  asPostgres(`${BIN}/initdb`, ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const settings = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: dir,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: '100',
    ...opts.settings,
  };
  const o = Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
  const logFile = join(dir, 'server.log');
  const ctl = (...args: string[]) => asPostgres(`${BIN}/pg_ctl`, ['-D', data, '-l', logFile, '-w', '-t', '120', ...args]);
  ctl('-o', o, 'start');
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    async restart() {
      ctl('-m', 'fast', '-o', o, 'restart');
    },
    async stop() {
      try {
        ctl('-m', 'immediate', 'stop');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    log() {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
  };
}

function asUid(user: string): string {
  return execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim();
}
function asGid(user: string): string {
  return execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim();
}
