/**
 * Authentication and the role check every route goes through: `allow(req,
 * roles)` returns the principal or throws 401/403. Scope checks on particular
 * records live with the records (e.g. facilityForEntry).
 *
 * Two ways in: `Authorization: Bearer <token>` (machines, scripts), or — with
 * no Authorization header — the console's session cookie. A cookie is sent by
 * the browser on its own, so with a cookie every request that changes
 * something must also carry the session's CSRF token in `x-csrf-token`
 * (403 `csrf` otherwise, before the route runs).
 */
import type { FastifyRequest } from 'fastify';
import { type Principal, type Role, TokenAuthenticator } from '../access/tokens.ts';
import { staffPrincipal } from '../access/accounts.ts';
import { csrfMatches, readCookie, SESSION_COOKIE, sessionBySecret, type StaffSession } from '../access/sessions.ts';
import type { Db } from '../db/client.ts';
import { AppError } from '../domain/errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** The console session the principal comes from (null for tokens and anonymous calls). */
    staffSession: StaffSession | null;
  }
}

const unauthorized = () =>
  new AppError('unauthorized', 'unauthorized', {
    en: 'Sign in: send "Authorization: Bearer <token>", or sign in to the console.',
    id: 'Masuk dulu: kirim "Authorization: Bearer <token>", atau masuk ke konsol.',
  });

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** What authentication needs: the token lookup, and the database and clock for sessions. */
export interface AuthDeps {
  auth: TokenAuthenticator;
  db: Db;
  now?: () => Date;
}

/** Resolves the bearer token or the session cookie, if any, into `req.principal`. */
export async function authenticate(deps: AuthDeps, req: FastifyRequest): Promise<void> {
  req.principal = null;
  req.staffSession = null;
  const h = req.headers.authorization;
  if (h === undefined) return authenticateSession(deps, req);
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  if (!m) throw unauthorized();
  const p = await deps.auth.authenticate(m[1] as string);
  if (!p) throw new AppError('unauthorized', 'bad_token', { en: 'Unknown or revoked token.', id: 'Token tidak dikenal atau sudah dicabut.' });
  req.principal = p;
}

async function authenticateSession(deps: AuthDeps, req: FastifyRequest): Promise<void> {
  // Pages and assets need no session (the browser sends the cookie with them too: no lookup for those).
  if (!req.url.startsWith('/api/')) return;
  const secret = readCookie(req.headers.cookie, SESSION_COOKIE);
  if (!secret) return;
  const session = await sessionBySecret(deps.db, secret, (deps.now ?? (() => new Date()))());
  // An expired or signed-out session is no session: routes that need one answer 401.
  if (!session) return;
  if (UNSAFE.has(req.method)) {
    const given = req.headers['x-csrf-token'];
    if (!csrfMatches(session, typeof given === 'string' ? given : undefined))
      throw new AppError('forbidden', 'csrf', {
        en: 'This change lacks the session’s CSRF token (x-csrf-token): reload the page and try again.',
        id: 'Perubahan ini tidak membawa token CSRF sesi (x-csrf-token): muat ulang halaman lalu coba lagi.',
      });
  }
  req.staffSession = session;
  req.principal = staffPrincipal(session.user);
}

/** The caller, who must hold one of `roles`. */
export function allow(req: FastifyRequest, roles: readonly Role[]): Principal {
  const p = req.principal;
  if (!p) throw unauthorized();
  if (!roles.includes(p.role))
    throw new AppError('forbidden', 'role_not_allowed', {
      en: `This needs one of the roles: ${roles.join(', ')}.`,
      id: `Ini memerlukan salah satu peran: ${roles.join(', ')}.`,
    });
  return p;
}
