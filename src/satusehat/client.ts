/**
 * An HTTP client of SATUSEHAT's FHIR API: OAuth2 client credentials
 * (`POST <SATUSEHAT_AUTH_URL>/accesstoken?grant_type=client_credentials`, the
 * id and secret form-encoded), the token cached until a minute before it
 * expires and shared by every job of the process (one request for a token at
 * a time), fetched again once when the API answers 401 (a token revoked or
 * expired early). The token and the secret are never logged nor put in an
 * error message.
 *
 * The client gives verdicts no meaning: it answers status, body and
 * Retry-After, or throws SatusehatUnreachable (network error, timeout). What
 * a status means for a dose is sync.ts's business.
 */
import type { SatusehatConfig } from '../config.ts';

/** An answer of the FHIR API. */
export interface FhirAnswer {
  status: number;
  /** The JSON body, or null when there was none or it was not JSON. */
  body: unknown;
  /** Retry-After of a 429 or 503, in milliseconds; null when absent. */
  retryAfterMs: number | null;
}

/** No answer at all: connection refused or reset, DNS, or no answer within the timeout. A retry, never a verdict. */
export class SatusehatUnreachable extends Error {
  override name = 'SatusehatUnreachable';
}

/** Refresh the token this long before SATUSEHAT says it expires (clocks differ, requests take time). */
const TOKEN_MARGIN_MS = 60_000;

/** `Retry-After`: seconds, or an HTTP date. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  const s = Number(header);
  if (Number.isFinite(s) && s >= 0) return Math.round(s * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export type SatusehatClientConfig = Pick<SatusehatConfig, 'url' | 'authUrl' | 'clientId' | 'clientSecret' | 'timeoutMs'>;

export class SatusehatClient {
  private readonly cfg: SatusehatClientConfig;
  private token: { value: string; until: number } | null = null;
  private pending: Promise<string> | null = null;
  /** Tokens fetched by this client (tests and metrics). */
  tokensFetched = 0;

  constructor(cfg: SatusehatClientConfig) {
    this.cfg = cfg;
  }

  /** The cached token, or a new one (concurrent callers share the one request). */
  private async accessToken(): Promise<string> {
    if (this.token && Date.now() < this.token.until) return this.token.value;
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async fetchToken(): Promise<string> {
    let res: Response;
    try {
      res = await fetch(`${this.cfg.authUrl}/accesstoken?grant_type=client_credentials`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ client_id: this.cfg.clientId, client_secret: this.cfg.clientSecret }).toString(),
        signal: AbortSignal.timeout(this.cfg.timeoutMs),
      });
    } catch (e) {
      throw new SatusehatUnreachable(`token endpoint unreachable: ${(e as Error).name}`);
    }
    const body = (await res.json().catch(() => null)) as { access_token?: unknown; expires_in?: unknown } | null;
    if (res.status >= 500 || res.status === 429) throw new SatusehatUnreachable(`token endpoint answered ${res.status}`);
    if (!res.ok || typeof body?.access_token !== 'string') {
      // The credentials are wrong or the client is disabled: no retry of a job fixes that, but neither is it the dose's fault.
      throw new SatusehatUnreachable(`token endpoint refused the client credentials (${res.status}): check SATUSEHAT_CLIENT_ID and SATUSEHAT_CLIENT_SECRET`);
    }
    const expiresIn = Number(body.expires_in ?? 3600);
    this.token = { value: body.access_token, until: Date.now() + Math.max(0, (Number.isFinite(expiresIn) ? expiresIn : 3600) * 1000 - TOKEN_MARGIN_MS) };
    this.tokensFetched++;
    return body.access_token;
  }

  /** One FHIR request (`path` relative to SATUSEHAT_URL, e.g. `Patient?identifier=…`); a 401 fetches a new token and tries once more. */
  async request(method: 'GET' | 'POST' | 'PUT', path: string, o: { body?: unknown; headers?: Record<string, string> } = {}): Promise<FhirAnswer> {
    let answer = await this.once(method, path, o, await this.accessToken());
    if (answer.status === 401) {
      this.token = null;
      answer = await this.once(method, path, o, await this.accessToken());
    }
    return answer;
  }

  private async once(method: string, path: string, o: { body?: unknown; headers?: Record<string, string> }, token: string): Promise<FhirAnswer> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.cfg.url}/${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/fhir+json, application/json',
          ...(o.body !== undefined ? { 'content-type': 'application/fhir+json' } : {}),
          ...o.headers,
        },
        ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
        signal: AbortSignal.timeout(this.cfg.timeoutMs),
      });
      text = await res.text();
    } catch (e) {
      throw new SatusehatUnreachable(`${method} ${path.split('?')[0]}: ${(e as Error).name === 'TimeoutError' ? `no answer within ${this.cfg.timeoutMs} ms` : (e as Error).message}`);
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    return { status: res.status, body, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) };
  }
}
