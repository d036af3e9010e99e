/**
 * Wrong or lost phone: the citizen files a request from the portal (a code to
 * the new number proves it), support approves or declines it
 * (access/phone-corrections.ts).
 */
import { Type } from 'typebox';
import type { App, AppDeps } from '../deps.ts';
import { allow } from '../auth.ts';
import {
  approveCorrection,
  CORRECTIONS_PER_CLIENT_PER_10_MIN,
  CORRECTIONS_PER_NIK_PER_DAY,
  CORRECTIONS_PER_PHONE_PER_DAY,
  CORRECTION_STATUSES,
  DECLINE_REASONS,
  declineCorrection,
  getCorrection,
  listCorrections,
  startCorrection,
  verifyCorrection,
  type CorrectionDeps,
} from '../../access/phone-corrections.ts';
import { audit } from '../../access/audit.ts';
import { ErrorSchema, PublicIdentity } from './schemas.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const Correction = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    status: Type.Union([Type.Literal('open'), Type.Literal('approved'), Type.Literal('declined')]),
    submittedAt: Nullable(Type.String()),
    entered: Type.Object({
      nik: Nullable(Type.String({ description: 'the NIK entered; null when the person gave another identifier' })),
      identifier: Type.Object({
        type: Type.Union([Type.Literal('nik'), Type.Literal('passport'), Type.Literal('mother-nik')]),
        value: Type.String(),
        country: Type.Optional(Type.String({ description: 'a passport’s issuing country (ISO 3166 alpha-2)' })),
      }),
      birthDate: Type.String({ format: 'date' }),
      name: Type.String(),
      newPhone: Type.String({ description: 'E.164' }),
      note: Nullable(Type.String()),
    }),
    match: Type.Object({
      personId: Nullable(Type.String({ description: 'the person the identity + birth date matched (followed through a merge), or null' })),
      nameScore: Nullable(Type.Number({ description: '1 the same name, 0.9 the same in another spelling, else 0.8 × the share of matching words' })),
      currentPhoneHint: Nullable(Type.String({ description: 'the phone on record now, masked' })),
    }),
    review: Type.Object({
      approval: Type.Union([Type.Literal('single'), Type.Literal('two_reviewers')], {
        description: 'two_reviewers when the name score is below minScore: a first approval is recorded, a second reviewer applies it',
      }),
      minScore: Type.Number(),
      firstApprovedBy: Nullable(Type.String()),
      firstApprovedAt: Nullable(Type.String()),
    }),
    decidedBy: Nullable(Type.String()),
    decidedAt: Nullable(Type.String()),
    reason: Nullable(Type.Union([Type.Literal('identity_mismatch'), Type.Literal('duplicate_request'), Type.Literal('other')])),
    reasonText: Nullable(Type.String()),
  },
  { additionalProperties: false },
);

const IdParam = Type.Object({ id: Type.String({ maxLength: 64 }) });

export function phoneCorrectionRoutes(app: App, deps: AppDeps): void {
  const c: CorrectionDeps = {
    db: deps.db,
    checkCode: (id, code, purpose) => deps.notify.checkCode(id, code, purpose),
    // Read at each request: a test sets deps.sleep after the app is built (skipFloorWaits).
    get sleep() {
      return deps.sleep;
    },
    ops: { db: deps.db, issuer: deps.issuer, linkSecret: deps.linkSecret, ...(deps.now ? { now: deps.now } : {}) },
  };

  app.post(
    '/api/v1/public/phone-corrections',
    {
      schema: {
        tags: ['public'],
        summary: 'Wrong or lost phone: ask to change the number on record; a one-time code goes to the NEW number',
        description:
          'The answer names only the new number, masked, and is the same in content and timing whether or not NIK + birth date match anyone. ' +
          'Format errors are 400 naming the field. ' +
          `Rate-limited per NIK (${CORRECTIONS_PER_NIK_PER_DAY} a day), per new number (${CORRECTIONS_PER_PHONE_PER_DAY} a day) and per client address (${CORRECTIONS_PER_CLIENT_PER_10_MIN} per 10 minutes): 429.`,
        security: [],
        body: Type.Object(
          {
            ...PublicIdentity,
            birthDate: Type.String({ maxLength: 20 }),
            name: Type.String({ maxLength: 200 }),
            newPhone: Type.String({ maxLength: 40 }),
            note: Type.Optional(Type.String({ maxLength: 1000 })),
          },
          { additionalProperties: false },
        ),
        response: { 202: Type.Object({ requestId: Type.String(), phoneHint: Type.String({ examples: ['+62 812-****-7890'] }) }), '4xx': ErrorSchema },
      },
    },
    async (req, reply) => reply.status(202).send(await startCorrection(c, { ...req.body, client: req.ip })),
  );

  app.post(
    '/api/v1/public/phone-corrections/:requestId/verify',
    {
      schema: {
        tags: ['public'],
        summary: 'Enter the code sent to the new number: the request goes to the support work list',
        description: 'Wrong code: 400 with `detail.attemptsLeft`; expired or out of tries: 410 (start again); already submitted: 409.',
        security: [],
        params: Type.Object({ requestId: Type.String({ maxLength: 64 }) }),
        body: Type.Object({ code: Type.String({ maxLength: 12 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ status: Type.Literal('submitted') }), '4xx': ErrorSchema },
      },
    },
    async (req) => verifyCorrection(c, req.params.requestId, req.body.code),
  );

  app.get(
    '/api/v1/phone-corrections',
    {
      schema: {
        tags: ['operations'],
        summary: 'Support work list: phone change requests by status (open: oldest first; decided: newest first; at most 500; audited read)',
        querystring: Type.Object({ status: Type.Optional(Type.String({ description: CORRECTION_STATUSES.join(' | ') + ' (default open)' })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(Correction) }), '4xx': ErrorSchema },
      },
    },
    async (req) => {
      const who = allow(req, ['support', 'admin']);
      const list = await listCorrections(deps.db, req.query.status ?? 'open');
      // What people typed, NIK included, is shown in full to support: every read is audited.
      await audit(deps.db, { actor: who.id, action: 'phone_corrections_listed', detail: { status: req.query.status ?? 'open', ids: list.items.map((x) => x.id) } });
      return list;
    },
  );

  app.get(
    '/api/v1/phone-corrections/:id',
    {
      schema: { tags: ['operations'], summary: 'One phone change request (audited read)', params: IdParam, response: { 200: Correction, '4xx': ErrorSchema } },
    },
    async (req) => {
      const who = allow(req, ['support', 'admin']);
      const item = await getCorrection(deps.db, req.params.id);
      await audit(deps.db, { actor: who.id, action: 'phone_correction_viewed', subject: item.id, personId: item.match.personId });
      return item;
    },
  );

  app.post(
    '/api/v1/phone-corrections/:id/approve',
    {
      schema: {
        tags: ['operations'],
        summary: "Approve: the person's phone becomes the new number and the certificate SMS with its link goes there",
        description:
          'Through the phone correction operation (audited, phone history, undelivered SMS sent again; the number replaced is told by SMS, without name or link). ' +
          'A name scoring below review.minScore needs two reviewers: the first approval leaves the request open (review.firstApprovedBy), a second reviewer applies it; the same reviewer again is 409 second_reviewer_required. ' +
          '409 when already decided or when NIK + birth date matched no one.',
        params: IdParam,
        response: { 200: Correction, '4xx': ErrorSchema },
      },
    },
    async (req) => approveCorrection(c, allow(req, ['support', 'admin']), req.params.id),
  );

  app.post(
    '/api/v1/phone-corrections/:id/decline',
    {
      schema: {
        tags: ['operations'],
        summary: 'Decline with a reason; the new number gets an SMS that says so and what to do (it names no one)',
        description: `reason: ${DECLINE_REASONS.join(' | ')}; text is required with other. 409 when already decided.`,
        params: IdParam,
        body: Type.Object(
          { reason: Type.String({ maxLength: 40, description: DECLINE_REASONS.join(' | ') }), text: Type.Optional(Type.String({ maxLength: 1000 })) },
          { additionalProperties: false },
        ),
        response: { 200: Correction, '4xx': ErrorSchema },
      },
    },
    async (req) => declineCorrection(c, allow(req, ['support', 'admin']), req.params.id, req.body),
  );
}
