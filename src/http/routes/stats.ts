/** The pipeline view and the audit log (operations). */
import { Type } from 'typebox';
import type { App, AppDeps } from '../deps.ts';
import { allow } from '../auth.ts';
import { pipelineSeries, pipelineStats, MAX_SERIES_POINTS } from '../../records/stats.ts';
import { ErrorSchema } from './schemas.ts';

const Int = Type.Integer();

export function statsRoutes(app: App, deps: AppDeps): void {
  app.get(
    '/api/v1/stats/pipeline',
    {
      schema: {
        tags: ['operations'],
        summary: 'Counts per stage (recorded, certified, SMS states), oldest waiting item and its age, throughput, per facility — within your scope',
        description:
          'Counts are events as they happened: `recorded` every dose entered (a dose voided later included), `certified` every dose that got a certificate, ' +
          '`sms_<state>` the certificate SMS that ended in that state (one that ended twice, e.g. held then cancelled, under both) plus those in it now. ' +
          '`lastMinute` / `lastHour`: events in that time, to the minute (per-minute counts of events more than a few seconds old, plus those since). ' +
          '`oldestWaitingAt` / `oldestWaitingSeconds` (what waits now: `sms_queued`, and SMS not final), to the minute: the start of the first minute in which something still waits ' +
          '(an SMS waits from its acceptance by the gateway, or from its creation before that); what waits is counted as it changes, so reading it costs the same whatever the backlog. ' +
          '`facilities`: the first 1000 by code that recorded a dose, with open `claims_prior_dose` cases. ' +
          'Read from a rollup the worker updates every few seconds plus the seconds since, so the cost grows neither with history nor with the rate doses arrive at.',
        response: { 200: Type.Object({ stages: Type.Array(Type.Object({}, { additionalProperties: true })), facilities: Type.Array(Type.Object({}, { additionalProperties: true })), generatedAt: Type.String() }) },
      },
    },
    async (req) => pipelineStats(deps.db, allow(req, ['facility', 'district', 'support', 'admin'])),
  );

  app.get(
    '/api/v1/stats/series',
    {
      schema: {
        tags: ['operations'],
        summary: 'Throughput and backlog per stage over time (recorded → certified → SMS queued → accepted → delivered / failed), per facility or region — within your scope',
        description:
          'Per bucket (UTC hours or days): `throughput` counts items entering each stage; `backlog` counts items waiting at the end of the bucket ' +
          '(doses without a certificate, SMS jobs queued, SMS accepted by the gateway without a final report). ' +
          'Events are counted as they happened, in the bucket of their time: a dose voided later still counts as recorded; an SMS sent again counts each time the gateway accepts it. ' +
          'Throughput comes from an hourly rollup, updated every few seconds, plus the seconds since. ' +
          'The SMS-queue and awaiting-report backlogs (an SMS `submitted` or `unknown`, not final) are a gauge: in the bucket holding now, what waits now, exact; ' +
          'in a past bucket, what waited when the worker last sampled it (every few seconds, into its UTC hour: seconds before the bucket ends while a worker runs; a day: its last sampled hour); ' +
          'a bucket with no sample (no worker ran) carries the value before it forward, and so do buckets after now. ' +
          'The cost grows with the window and the facilities in scope, not with history or the backlog. ' +
          `Defaults: the last 24 hours by hour, the last 30 days by day; at most ${MAX_SERIES_POINTS} buckets.`,
        querystring: Type.Object(
          {
            from: Type.Optional(Type.String({ description: 'ISO 8601 time' })),
            to: Type.Optional(Type.String({ description: 'ISO 8601 time (default now)' })),
            bucket: Type.Optional(Type.String({ description: 'hour (default) | day' })),
            facility: Type.Optional(Type.String({ maxLength: 64 })),
            region: Type.Optional(Type.String({ maxLength: 13, description: 'region code prefix of the recording facility: 12.71 or 1271' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            bucket: Type.String(),
            from: Type.String(),
            to: Type.String(),
            facility: Type.Union([Type.String(), Type.Null()]),
            region: Type.Union([Type.String(), Type.Null()]),
            points: Type.Array(
              Type.Object({
                start: Type.String(),
                throughput: Type.Object({ recorded: Int, certified: Int, queued: Int, accepted: Int, delivered: Int, failed: Int }),
                backlog: Type.Object({ certificate: Int, queue: Int, report: Int }),
              }),
            ),
          }),
          '4xx': ErrorSchema,
        },
      },
    },
    async (req) => pipelineSeries(deps.db, allow(req, ['facility', 'district', 'support', 'admin']), req.query, deps.now?.()),
  );

  app.get(
    '/api/v1/audit',
    {
      schema: {
        tags: ['operations'],
        summary: 'The append-only audit log: who did or read what (admin)',
        querystring: Type.Object(
          {
            actor: Type.Optional(Type.String({ maxLength: 64 })),
            subject: Type.Optional(Type.String({ maxLength: 200 })),
            person: Type.Optional(Type.String({ format: 'uuid' })),
            action: Type.Optional(Type.String({ maxLength: 64 })),
            before: Type.Optional(Type.Integer({ minimum: 1, description: 'cursor: `next` of the previous page' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ entries: Type.Array(Type.Object({}, { additionalProperties: true })), next: Type.Union([Type.Integer(), Type.Null()]) }), '4xx': ErrorSchema },
      },
    },
    async (req) => {
      allow(req, ['admin']);
      const q = req.query;
      const limit = q.limit ?? 100;
      const r = await deps.db.query<{ id: number; at: Date; actor: string; action: string; subject: string | null; person_id: string | null; detail: unknown }>(
        `SELECT id, at, actor, action, subject, person_id, detail FROM audit_log
          WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR subject = $2) AND ($3::uuid IS NULL OR person_id = $3)
            AND ($4::text IS NULL OR action = $4) AND ($5::int8 IS NULL OR id < $5)
          ORDER BY id DESC LIMIT $6`,
        [q.actor ?? null, q.subject ?? null, q.person ?? null, q.action ?? null, q.before ?? null, limit + 1],
      );
      const rows = r.rows.slice(0, limit);
      return {
        entries: rows.map((e) => ({ id: e.id, at: e.at.toISOString(), actor: e.actor, action: e.action, subject: e.subject, personId: e.person_id, detail: e.detail })),
        next: r.rows.length > limit ? (rows[rows.length - 1]?.id ?? null) : null,
      };
    },
  );
}
