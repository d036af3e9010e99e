/**
 * The typed errors of Dosis. Every failure a caller can cause is an AppError
 * with a stable code, an HTTP status and, for bad input, the fields at fault.
 * One mapping to HTTP lives in src/http/errors.ts; nothing else builds error bodies.
 */

/** A text in both languages Dosis speaks: English and Indonesian. */
export interface Text {
  en: string;
  id: string;
}

/** One problem with one input field. `path` is dotted: `person.nik`, `rows[3].date`. */
export interface FieldIssue {
  path: string;
  code: string;
  message: Text;
}

export type ErrorKind =
  | 'bad_request' // 400: unreadable body, wrong content type
  | 'unauthorized' // 401
  | 'forbidden' // 403
  | 'not_found' // 404
  | 'conflict' // 409
  | 'timeout' // 408: the request (its body) did not arrive in time
  | 'gone' // 410: existed, no longer usable (an expired one-time code)
  | 'payload_too_large' // 413
  | 'unsupported_media_type' // 415
  | 'invalid' // 422: readable but wrong; `fields` lists every problem
  | 'rate_limited' // 429
  | 'unavailable'; // 503: retry later (statement timeout, shutting down)

const STATUS: Record<ErrorKind, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  timeout: 408,
  conflict: 409,
  gone: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  invalid: 422,
  rate_limited: 429,
  unavailable: 503,
};

export class AppError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly text: Text;
  readonly fields: FieldIssue[];
  readonly detail: Record<string, unknown> | undefined;
  /** Seconds after which trying again makes sense (a 429 or 503 answers it as `Retry-After`). */
  readonly retryAfter: number | undefined;

  constructor(
    kind: ErrorKind,
    code: string,
    text: Text,
    opts: { fields?: FieldIssue[]; detail?: Record<string, unknown>; cause?: unknown; retryAfter?: number } = {},
  ) {
    super(text.en, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.kind = kind;
    this.code = code;
    this.text = text;
    this.fields = opts.fields ?? [];
    this.detail = opts.detail;
    this.retryAfter = opts.retryAfter;
  }

  get status(): number {
    return STATUS[this.kind];
  }
}

/** 422 listing every invalid field at once. */
export function invalid(fields: FieldIssue[]): AppError {
  const n = fields.length;
  return new AppError(
    'invalid',
    'validation_failed',
    {
      en: `${n} field${n === 1 ? ' is' : 's are'} invalid: ${fields.map((f) => f.path).join(', ')}`,
      id: `${n} isian tidak valid: ${fields.map((f) => f.path).join(', ')}`,
    },
    { fields },
  );
}

/** Build a FieldIssue. */
export function issue(path: string, code: string, en: string, id: string): FieldIssue {
  return { path, code, message: { en, id } };
}
