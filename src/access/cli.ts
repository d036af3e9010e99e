/**
 * `dosis accounts create|list|password`: console accounts from the command
 * line — the first administrator's account, or any account on a server
 * without an admin session (src/cli/main.ts dispatches here). Audited with
 * actor `cli`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { openDb } from '../db/open.ts';
import { migrate } from '../db/migrate.ts';
import { AppError } from '../domain/errors.ts';
import { audit } from './audit.ts';
import { createAccount, listAccounts, updateAccount } from './accounts.ts';
import { generatePassword } from './passwords.ts';
import { ROLES, type Role } from './tokens.ts';

export const ACCOUNTS_HELP = `dosis accounts — staff accounts for the console (/console)

  dosis accounts create --username U --name "Display Name" --role facility|district|support|admin
                        [--facility CODE] [--region CODE] [--password-stdin]
  dosis accounts list
  dosis accounts password --username U [--password-stdin]

Without --password-stdin a random password is generated and printed once.
Passwords: at least 10 characters, not containing the username.
A new password also ends the account's sessions and clears a lock.`;

function readPassword(fromStdin: boolean | undefined): { password: string; generated: boolean } {
  if (!fromStdin) return { password: generatePassword(), generated: true };
  return { password: readFileSync(0, 'utf8').replace(/\r?\n$/, ''), generated: false };
}

/** Runs an accounts command; returns the exit code (2: usage, 1: refused). */
export async function accountsCommand(args: string[], config: Config): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      username: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
      facility: { type: 'string' },
      region: { type: 'string' },
      'password-stdin': { type: 'boolean' },
    },
    allowPositionals: true,
  });
  const sub = positionals[0];
  const usage = (msg: string) => {
    console.error(`${msg}\n\n${ACCOUNTS_HELP}`);
    return 2;
  };
  if (sub !== 'create' && sub !== 'list' && sub !== 'password') return usage(`Unknown or missing subcommand "${sub ?? ''}".`);
  if (sub !== 'list' && !values.username) return usage('--username is required.');
  if (sub === 'create' && (!values.name || !values.role)) return usage('--name and --role are required.');
  if (values.role !== undefined && !ROLES.includes(values.role as Role)) return usage(`--role must be one of ${ROLES.join(', ')}.`);
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
  try {
    await migrate(db);
    if (sub === 'list') {
      for (const a of await listAccounts(db))
        console.log([a.username, a.role, a.facilityCode ?? a.regionCode ?? '-', a.disabled ? 'disabled' : a.lockedUntil ? `locked until ${a.lockedUntil}` : 'active', a.displayName].join('\t'));
      return 0;
    }
    const { password, generated } = readPassword(values['password-stdin']);
    const username = values.username as string;
    if (sub === 'create') {
      const a = await db.withTransaction(async (tx) => {
        const made = await createAccount(tx, { username, displayName: values.name as string, role: values.role as Role, facility: values.facility ?? null, region: values.region ?? null, password }, null);
        await audit(tx, { actor: 'cli', action: 'account_created', subject: made.id, detail: { username: made.username, role: made.role, facility: made.facilityCode, region: made.regionCode } });
        return made;
      });
      console.log(`Account ${a.username} (${a.role}${a.facilityCode ? ' ' + a.facilityCode : a.regionCode ? ' ' + a.regionCode : ''}) created.`);
    } else {
      const found = (await listAccounts(db)).find((a) => a.username.toLowerCase() === username.toLowerCase());
      if (!found) {
        console.error(`No account "${username}".`);
        return 1;
      }
      await db.withTransaction(async (tx) => {
        await updateAccount(tx, found.id, { password });
        await audit(tx, { actor: 'cli', action: 'account_updated', subject: found.id, detail: { password: 'reset' } });
      });
      console.log(`New password set for ${found.username}; its sessions were ended.`);
    }
    if (generated) console.log(`Password (shown only this once): ${password}`);
    return 0;
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    console.error(`dosis accounts: ${e.message.replace(/\.$/, "")}${e.fields.length ? ': ' + e.fields.map((f) => `${f.path} ${f.message.en}`).join('; ') : ''}`);
    return 1;
  } finally {
    await db.close();
  }
}
