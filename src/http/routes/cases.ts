/** Work lists and the actions on them (operations). Each action is audited. */
import { Type } from 'typebox';
import type { App, AppDeps } from '../deps.ts';
import { allow } from '../auth.ts';
import { countOpenCases, listCases, scanPossibleDuplicates } from '../../records/cases.ts';
import { CASE_KINDS } from '../../domain/cases.ts';
import { correctPhone, mergePeople, settleClaim, voidVaccination, type OpsDeps } from '../../records/operations.ts';
import { confirmPhoneChange, rejectPhoneChange, sendPhoneChangeCode, settleNameMismatch, verifyPhoneChange, type IdentityDeps } from '../../records/identity.ts';
import { listDead, replayDead } from '../../notify/outbox.ts';
import { audit } from '../../access/audit.ts';
import { ErrorSchema } from './schemas.ts';
import { sendAgain } from '../../satusehat/actions.ts';

const IdParam = Type.Object({ id: Type.String({ maxLength: 64 }) });
const Loose = Type.Object({}, { additionalProperties: true });

export function caseRoutes(app: App, deps: AppDeps): void {
  const ops: OpsDeps = { db: deps.db, issuer: deps.issuer, linkSecret: deps.linkSecret, ...(deps.now ? { now: deps.now } : {}) };
  const identity: IdentityDeps = { ...ops, checkCode: (id, code, purpose) => deps.notify.checkCode(id, code, purpose) };

  app.get(
    '/api/v1/cases',
    {
      schema: {
        tags: ['operations'],
        summary: 'Work lists: cases by kind, status and region within your scope',
        querystring: Type.Object(
          {
            kind: Type.Optional(Type.String({ description: CASE_KINDS.join(' | ') })),
            status: Type.Optional(Type.String({ description: 'open (default) | resolved | dismissed' })),
            region: Type.Optional(Type.String()),
            facility: Type.Optional(Type.String()),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
            before: Type.Optional(Type.String({ description: 'cursor: `next` of the previous page' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ cases: Type.Array(Loose), next: Type.Union([Type.String(), Type.Null()]) }), '4xx': ErrorSchema },
      },
    },
    async (req) => listCases(deps.db, allow(req, ['facility', 'district', 'support', 'admin']), req.query),
  );

  app.get(
    '/api/v1/cases/counts',
    {
      schema: {
        tags: ['operations'],
        summary: 'How many open cases of each kind are within your scope (every kind named, 0 when none)',
        response: { 200: Type.Object({ counts: Type.Record(Type.String(), Type.Integer()) }), '4xx': ErrorSchema },
      },
    },
    async (req) => ({ counts: await countOpenCases(deps.db, allow(req, ['facility', 'district', 'support', 'admin'])) }),
  );

  app.post(
    '/api/v1/cases/:id/confirm',
    {
      schema: {
        tags: ['operations'],
        summary: "Settle a claims_prior_dose case with the facility's evidence",
        params: IdParam,
        body: Type.Object({ evidence: Type.String({ minLength: 3, maxLength: 500 }) }, { additionalProperties: false }),
        response: { 200: Loose, '4xx': ErrorSchema },
      },
    },
    async (req) => settleClaim(ops, allow(req, ['facility', 'district', 'support', 'admin']), req.params.id, { kind: 'confirm', evidence: req.body.evidence }),
  );

  app.post(
    '/api/v1/cases/:id/satusehat/send-again',
    {
      schema: {
        tags: ['operations'],
        summary: 'Send the dose of a satusehat_rejected or satusehat_patient_not_found case to SATUSEHAT again, once corrected',
        description: 'Who sees the person. The case is resolved and the dose waits in SATUSEHAT’s queue again; a new rejection opens a new case with the reason in words. Audited.',
        params: IdParam,
        response: { 200: Loose, '4xx': ErrorSchema },
      },
    },
    async (req) => sendAgain(deps, allow(req, ['facility', 'district', 'support', 'admin']), req.params.id),
  );

  app.post(
    '/api/v1/cases/:id/identity',
    {
      schema: {
        tags: ['operations'],
        summary: 'Settle a name_mismatch case: confirm the dose is the person’s (certificate and SMS released), or void it as another person’s',
        description:
          'confirm: someone who knew the person before (a facility that gave them a dose, the district, support, admin); the held certificate becomes valid and its SMS goes to the number on record. ' +
          'wrong_person: the facility that recorded the dose, support or admin; the dose is voided and its certificate revoked. Both audited.',
        params: IdParam,
        body: Type.Object(
          { action: Type.Union([Type.Literal('confirm'), Type.Literal('wrong_person')]), note: Type.String({ minLength: 3, maxLength: 500 }) },
          { additionalProperties: false },
        ),
        response: { 200: Loose, '4xx': ErrorSchema },
      },
    },
    async (req) =>
      settleNameMismatch(ops, allow(req, ['facility', 'district', 'support', 'admin']), req.params.id, { kind: req.body.action, note: req.body.note }),
  );

  app.post(
    '/api/v1/cases/:id/phone-change/code',
    {
      schema: {
        tags: ['operations'],
        summary: 'Send a one-time code to the number a phone_change case asks for (the facility that recorded the dose enters it)',
        params: IdParam,
        response: { 200: Type.Object({ requestId: Type.String(), phoneHint: Type.String() }), '4xx': ErrorSchema },
      },
    },
    async (req) => sendPhoneChangeCode(ops, allow(req, ['facility', 'district', 'support', 'admin']), req.params.id),
  );

  app.post(
    '/api/v1/cases/:id/phone-change/verify',
    {
      schema: {
        tags: ['operations'],
        summary: 'Enter the code the new number received: the phone on record changes (audited; the old number is told by SMS)',
        params: IdParam,
        body: Type.Object({ code: Type.String({ maxLength: 20 }) }, { additionalProperties: false }),
        response: { 200: Loose, '4xx': ErrorSchema },
      },
    },
    async (req) => verifyPhoneChange(identity, allow(req, ['facility', 'district', 'support', 'admin']), req.params.id, req.body.code),
  );

  app.post(
    '/api/v1/cases/:id/phone-change/confirm',
    {
      schema: {
        tags: ['operations'],
        summary: 'Confirm a phone change on the work list (a facility that gave the person another dose, the district, support, admin)',
        description: 'The phone on record changes (audited; the old number is told by SMS, without name or link).',
        params: IdParam,
        response: { 200: Loose, '4xx': ErrorSchema },
      },
    },
    async (req) => confirmPhoneChange(ops, allow(req, ['facility', 'district', 'support', 'admin']), req.params.id),
  );

  app.post(
    '/api/v1/cases/:id/phone-change/reject',
    {
      schema: {
        tags: ['operations'],
        summary: 'Reject a phone change: the number on record stays',
        params: IdParam,
        body: Type.Object({ note: Type.String({ minLength: 3, maxLength: 500 }) }, { additionalProperties: false }),
        response: { 200: Loose, '4xx': ErrorSchema },
      },
    },
    async (req) => rejectPhoneChange(ops, allow(req, ['facility', 'district', 'support', 'admin']), req.params.id, req.body.note),
  );

  app.post(
    '/api/v1/cases/:id/link',
    {
      schema: {
        tags: ['operations'],
        summary: 'Settle a claims_prior_dose case by linking the record that holds the earlier dose (merged into this person)',
        params: IdParam,
        body: Type.Object({ personId: Type.String() }, { additionalProperties: false }),
        response: { 200: Loose, '4xx': ErrorSchema },
      },
    },
    async (req) => settleClaim(ops, allow(req, ['support', 'admin']), req.params.id, { kind: 'link', personId: req.body.personId }),
  );

  app.post(
    '/api/v1/people/:id/merge',
    {
      schema: {
        tags: ['operations'],
        summary: 'Merge another record of the same person into this one',
        description: 'Doses move and are renumbered by date; every certificate is re-issued (old ones superseded, so verifiers reject them); one SMS with the new link.',
        params: IdParam,
        body: Type.Object({ from: Type.String({ description: 'the record to merge into this one' }) }, { additionalProperties: false }),
        response: { 200: Loose, '4xx': ErrorSchema },
      },
    },
    async (req) => mergePeople(ops, allow(req, ['support', 'admin']), req.params.id, req.body.from),
  );

  app.post(
    '/api/v1/people/:id/phone',
    {
      schema: {
        tags: ['operations'],
        summary: "Correct a person's phone number; undelivered certificate SMS are sent again",
        params: IdParam,
        body: Type.Object({ phone: Type.String({ maxLength: 40 }) }, { additionalProperties: false }),
        response: { 200: Loose, '4xx': ErrorSchema },
      },
    },
    async (req) => correctPhone(ops, allow(req, ['facility', 'district', 'support', 'admin']), req.params.id, req.body.phone),
  );

  app.patch(
    '/api/v1/people/:id',
    {
      schema: {
        tags: ['operations'],
        summary: "Correct a person's record (the phone number); undelivered certificate SMS are sent again",
        params: IdParam,
        body: Type.Object({ phone: Type.String({ maxLength: 40 }) }, { additionalProperties: false }),
        response: { 200: Loose, '4xx': ErrorSchema },
      },
    },
    async (req) => correctPhone(ops, allow(req, ['facility', 'district', 'support', 'admin']), req.params.id, req.body.phone),
  );

  app.post(
    '/api/v1/vaccinations/:id/void',
    {
      schema: {
        tags: ['operations'],
        summary: 'Void a mistaken dose: its certificate is revoked',
        params: IdParam,
        body: Type.Object({ reason: Type.String({ minLength: 3, maxLength: 500 }) }, { additionalProperties: false }),
        response: { 200: Loose, '4xx': ErrorSchema },
      },
    },
    async (req) => voidVaccination(ops, allow(req, ['facility', 'support', 'admin']), req.params.id, req.body.reason),
  );

  app.get(
    '/api/v1/jobs/dead',
    { schema: { tags: ['operations'], summary: 'Dead outbox jobs (failed after their last attempt)', querystring: Type.Object({ kind: Type.Optional(Type.String()) }, { additionalProperties: false }) } },
    async (req) => {
      allow(req, ['support', 'admin']);
      return { jobs: await listDead(deps.db, req.query.kind ? { kind: req.query.kind } : {}) };
    },
  );

  app.post(
    '/api/v1/jobs/replay',
    {
      schema: {
        tags: ['operations'],
        summary: 'Replay dead outbox jobs (by ids and/or kind)',
        body: Type.Object({ ids: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { maxItems: 10_000 })), kind: Type.Optional(Type.String()) }, { additionalProperties: false }),
        response: { 200: Type.Object({ replayed: Type.Integer() }), '4xx': ErrorSchema },
      },
    },
    async (req) => {
      const who = allow(req, ['support', 'admin']);
      const filter = { ...(req.body.ids ? { ids: req.body.ids } : {}), ...(req.body.kind ? { kind: req.body.kind } : {}) };
      const replayed = await deps.db.withTransaction(async (tx) => {
        const n = await replayDead(tx, filter);
        await audit(tx, { actor: who.id, action: 'jobs_replayed', detail: { ...filter, replayed: n } });
        return n;
      });
      return { replayed };
    },
  );

  app.post(
    '/api/v1/cases/scan-duplicates',
    { schema: { tags: ['operations'], summary: 'Scan for possible duplicates (same name and birth date under different identifiers)', response: { 200: Type.Object({ opened: Type.Integer() }) } } },
    async (req) => {
      allow(req, ['admin']);
      return { opened: await scanPossibleDuplicates(deps.db) };
    },
  );
}
