/**
 * FHIR R4 in the SATUSEHAT profiles: export a person and their vaccinations
 * (support, admin), import a transaction or batch Bundle of Immunizations
 * (facility, district, admin — the roles that record doses). Answers are
 * application/fhir+json. Errors keep Dosis's error body (one format for every
 * route); per-entry batch failures are OperationOutcomes in the response Bundle.
 */
import { Type } from 'typebox';
import type { App, AppDeps } from '../deps.ts';
import { allow } from '../auth.ts';
import { AppError } from '../../domain/errors.ts';
import { exportImmunizations, exportPatient } from '../../fhir/export.ts';
import { importBundle } from '../../fhir/import.ts';
import { searchset } from '../../fhir/satusehat.ts';
import { ErrorSchema } from './schemas.ts';

const FHIR_JSON = 'application/fhir+json';
/** A bundle of 500 doses with their patients is well under 2 MiB. */
const FHIR_BODY_LIMIT = 4 * 1024 * 1024;
const Resource = Type.Object({ resourceType: Type.String() }, { additionalProperties: true });

export function fhirRoutes(app: App, deps: AppDeps): void {
  const json = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser(FHIR_JSON, { parseAs: 'string', bodyLimit: FHIR_BODY_LIMIT }, (req, body, done) => {
    void json(req, typeof body === 'string' ? body : body.toString('utf8'), (err, value) => {
      if (err) done(new AppError('bad_request', 'malformed_json', { en: `The body is not valid JSON: ${err.message}`, id: `Isi permintaan bukan JSON yang valid: ${err.message}` }));
      else done(null, value);
    });
  });

  app.get(
    '/api/v1/fhir/Patient/:id',
    {
      schema: {
        tags: ['fhir'],
        summary: 'A person as a FHIR R4 Patient (SATUSEHAT profile; NIK, mother\'s NIK or passport identifier)',
        params: Type.Object({ id: Type.String() }),
        response: { 200: Resource, '4xx': ErrorSchema },
      },
    },
    async (req, reply) => {
      const who = allow(req, ['support', 'admin']);
      const patient = await exportPatient(deps.db, who, req.params.id, deps.config.publicUrl);
      return reply.type(FHIR_JSON).send(patient);
    },
  );

  app.get(
    '/api/v1/fhir/Immunization',
    {
      schema: {
        tags: ['fhir'],
        summary: "A person's vaccinations as FHIR R4 Immunizations (SATUSEHAT profile), a searchset Bundle",
        description: 'patient=Patient/{id} or {id}. Voided doses are status entered-in-error, so a receiver retracts them.',
        querystring: Type.Object({ patient: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
        response: { 200: Resource, '4xx': ErrorSchema },
      },
    },
    async (req, reply) => {
      const who = allow(req, ['support', 'admin']);
      const base = deps.config.publicUrl;
      const resources = await exportImmunizations(deps.db, who, req.query.patient, base);
      const self = `${base.replace(/\/+$/, '')}/api/v1/fhir/Immunization?patient=${encodeURIComponent(req.query.patient)}`;
      return reply.type(FHIR_JSON).send(searchset(resources, self, base));
    },
  );

  app.post(
    '/api/v1/fhir/Bundle',
    {
      bodyLimit: FHIR_BODY_LIMIT,
      schema: {
        tags: ['fhir'],
        summary: 'Import a transaction or batch Bundle of Immunizations (with their Patients), through the same path as POST /api/v1/vaccinations',
        description:
          'transaction: all or nothing (422 naming every problem, or 409 when a dose is already recorded); batch: each Immunization on its own, ' +
          'idempotent by its identifier. Answers a transaction-response / batch-response Bundle.',
        body: Resource,
        response: { 200: Resource, '4xx': ErrorSchema },
      },
    },
    async (req, reply) => {
      const who = allow(req, ['facility', 'district', 'admin']);
      const result = await importBundle(
        { db: deps.db, issuer: deps.issuer, linkSecret: deps.linkSecret, publicUrl: deps.config.publicUrl, ...(deps.now ? { now: deps.now } : {}) },
        who,
        req.body,
      );
      return reply.type(FHIR_JSON).send(result);
    },
  );
}
