/**
 * The one mapping from errors to HTTP answers:
 * `{"error": {"code", "message", "fields": [{path, code, message}], "errorId"?}}`.
 * Messages follow Accept-Language (Indonesian when it prefers `id`, else
 * English). A 5xx shows a generic message and an error id that is in the log;
 * never a stack trace or SQL.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type FieldIssue, type Text } from '../domain/errors.ts';
import { translateDbError } from '../db/client.ts';

export type Lang = 'en' | 'id';

/** The answer language: Indonesian when the client prefers it, else English. */
export function langOf(req: FastifyRequest): Lang {
  const h = req.headers['accept-language'];
  if (typeof h !== 'string') return 'en';
  const first = h.split(',')[0]?.trim().toLowerCase() ?? '';
  return first.startsWith('id') || first.startsWith('in') ? 'id' : 'en';
}

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    fields?: { path: string; code: string; message: string }[];
    detail?: Record<string, unknown>;
    errorId?: string;
  };
}

export function errorBody(e: AppError, lang: Lang): ErrorBody {
  return {
    error: {
      code: e.code,
      message: e.text[lang],
      ...(e.fields.length ? { fields: e.fields.map((f) => ({ path: f.path, code: f.code, message: f.message[lang] })) } : {}),
      ...(e.detail ? { detail: e.detail } : {}),
    },
  };
}

const t = (en: string, id: string): Text => ({ en, id });

/** Fastify's own client errors (bad JSON, wrong content type, too large, schema) as AppErrors. */
function fromFastify(e: FastifyError): AppError | undefined {
  if (e.validation) {
    const fields: FieldIssue[] = e.validation.map((v) => {
      const missing = v.keyword === 'required' ? `/${String((v.params as { missingProperty?: string }).missingProperty)}` : '';
      const extra = v.keyword === 'additionalProperties' ? `/${String((v.params as { additionalProperty?: string }).additionalProperty)}` : '';
      const path = (v.instancePath + missing + extra).replace(/^\//, '').replace(/\//g, '.') || '(body)';
      const msg = v.keyword === 'additionalProperties' ? 'unknown field' : (v.message ?? 'invalid');
      return { path, code: v.keyword, message: t(msg, v.keyword === 'required' ? 'wajib diisi' : v.keyword === 'additionalProperties' ? 'isian tidak dikenal' : `tidak valid: ${msg}`) };
    });
    return new AppError('invalid', 'validation_failed', t(`Invalid: ${fields.map((f) => f.path).join(', ')}`, `Tidak valid: ${fields.map((f) => f.path).join(', ')}`), { fields });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'body_too_large', t('The request body is too large.', 'Isi permintaan terlalu besar.'));
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError(
        'unsupported_media_type',
        'unsupported_content_type',
        t('Send JSON with Content-Type: application/json.', 'Kirim JSON dengan Content-Type: application/json.'),
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('bad_request', 'empty_body', t('The request body is empty.', 'Isi permintaan kosong.'));
    default:
      break;
  }
  if (e instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY')
    return new AppError('bad_request', 'malformed_json', t(`The body is not valid JSON: ${e.message}`, `Isi permintaan bukan JSON yang valid: ${e.message}`));
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const kind =
      e.statusCode === 404 ? 'not_found' : e.statusCode === 408 ? 'timeout' : e.statusCode === 413 ? 'payload_too_large' : e.statusCode === 415 ? 'unsupported_media_type' : e.statusCode === 429 ? 'rate_limited' : 'bad_request';
    return new AppError(kind, (e.code || 'bad_request').toLowerCase(), t(e.message, e.message));
  }
  return undefined;
}

/** A database error that escaped its translation (an outage, a value it cannot hold) still maps, never a 500. */
function fromDatabase(e: unknown): AppError | undefined {
  const t = translateDbError(e);
  return t instanceof AppError ? t : undefined;
}

/** Seconds a 429 or 503 asks the client to wait when the error does not say (RFC 9110 §10.2.3). */
export const DEFAULT_RETRY_AFTER = { 429: 60, 503: 5 } as const;

/** Fastify's error handler: every error leaves through here. */
export function handleError(e: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const app = e instanceof AppError ? e : (fromFastify(e as FastifyError) ?? fromDatabase(e));
  if (app) {
    if (app.status >= 500) req.log.warn({ err: e }, app.code);
    if (app.status === 429 || app.status === 503) void reply.header('retry-after', String(app.retryAfter ?? DEFAULT_RETRY_AFTER[app.status]));
    return reply.status(app.status).send(errorBody(app, langOf(req)));
  }
  const errorId = randomUUID();
  req.log.error({ err: e, errorId }, 'unhandled error');
  return reply.status(500).send({
    error: {
      code: 'internal',
      message: langOf(req) === 'id' ? `Terjadi kesalahan di server (kode ${errorId}).` : `Something went wrong on our side (error ${errorId}).`,
      errorId,
    },
  });
}

export function notFound(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const e = new AppError('not_found', 'no_such_route', t(`No route ${req.method} ${req.url}.`, `Tidak ada rute ${req.method} ${req.url}.`));
  return reply.status(404).send(errorBody(e, langOf(req)));
}
