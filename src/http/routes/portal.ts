/** The citizen's lookup: NIK (or passport, or a mother's NIK and the child's name) + birth date → a code to the phone on record → the person's certificates. */
import { Type } from 'typebox';
import type { App, AppDeps } from '../deps.ts';
import { personOfSession, startLookup, verifyLookup, type PortalDeps } from '../../access/portal.ts';
import { holderByPerson } from '../../certificates/holder.ts';
import { ErrorSchema, PublicIdentity } from './schemas.ts';

export function portalRoutes(app: App, deps: AppDeps): void {
  const portal: PortalDeps = {
    db: deps.db,
    secret: deps.linkSecret,
    checkCode: (id, code, purpose) => deps.notify.checkCode(id, code, purpose),
    // Read at each request: a test sets deps.sleep after the app is built (skipFloorWaits).
    get sleep() {
      return deps.sleep;
    },
  };

  app.post(
    '/api/v1/public/lookup',
    {
      schema: {
        tags: ['public'],
        summary: 'Start a certificate lookup: a one-time code goes by SMS to the phone on record',
        description:
          'The answer is the same, in every field, length and timing, whether or not anyone matches: phoneHint shows only the last three digits ' +
          '(`****-****-*890`), invented from an HMAC of the request when nobody matches. ' +
          'Someone without a NIK gives a passport (number and country), or a child the mother’s NIK with their own name and birth date. ' +
          `Rate-limited per NIK, passport or mother’s NIK (3 an hour) and per client address (10 per 10 minutes): 429.`,
        security: [],
        body: Type.Object(
          {
            ...PublicIdentity,
            name: Type.Optional(Type.String({ maxLength: 200, description: 'the child’s full name, with a mother’s NIK' })),
            birthDate: Type.String({ maxLength: 20 }),
          },
          { additionalProperties: false },
        ),
        response: { 202: Type.Object({ requestId: Type.String(), phoneHint: Type.String() }), '4xx': ErrorSchema },
      },
    },
    async (req, reply) => reply.status(202).send(await startLookup(portal, { ...req.body, client: req.ip })),
  );

  app.post(
    '/api/v1/public/lookup/:requestId/verify',
    {
      schema: {
        tags: ['public'],
        summary: 'Enter the code: opens a 30-minute session for that person’s certificates',
        security: [],
        params: Type.Object({ requestId: Type.String({ maxLength: 64 }) }),
        body: Type.Object({ code: Type.String({ maxLength: 12 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ accessToken: Type.String(), expiresAt: Type.String() }), '4xx': ErrorSchema },
      },
    },
    async (req) => verifyLookup(portal, req.params.requestId, req.body.code),
  );

  app.get(
    '/api/v1/public/certificates',
    {
      schema: {
        tags: ['public'],
        summary: 'The certificates of the person the portal session belongs to (Authorization: Bearer <accessToken>)',
        security: [],
        response: { 200: Type.Object({}, { additionalProperties: true }), '4xx': ErrorSchema },
      },
    },
    async (req) => {
      const personId = await personOfSession(deps.db, req.headers.authorization);
      const view = await holderByPerson(deps.db, personId);
      if (!view) throw new Error('a portal session without its person');
      const { personId: _hidden, ...shown } = view;
      return shown;
    },
  );
}
