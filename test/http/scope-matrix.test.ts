/**
 * Route × role × scope: every API route is classified here (a new route that
 * is not fails the test), and every out-of-scope or disallowed request is a
 * 401/403/404 — or, for lists, an answer that does not contain the person.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor, ADMIN_TOKEN } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import type { Role } from '../../src/access/tokens.ts';
import { createAccount } from '../../src/access/accounts.ts';
import { createDoseRequest } from '../../src/records/dose-requests.ts';

type Who = 'none' | 'facilityA' | 'facilityB' | 'districtIn' | 'districtOut' | 'support' | 'admin';
const ALL: Who[] = ['none', 'facilityA', 'facilityB', 'districtIn', 'districtOut', 'support', 'admin'];

interface Ids {
  person: string;
  vaccination: string;
  certificate: string;
  caseId: string;
  importId: string;
  correctionId: string;
  name: string;
  account: string;
  doseRequest: string;
}

interface Spec {
  /** Who may act on person P (recorded at facility A, region 3171). */
  may: Who[];
  /** The request to make, about P. */
  req: (ids: Ids) => { url: string; payload?: unknown; headers?: Record<string, string> };
  /** Lists answer 200 but must not contain P for those who may not see P. */
  list?: boolean;
}

/** Public routes: no token needed, nothing person-scoped behind them (token-authorised pages check their token). */
const PUBLIC = new Set([
  'GET /api/v1/vaccines',
  'POST /api/v1/verify',
  'GET /api/v1/trust-list',
  'GET /api/v1/trust-list/eu-gateway',
  'GET /api/v1/revocation-list',
  'GET /api/v1/public/links/:token',
  'GET /api/v1/public/certificates/:id/pdf',
  'POST /api/v1/public/lookup',
  'POST /api/v1/public/lookup/:requestId/verify',
  'GET /api/v1/public/certificates',
  'POST /api/v1/public/phone-corrections',
  'POST /api/v1/public/phone-corrections/:requestId/verify',
  // Portal-session routes (the access token of a one-time code; no API token opens them), and the facility picker.
  'GET /api/v1/public/facilities',
  'POST /api/v1/public/dose-requests',
  'GET /api/v1/public/dose-requests',
  'GET /api/v1/sms/reports',
  'POST /api/v1/sms/reports',
  // Console sign-in: the username and password (or the session cookie) are the credential.
  'POST /api/v1/session',
  'GET /api/v1/session',
  'DELETE /api/v1/session',
]);

const SPECS: Record<string, Spec> = {
  'POST /api/v1/facilities': { may: ['admin'], req: () => ({ url: '/api/v1/facilities', payload: { code: `X-${Math.random().toString(36).slice(2, 8)}`, name: 'x', regionCode: '3171' } }) },
  'GET /api/v1/facilities': { may: ['districtIn', 'districtOut', 'support', 'admin'], req: () => ({ url: '/api/v1/facilities' }) },
  'POST /api/v1/tokens': { may: ['admin'], req: () => ({ url: '/api/v1/tokens', payload: { role: 'support', label: 'm' } }) },
  'POST /api/v1/vaccinations': { may: ['facilityA', 'districtIn', 'admin'], req: () => ({ url: '/api/v1/vaccinations', payload: { ...doseBody(person()), facility: FACILITY_A.code } }) },
  'GET /api/v1/people': { may: ['facilityA', 'districtIn', 'support', 'admin'], list: true, req: (i) => ({ url: `/api/v1/people?name=${encodeURIComponent(i.name)}` }) },
  'GET /api/v1/people/:id/timeline': { may: ['facilityA', 'districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/people/${i.person}/timeline` }) },
  'GET /api/v1/people/:id/matches': { may: ['facilityA', 'districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/people/${i.person}/matches` }) },
  'POST /api/v1/people/:id/merge': { may: ['support', 'admin'], req: (i) => ({ url: `/api/v1/people/${i.person}/merge`, payload: { from: i.person } }) },
  'GET /api/v1/stats/pipeline': { may: ['facilityA', 'facilityB', 'districtIn', 'districtOut', 'support', 'admin'], req: () => ({ url: '/api/v1/stats/pipeline' }) },
  'GET /api/v1/stats/series': { may: ['facilityA', 'facilityB', 'districtIn', 'districtOut', 'support', 'admin'], req: () => ({ url: '/api/v1/stats/series' }) },
  'GET /api/v1/audit': { may: ['admin'], req: (i) => ({ url: `/api/v1/audit?person=${i.person}` }) },
  'PATCH /api/v1/people/:id': { may: ['facilityA', 'districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/people/${i.person}`, payload: { phone: '0812 3333 4445' } }) },
  'POST /api/v1/people/:id/phone': { may: ['facilityA', 'districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/people/${i.person}/phone`, payload: { phone: '0812 3333 4444' } }) },
  'GET /api/v1/people/:id/health-card': { may: ['support', 'admin'], req: (i) => ({ url: `/api/v1/people/${i.person}/health-card` }) },
  'GET /api/v1/people/:id/health-card/file': { may: ['support', 'admin'], req: (i) => ({ url: `/api/v1/people/${i.person}/health-card/file` }) },
  'GET /api/v1/fhir/Patient/:id': { may: ['support', 'admin'], req: (i) => ({ url: `/api/v1/fhir/Patient/${i.person}` }) },
  'GET /api/v1/fhir/Immunization': { may: ['support', 'admin'], req: (i) => ({ url: `/api/v1/fhir/Immunization?patient=${i.person}` }) },
  // An empty bundle names no facility: every recording role may send one (and gets its 4xx).
  'POST /api/v1/fhir/Bundle': { may: ['facilityA', 'facilityB', 'districtIn', 'districtOut', 'admin'], req: () => ({ url: '/api/v1/fhir/Bundle', payload: { resourceType: 'Bundle', type: 'transaction', entry: [] } }) },
  'GET /api/v1/cases': { may: ['facilityA', 'districtIn', 'support', 'admin'], list: true, req: () => ({ url: '/api/v1/cases' }) },
  'POST /api/v1/cases/:id/confirm': { may: ['facilityA', 'districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/cases/${i.caseId}/confirm`, payload: { evidence: 'vaccination card seen' } }) },
  'POST /api/v1/cases/:id/link': { may: ['support', 'admin'], req: (i) => ({ url: `/api/v1/cases/${i.caseId}/link`, payload: { personId: i.person } }) },
  // Issue 15: a name_mismatch case is settled by whoever sees the person; a phone change by whoever knew them before the dose that
  // brought the number (facility A's only dose is that dose here), or the facility that recorded it. P's case is another kind: 422 once allowed.
  'POST /api/v1/cases/:id/identity': { may: ['facilityA', 'districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/cases/${i.caseId}/identity`, payload: { action: 'confirm', note: 'KTP seen' } }) },
  // Issue 21: who sees the person may send a dose to SATUSEHAT again; P's case is another kind: 422 once allowed.
  'POST /api/v1/cases/:id/satusehat/send-again': { may: ['facilityA', 'districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/cases/${i.caseId}/satusehat/send-again` }) },
  'POST /api/v1/cases/:id/phone-change/code': { may: ['districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/cases/${i.caseId}/phone-change/code` }) },
  'POST /api/v1/cases/:id/phone-change/verify': { may: ['districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/cases/${i.caseId}/phone-change/verify`, payload: { code: '123456' } }) },
  'POST /api/v1/cases/:id/phone-change/confirm': { may: ['districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/cases/${i.caseId}/phone-change/confirm` }) },
  'POST /api/v1/cases/:id/phone-change/reject': { may: ['districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/cases/${i.caseId}/phone-change/reject`, payload: { note: 'not theirs' } }) },
  // Counts only, each within the caller's own scope (no person in the answer).
  'GET /api/v1/cases/counts': { may: ['facilityA', 'facilityB', 'districtIn', 'districtOut', 'support', 'admin'], req: () => ({ url: '/api/v1/cases/counts' }) },
  'POST /api/v1/cases/scan-duplicates': { may: ['admin'], req: () => ({ url: '/api/v1/cases/scan-duplicates' }) },
  'POST /api/v1/vaccinations/:id/void': { may: ['facilityA', 'support', 'admin'], req: (i) => ({ url: `/api/v1/vaccinations/${i.vaccination}/void`, payload: { reason: 'entered for the wrong person' } }) },
  'GET /api/v1/jobs/dead': { may: ['support', 'admin'], req: () => ({ url: '/api/v1/jobs/dead' }) },
  'POST /api/v1/jobs/replay': { may: ['support', 'admin'], req: () => ({ url: '/api/v1/jobs/replay', payload: { ids: [999999999] } }) },
  'POST /api/v1/lots/:lot/recall': { may: ['admin'], req: () => ({ url: '/api/v1/lots/NOSUCHLOT/recall', payload: { vaccine: 'CORONAVAC', reason: 'matrix test' } }) },
  'GET /api/v1/sms/sink': { may: ['admin'], req: () => ({ url: '/api/v1/sms/sink' }) },
  'GET /api/v1/sms/stats': { may: ['support', 'admin'], req: () => ({ url: '/api/v1/sms/stats' }) },
  'GET /api/v1/sms/notifications': { may: ['support', 'admin'], req: (i) => ({ url: `/api/v1/sms/notifications?personId=${i.person}` }) },
  'POST /api/v1/imports': { may: ['facilityA', 'districtIn', 'admin'], req: () => ({ url: `/api/v1/imports?facility=${FACILITY_A.code}`, payload: 'nik,nama\n', headers: { 'content-type': 'text/csv' } }) },
  'GET /api/v1/imports/:id': { may: ['facilityA', 'districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/imports/${i.importId}` }) },
  'POST /api/v1/accounts': {
    may: ['admin'],
    req: () => ({ url: '/api/v1/accounts', payload: { username: `m-${Math.random().toString(36).slice(2, 10)}`, displayName: 'm', role: 'support', password: 'matrix-password-1' } }),
  },
  'GET /api/v1/accounts': { may: ['admin'], req: () => ({ url: '/api/v1/accounts' }) },
  'PATCH /api/v1/accounts/:id': { may: ['admin'], req: (i) => ({ url: `/api/v1/accounts/${i.account}`, payload: { displayName: 'Matrix' } }) },
  'GET /api/v1/dose-requests': { may: ['facilityA', 'districtIn', 'support', 'admin'], list: true, req: () => ({ url: '/api/v1/dose-requests' }) },
  'GET /api/v1/dose-requests/:id': { may: ['facilityA', 'districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/dose-requests/${i.doseRequest}` }) },
  'POST /api/v1/dose-requests/:id/record': { may: ['facilityA', 'districtIn', 'admin'], req: (i) => ({ url: `/api/v1/dose-requests/${i.doseRequest}/record`, payload: {} }) },
  'POST /api/v1/dose-requests/:id/decline': { may: ['facilityA', 'districtIn', 'admin'], req: (i) => ({ url: `/api/v1/dose-requests/${i.doseRequest}/decline`, payload: { reason: 'wrong_facility' } }) },
  'GET /api/v1/people/:id/certificates/:certificateId/sms': { may: ['facilityA', 'districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/people/${i.person}/certificates/${i.certificate}/sms` }) },
  'GET /api/v1/imports/:id/errors.csv': { may: ['facilityA', 'districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/imports/${i.importId}/errors.csv` }) },
  'GET /api/v1/imports/:id/errors': { may: ['facilityA', 'districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/imports/${i.importId}/errors?lang=id` }) },
  // The template names no person: every role that uploads may have it.
  'GET /api/v1/imports/template.:format': { may: ['facilityA', 'facilityB', 'districtIn', 'districtOut', 'admin'], req: () => ({ url: '/api/v1/imports/template.xlsx' }) },
  // The record form's doses of a person: exactly the search's (pre-fill's) scope.
  'GET /api/v1/people/:id/doses': { may: ['facilityA', 'districtIn', 'support', 'admin'], req: (i) => ({ url: `/api/v1/people/${i.person}/doses` }) },
  'GET /api/v1/phone-corrections': { may: ['support', 'admin'], req: () => ({ url: '/api/v1/phone-corrections?status=open' }) },
  'GET /api/v1/phone-corrections/:id': { may: ['support', 'admin'], req: (i) => ({ url: `/api/v1/phone-corrections/${i.correctionId}` }) },
  'POST /api/v1/phone-corrections/:id/approve': { may: ['support', 'admin'], req: (i) => ({ url: `/api/v1/phone-corrections/${i.correctionId}/approve` }) },
  'POST /api/v1/phone-corrections/:id/decline': { may: ['support', 'admin'], req: (i) => ({ url: `/api/v1/phone-corrections/${i.correctionId}/decline`, payload: { reason: 'duplicate_request' } }) },
};

let FACILITY_A = { code: '', token: '' };
let FACILITY_B = '';

describeEachBackend('route × role × scope matrix', (t) => {
  let rt: Runtime;
  const tokens = new Map<Who, string | null>();
  const ids = new Map<'token' | 'session', Ids>();

  it('sets up a person at facility A with a case, and tokens for every role and scope', async () => {
    rt = await testRuntime(t.db);
    FACILITY_A = await facilityWithToken(t.db, '317101');
    const b = await facilityWithToken(t.db, '327301');
    FACILITY_B = b.code;
    const mk = (role: Role, scope: { region?: string } = {}) => tokenFor(t.db, role, scope);
    tokens.set('none', null);
    tokens.set('facilityA', FACILITY_A.token);
    tokens.set('facilityB', b.token);
    tokens.set('districtIn', await mk('district', { region: '3171' }));
    tokens.set('districtOut', await mk('district', { region: '3273' }));
    tokens.set('support', await mk('support'));
    tokens.set('admin', ADMIN_TOKEN);
    const imp = await rt.app.inject({
      method: 'POST',
      url: '/api/v1/imports',
      headers: { ...bearer(FACILITY_A.token), 'content-type': 'text/csv' },
      payload: 'NIK,Nama,Tanggal Lahir,Jenis Kelamin,No HP,Vaksin,Dosis,Tanggal Vaksinasi\n3171010101010001,X,2001-01-01,L,,CORONAVAC,1,2021-06-01\n',
    });
    assert.equal(imp.statusCode, 202, imp.body);
    const account = await createAccount(t.db, { username: 'matrix', displayName: 'Matrix', role: 'support', password: 'scope-check-password-1' }, null);
    // One person per pass (the allowed requests change them: void, confirm, merge).
    for (const [via, name] of [['token', 'Matriks Uji Cakupan'], ['session', 'Matriks Uji Sesi']] as const) {
      const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(FACILITY_A.token), payload: doseBody(person({ name }), { doseNumber: 2, date: '2021-07-01' }) });
      assert.equal(res.statusCode, 201, res.body);
      const d = res.json();
      const c = await t.db.query<{ id: string }>('SELECT id FROM cases WHERE person_id = $1', [d.person.id]);
      // A filed phone correction for P (the public journey is tested in test/http/phone-corrections.test.ts).
      const pc = await t.db.query<{ id: string }>(
        `INSERT INTO phone_corrections (id, status, submitted_at, nik, person_key, birth_date, name, new_phone, client, person_id, name_score)
         VALUES (gen_random_uuid(), 'open', now(), '3171010101010002', 'nik:3171010101010002', '1990-01-01', $2, '+6281299990000', 'matrix', $1, 1) RETURNING id`,
        [d.person.id, name],
      );
      // The person reports the dose 1 that their dose 2 claims, at facility A.
      const request = await createDoseRequest(t.db, d.person.id, { date: '2021-06-01', facility: FACILITY_A.code, vaccine: 'CORONAVAC', doseNumber: 1 });
      ids.set(via, { person: d.person.id, vaccination: d.vaccination.id, certificate: d.certificate.id, caseId: c.rows[0]!.id, importId: imp.json().id, correctionId: pc.rows[0]!.id, name, account: account.id, doseRequest: request.id });
    }
  });

  it('classifies every API route', () => {
    const unclassified = rt.app.routeList
      .filter((r) => r.url.startsWith('/api/'))
      .map((r) => `${r.method} ${r.url}`)
      .filter((k) => !PUBLIC.has(k) && !(k in SPECS));
    assert.deepEqual(unclassified, [], 'routes with no entry in the scope matrix');
  });

  /** Console sessions of staff accounts with the same roles and scopes as the tokens: cookie and CSRF headers. */
  const sessions = new Map<Who, Record<string, string> | null>();

  it('signs in a console account for every role and scope', async () => {
    sessions.set('none', null);
    const scopes: [Who, Role, { facility?: string; region?: string }][] = [
      ['facilityA', 'facility', { facility: FACILITY_A.code }],
      ['facilityB', 'facility', { facility: FACILITY_B }],
      ['districtIn', 'district', { region: '3171' }],
      ['districtOut', 'district', { region: '3273' }],
      ['support', 'support', {}],
      ['admin', 'admin', {}],
    ];
    for (const [who, role, scope] of scopes) {
      const password = 'matrix-session-password';
      await createAccount(t.db, { username: `matrix-${who}`, displayName: who, role, ...scope, password }, null);
      const res = await rt.app.inject({ method: 'POST', url: '/api/v1/session', payload: { username: `matrix-${who}`, password } });
      assert.equal(res.statusCode, 200, res.body);
      const jar = [res.headers['set-cookie']].flat().map((c) => String(c).split(';')[0]).join('; ');
      sessions.set(who, { cookie: jar, 'x-csrf-token': res.json().csrfToken });
    }
  });

  for (const via of ['token', 'session'] as const)
  it(`denies every out-of-scope or disallowed request, and allows the rest (${via})`, async () => {
    const leaks: string[] = [];
    for (const [route, spec] of Object.entries(SPECS)) {
      const method = route.split(' ')[0] as 'GET' | 'POST' | 'PATCH';
      for (const who of ALL) {
        const token = tokens.get(who);
        const subject = ids.get(via)!;
        const r = spec.req(subject);
        const credential = via === 'token' ? (token ? bearer(token) : {}) : (sessions.get(who) ?? {});
        const headers = { ...credential, ...(r.headers ?? {}) };
        const res = await rt.app.inject({ method, url: r.url, headers, ...(r.payload === undefined ? {} : { payload: r.payload as string }) });
        const allowed = spec.may.includes(who);
        const ok = res.statusCode >= 200 && res.statusCode < 300;
        if (!allowed) {
          if (ok && spec.list && token) {
            if (res.body.includes(subject.person)) leaks.push(`${route} as ${who}: list contains the person`);
          } else if (ok) leaks.push(`${route} as ${who}: ${res.statusCode}`);
          else if (![401, 403, 404].includes(res.statusCode)) leaks.push(`${route} as ${who}: ${res.statusCode} (want 401/403/404)`);
        } else if ([401, 403].includes(res.statusCode) || (res.statusCode === 404 && method === 'GET')) {
          leaks.push(`${route} as ${who}: refused with ${res.statusCode} though allowed: ${res.body.slice(0, 200)}`);
        } else if (spec.list && !res.body.includes(subject.person)) {
          leaks.push(`${route} as ${who}: the person is missing from the list`);
        }
      }
    }
    assert.deepEqual(leaks, []);
  });

  // Each route's validators and serializers are compiled at its first request (src/http/lazy-schemas.ts):
  // here the rest are, so a schema that does not compile fails a test as it once failed app.ready().
  it('compiles the schemas of every route', () => {
    rt.app.compileSchemas();
  });

  it('stops', async () => {
    await rt.app.close();
  });
});
