/**
 * Authentication and the role check every route goes through: `allow(req,
 * roles)` returns the principal or throws 401/403. Scope checks on particular
 * records live with the records (e.g. facilityForEntry).
 */
import type { FastifyRequest } from 'fastify';
import { type Principal, type Role, TokenAuthenticator } from '../access/tokens.ts';
import { AppError } from '../domain/errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const unauthorized = () =>
  new AppError('unauthorized', 'unauthorized', {
    en: 'Sign in: send "Authorization: Bearer <token>".',
    id: 'Masuk dulu: kirim "Authorization: Bearer <token>".',
  });

/** Resolves the bearer token, if any, into `req.principal`. */
export async function authenticate(auth: TokenAuthenticator, req: FastifyRequest): Promise<void> {
  req.principal = null;
  const h = req.headers.authorization;
  if (h === undefined) return;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  if (!m) throw unauthorized();
  const p = await auth.authenticate(m[1] as string);
  if (!p) throw new AppError('unauthorized', 'bad_token', { en: 'Unknown or revoked token.', id: 'Token tidak dikenal atau sudah dicabut.' });
  req.principal = p;
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
