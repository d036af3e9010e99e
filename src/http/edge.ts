/**
 * What every request and answer passes through at the edge, before and after
 * any route (issue 15): the text check of every input string, the deadline for
 * a request body, the headers of private and API answers, and what the logs
 * may show of a request or an error.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, invalid } from '../domain/errors.ts';
import { textFaults } from '../domain/text.ts';
import { errorBody, langOf } from './errors.ts';

/**
 * Routes that take text as another machine wrote it (config `{ rawText: true }`):
 * the gateway's delivery reports, whose receipt text is the SMSC's and may
 * be UCS-2 with NUL bytes. It is stored as received, never shown as a name.
 */
export interface RawTextConfig {
  rawText?: boolean;
}

/**
 * Rejects, before validation, any body, query or path parameter holding
 * text Dosis does not accept (domain/text.ts): 422 naming every field.
 * Streamed bodies (imports) are checked row by row by the entry validator.
 */
export function checkRequestText(req: FastifyRequest): void {
  if ((req.routeOptions.config as RawTextConfig | undefined)?.rawText) return;
  const faults = [...textFaults(req.params), ...textFaults(req.query), ...textFaults(req.body)];
  if (faults.length > 0) throw invalid(faults);
}

/** Bytes an upload must move per body window to keep its connection (~2 KiB/s with the 30 s default). */
export const UPLOAD_BYTES_PER_WINDOW = 64 * 1024;

/** Routes whose body is a stream of any length (config `{ longBody: true }`): they get the rate floor instead of one deadline. */
export interface LongBodyConfig {
  longBody?: boolean;
}

/**
 * The body deadline. A JSON body must have arrived `windowMs` after the
 * headers; an upload must move UPLOAD_BYTES_PER_WINDOW in every window.
 * Otherwise the client gets 408 and the connection is closed: a body sent
 * at 1 byte/s no longer holds a request (and a shutdown) open for ever.
 * Reads the socket's byte count, never the body stream itself (a 'data'
 * listener would take the body away from its parser).
 */
export function guardBody(req: FastifyRequest, reply: FastifyReply, windowMs: number): void {
  const raw = req.raw;
  const hasBody = Number(raw.headers['content-length'] ?? 0) > 0 || raw.headers['transfer-encoding'] !== undefined;
  if (!hasBody || raw.complete) return;
  const socket = raw.socket as typeof raw.socket | undefined;
  // (app.inject has no real socket, and its bodies arrive whole.)
  if (typeof socket?.bytesRead !== 'number') return;
  const long = (req.routeOptions.config as LongBodyConfig | undefined)?.longBody === true;
  let seen = socket.bytesRead;
  const tick = (): void => {
    if (raw.complete || socket.destroyed) return;
    const moved = socket.bytesRead - seen;
    seen = socket.bytesRead;
    if (long && moved >= UPLOAD_BYTES_PER_WINDOW) {
      timer = setTimeout(tick, windowMs).unref();
      return;
    }
    req.log.info({ receivedBytes: socket.bytesRead }, 'request body too slow: 408');
    if (!reply.sent && !reply.raw.headersSent) {
      const e = new AppError('timeout', 'body_timeout', {
        en: 'The request body did not arrive in time.',
        id: 'Isi permintaan tidak tiba tepat waktu.',
      });
      const body = JSON.stringify(errorBody(e, langOf(req)));
      reply.hijack();
      reply.raw.writeHead(408, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
      reply.raw.end(body, () => socket.destroy());
    } else socket.destroy();
  };
  let timer = setTimeout(tick, windowMs).unref();
  raw.once('end', () => clearTimeout(timer));
  raw.once('close', () => clearTimeout(timer));
}

/** The API's answers and its OpenAPI document. */
function isApi(path: string): boolean {
  return path.startsWith('/api/') || path === '/openapi.json';
}

/**
 * Headers of every answer: API answers are never sniffed as another type
 * (nosniff) and, unless their route said they are public (trust list,
 * revocation list …: those set their own Cache-Control), never stored by a
 * browser or proxy: they carry names, NIKs, phones, certificates, tokens.
 * HSTS when Dosis is served over https (PUBLIC_URL).
 */
export function answerHeaders(req: FastifyRequest, reply: FastifyReply, opts: { https: boolean }): void {
  const path = req.url.split('?')[0] ?? '';
  if (isApi(path) || path.startsWith('/c/')) {
    void reply.header('x-content-type-options', 'nosniff');
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
  }
  if (opts.https) void reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
}

/**
 * A request as the log shows it: the path only (query strings carry NIKs,
 * phones and names), and the credential in a certificate link's path
 * (`/c/<token>`, `/api/v1/public/links/<token>`, `?token=` dropped with the
 * query) replaced by `[token]`.
 */
export function requestForLog(r: { method: string; url: string; id?: string }): { id: string | undefined; method: string; path: string } {
  const path = (r.url.split('?')[0] ?? '').replace(/^(\/c\/|\/api\/v1\/public\/links\/)[^/]+/, '$1[token]');
  return { id: r.id, method: r.method, path };
}

/**
 * An error as the log shows it. A database error's message, detail and
 * context can quote the values of a statement (`invalid input syntax …: "<a
 * name>"`, `Key (nik)=(…)`, `unnamed portal parameter $3 = '…'`): they are
 * left out or their quoted parts blanked; the SQLSTATE, constraint and
 * table stay, with the stack.
 */
export function errorForLog(e: unknown, depth = 0): LoggedError {
  if (!(e instanceof Error) || depth > 3) return { type: typeof e, message: String(e).slice(0, 200), stack: '' };
  const x = e as Error & Record<string, unknown>;
  const dbError = typeof x.code === 'string' && /^[0-9A-Z]{5}$/.test(x.code) && ('severity' in x || 'routine' in x);
  const message = dbError ? blankQuoted(x.message) : x.message;
  const out: LoggedError = { type: x.name, message, stack: (dbError ? x.stack?.replace(x.message, message) : x.stack) ?? '' };
  for (const k of ['code', 'constraint', 'table', 'column', 'routine', 'errorId', 'kind'] as const) if (typeof x[k] === 'string') out[k] = x[k];
  if (x.cause !== undefined) out.cause = errorForLog(x.cause, depth + 1);
  return out;
}

/** The shape pino's error serializer gives. */
export interface LoggedError {
  [key: string]: unknown;
  type: string;
  message: string;
  stack: string;
}

function blankQuoted(message: string): string {
  return message.replace(/"[^"]*"/g, '"…"').replace(/'[^']*'/g, "'…'").replace(/\([^)]*\)=\([^)]*\)/g, '(…)=(…)');
}
