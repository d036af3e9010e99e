/** Facilities and API tokens (admin). */
import { Type } from 'typebox';
import type { App, AppDeps } from '../deps.ts';
import { allow } from '../auth.ts';
import { createFacility, listFacilities } from '../../records/facilities.ts';
import { createToken } from '../../access/tokens.ts';
import { audit } from '../../access/audit.ts';
import { ErrorSchema } from './schemas.ts';

const FacilityBody = Type.Object(
  {
    code: Type.String({ minLength: 1, maxLength: 64, description: 'Facility code (e.g. the Kemenkes faskes code)' }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    regionCode: Type.String({ maxLength: 13, description: 'Kemendagri region code, dotted (12.71.01) or in digits (127101): PP, PP.KK, PP.KK.CC or PP.KK.CC.DDDD; stored in digits' }),
    phone: Type.Optional(Type.String({ description: "The facility's own phone: people recorded with it are flagged" })),
  },
  { additionalProperties: false },
);
const Facility = Type.Object({ code: Type.String(), name: Type.String(), regionCode: Type.String(), phone: Type.Union([Type.String(), Type.Null()]) });

const TokenBody = Type.Object(
  {
    role: Type.Union([Type.Literal('facility'), Type.Literal('district'), Type.Literal('support'), Type.Literal('admin')]),
    facility: Type.Optional(Type.String({ description: 'facility code (role facility)' })),
    region: Type.Optional(Type.String({ maxLength: 13, description: 'region code (role district), as Kemendagri writes it (12.71) or in digits (1271)' })),
    label: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);

export function adminRoutes(app: App, deps: AppDeps): void {
  app.post(
    '/api/v1/facilities',
    { schema: { tags: ['admin'], summary: 'Register a facility', body: FacilityBody, response: { 201: Facility, '4xx': ErrorSchema } } },
    async (req, reply) => {
      const who = allow(req, ['admin']);
      const f = await createFacility(deps.db, req.body);
      await audit(deps.db, { actor: who.id, action: 'facility_created', subject: f.code, detail: { ...f } });
      return reply.status(201).send(f);
    },
  );
  app.get('/api/v1/facilities', { schema: { tags: ['admin'], summary: 'List facilities', response: { 200: Type.Object({ facilities: Type.Array(Facility) }) } } }, async (req) => {
    allow(req, ['admin', 'district', 'support']);
    return { facilities: await listFacilities(deps.db) };
  });
  app.post(
    '/api/v1/tokens',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create an API token (shown once)',
        body: TokenBody,
        response: { 201: Type.Object({ id: Type.String(), token: Type.String(), role: Type.String() }), '4xx': ErrorSchema },
      },
    },
    async (req, reply) => {
      const who = allow(req, ['admin']);
      const t = await deps.db.withTransaction(async (tx) => {
        const created = await createToken(tx, { role: req.body.role, facility: req.body.facility?.toUpperCase() ?? null, region: req.body.region ?? null, label: req.body.label }, who.id);
        await audit(tx, { actor: who.id, action: 'token_created', subject: created.id, detail: { role: req.body.role, facility: req.body.facility, region: req.body.region, label: req.body.label } });
        return created;
      });
      return reply.status(201).send({ id: t.id, token: t.token, role: req.body.role });
    },
  );
}
