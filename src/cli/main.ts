#!/usr/bin/env node
/**
 * The `dosis` command: serve, migrate, keys rotate, verify, accounts, … Every command has
 * --help and exits non-zero on failure.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadDotEnv, parseConfig, startWarnings, type Config } from '../config.ts';
import { openDb, DataDirLockedError } from '../db/open.ts';
import { migrate } from '../db/migrate.ts';
import { KeyStoreError } from '../certificates/key-store.ts';
import { AppError } from '../domain/errors.ts';

// A command's modules are loaded when it runs (and its help when asked for): the
// server's (runtime.ts and what it imports) cost about 0.4 s of CPU to load, which
// `dosis --help`, `migrate`, `verify` or `accounts` do not need.
const certificatesCli = () => import('../certificates/cli.ts');
const notifyCli = () => import('../notify/cli.ts');
const importCli = () => import('../records/import/cli.ts');
const accountsCli = () => import('../access/cli.ts');
const satusehatCli = () => import('../satusehat/cli.ts');

const USAGE = `dosis — vaccination records with signed certificates

Usage: dosis <command> [options]

Commands:
  serve            run the HTTP server (and, with PGlite, the SMS worker)
  worker           run the outbox worker (SMS) as its own process
  sms tail|stats|check   the local sink's messages; SMS counts by status; do the gateways answer
  jobs stats|dead|replay   outbox jobs; replay dead ones
  import FILE      record a CSV or XLSX file of doses (--facility CODE)
  satusehat backfill   queue the hand-off to SATUSEHAT of doses never sent (--since DATE, --facility CODE)
  accounts create|list|password   staff accounts for the console
  migrate          apply database migrations and exit
  keys csca init|request|sign-request|install|rotate   the offline CSCA and the document signer keys
  verify <HC1:…>   verify a certificate against this database's trust list

Configuration comes from the environment and .env (see .env.example).
Run "dosis <command> --help" for a command's options.`;

const OWN_HELP: Record<string, string> = {
  serve: `dosis serve — run the HTTP server

Listens on HOST:PORT (default 127.0.0.1:3000). Without DATABASE_URL the data
lives in PGlite under DOSIS_DATA_DIR (default ./data). On the first start an
administrator token is printed once (or preset it with DOSIS_ADMIN_TOKEN).`,
  migrate: `dosis migrate — apply the database migrations and exit (safe to run from several processes at once)`,
  verify: `dosis verify <HC1:…> — decode and verify a certificate against this database's trust list.
Prints the result as JSON; exits 0 when valid, 1 when not.
Options: --now <ISO time>  check validity at that time instead of now`,
};

/** The commands whose help (and code) live with their subsystem. */
const SUBSYSTEM_COMMANDS = ['worker', 'sms', 'jobs', 'import', 'satusehat', 'accounts', 'keys'] as const;
type SubsystemCommand = (typeof SUBSYSTEM_COMMANDS)[number];
const isCommand = (c: string): boolean => c in OWN_HELP || (SUBSYSTEM_COMMANDS as readonly string[]).includes(c);

async function helpOf(command: string): Promise<string | undefined> {
  switch (command as SubsystemCommand) {
    case 'worker':
    case 'sms':
    case 'jobs':
      return (await notifyCli()).NOTIFY_HELP[command];
    case 'import':
      return (await importCli()).IMPORT_HELP[command];
    case 'satusehat':
      return (await satusehatCli()).SATUSEHAT_HELP[command];
    case 'accounts':
      return (await accountsCli()).ACCOUNTS_HELP;
    case 'keys':
      return (await certificatesCli()).KEYS_HELP;
    default:
      return OWN_HELP[command];
  }
}

async function withDb<T>(config: Config, fn: (db: Awaited<ReturnType<typeof openDb>>) => Promise<T>): Promise<T> {
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

async function serve(config: Config): Promise<void> {
  const { startRuntime } = await import('../runtime.ts');
  const rt = await startRuntime(config, { level: config.logLevel });
  if (config.demo) {
    const { seedDemo } = await import('../demo.ts');
    const demo = await seedDemo(rt.db, { issuer: rt.deps.issuer, linkSecret: rt.deps.linkSecret, publicUrl: config.publicUrl });
    if (demo) {
      process.stdout.write(
        '\nDemo data was added (facilities, people with doses and cases to work on; DOSIS_DEMO=false starts empty). Demo tokens:\n' +
          demo.tokens.map((t) => `  ${t.role.padEnd(9)} ${t.scope.padEnd(12)} ${t.token}`).join('\n') +
          `\nDemo console accounts (sign in at ${config.publicUrl}/console; the passwords are shown only this once):\n` +
          demo.accounts.map((a) => `  ${a.role.padEnd(9)} ${a.scope.padEnd(12)} ${a.username.padEnd(15)} ${a.password}`).join('\n') +
          '\n',
      );
    }
  }
  if (rt.firstAdminToken) {
    process.stdout.write(
      `\nFirst start: an administrator token was created. It is shown only this once — keep it safe:\n\n  ${rt.firstAdminToken}\n\n`,
    );
  }
  const stop = async (signal: string) => {
    rt.app.log.info({ signal, graceMs: config.http.shutdownGraceMs }, 'shutting down');
    // New requests get 503 at once; requests in flight get the grace period, then their connections are
    // closed (a client trickling a body must not keep the process alive: issue 15, item 6).
    setTimeout(() => {
      rt.app.log.warn('shutdown: grace period over, closing the connections still open');
      rt.app.server.closeAllConnections();
    }, config.http.shutdownGraceMs).unref();
    setTimeout(() => {
      console.error('shutdown did not finish 10 s after the grace period: exiting');
      process.exit(1);
    }, config.http.shutdownGraceMs + 10_000).unref();
    try {
      await rt.close();
      process.exit(0);
    } catch (e) {
      console.error(e);
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  for (const warning of startWarnings(config)) {
    rt.app.log.warn({ warning }, 'configuration');
    process.stderr.write(`dosis: warning: ${warning}\n`);
  }
  const address = await rt.app.listen({ port: config.port, host: config.host });
  const where = config.databaseUrl ? 'PostgreSQL' : `PGlite in ${config.dataDir}`;
  process.stdout.write(`Dosis listening on ${address} (database: ${where}; SMS: ${config.smsGateway})\n`);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (!isCommand(command)) {
    console.error(`Unknown command "${command}".\n\n${USAGE}`);
    return 2;
  }
  if (command === 'worker' || command === 'sms' || command === 'jobs') {
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(await helpOf(command));
      return 0;
    }
    loadDotEnv();
    const { notifyCommand, UsageError } = await notifyCli();
    try {
      return await notifyCommand(command, rest, parseConfig());
    } catch (e) {
      if (!(e instanceof UsageError) && !(e instanceof TypeError && 'code' in e)) throw e;
      console.error(e.message);
      return 2;
    }
  }
  if (command === 'accounts') {
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(await helpOf(command));
      return 0;
    }
    loadDotEnv();
    return (await accountsCli()).accountsCommand(rest, parseConfig());
  }
  if (command === 'keys') {
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(await helpOf(command));
      return 0;
    }
    loadDotEnv();
    return (await certificatesCli()).keysCommand(rest, parseConfig());
  }
  if (command === 'satusehat') {
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(await helpOf(command));
      return 0;
    }
    loadDotEnv();
    return (await satusehatCli()).satusehatCommand(rest, parseConfig());
  }
  if (command === 'import') {
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(await helpOf(command));
      return 0;
    }
    loadDotEnv();
    return (await importCli()).importCommand(rest, parseConfig());
  }
  const { values, positionals } = parseArgs({ args: rest, options: { help: { type: 'boolean', short: 'h' }, now: { type: 'string' } }, allowPositionals: true });
  if (values.help) {
    console.log(OWN_HELP[command]);
    return 0;
  }
  loadDotEnv();
  const config = parseConfig();
  switch (command) {
    case 'serve':
      await serve(config);
      return -1; // keeps running
    case 'migrate': {
      const applied = await withDb(config, (db) => migrate(db));
      console.log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database is up to date.');
      return 0;
    }
    case 'verify': {
      const qr = positionals[0];
      if (!qr) {
        console.error(`Usage: ${OWN_HELP.verify}`);
        return 2;
      }
      const now = values.now ? new Date(values.now) : new Date();
      if (Number.isNaN(now.getTime())) {
        console.error(`--now: not a time: ${values.now}`);
        return 2;
      }
      const { verifyCertificate } = await import('../certificates/verify.ts');
      const result = await withDb(config, async (db) => {
        await migrate(db);
        return verifyCertificate(db, qr, now, { publicUrl: config.publicUrl });
      });
      const notices = result.format === 'eu-dcc' ? result.notices?.map((n) => ({ code: n.code, message: n.message.en })) : undefined;
      console.log(JSON.stringify({ valid: result.valid, reason: result.reason, message: result.message.en, notices, kid: result.kid, payload: result.payload }, null, 2));
      return result.valid ? 0 : 1;
    }
    default:
      return 2;
  }
}

try {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exit(code);
} catch (e) {
  // A missing key-encryption key or token, or no signing key with the CSCA offline: a message naming what to fix, no stack.
  if (e instanceof ConfigError || e instanceof DataDirLockedError || e instanceof KeyStoreError || (e instanceof AppError && e.code === 'csca_offline')) {
    console.error(`dosis: ${e.message}`);
    process.exit(2);
  }
  console.error('dosis: failed:', e);
  process.exit(1);
}
