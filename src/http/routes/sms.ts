/** SMS: the gateway's delivery-report callback, the local sink, counts and a person's SMS history. */
import { Type } from 'typebox';
import type { App, AppDeps } from '../deps.ts';
import { allow } from '../auth.ts';
import { AppError } from '../../domain/errors.ts';
import { listSink, notificationsOf, smsStats } from '../../notify/queries.ts';
import { ErrorSchema } from './schemas.ts';
import type { RawTextConfig } from '../edge.ts';

const ReportQuery = Type.Object(
  {
    p: Type.String({ description: 'person id (ours)' }),
    n: Type.String({ description: 'notification id (ours)' }),
    a: Type.String({ description: 'attempt number (ours)' }),
    s: Type.String({ description: 'signature of p, n, a (ours)' }),
    r: Type.Optional(Type.String({ description: 'route (ours)' })),
    d: Type.String({ description: 'Kannel %d: report status bits (1 delivered, 2 failed, 4 buffered, 8 SMSC accepted, 16 SMSC rejected, 32 intermediate)' }),
    f: Type.Optional(Type.String({ description: "Kannel %F: the SMSC's message id" })),
    rc: Type.Optional(Type.String({ description: 'Kannel %A: receipt text' })),
    t: Type.Optional(Type.String({ description: 'Kannel %T: time' })),
    to: Type.Optional(Type.String({ description: 'Kannel %p: destination' })),
  },
  { additionalProperties: true },
);
const ReportAnswer = Type.Object({ notificationId: Type.String(), status: Type.String(), applied: Type.Boolean() });

const SinkQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ pattern: '^\\d{1,15}$', description: 'messages after this id (the `next` of the previous answer)' })),
    limit: Type.Optional(Type.String({ pattern: '^\\d{1,4}$', description: 'at most this many (1–1000, default 50)' })),
  },
  { additionalProperties: false },
);
const SinkAnswer = Type.Object({
  messages: Type.Array(Type.Object({ id: Type.Integer(), to: Type.String(), text: Type.String(), at: Type.String(), notificationId: Type.String() })),
  next: Type.Union([Type.Integer(), Type.Null()]),
});

const reportDescription =
  'Called by the SMS gateway (Kannel dlr-url) for every report of a message. Authenticated by the signature in the URL, not a token. ' +
  'Idempotent: reports may come twice and out of order; a notification never moves backwards (delivered stays delivered). ' +
  'Kannel calls it with GET; POST takes the same parameters in the query string.';

export function smsRoutes(app: App, deps: AppDeps): void {
  const report = async (q: Record<string, string | undefined>) => deps.notify.notifier.handleReport(q);
  for (const method of ['GET', 'POST'] as const) {
    app.route({
      method,
      url: '/api/v1/sms/reports',
      config: { rawText: true } satisfies RawTextConfig,
      schema: {
        tags: ['sms'],
        summary: 'Delivery-report callback of the SMS gateway',
        description: reportDescription,
        security: [],
        querystring: ReportQuery,
        response: { 200: ReportAnswer, '4xx': ErrorSchema },
      },
      handler: async (req) => report(req.query as Record<string, string | undefined>),
    });
  }

  app.get(
    '/api/v1/sms/sink',
    {
      schema: {
        tags: ['sms'],
        summary: 'Messages the local sink gateway "sent" (embedded default only)',
        querystring: SinkQuery,
        response: { 200: SinkAnswer, '4xx': ErrorSchema },
      },
    },
    async (req) => {
      allow(req, ['admin']);
      if (deps.config.smsGateway !== 'sink')
        throw new AppError('not_found', 'sink_not_in_use', {
          en: 'SMS go through a real gateway (SMS_GATEWAY is not "sink"): there is no sink to read.',
          id: 'SMS dikirim lewat gateway sungguhan (SMS_GATEWAY bukan "sink"): tidak ada sink untuk dibaca.',
        });
      const after = req.query.after === undefined ? undefined : Number(req.query.after);
      const rows = await listSink(deps.db, { ...(after !== undefined ? { after } : {}), limit: Number(req.query.limit ?? 50) });
      return {
        messages: rows.map((m) => ({ id: m.id, to: m.to, text: m.text, at: m.at.toISOString(), notificationId: m.notificationId })),
        next: rows.at(-1)?.id ?? after ?? null,
      };
    },
  );

  app.get(
    '/api/v1/sms/stats',
    {
      schema: {
        tags: ['sms'],
        summary: 'Notifications by status, attempts timed out without a final report, retries waiting, open work-list cases, the gateway routes',
        description:
          '`waitingForGateway`: SMS held back because their gateway is down (no attempt spent). `routes`: each SMS route\'s state ' +
          '(`closed` in use, `open` paused after gateway failures until a probe answers, `half_open` being probed), `since`, `secondsSinceSuccess`, ' +
          '`lastError`, `outages` (times paused) and `duplicates` (SMS delivered twice: a report for another attempt after one had delivered).',
        response: { 200: Type.Object({}, { additionalProperties: true }), '4xx': ErrorSchema },
      },
    },
    async (req) => {
      allow(req, ['admin', 'support']);
      return smsStats(deps.db);
    },
  );

  app.get(
    '/api/v1/sms/notifications',
    {
      schema: {
        tags: ['sms'],
        summary: "A person's SMS: every notification with each gateway answer and delivery report",
        querystring: Type.Object({ personId: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ notifications: Type.Array(Type.Object({}, { additionalProperties: true })) }), '4xx': ErrorSchema },
      },
    },
    async (req) => {
      allow(req, ['admin', 'support']);
      return { notifications: await notificationsOf(deps.db, req.query.personId) };
    },
  );
}
