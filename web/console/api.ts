/**
 * How console pages talk to the API: JSON over the staff session cookie
 * (`dosis_session`, HttpOnly), with the CSRF token the server put in the
 * readable cookie `dosis_csrf` echoed in `x-csrf-token` on every request that
 * changes something (double submit). Errors come back as `ApiError` with the
 * server's code, message (in the page language) and field list.
 */
import { currentLang } from '../lib/lang.ts';

export type Role = 'facility' | 'district' | 'support' | 'admin';

/** The signed-in staff member, as `GET /api/v1/session` answers. */
export interface ConsoleUser {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  facilityCode: string | null;
  regionCode: string | null;
}

export interface FieldProblem {
  path: string;
  code: string;
  message: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: FieldProblem[];
  readonly detail: Record<string, unknown> | undefined;
  constructor(status: number, code: string, message: string, fields: FieldProblem[] = [], detail?: Record<string, unknown>) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.detail = detail;
  }
}

/** The CSRF token of this browser's session (readable cookie set at sign-in). */
export function csrfToken(): string | null {
  const m = /(?:^|;\s*)dosis_csrf=([^;]+)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]!) : null;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The headers of a console request (JSON, page language, CSRF token for changes). */
export function apiHeaders(method: string, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { accept: 'application/json', 'accept-language': currentLang(), ...extra };
  const csrf = csrfToken();
  if (UNSAFE.has(method.toUpperCase()) && csrf) h['x-csrf-token'] = csrf;
  return h;
}

/** Reads an error answer into an ApiError (network failures have status 0). */
export async function toApiError(r: Response): Promise<ApiError> {
  try {
    const body = (await r.json()) as { error?: { code?: string; message?: string; fields?: FieldProblem[]; detail?: Record<string, unknown> } };
    return new ApiError(r.status, body.error?.code ?? 'http_' + r.status, body.error?.message ?? r.statusText, body.error?.fields ?? [], body.error?.detail);
  } catch {
    return new ApiError(r.status, 'http_' + r.status, r.statusText);
  }
}

const unauthorized = new Set<() => void>();

/**
 * Calls `listener` whenever an API answer says the session is gone (401 on
 * anything but signing in): the shell shows the sign-in form again.
 * Returns the function that stops listening.
 */
export function onUnauthorized(listener: () => void): () => void {
  unauthorized.add(listener);
  return () => unauthorized.delete(listener);
}

/** Tells the shell that the session is gone (401). */
export function reportUnauthorized(path: string, status: number): void {
  if (status === 401 && !path.startsWith('/api/v1/session')) for (const l of unauthorized) l();
}

/** A JSON request to the API; resolves with the answer body, rejects with ApiError. */
export async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  let r: Response;
  try {
    r = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: apiHeaders(method, body === undefined ? headers : { 'content-type': 'application/json', ...headers }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (e) {
    throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
  }
  if (!r.ok) {
    reportUnauthorized(path, r.status);
    throw await toApiError(r);
  }
  if (r.status === 204) return undefined as T;
  return (await r.json()) as T;
}
