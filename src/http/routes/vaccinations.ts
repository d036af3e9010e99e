/** Record a dose, and the vaccine catalogue. */
import { Type } from 'typebox';
import type { App, AppDeps } from '../deps.ts';
import { allow } from '../auth.ts';
import { recordDose } from '../../records/record-dose.ts';
import { listVaccines } from '../../domain/vaccines.ts';
import { todayInJakarta } from '../../domain/dates.ts';
import { ErrorSchema, sendJsonText } from './schemas.ts';

const Identifier = Type.Object({
  type: Type.Union([Type.Literal('nik'), Type.Literal('passport'), Type.Literal('mother-nik')]),
  value: Type.String(),
  country: Type.Optional(Type.String({ description: 'passport issuing country, ISO 3166 alpha-2 or alpha-3' })),
  newlyIssued: Type.Optional(Type.Boolean({ description: 'a NIK issued on the spot by the civil registry' })),
});

/** Documents the body; validation is the domain's (one set of rules for API, form, import and FHIR). */
const VaccinationBody = Type.Object({
  person: Type.Object({
    nik: Type.Optional(Type.String({ description: '16-digit NIK (shorthand for identifier {type: nik})', examples: ['3171041705800001'] })),
    identifier: Type.Optional(Identifier),
    name: Type.String({ examples: ['Budi Santoso'] }),
    birthDate: Type.String({ format: 'date' }),
    sex: Type.String({ description: 'M/F (or L/P)' }),
    phone: Type.Optional(Type.String({ description: 'Indonesian mobile in any writing; normalised to E.164', examples: ['0812-3456-7890'] })),
  }),
  vaccine: Type.String({ description: 'catalogue code or common name (GET /api/v1/vaccines)', examples: ['CORONAVAC'] }),
  doseNumber: Type.Integer({ minimum: 1, maximum: 5 }),
  date: Type.String({ format: 'date', description: 'vaccination date, Indonesian local date' }),
  lot: Type.Optional(Type.String()),
  facility: Type.Optional(Type.String({ description: 'facility code; required for district and admin tokens' })),
});

const DoseAnswer = Type.Object(
  {
    vaccination: Type.Object({}, { additionalProperties: true }),
    person: Type.Object({}, { additionalProperties: true }),
    certificate: Type.Union([Type.Object({ id: Type.String(), uvci: Type.String(), qr: Type.String(), link: Type.String() }, { additionalProperties: true }), Type.Null()], {
      description: 'null while the dose is held: the name sent did not match the record (vaccination.held, a name_mismatch case)',
    }),
    phoneChange: Type.Optional(Type.Object({ id: Type.String(), status: Type.Literal('pending') })),
    nextDose: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
    warnings: Type.Array(Type.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: true },
);

export function vaccinationRoutes(app: App, deps: AppDeps): void {
  app.post(
    '/api/v1/vaccinations',
    {
      schema: {
        tags: ['records'],
        summary: 'Record a dose; the answer carries its signed certificate',
        description:
          'One transaction: the person is found or created, the dose checked against earlier ones, the certificate signed and the SMS queued. ' +
          'Send an Idempotency-Key header to make retries safe: a repeated request returns the first answer with 200. ' +
          'A dose whose earlier doses are not on record is still recorded (status claims_prior_dose) and opens a case. ' +
          'For a person on record, the name sent is compared with the name on record (folded as the search folds it): a mismatch is recorded but held ' +
          '(vaccination.held, certificate null, no SMS, a name_mismatch case); a phone other than the one on record is not applied (phoneChange, a phone_change case). ' +
          'A caller who could not see the person before gets back only what it sent: no person id, stored name, phone or doses.',
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 200 })) }),
        body: VaccinationBody,
        response: { 200: DoseAnswer, 201: DoseAnswer, '4xx': ErrorSchema },
      },
      // The domain validates the body (all issues at once, in both languages); the schema documents it.
      validatorCompiler: ({ httpPart }) => (httpPart === 'body' ? (data: unknown) => ({ value: data }) : () => true),
    },
    async (req, reply) => {
      const who = allow(req, ['facility', 'district', 'admin']);
      const key = req.headers['idempotency-key'];
      const result = await recordDose(
        { db: deps.db, issuer: deps.issuer, linkSecret: deps.linkSecret, publicUrl: deps.config.publicUrl, ...(deps.now ? { now: deps.now } : {}) },
        { principal: who, body: req.body, idempotencyKey: typeof key === 'string' ? key : undefined, source: req.staffSession ? 'form' : 'api' },
      );
      deps.metrics.inc('dosis_doses_recorded_total', { outcome: result.status === 201 ? result.body.vaccination.status : 'replay' });
      // The JSON text itself: the bytes first answered, which a replay repeats exactly.
      return sendJsonText(reply, result.status, result.json);
    },
  );

  app.get('/api/v1/vaccines', { schema: { tags: ['records'], summary: 'The vaccine catalogue with the schedules in force today' } }, async () => {
    return { vaccines: listVaccines(todayInJakarta((deps.now ?? (() => new Date()))())) };
  });
}
