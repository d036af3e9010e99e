/**
 * Console sign-in (`/api/v1/session`) and staff account management
 * (`/api/v1/accounts`, admin). A session is two cookies: `dosis_session`
 * (HttpOnly: script never sees the secret) and `dosis_csrf` (readable: the
 * page echoes it in `x-csrf-token`). Both SameSite=Strict, so no other site
 * can make the browser send them; Secure when the request came over HTTPS or
 * PUBLIC_URL is https.
 */
import { Type } from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App, AppDeps } from '../deps.ts';
import { allow } from '../auth.ts';
import { AppError } from '../../domain/errors.ts';
import { audit } from '../../access/audit.ts';
import { checkCredentials, createAccount, listAccounts, updateAccount, type StaffUser } from '../../access/accounts.ts';
import { ABSOLUTE_MS, CSRF_COOKIE, endSession, openSession, SESSION_COOKIE } from '../../access/sessions.ts';
import { ErrorSchema } from './schemas.ts';

export const SIGN_IN_URL = '/api/v1/session';

const RoleSchema = Type.Union([Type.Literal('facility'), Type.Literal('district'), Type.Literal('support'), Type.Literal('admin')]);
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const UserSchema = Type.Object({
  id: Type.String(),
  username: Type.String(),
  displayName: Type.String(),
  role: RoleSchema,
  facilityCode: Nullable(Type.String()),
  regionCode: Nullable(Type.String()),
});
const SessionAnswer = Type.Object({ user: UserSchema, csrfToken: Type.String(), expiresAt: Type.String() });

const AccountSchema = Type.Object({
  ...UserSchema.properties,
  disabled: Type.Boolean(),
  failedAttempts: Type.Integer(),
  lockedUntil: Nullable(Type.String()),
  lastSignInAt: Nullable(Type.String()),
  createdAt: Type.String(),
  createdBy: Nullable(Type.String()),
});

const Password = Type.String({ minLength: 1, maxLength: 200, description: 'at least 10 characters, not containing the username' });

const badCredentials = () =>
  new AppError('unauthorized', 'bad_credentials', {
    en: 'Wrong username or password. After 5 wrong tries an account is locked for 15 minutes.',
    id: 'Nama pengguna atau kata sandi salah. Setelah 5 kali salah, akun dikunci selama 15 menit.',
  });

const noSession = () => new AppError('unauthorized', 'no_session', { en: 'Not signed in.', id: 'Belum masuk.' });

/** Secure cookies over HTTPS, or whenever the public address is https (behind a TLS-terminating proxy). */
function secure(req: FastifyRequest, deps: AppDeps): boolean {
  return req.protocol === 'https' || deps.config.publicUrl.startsWith('https:');
}

function cookie(name: string, value: string, opts: { httpOnly: boolean; maxAgeSeconds: number; secure: boolean }): string {
  return [
    `${name}=${encodeURIComponent(value)}`,
    'Path=/',
    `Max-Age=${opts.maxAgeSeconds}`,
    'SameSite=Strict',
    ...(opts.httpOnly ? ['HttpOnly'] : []),
    ...(opts.secure ? ['Secure'] : []),
  ].join('; ');
}

function setSessionCookies(reply: FastifyReply, s: { secret: string; csrfToken: string }, maxAgeSeconds: number, isSecure: boolean): void {
  void reply.header('set-cookie', [
    cookie(SESSION_COOKIE, s.secret, { httpOnly: true, maxAgeSeconds, secure: isSecure }),
    cookie(CSRF_COOKIE, s.csrfToken, { httpOnly: false, maxAgeSeconds, secure: isSecure }),
  ]);
}

/** The session as the console reads it (never cached: it carries the CSRF token). */
function answer(reply: FastifyReply, user: StaffUser, s: { csrfToken: string; expiresAt: Date }) {
  void reply.header('cache-control', 'no-store');
  return { user, csrfToken: s.csrfToken, expiresAt: s.expiresAt.toISOString() };
}

/**
 * Sign-ins per client address that did not succeed: the account lock stops
 * guessing one account's password; this stops trying one password on many
 * accounts (password spraying). An attempt is counted when it starts, before
 * its hash is compared (a burst cannot pass the limit while its hashes run),
 * and given back when it signs in. Kept in this process's memory (each
 * `dosis serve` counts its own), so it costs nothing on the database.
 */
export const FAILURES_PER_CLIENT = 50;
const FAILURE_WINDOW_MS = 15 * 60_000;

class FailureCounter {
  private readonly seen = new Map<string, { since: number; n: number }>();
  /** Counts an attempt from `client`; false (nothing counted) when it has used up its window. */
  attempt(client: string, at: number): boolean {
    const s = this.seen.get(client);
    if (s && at - s.since < FAILURE_WINDOW_MS) {
      if (s.n >= FAILURES_PER_CLIENT) return false;
      s.n++;
    } else {
      if (this.seen.size > 100_000) this.seen.clear();
      this.seen.set(client, { since: at, n: 1 });
    }
    return true;
  }
  /** The attempt signed in: it was not a failure. */
  succeeded(client: string): void {
    const s = this.seen.get(client);
    if (s && s.n > 0) s.n--;
  }
}

export function sessionRoutes(app: App, deps: AppDeps): void {
  const now = (): Date => (deps.now ?? (() => new Date()))();
  const failures = new FailureCounter();

  app.post(
    SIGN_IN_URL,
    {
      schema: {
        tags: ['session'],
        summary: 'Sign in to the console with a staff username and password',
        description:
          'Sets the cookies dosis_session (HttpOnly) and dosis_csrf (echo it in x-csrf-token on every POST/PUT/PATCH/DELETE). ' +
          'A wrong username, a wrong password, a disabled and a locked account get the same 401 after the same work; ' +
          '5 wrong passwords in a row lock the account for 15 minutes (each attempt is counted before its password is compared, so a burst gets no more tries); ' +
          '50 failed sign-ins from one address in 15 minutes: 429; more sign-ins at once than the server hashes (2 running, 8 waiting): 429 with Retry-After.',
        security: [],
        body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 200: SessionAnswer, '4xx': ErrorSchema },
      },
    },
    async (req, reply) => {
      const at = now();
      if (!failures.attempt(req.ip, at.getTime()))
        throw new AppError(
          'rate_limited',
          'too_many_attempts',
          { en: 'Too many failed sign-ins from this address: wait 15 minutes.', id: 'Terlalu banyak percobaan masuk yang gagal dari alamat ini: tunggu 15 menit.' },
          { retryAfter: FAILURE_WINDOW_MS / 1000 },
        );
      let result: Awaited<ReturnType<typeof checkCredentials>>;
      try {
        result = await checkCredentials(deps.db, req.body.username, req.body.password, at);
      } catch (e) {
        failures.succeeded(req.ip); // turned away before anything was tried (a full hash queue, the database)
        throw e;
      }
      if (result.user) failures.succeeded(req.ip);
      else {
        deps.metrics.inc('dosis_sign_ins_total', { outcome: result.justLocked ? 'locked' : 'refused' });
        if (result.justLocked) await audit(deps.db, { actor: 'system', action: 'account_locked', subject: req.body.username.toLowerCase(), detail: { client: req.ip } });
        throw badCredentials();
      }
      const s = await openSession(deps.db, result.user.id, { address: req.ip, userAgent: req.headers['user-agent'] }, at);
      await audit(deps.db, { actor: result.user.id, action: 'signed_in', subject: result.user.id, detail: { client: req.ip } });
      deps.metrics.inc('dosis_sign_ins_total', { outcome: 'ok' });
      setSessionCookies(reply, s, Math.floor(ABSOLUTE_MS / 1000), secure(req, deps));
      return answer(reply, result.user, s);
    },
  );

  app.get(
    SIGN_IN_URL,
    {
      schema: {
        tags: ['session'],
        summary: 'The signed-in staff member and the CSRF token of the session; 401 when not signed in',
        security: [],
        response: { 200: SessionAnswer, '4xx': ErrorSchema },
      },
    },
    async (req, reply) => {
      const s = req.staffSession;
      if (!s) throw noSession();
      return answer(reply, s.user, s);
    },
  );

  app.delete(
    SIGN_IN_URL,
    {
      schema: {
        tags: ['session'],
        summary: 'Sign out: ends the session and clears its cookies (204, also when already signed out)',
        security: [],
        response: { 204: Type.Null(), '4xx': ErrorSchema },
      },
    },
    async (req, reply) => {
      const s = req.staffSession;
      if (s) {
        await endSession(deps.db, s.id);
        await audit(deps.db, { actor: s.user.id, action: 'signed_out', subject: s.user.id });
      }
      setSessionCookies(reply, { secret: '', csrfToken: '' }, 0, secure(req, deps));
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/api/v1/accounts',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create a staff account for the console (admin)',
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 64, description: '3–64 letters, digits, . _ -; unique whatever the case' }),
            displayName: Type.String({ minLength: 1, maxLength: 200 }),
            role: RoleSchema,
            facility: Type.Optional(Type.String({ description: 'facility code (role facility)' })),
            region: Type.Optional(Type.String({ maxLength: 13, description: 'region code (role district), as Kemendagri writes it (12.71) or in digits (1271)' })),
            password: Password,
          },
          { additionalProperties: false },
        ),
        response: { 201: AccountSchema, '4xx': ErrorSchema },
      },
    },
    async (req, reply) => {
      const who = allow(req, ['admin']);
      const account = await deps.db.withTransaction(async (tx) => {
        const a = await createAccount(tx, req.body, who.id);
        await audit(tx, { actor: who.id, action: 'account_created', subject: a.id, detail: { username: a.username, role: a.role, facility: a.facilityCode, region: a.regionCode } });
        return a;
      });
      return reply.status(201).send(account);
    },
  );

  app.get(
    '/api/v1/accounts',
    { schema: { tags: ['admin'], summary: 'Every staff account (admin)', response: { 200: Type.Object({ accounts: Type.Array(AccountSchema) }), '4xx': ErrorSchema } } },
    async (req) => {
      allow(req, ['admin']);
      return { accounts: await listAccounts(deps.db) };
    },
  );

  app.patch(
    '/api/v1/accounts/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'Change a staff account (admin): display name, disable/enable, new password, unlock',
        description: 'Disabling an account or setting its password ends its sessions at once; a new password also clears a lock.',
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        body: Type.Object(
          {
            displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            disabled: Type.Optional(Type.Boolean()),
            password: Type.Optional(Password),
            unlock: Type.Optional(Type.Literal(true)),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: AccountSchema, '4xx': ErrorSchema },
      },
    },
    async (req) => {
      const who = allow(req, ['admin']);
      // An administrator cannot lock themselves out by mistake; another admin can.
      if (req.body.disabled === true && req.params.id === who.id)
        throw new AppError('conflict', 'cannot_disable_self', { en: 'You cannot disable your own account.', id: 'Anda tidak dapat menonaktifkan akun Anda sendiri.' });
      return deps.db.withTransaction(async (tx) => {
        const a = await updateAccount(tx, req.params.id, req.body);
        const { password, ...shown } = req.body;
        await audit(tx, { actor: who.id, action: 'account_updated', subject: a.id, detail: { ...shown, ...(password === undefined ? {} : { password: 'reset' }) } });
        return a;
      });
    },
  );
}
