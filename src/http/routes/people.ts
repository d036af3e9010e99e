/** Finding people (operations): search by NIK, phone or name. */
import { Type } from 'typebox';
import type { App, AppDeps } from '../deps.ts';
import { allow } from '../auth.ts';
import { searchPeople } from '../../records/search.ts';
import { personTimeline } from '../../records/timeline.ts';
import { likelyMatches, MATCH_LIMIT } from '../../records/matches.ts';
import { audit } from '../../access/audit.ts';
import { ErrorSchema } from './schemas.ts';

const PersonSummary = Type.Object(
  {
    id: Type.String(),
    identifier: Type.Object({ type: Type.String(), value: Type.String(), country: Type.Optional(Type.String()) }),
    name: Type.String(),
    birthDate: Type.String(),
    sex: Type.Union([Type.String(), Type.Null()]),
    phone: Type.Union([Type.String(), Type.Null()]),
    phoneStatus: Type.String(),
    regionCode: Type.Union([Type.String(), Type.Null()]),
    doses: Type.Integer(),
    score: Type.Optional(Type.Number()),
    masked: Type.Boolean(),
  },
  { additionalProperties: false },
);

export function peopleRoutes(app: App, deps: AppDeps): void {
  app.get(
    '/api/v1/people',
    {
      schema: {
        tags: ['operations'],
        summary: 'Find people by NIK, phone (any writing) or name (typos and spelling variants), within your scope',
        description:
          'Name search folds Indonesian spelling variants (Muhammad/Muhamad/Mohammad, doubled letters, missing spaces) and ranks by trigram similarity. ' +
          'NIK and phone are masked for district tokens, and for support unless reveal=true (audited).',
        querystring: Type.Object(
          {
            nik: Type.Optional(Type.String()),
            phone: Type.Optional(Type.String()),
            name: Type.Optional(Type.String({ maxLength: 200 })),
            birthDate: Type.Optional(Type.String()),
            region: Type.Optional(Type.String()),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
            reveal: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ people: Type.Array(PersonSummary) }), '4xx': ErrorSchema },
      },
    },
    async (req) => {
      const who = allow(req, ['facility', 'district', 'support', 'admin']);
      const people = await searchPeople(deps.db, who, req.query);
      if (req.query.reveal && who.role === 'support')
        await audit(deps.db, { actor: who.id, action: 'identifiers_revealed', detail: { query: { ...req.query }, results: people.map((p) => p.id) } });
      return { people };
    },
  );

  app.get(
    '/api/v1/people/:id/timeline',
    {
      schema: {
        tags: ['operations'],
        summary: "A person's whole history: doses, certificates, every SMS with gateway answers and delivery reports, phone changes, cases, merges",
        description: 'Also `doses`: each dose\'s state in words (recorded, certificate issued, SMS queued/sent/delivered/failed/held and why).',
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        querystring: Type.Object({ reveal: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            person: Type.Object({}, { additionalProperties: true }),
            doses: Type.Array(Type.Object({}, { additionalProperties: true })),
            events: Type.Array(Type.Object({ at: Type.String(), type: Type.String(), actor: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: true })),
          }),
          '4xx': ErrorSchema,
        },
      },
    },
    async (req) => {
      // A facility reads the people it has recorded a dose for (scope.ts), so its staff see the earlier doses too.
      const who = allow(req, ['facility', 'district', 'support', 'admin']);
      const reveal = req.query.reveal === true;
      const t = await personTimeline(deps.db, who, req.params.id, reveal);
      // Every staff read of a person's record is audited.
      await audit(deps.db, { actor: who.id, action: reveal ? 'person_viewed_revealed' : 'person_viewed', subject: req.params.id, personId: req.params.id, detail: { view: 'timeline' } });
      return t;
    },
  );

  app.get(
    '/api/v1/people/:id/matches',
    {
      schema: {
        tags: ['operations'],
        summary: 'Likely other records of this person (the same folded name and birth date under another identifier, each with its doses and facilities), and the facilities that recorded this person\'s doses',
        description:
          `Where a dose missing from this record usually is (dose 1 under a mistyped NIK, at another facility). Only records within your scope; identifiers masked as search masks them for your role; at most ${MATCH_LIMIT}.`,
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: {
          200: Type.Object({
            matches: Type.Array(
              Type.Object(
                {
                  ...PersonSummary.properties,
                  doseList: Type.Array(
                    Type.Object({
                      doseNumber: Type.Integer(),
                      date: Type.String(),
                      vaccine: Type.String(),
                      status: Type.String(),
                      facility: Type.Object({ code: Type.String(), name: Type.Union([Type.String(), Type.Null()]), phone: Type.Union([Type.String(), Type.Null()]) }),
                    }),
                  ),
                },
                { additionalProperties: false },
              ),
            ),
            facilities: Type.Array(Type.Object({ code: Type.String(), name: Type.String(), phone: Type.Union([Type.String(), Type.Null()]) })),
          }),
          '4xx': ErrorSchema,
        },
      },
    },
    async (req) => likelyMatches(deps.db, allow(req, ['facility', 'district', 'support', 'admin']), req.params.id),
  );
}
