/**
 * For the console's browser tests (test/web/console-*.test.ts): staff
 * accounts on the test server and signing in through the page's own form.
 */
import type { Page } from 'playwright-core';
import { createAccount } from '../../src/access/accounts.ts';
import type { Role } from '../../src/access/tokens.ts';
import type { TestServer } from './helpers.ts';

export const CONSOLE_PASSWORD = 'sandi-uji-konsol-2024';

let seq = 0;
/** A new console account with `role` and scope; returns its username (password CONSOLE_PASSWORD). */
export async function consoleAccount(server: TestServer, role: Role, scope: { facility?: string; region?: string } = {}, displayName?: string): Promise<{ id: string; username: string }> {
  const username = `${role}-${process.pid}-${++seq}`;
  const a = await createAccount(server.db.db, { username, displayName: displayName ?? `Petugas ${role} ${seq}`, role, facility: scope.facility ?? null, region: scope.region ?? null, password: CONSOLE_PASSWORD }, null);
  return { id: a.id, username };
}

/** Opens /console and signs in with the form; resolves when the console shows the user. */
export async function signInConsole(page: Page, server: TestServer, username: string, password = CONSOLE_PASSWORD, path = '/console'): Promise<void> {
  await page.goto(server.url + path);
  await page.getByLabel('Nama pengguna').fill(username);
  await page.getByLabel('Kata sandi').fill(password);
  await page.getByRole('button', { name: 'Masuk' }).click();
  await page.getByTestId('user-name').waitFor();
}
