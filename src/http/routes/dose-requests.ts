/**
 * Missing-dose requests (issue 9): the person's side in the citizen portal
 * (authorised by the portal session's access token) and the facility's work
 * list with its two actions. See records/dose-requests.ts.
 */
import { Type } from 'typebox';
import type { App, AppDeps } from '../deps.ts';
import { allow } from '../auth.ts';
import { personOfSession } from '../../access/portal.ts';
import {
  createDoseRequest,
  declineDoseRequest,
  enterDoseRequest,
  getDoseRequest,
  listDoseRequests,
  ownDoseRequests,
  searchFacilities,
} from '../../records/dose-requests.ts';
import { DECLINE_REASONS, DOSE_REQUEST_STATUSES } from '../../domain/dose-requests.ts';
import { ErrorSchema } from './schemas.ts';

const IdParam = Type.Object({ id: Type.String({ maxLength: 64 }) });
const Loose = Type.Object({}, { additionalProperties: true });
/** The domain validates these bodies (all issues at once, named by field, in both languages); the schema documents them. */
const domainValidates = {
  validatorCompiler: ({ httpPart }: { httpPart?: string }) => (httpPart === 'body' ? (data: unknown) => ({ value: data }) : () => true),
};

const RequestBody = Type.Object({
  date: Type.String({ format: 'date', description: 'the vaccination date (local date), not before the programme began and not in the future' }),
  facility: Type.String({ description: 'the facility code (GET /api/v1/public/facilities?q= finds it by name)' }),
  vaccine: Type.String({ description: 'catalogue code or common name (GET /api/v1/vaccines)' }),
  doseNumber: Type.Integer({ minimum: 1, maximum: 5 }),
  lot: Type.Optional(Type.String({ maxLength: 50, description: 'the lot (batch) number, if known (on the vaccination card)' })),
  note: Type.Optional(Type.String({ maxLength: 500 })),
});

export function doseRequestRoutes(app: App, deps: AppDeps): void {
  const now = (): Date => (deps.now ?? (() => new Date()))();
  const noStore = { 'cache-control': 'no-store' };

  app.get(
    '/api/v1/public/facilities',
    {
      schema: {
        tags: ['public'],
        summary: 'Find a facility by name or code (for the missing-dose form): codes and names only',
        security: [],
        querystring: Type.Object({ q: Type.String({ maxLength: 100, description: 'at least 2 characters of the name or the start of the code' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ facilities: Type.Array(Type.Object({ code: Type.String(), name: Type.String() })) }), '4xx': ErrorSchema },
      },
    },
    async (req) => ({ facilities: await searchFacilities(deps.db, req.query.q) }),
  );

  app.post(
    '/api/v1/public/dose-requests',
    {
      schema: {
        tags: ['public'],
        summary: 'Report a dose that is not on record (Authorization: Bearer <accessToken> of a portal session)',
        description:
          "The request goes to the work list of the facility named; it enters the dose (the certificate SMS follows) or declines it with a reason (an SMS says why). " +
          `Still open after DOSIS_DOSE_REQUEST_ESCALATE_DAYS (3) days, it goes to the district. 422 names every bad field; 409 when the dose is on record or already asked for; ` +
          'at most 10 requests a day per person (429).',
        security: [],
        body: RequestBody,
        response: { 201: Loose, '4xx': ErrorSchema },
      },
      ...domainValidates,
    },
    async (req, reply) => {
      const personId = await personOfSession(deps.db, req.headers.authorization);
      const r = await createDoseRequest(deps.db, personId, req.body, now());
      return reply.status(201).headers(noStore).send(r);
    },
  );

  app.get(
    '/api/v1/public/dose-requests',
    {
      schema: {
        tags: ['public'],
        summary: "The missing-dose requests of the portal session's person and their status (open, escalated, entered, declined with the reason)",
        security: [],
        response: { 200: Type.Object({ requests: Type.Array(Loose) }), '4xx': ErrorSchema },
      },
    },
    async (req, reply) => {
      const personId = await personOfSession(deps.db, req.headers.authorization);
      return reply.headers(noStore).send({ requests: await ownDoseRequests(deps.db, personId) });
    },
  );

  app.get(
    '/api/v1/dose-requests',
    {
      schema: {
        tags: ['operations'],
        summary: 'Work list of missing-dose requests, oldest first: a facility its own, a district its region’s (escalated ones included), support and admin all',
        querystring: Type.Object(
          {
            status: Type.Optional(Type.String({ description: DOSE_REQUEST_STATUSES.join(' | ') })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ requests: Type.Array(Loose) }), '4xx': ErrorSchema },
      },
    },
    async (req) => ({ requests: await listDoseRequests(deps.db, allow(req, ['facility', 'district', 'support', 'admin']), req.query) }),
  );

  app.get(
    '/api/v1/dose-requests/:id',
    {
      schema: {
        tags: ['operations'],
        summary: 'One missing-dose request with the person (identifier masked); 404 outside your scope',
        params: IdParam,
        response: { 200: Loose, '4xx': ErrorSchema },
      },
    },
    async (req) => getDoseRequest(deps.db, allow(req, ['facility', 'district', 'support', 'admin']), req.params.id),
  );

  app.post(
    '/api/v1/dose-requests/:id/record',
    {
      schema: {
        tags: ['operations'],
        summary: 'Enter the dose of a request: recorded like POST /api/v1/vaccinations (certificate and its SMS), linked to the request',
        description:
          "The person and the facility come from the request; vaccine, doseNumber, date and lot default to the request's and may be corrected here. " +
          'Answers {request, dose} where dose is the answer of POST /api/v1/vaccinations. 409 when the request is no longer waiting.',
        params: IdParam,
        body: Type.Object({
          vaccine: Type.Optional(Type.String()),
          doseNumber: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
          date: Type.Optional(Type.String({ format: 'date' })),
          lot: Type.Optional(Type.String({ maxLength: 50 })),
        }),
        response: { 201: Loose, '4xx': ErrorSchema },
      },
      ...domainValidates,
    },
    async (req, reply) => {
      const who = allow(req, ['facility', 'district', 'admin']);
      const r = await enterDoseRequest(
        { db: deps.db, issuer: deps.issuer, linkSecret: deps.linkSecret, publicUrl: deps.config.publicUrl, ...(deps.now ? { now: deps.now } : {}) },
        who,
        req.params.id,
        req.body ?? {},
      );
      deps.metrics.inc('dosis_doses_recorded_total', { outcome: r.dose.vaccination.status });
      return reply.status(201).send(r);
    },
  );

  app.post(
    '/api/v1/dose-requests/:id/decline',
    {
      schema: {
        tags: ['operations'],
        summary: 'Decline a request with a reason from the fixed list; the person is told by SMS',
        description: `reason: ${DECLINE_REASONS.join(' | ')}; "other" needs text (3–300 characters), which the SMS quotes.`,
        params: IdParam,
        body: Type.Object({ reason: Type.String(), text: Type.Optional(Type.String({ maxLength: 300 })) }),
        response: { 200: Loose, '4xx': ErrorSchema },
      },
      ...domainValidates,
    },
    async (req) => {
      const who = allow(req, ['facility', 'district', 'admin']);
      const b = typeof req.body === 'object' && req.body !== null ? (req.body as { reason?: unknown; text?: unknown }) : {};
      return declineDoseRequest(deps.db, who, req.params.id, b);
    },
  );
}
