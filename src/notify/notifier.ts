/**
 * Notifications: from an outbox job to a delivered SMS, every step recorded.
 *
 *   job `notify` → notification row saved (`pending`, attempt 1)
 *     → gateway.send → `submitted` (the answer stored: `0: Accepted` or `3: Queued`)
 *       | the gateway down → waits, same attempt (health.ts) | refused for the message → attempt failed
 *     → delivery reports (POST|GET /api/v1/sms/reports) → `delivered` | `failed` | `expired`
 *     → no final report in time (the periodic sweep) → `unknown` (counted), not resent (see `sweep`)
 *   a failed/expired attempt → permanent error: final at once; else retry with backoff (on the
 *   fallback route after N) → … the last attempt failed → the person goes on the `unreachable` work list.
 *   no usable phone → `held`, no send, the person on the `invalid_phone` work list.
 *
 * Safe against kills: the notification row is written before the send. A job
 * run again finds the row and sends nothing; if the kill fell between the send
 * and recording its answer, the delivery report (which carries our id) still
 * settles it, and if no report comes the sweep finds it `pending` past the
 * report timeout, marks the attempt unknown and retries. So a kill costs a
 * delay, not a duplicate. A database that goes away (a restart) is not a
 * kill: the process still knows what the gateway answered, and writes it
 * again until the database is back (`durably`), so the sweep's long wait is
 * left to what only a kill leaves.
 *
 * States never move backwards: `delivered` is final whatever arrives later; a
 * report for an earlier attempt can only deliver, never fail, the current one.
 */
import { randomUUID } from 'node:crypto';
import { type Db, type Queryable, isConnectionLost, withIndexProbes } from '../db/client.ts';
import { linkTokenFor } from '../access/links.ts';
import { findVaccine } from '../domain/vaccines.ts';
import { AppError } from '../domain/errors.ts';
import { isPlaceholderPhone } from '../domain/phone.ts';
import { getLotRecall } from '../certificates/revocation.ts';
import { type HandlerContext, type Handlers, type Job, type Outcome, type PeriodicKind, backoffMs, eachJob, enqueue, errorText } from './outbox.ts';
import {
  type DeliveryReport,
  type FailureClass,
  type OutgoingSms,
  type ReportOutcome,
  type RouteName,
  type Routes,
  type SendResult,
  type SmsGateway,
  checkReportSignature,
  classifyFailure,
  parseKannelReport,
  routeFor,
} from './gateways.ts';
import type { RouteHealth } from './health.ts';
import { type Lang, type RenderedSms, certificateSms, codeSms, correctionDeclinedSms, type CorrectionDeclineReason, doseRequestDeclinedSms, langFor, phoneReplacedSms, recallSms, reminderSms } from './templates.ts';
import { isDeclineReason } from '../domain/dose-requests.ts';
import { type OtpRequestRow, codeFor, codeNotificationPerson, maskCode, otpRequest } from './codes.ts';

export type NotificationStatus = 'pending' | 'submitted' | 'delivered' | 'failed' | 'expired' | 'unknown' | 'held' | 'cancelled';

export interface NotifierConfig {
  publicUrl: string;
  language: Lang;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  reportTimeoutMs: number;
  /**
   * A `pending` attempt is taken for never answered only after this long too: its worker may still be
   * sending it until its job's lease ends (lease + send timeout), and a resend then would be a duplicate.
   */
  inFlightGraceMs?: number;
  /** A taken attempt still `unknown` this long after its timeout: one resend if the SMSC never acknowledged it, else final. */
  unknownResendAfterMs: number;
  /** How long a gateway's answer is written again while the database is unreachable (default 10 min; `durably`). */
  answerRetryMs?: number;
  /** Receipt `err:` codes after which no retry can succeed (classifyFailure). */
  permanentReceiptErrors: ReadonlySet<string>;
  /** Jobs of one batch sent at once. */
  sendConcurrency: number;
  /** Sends per second from this process at most (0: no cap). */
  maxPerSecond?: number;
  /** People on one number beyond this many: their certificate SMS is held as suspicious (default 6). */
  phoneShareLimit?: number;
}

export interface NotifierDeps {
  db: Db;
  routes: Routes;
  /** The routes' circuit breakers (health.ts): gateway failures pause a route, never spend an attempt. */
  health: RouteHealth;
  linkSecret: Buffer;
  reportSecret: Buffer;
  /** The secret one-time codes derive from (codes.ts). */
  otpSecret?: Buffer;
  config: NotifierConfig;
  /** Counters (sends, reports, timeouts) for /metrics in this process. */
  count?: (name: string, labels: Record<string, string>) => void;
}

/** What the report endpoint answers. */
export interface ReportResult {
  notificationId: string;
  status: NotificationStatus;
  /** False when the report changed nothing (a duplicate, or stale). */
  applied: boolean;
}

interface NotificationRow extends Record<string, unknown> {
  person_id: string;
  id: string;
  kind: NotificationKind;
  status: NotificationStatus;
  attempt: number;
  recipient: string | null;
  body: string | null;
  encoding: 'gsm7' | 'ucs2' | null;
  route: RouteName | null;
  final_at: Date | null;
  report_bits: number;
  next_attempt_at: Date | null;
}

export type NotificationKind = 'certificate' | 'reminder' | 'recall' | 'code' | 'correction' | 'dose_request' | 'phone_replaced';

/** A notification to create and send. */
interface NewSms {
  personId: string;
  sourceKey: string;
  certificateId: string | null;
  kind: NotificationKind;
  recipient: string;
  sms: RenderedSms;
  /** The text to keep in `notifications.body` when it must differ from what is sent (a one-time code, masked). */
  storedBody?: string;
}

/** Why a number looks like a placeholder rather than the person's own (see suspicion()). */
export type SuspicionReason = 'placeholder' | 'facility_phone' | 'shared';

/**
 * SUPERSEDE for a statement that created many notifications (CTE `n` with
 * person_id, source_key, certificate_id). The older SMS are found per new one
 * by an ARRAY subquery, which PostgreSQL plans on its own — a probe of the
 * primary key by person (a person has a handful of SMS) — and then updated by
 * primary key; none, almost always, and then the update reads nothing. As a
 * join of `notifications` with `n` it was planned, without statistics (the
 * record day's drain ran without any), as a hash join over a sequential scan
 * of every notification, in every batch: most of the 249 ms that a batch's
 * insert of 100 SMS took at 2 M doses (bench/triggers.ts).
 */
const SUPERSEDE_MANY = `
       older AS (
         SELECT n.person_id, unnest(ARRAY(
                  SELECT o.id FROM notifications o
                   WHERE o.person_id = n.person_id AND o.certificate_id = n.certificate_id AND o.source_key <> n.source_key
                     AND o.status <> 'delivered' AND (o.final_at IS NULL OR o.status = 'held'))) AS id
           FROM n),
       sup AS (
         UPDATE notifications o SET status = 'cancelled', hold_reason = 'superseded', final_at = now(), next_attempt_at = NULL, updated_at = now()
           FROM older
          WHERE o.person_id = older.person_id AND o.id = older.id
            AND o.status <> 'delivered' AND (o.final_at IS NULL OR o.status = 'held')
          RETURNING o.person_id, o.id, o.attempt),
       supe AS (
         INSERT INTO notification_events (person_id, notification_id, attempt, type, status, raw)
         SELECT person_id, id, attempt, 'cancelled', 'cancelled', 'superseded by a new SMS for the same certificate' FROM sup)`;

/**
 * The worker's batch statements (exported for the test of their plans,
 * test/notify/batch-plans.test.ts; the two below also for bench/triggers.ts),
 * each run under withIndexProbes: a batch of up to a few hundred rows given
 * as arrays, joined to tables of millions.
 *
 * NOTIFY_BATCH_ROWS — who, which certificate, and whether a run before this
 * one got as far as the row, for a batch of notify jobs. share_rank: this
 * person's place among the live people on the number, oldest first, counted
 * no further than the limit + 1 (a placeholder may be on thousands of people).
 */
export const NOTIFY_BATCH_ROWS = `SELECT j.ord, c.status AS cert_status, c.dn, c.sd, p.name, p.phone, p.phone_status, n.id AS existing,
              v.facility_code, fp.code AS phone_of_facility, coalesce(sh.rank, 0) AS share_rank
         FROM unnest($1::uuid[], $2::uuid[], $3::text[]) WITH ORDINALITY AS j(person_id, certificate_id, source_key, ord)
         LEFT JOIN certificates c ON c.person_id = j.person_id AND c.id = j.certificate_id
         LEFT JOIN vaccinations v ON v.person_id = c.person_id AND v.id = c.vaccination_id
         LEFT JOIN people p ON p.id = j.person_id
         LEFT JOIN notifications n ON n.person_id = j.person_id AND n.source_key = j.source_key
         LEFT JOIN LATERAL (SELECT f.code FROM facilities f WHERE f.phone = p.phone ORDER BY f.code LIMIT 1) fp ON p.phone IS NOT NULL
         LEFT JOIN LATERAL (
           SELECT count(*)::int AS rank FROM (
             SELECT 1 FROM people q
              WHERE q.phone = p.phone AND q.merged_into IS NULL AND (q.created_at, q.id) <= (p.created_at, p.id)
              LIMIT $4) x) sh ON p.phone IS NOT NULL
        ORDER BY j.ord`;

/**
 * The notifications of a batch saved with attempt 1 in flight, each with its
 * `created` event, older open SMS for the same certificates superseded
 * (createAndSendMany; exported for bench/triggers.ts). Returns the ids of the
 * rows created by this run or a first run of it with the same ids.
 */
export const CREATE_SENDING_SQL = `WITH input AS (
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[])
            AS i(person_id, id, source_key, certificate_id, kind, recipient, template, body, encoding, parts)),
   n AS (
     INSERT INTO notifications (person_id, id, source_key, certificate_id, kind, recipient, template, body, encoding, parts, status, attempt, route)
     SELECT person_id, id, source_key, certificate_id, kind, recipient, template, body, encoding, parts, 'pending', 1, $11 FROM input
     ON CONFLICT (person_id, source_key) DO NOTHING
     RETURNING person_id, id, source_key, certificate_id, body),
   e AS (
     INSERT INTO notification_events (person_id, notification_id, attempt, type, route, status, raw)
     SELECT person_id, id, 1, 'created', $11, 'pending', body FROM n),
   ${SUPERSEDE_MANY}
   SELECT id FROM n
   UNION ALL
   SELECT x.id FROM input JOIN notifications x ON x.person_id = input.person_id AND x.id = input.id`;

/** The sends the gateway delivered on the spot, settled in one statement (deliveredAtOnce; exported for bench/triggers.ts). */
export const DELIVERED_AT_ONCE_SQL = `WITH a AS (
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::text[]) AS a(person_id, id, attempt, route, ref, raw)),
   u AS (
     UPDATE notifications x
        SET status = 'delivered', submitted_at = now(), final_at = now(), updated_at = now(), gateway_ref = a.ref, route = a.route,
            report_bits = x.report_bits | 1, delivered_attempt = a.attempt, next_attempt_at = NULL, last_error = NULL
       FROM a WHERE x.person_id = a.person_id AND x.id = a.id AND x.attempt = a.attempt AND x.status = 'pending'
         -- "final_at IS NULL" in a form the planner cannot match to the partial index notifications_in_flight: with
         -- it, the rows were read from that index (estimated a few) instead of by primary key, a bitmap scan of every
         -- entry of the SMS in flight since the last vacuum — dead ones too, 100 more each batch: most of the 132 ms
         -- this statement took on the record day (bench/triggers.ts).
         AND x.next_attempt_at IS NULL AND coalesce(x.final_at, 'infinity') = 'infinity'
     RETURNING x.person_id, x.id, x.attempt),
   c AS (
     -- As applyOutcome: a person on the unreachable list because of this message is reachable after all.
     UPDATE cases k SET status = 'resolved', resolved_at = now(), notes = coalesce(notes || E'\\n', '') || 'delivered after all'
       FROM u WHERE k.person_id = u.person_id AND k.kind = 'unreachable' AND k.subject_id = u.id AND k.status = 'open'),
   e AS (
     -- The report a moment after the answer (clock_timestamp), so the timeline shows them in that order.
     INSERT INTO notification_events (person_id, notification_id, attempt, type, route, status, applied, report_bits, gateway_ref, raw, at)
     SELECT a.person_id, a.id, a.attempt, t.type, a.route, t.status, true, t.bits, a.ref, coalesce(t.raw, a.raw), t.at
       FROM a JOIN u ON u.person_id = a.person_id AND u.id = a.id
      CROSS JOIN LATERAL (VALUES ('submitted', 'submitted', NULL::int, NULL::text, now()),
                                 ('report', 'delivered', 1, 'sink: delivered at once', clock_timestamp())) t(type, status, bits, raw, at))
   SELECT id FROM u
   UNION ALL
   SELECT a.id FROM a JOIN notifications x ON x.person_id = a.person_id AND x.id = a.id
    WHERE x.status = 'delivered' AND x.delivered_attempt = a.attempt AND x.gateway_ref = a.ref`;

const NOTIFICATION_COLUMNS = 'person_id, id, kind, status, attempt, recipient, body, encoding, route, final_at, report_bits, next_attempt_at';


/**
 * CTEs for a statement whose CTE `n` created a notification ($1 person, $3
 * source key, $4 certificate): a new SMS for a certificate (after a phone
 * correction, say) closes the older ones still open for it — held, or in
 * flight to the old number — so they neither linger nor retry. A report that
 * the old one was delivered after all still moves it to delivered.
 */
const SUPERSEDE = `
       sup AS (
         UPDATE notifications o SET status = 'cancelled', hold_reason = 'superseded', final_at = now(), next_attempt_at = NULL, updated_at = now()
          WHERE EXISTS (SELECT 1 FROM n) AND o.person_id = $1 AND o.certificate_id = $4 AND o.source_key <> $3
            AND o.status <> 'delivered' AND (o.final_at IS NULL OR o.status = 'held')
          RETURNING o.person_id, o.id, o.attempt),
       supe AS (
         INSERT INTO notification_events (person_id, notification_id, attempt, type, status, raw)
         SELECT person_id, id, attempt, 'cancelled', 'cancelled', 'superseded by a new SMS for the same certificate' FROM sup)`;

/**
 * The sweep's main statement ($1 report timeout in seconds, $2 rows at most):
 * SMS the gateway took that have no final report past the timeout become
 * `unknown`, with a `timeout` event saying whether the SMSC acknowledged them.
 * Served by the partial index `notifications_in_flight` (migration 031)
 * whatever the number of ended SMS (plan test in test/notify/sweep.test.ts).
 */
export const SWEEP_TIMED_OUT = `WITH due AS (
           SELECT person_id, id FROM notifications
            WHERE status = 'submitted' AND final_at IS NULL AND updated_at < now() - make_interval(secs => $1::float8)
            ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED),
         u AS (
           UPDATE notifications n SET status = 'unknown', last_error = 'no final delivery report in time', updated_at = now()
             FROM due WHERE n.person_id = due.person_id AND n.id = due.id
           RETURNING n.person_id, n.id, n.attempt, n.route, n.report_bits)
         INSERT INTO notification_events (person_id, notification_id, attempt, type, route, status, report_bits, raw)
         SELECT person_id, id, attempt, 'timeout', route, 'unknown', report_bits,
                'no final report within ' || $1 || ' s; ' ||
                CASE WHEN report_bits & 8 <> 0 THEN 'acknowledged by the SMSC: waiting for a late report, not resent'
                     ELSE 'taken by the gateway, not yet acknowledged by the SMSC: not resent now' END
           FROM u RETURNING route`;

export class Notifier {
  private readonly d: NotifierDeps;
  /** The earliest time the next send may start (the rate cap). */
  private nextSendAt = 0;

  constructor(deps: NotifierDeps) {
    this.d = deps;
  }

  /**
   * Waits for this send's slot under SMS_MAX_PER_SECOND. Links have a TPS
   * limit, and even Kannel delivers fewer reports per second when flooded than
   * when fed at a steady rate (bench/notify.ts).
   */
  private async pace(urgent = false): Promise<void> {
    const rate = this.d.config.maxPerSecond ?? 0;
    if (rate <= 0) return;
    const now = performance.now();
    // An urgent send (a one-time code) goes now and the slots handed out next start one later:
    // the rate holds on average, and a code never waits behind a certificate backlog's queue of slots.
    const at = urgent ? now : Math.max(now, this.nextSendAt);
    this.nextSendAt = Math.max(now, this.nextSendAt) + 1000 / rate;
    if (at > now) await new Promise((r) => setTimeout(r, at - now));
  }

  private count(name: string, labels: Record<string, string> = {}): void {
    this.d.count?.(name, labels);
  }

  /** The outbox handlers of every job kind that sends SMS (the periodic jobs are service.ts's). */
  handlers(): Omit<Handlers, PeriodicKind | 'satusehat_sync'> {
    const c = this.d.config.sendConcurrency;
    return {
      notify: (jobs, ctx) => this.notifyBatch(jobs, ctx),
      sms_send: eachJob(c, (job) => this.retryAttempt(job)),
      // Old per-SMS timeout jobs (before migration 026): the sweep covers their notifications.
      sms_timeout: async (jobs) => jobs.map(() => ({ kind: 'done' })),
      reminder: eachJob(c, (job) => this.reminder(job)),
      recall_notice: eachJob(c, (job) => this.recallNotice(job)),
      code_sms: eachJob(c, (job) => this.codeSms(job)),
      correction_notice: eachJob(c, (job) => this.correctionNotice(job)),
      phone_replaced_notice: eachJob(c, (job) => this.phoneReplacedNotice(job)),
      dose_request_notice: eachJob(c, (job) => this.doseRequestNotice(job)),
    };
  }

  // ---- notify: the certificate SMS ---------------------------------------------------------

  private async notifyBatch(jobs: Job<'notify'>[], ctx: HandlerContext): Promise<Outcome[]> {
    const keys = jobs.map((j) => j.dedupeKey ?? `job:${j.id}`);
    // One query for the whole batch: who, which certificate, and whether a run before this one got as far as the row.
    const r = await withIndexProbes(this.d.db, (tx) => tx.query<{
      ord: number;
      cert_status: string | null;
      dn: number | null;
      sd: number | null;
      name: string | null;
      phone: string | null;
      phone_status: string | null;
      existing: string | null;
      facility_code: string | null;
      phone_of_facility: string | null;
      share_rank: number;
    }>(
      NOTIFY_BATCH_ROWS,
      [jobs.map((j) => j.payload.personId), jobs.map((j) => j.payload.certificateId), keys, this.shareLimit() + 1],
    ));
    const out: Outcome[] = jobs.map(() => ({ kind: 'done' }));
    const toSend: { i: number; item: NewSms }[] = [];
    for (const [i, job] of jobs.entries()) {
      const row = r.rows[i];
      const key = keys[i] as string;
      if (ctx.stopping()) {
        out[i] = { kind: 'release' };
        continue;
      }
      if (!row || row.cert_status === null || row.name === null) {
        out[i] = { kind: 'dead', error: `certificate ${job.payload.certificateId} of person ${job.payload.personId} not found` };
        continue;
      }
      if (row.existing) continue; // a run before this one saved it: the sweep settles any doubt
      const base = { personId: job.payload.personId, sourceKey: key, certificateId: job.payload.certificateId, kind: 'certificate' as const };
      try {
        if (row.cert_status !== 'valid') {
          await this.createClosed({ ...base, status: 'cancelled', reason: `certificate_${row.cert_status}`, template: 'certificate_issued' });
          continue;
        }
        if (row.phone === null || row.phone_status !== 'ok') {
          await this.createClosed({ ...base, status: 'held', reason: row.phone_status ?? 'missing', template: 'certificate_issued' });
          continue;
        }
        const why = suspicion({ phone: row.phone, phoneOfFacility: row.phone_of_facility, shareRank: Number(row.share_rank) }, this.shareLimit());
        if (why.length > 0) {
          await this.holdSuspicious({ ...base, phone: row.phone, reasons: why, facilityCode: row.facility_code, phoneOfFacility: row.phone_of_facility });
          continue;
        }
      } catch (e) {
        out[i] = { kind: 'retry', error: errorText(e) };
        continue;
      }
      const link = `${this.d.config.publicUrl}/c/${linkTokenFor(this.d.linkSecret, job.payload.certificateId)}`;
      const sms = certificateSms({ lang: langFor(row.phone, this.d.config.language), name: row.name, dn: row.dn ?? 1, sd: row.sd ?? 1, link });
      toSend.push({ i, item: { ...base, recipient: row.phone, sms } });
    }
    if (toSend.length === 0) return out;
    try {
      await this.createAndSendMany(toSend.map((x) => x.item));
    } catch (e) {
      // Rows not created are created by the retry; rows created and not sent are found by the sweep.
      for (const x of toSend) out[x.i] = { kind: 'retry', error: errorText(e) };
    }
    return out;
  }

  /**
   * A notification that is not sent (held, or cancelled). A held one puts the
   * person on a work list: `invalid_phone` (no usable phone), or the case kind
   * given (`suspicious_phone`), at most one open case of a kind per person.
   */
  private async createClosed(o: {
    personId: string;
    sourceKey: string;
    certificateId: string | null;
    kind: NotificationKind;
    status: 'held' | 'cancelled';
    reason: string;
    template: string;
    /** Held with a number that is kept (suspicious): stored as the recipient, for the work list. */
    recipient?: string;
    caseKind?: 'invalid_phone' | 'suspicious_phone';
    caseFacility?: string | null;
    caseDetail?: Record<string, unknown>;
  }): Promise<void> {
    const caseKind = o.status === 'held' ? (o.caseKind ?? 'invalid_phone') : null;
    await this.d.db.query(
      `WITH n AS (
         INSERT INTO notifications (person_id, id, source_key, certificate_id, kind, template, status, hold_reason, final_at, recipient)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), $12)
         ON CONFLICT (person_id, source_key) DO NOTHING RETURNING id),
       e AS (
         INSERT INTO notification_events (person_id, notification_id, attempt, type, status, raw)
         SELECT $1, id, 0, $7, $7, $8 FROM n),
       c AS (
         INSERT INTO cases (person_id, id, kind, facility_code, region_code, subject_id, detail)
         SELECT $1, gen_random_uuid(), $9, $10, (SELECT region_code FROM people WHERE id = $1), n.id,
                json_build_object('reason', $8::text, 'notificationId', n.id)::jsonb || $11::jsonb FROM n
          WHERE $9::text IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM cases WHERE person_id = $1 AND kind = $9 AND status = 'open')),
       ${SUPERSEDE}
       SELECT 1`,
      [
        o.personId,
        randomUUID(),
        o.sourceKey,
        o.certificateId,
        o.kind,
        o.template,
        o.status,
        o.reason,
        caseKind,
        o.caseFacility ?? null,
        JSON.stringify(o.caseDetail ?? {}),
        o.recipient ?? null,
      ],
    );
    this.count('dosis_sms_notifications_total', { outcome: o.status });
  }

  private shareLimit(): number {
    return this.d.config.phoneShareLimit ?? 6;
  }

  /**
   * Holds a certificate SMS whose number looks like a placeholder and opens a
   * `suspicious_phone` case for the facility that recorded the dose, with the
   * count and the people on the number (the first 50, oldest first).
   */
  private async holdSuspicious(o: {
    personId: string;
    sourceKey: string;
    certificateId: string | null;
    kind: NotificationKind;
    phone: string;
    reasons: SuspicionReason[];
    facilityCode: string | null;
    phoneOfFacility: string | null;
  }): Promise<void> {
    const cap = 1000;
    const on = await this.d.db.query<{ id: string }>(
      'SELECT id FROM people WHERE phone = $1 AND merged_into IS NULL ORDER BY created_at, id LIMIT $2',
      [o.phone, cap + 1],
    );
    const count = on.rows.length;
    await this.createClosed({
      personId: o.personId,
      sourceKey: o.sourceKey,
      certificateId: o.certificateId,
      kind: o.kind,
      status: 'held',
      reason: 'suspicious',
      template: 'certificate_issued',
      recipient: o.phone,
      caseKind: 'suspicious_phone',
      caseFacility: o.facilityCode,
      caseDetail: {
        phone: o.phone,
        reasons: o.reasons,
        count: Math.min(count, cap),
        countIsAtLeast: count > cap,
        limit: this.shareLimit(),
        people: on.rows.slice(0, 50).map((r) => r.id),
        ...(o.phoneOfFacility ? { facilityWithThisPhone: o.phoneOfFacility } : {}),
      },
    });
    this.count('dosis_sms_suspicious_total', { reason: o.reasons.join('+') });
  }

  /** One notification: see createAndSendMany. */
  private async createAndSend(item: NewSms): Promise<void> {
    await this.createAndSendMany([item]);
  }

  /**
   * Saves the notifications with attempt 1 in flight in one statement (the
   * periodic sweep finds any whose report never comes); then sends those it
   * created (rows that existed belong to a run before this one: nothing is
   * sent again), and records the gateway's answers in one statement.
   */
  private async createAndSendMany(items: NewSms[]): Promise<void> {
    const gw = routeFor(this.d.routes, 1);
    const ids = items.map(() => randomUUID());
    // Retried while the database is unreachable, with the same ids: a first try that committed but whose answer was
    // lost (a restart) is then found by its ids, and its rows are sent by this run rather than left to the sweep.
    const r = await this.durably('saving the notifications', () => withIndexProbes(this.d.db, (tx) => tx.query<{ id: string }>(
      CREATE_SENDING_SQL,
      [
        items.map((x) => x.personId),
        ids,
        items.map((x) => x.sourceKey),
        items.map((x) => x.certificateId),
        items.map((x) => x.kind),
        items.map((x) => x.recipient),
        items.map((x) => x.sms.template),
        items.map((x) => x.storedBody ?? x.sms.text),
        items.map((x) => x.sms.encoding),
        items.map((x) => x.sms.parts),
        gw.route,
      ],
    )));
    const created = new Set(r.rows.map((x) => x.id));
    const out: OutgoingSms[] = [];
    items.forEach((x, i) => {
      const id = ids[i] as string;
      if (created.has(id)) out.push({ personId: x.personId, notificationId: id, attempt: 1, to: x.recipient, text: x.sms.text, encoding: x.sms.encoding, urgent: x.kind === 'code' });
    });
    await this.sendMany(out.map((m) => ({ m })));
  }

  /**
   * Sends attempts (`sendConcurrency` at a time), then records every answer:
   * accepted ones in one statement. Each goes to the route its attempt's
   * policy gives unless that route is paused (health.ts): then to the other
   * route when it is healthy, else it waits for the gateway, its attempt not
   * spent. `gw`: the route already chosen (a retry that claimed its attempt
   * for it).
   */
  private async sendMany(items: { m: OutgoingSms; gw?: SmsGateway }[]): Promise<void> {
    const answers: { m: OutgoingSms; route: RouteName; res: SendResult }[] = [];
    // A gateway that takes a batch at once (the sink: one statement) gets its messages together, unless sends are
    // paced (SMS_MAX_PER_SECOND: each at its slot); the others (Kannel: an HTTP request each) one at a time in lanes.
    // A message for another route is picked in its lane, as it comes (a route paused meanwhile sends it to the other).
    const one: { m: OutgoingSms; gw?: SmsGateway | undefined }[] = [];
    const together = new Map<SmsGateway, OutgoingSms[]>();
    const paced = (this.d.config.maxPerSecond ?? 0) > 0;
    for (const { m, gw: chosen } of items) {
      if (paced || !(chosen ?? routeFor(this.d.routes, m.attempt)).sendMany) {
        one.push({ m, gw: chosen });
        continue;
      }
      const gw = chosen ?? (await this.d.health.pick(m.attempt));
      if (gw?.sendMany) together.set(gw, [...(together.get(gw) ?? []), m]);
      else one.push({ m, gw: gw ?? undefined });
    }
    const answered = (gw: SmsGateway, m: OutgoingSms, res: SendResult) => {
      const breaker = this.d.health.breaker(gw.route);
      if (res.ok) breaker?.success();
      else if (res.gatewayDown) breaker?.failure(res.raw);
      this.count('dosis_sms_sends_total', { route: gw.route, outcome: res.ok ? (res.queued ? 'queued' : 'accepted') : res.gatewayDown ? 'gateway_down' : 'failed' });
      answers.push({ m, route: gw.route, res });
    };
    for (const [gw, ms] of together) {
      // Paused since it was picked: wait for the gateway rather than call it.
      const breaker = this.d.health.breaker(gw.route);
      if (breaker && !(await breaker.ready())) {
        for (const m of ms) answers.push({ m, route: gw.route, res: paused(gw.route) });
        continue;
      }
      let res: SendResult[];
      try {
        res = await gw.sendMany!(ms);
      } catch (e) {
        res = ms.map(() => ({ ok: false, raw: `${gw.route}: ${errorText(e)}`, error: errorText(e), gatewayDown: true }));
      }
      ms.forEach((m, i) => answered(gw, m, res[i] as SendResult));
    }
    let next = 0;
    const lane = async () => {
      for (let i = next++; i < one.length; i = next++) {
        const { m, gw: chosen } = one[i] as { m: OutgoingSms; gw?: SmsGateway };
        const gw = chosen ?? (await this.d.health.pick(m.attempt));
        if (!gw) {
          const route = routeFor(this.d.routes, m.attempt).route;
          answers.push({ m, route, res: paused(route) });
          continue;
        }
        const breaker = this.d.health.breaker(gw.route);
        let res: SendResult;
        await this.pace(m.urgent);
        // A place in the route's window of sends in flight (health.ts): a few requests at a time, a code first.
        const release = breaker ? await breaker.window.acquire(m.urgent) : () => {};
        try {
          // The route paused while this send waited for its place: wait for the gateway rather than call it.
          if (breaker && !(await breaker.ready())) {
            release();
            answers.push({ m, route: gw.route, res: paused(gw.route) });
            continue;
          }
          res = await gw.send(m);
        } catch (e) {
          res = { ok: false, raw: `${gw.route}: ${errorText(e)}`, error: errorText(e), gatewayDown: true };
        } finally {
          release();
        }
        answered(gw, m, res);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.d.config.sendConcurrency, one.length)) }, lane));
    type Accepted = { m: OutgoingSms; route: RouteName; res: Extract<SendResult, { ok: true }> };
    let accepted = answers.filter((a): a is Accepted => a.res.ok);
    // What the gateway answered is known only to this process: recorded while the database is unreachable (a restart),
    // or a message not taken would wait for the sweep's report timeout, and one taken could be resent.
    const failures: unknown[] = [];
    const record = (what: string, fn: () => Promise<unknown>) => this.durably(what, fn).catch((e: unknown) => void failures.push(e));
    // Delivered at once (the sink): taken and delivered in one statement for the batch; what it does not settle
    // (a row no longer waiting for this send: rare) goes the general way below, answer and report apart.
    const atOnce = accepted.filter((a) => a.res.delivered);
    if (atOnce.length) {
      const settled = new Set<string>();
      await record('recording deliveries', async () => {
        for (const id of await this.deliveredAtOnce(atOnce)) settled.add(id);
      });
      accepted = accepted.filter((a) => !settled.has(a.m.notificationId));
    }
    if (accepted.length) {
      await record('recording the gateway\'s answers', () => this.d.db.query(
        `WITH a AS (
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::text[]) AS a(person_id, id, attempt, route, ref, raw)),
         u AS (
           UPDATE notifications x SET status = 'submitted', submitted_at = now(), updated_at = now(), gateway_ref = coalesce(x.gateway_ref, a.ref), route = a.route
             FROM a WHERE x.person_id = a.person_id AND x.id = a.id AND x.attempt = a.attempt AND x.status = 'pending'
               -- not when its report came first and the attempt already waits to go again (rejectedByGateway)
               AND x.next_attempt_at IS NULL
           RETURNING x.id)
         INSERT INTO notification_events (person_id, notification_id, attempt, type, route, status, applied, gateway_ref, raw)
         SELECT a.person_id, a.id, a.attempt, 'submitted', a.route, CASE WHEN u.id IS NULL THEN cur.status ELSE 'submitted' END, u.id IS NOT NULL, a.ref, a.raw
           FROM a JOIN notifications cur ON cur.person_id = a.person_id AND cur.id = a.id LEFT JOIN u ON u.id = a.id`,
        [
          accepted.map((a) => a.m.personId),
          accepted.map((a) => a.m.notificationId),
          accepted.map((a) => a.m.attempt),
          accepted.map((a) => a.route),
          accepted.map((a) => a.res.ref),
          accepted.map((a) => a.res.raw),
        ],
      ));
    }
    const waiting = answers.filter((a): a is { m: OutgoingSms; route: RouteName; res: Extract<SendResult, { ok: false }> } => !a.res.ok && a.res.gatewayDown);
    if (waiting.length) await record('recording the wait for the gateway', () => this.waitForGateway(waiting));
    for (const { m, route, res } of [...accepted, ...answers.filter((a) => !a.res.ok)]) {
      if (res.ok) {
        if (res.delivered) await record('recording a delivery', () => this.applyOutcome(m.personId, m.notificationId, m.attempt, { bits: 1, outcome: 'delivered', smscId: res.ref, receipt: null, error: null }, 'sink: delivered at once'));
      } else if (!res.gatewayDown) {
        await record('recording a refused send', () => this.attemptFailedToSend(m, route, res));
      }
    }
    if (failures.length) throw failures[0];
  }

  /**
   * Sends the gateway delivered on the spot (the sink), recorded in one
   * statement for the batch: each notification still waiting for this send
   * (`pending`, this attempt, no wait scheduled) goes from `pending` to
   * `delivered` in one update — one row version and one change of what waits,
   * where the answer and the report took two — with the two events that
   * explain it, `submitted` (the gateway's answer) and `report` (delivered),
   * as the answer and `applyOutcome` wrote them. Returns the notifications
   * settled, those settled by a first run of this statement included (their
   * reference is the sink message's, unique): run again after a lost answer it
   * writes nothing twice. The rest go through the general path.
   */
  private async deliveredAtOnce(sent: { m: OutgoingSms; route: RouteName; res: Extract<SendResult, { ok: true }> }[]): Promise<string[]> {
    const r = await withIndexProbes(this.d.db, (tx) => tx.query<{ id: string }>(
      DELIVERED_AT_ONCE_SQL,
      [
        sent.map((a) => a.m.personId),
        sent.map((a) => a.m.notificationId),
        sent.map((a) => a.m.attempt),
        sent.map((a) => a.route),
        sent.map((a) => a.res.ref),
        sent.map((a) => a.res.raw),
      ],
    ));
    return r.rows.map((x) => x.id);
  }

  /**
   * Runs `fn` again while the database is unreachable (a restart, a failover:
   * `isConnectionLost`), backing off from 100 ms to 5 s, for at most
   * `answerRetryMs` (default 10 min); any other error, or the time spent,
   * throws. For writes whose content only this process knows (what the
   * gateway answered): each must be safe to run twice.
   */
  private async durably<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const until = Date.now() + (this.d.config.answerRetryMs ?? 600_000);
    for (let delay = 100; ; delay = Math.min(delay * 2, 5000)) {
      try {
        return await fn();
      } catch (e) {
        if (!isConnectionLost(e) || Date.now() + delay > until) throw e;
        this.count('dosis_sms_record_retries_total', { what });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /**
   * The gateway was down (or its route paused) for these attempts: each stays
   * `pending` with the same attempt number and waits for the route's next
   * probe (an `sms_send` job of the same attempt), in one statement. Nothing
   * was accepted, so nothing about the number is learnt and no attempt spent.
   */
  private async waitForGateway(ws: { m: OutgoingSms; route: RouteName; res: Extract<SendResult, { ok: false }> }[]): Promise<void> {
    await this.d.db.query(
      `WITH w AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::float8[]) AS w(person_id, id, attempt, route, raw, wait_ms)),
       n AS (
         UPDATE notifications x SET next_attempt_at = now() + make_interval(secs => w.wait_ms / 1000), last_error = w.raw, updated_at = now()
           FROM w WHERE x.person_id = w.person_id AND x.id = w.id AND x.attempt = w.attempt AND x.status = 'pending' AND x.final_at IS NULL
         RETURNING x.person_id, x.id, x.attempt, x.next_attempt_at, w.route, w.raw),
       e AS (
         INSERT INTO notification_events (person_id, notification_id, attempt, type, route, status, raw)
         SELECT person_id, id, attempt, 'gateway_wait', route, 'pending', raw || '; attempt ' || attempt || ' not spent, next try ' || to_char(next_attempt_at AT TIME ZONE 'UTC', 'HH24:MI:SS') || ' UTC' FROM n)
       INSERT INTO jobs (kind, payload, dedupe_key, run_at, person_id)
       SELECT 'sms_send', json_build_object('personId', person_id, 'notificationId', id, 'attempt', attempt)::jsonb,
              'sms_send:' || id || ':' || attempt || ':wait:' || gen_random_uuid(), next_attempt_at, person_id FROM n`,
      [
        ws.map((w) => w.m.personId),
        ws.map((w) => w.m.notificationId),
        ws.map((w) => w.m.attempt),
        ws.map((w) => w.route),
        ws.map((w) => w.res.raw.slice(0, 500)),
        ws.map((w) => this.d.health.waitMs(w.m.attempt)),
      ],
    );
    this.count('dosis_sms_gateway_waits_total', {});
  }

  /** The gateway refused attempt `m.attempt` for the message itself (not a gateway outage): the attempt failed. */
  private async attemptFailedToSend(m: OutgoingSms, route: RouteName, res: Extract<SendResult, { ok: false }>): Promise<void> {
    await this.d.db.withTransaction(async (tx) => {
      const n = await lockNotification(tx, m.personId, m.notificationId);
      if (!n) return;
      const current = n.attempt === m.attempt && n.status === 'pending';
      await event(tx, n, { attempt: m.attempt, type: 'send_failed', route, status: current ? 'failed' : n.status, applied: current, raw: res.raw });
      if (!current) return;
      await tx.query(`UPDATE notifications SET status = 'failed', last_error = $3, updated_at = now() WHERE person_id = $1 AND id = $2`, [
        m.personId,
        m.notificationId,
        res.error,
      ]);
      await this.afterFailedAttempt(tx, { ...n, status: 'failed' }, 'temporary');
    });
  }

  /**
   * After a failed, expired or unknown attempt. Permanent (the number can
   * never receive): final now, the person on the `unreachable` list. Else the
   * next attempt with backoff (on the route the policy gives); after the last
   * one, final — and the `unreachable` list only when the number itself
   * failed (`temporary`): an attempt lost to the gateway, or never reported,
   * says nothing against the number.
   */
  private async afterFailedAttempt(tx: Queryable, n: NotificationRow, cls: FailureClass | 'unknown'): Promise<void> {
    const cfg = this.d.config;
    if (cls !== 'permanent' && n.attempt < cfg.maxAttempts) {
      const next = n.attempt + 1;
      const delay = backoffMs(n.attempt, cfg.retryBaseMs, cfg.retryMaxMs);
      const at = new Date(Date.now() + delay);
      await enqueue(tx, {
        kind: 'sms_send',
        payload: { personId: n.person_id, notificationId: n.id, attempt: next },
        dedupeKey: `sms_send:${n.id}:${next}`,
        runAt: at,
        personId: n.person_id,
        // A code's retry must not wait behind a certificate backlog: the code dies in minutes.
        ...(n.kind === 'code' ? { lane: 'code' as const } : {}),
      });
      await tx.query('UPDATE notifications SET next_attempt_at = $3 WHERE person_id = $1 AND id = $2', [n.person_id, n.id, at]);
      await event(tx, n, { attempt: n.attempt, type: 'retry_scheduled', route: routeFor(this.d.routes, next).route, status: n.status, raw: `attempt ${next} at ${at.toISOString()} (${cls} failure)` });
      return;
    }
    await tx.query('UPDATE notifications SET final_at = now(), next_attempt_at = NULL, updated_at = now() WHERE person_id = $1 AND id = $2', [n.person_id, n.id]);
    const why = cls === 'permanent' ? `permanent error, not retried (${n.attempt} attempt${n.attempt === 1 ? '' : 's'})` : `${n.attempt} attempts, last ${n.status} (${cls})`;
    await event(tx, n, { attempt: n.attempt, type: 'gave_up', route: n.route, status: n.status, raw: why });
    if (cls !== 'permanent' && cls !== 'temporary') return;
    await tx.query(
      `INSERT INTO cases (person_id, id, kind, subject_id, detail)
       SELECT $1, gen_random_uuid(), 'unreachable', $2,
              json_build_object('notificationId', $2::uuid, 'recipient', $3::text, 'attempts', $4::int, 'lastStatus', $5::text, 'permanent', $6::boolean)::jsonb
        WHERE NOT EXISTS (SELECT 1 FROM cases WHERE person_id = $1 AND kind = 'unreachable' AND subject_id = $2 AND status = 'open')`,
      [n.person_id, n.id, n.recipient, n.attempt, n.status, cls === 'permanent'],
    );
    this.count('dosis_sms_unreachable_total', { permanent: String(cls === 'permanent') });
  }

  // ---- sms_send: a retry ------------------------------------------------------------------

  /**
   * Attempt `attempt` of a notification: a retry after a failed attempt, or
   * the same attempt again after it waited for the gateway. While no route may
   * be used the job is put off (its own attempts not counted either).
   */
  private async retryAttempt(job: Job<'sms_send'>): Promise<Outcome> {
    const { personId, notificationId, attempt } = job.payload;
    const gw = await this.d.health.pick(attempt);
    if (!gw) return { kind: 'later', delayMs: this.d.health.waitMs(attempt) };
    // A one-time code is not in the stored body: derive it again, or give up on a code no longer usable.
    let text: string | undefined;
    const kind = await this.d.db.query<{ kind: NotificationKind; source_key: string }>('SELECT kind, source_key FROM notifications WHERE person_id = $1 AND id = $2', [
      personId,
      notificationId,
    ]);
    const k = kind.rows[0];
    if (k?.kind === 'code') {
      const requestId = /^otp:([0-9a-f-]{36})$/.exec(k.source_key)?.[1];
      const req = requestId ? await otpRequest(this.d.db, requestId) : undefined;
      if (!req?.usable) {
        await this.d.db.query(
          `WITH n AS (
             UPDATE notifications SET status = 'cancelled', hold_reason = 'code_expired', final_at = now(), next_attempt_at = NULL, updated_at = now()
              WHERE person_id = $1 AND id = $2 AND final_at IS NULL
                AND ((attempt = $3 - 1 AND status IN ('failed', 'expired', 'unknown')) OR (attempt = $3 AND status = 'pending' AND next_attempt_at IS NOT NULL))
              RETURNING id, attempt)
           INSERT INTO notification_events (person_id, notification_id, attempt, type, status, raw)
           SELECT $1, id, attempt, 'cancelled', 'cancelled', 'the code expired or was used before the retry' FROM n`,
          [personId, notificationId, attempt],
        );
        return { kind: 'done' };
      }
      text = this.renderCode(req).sms.text;
    }
    // The same attempt after a wait for the gateway: take it (one job of several wins) and send.
    const resumed = await this.d.db.query<{ recipient: string; body: string; encoding: 'gsm7' | 'ucs2' }>(
      `UPDATE notifications SET next_attempt_at = NULL, route = $4, updated_at = now()
        WHERE person_id = $1 AND id = $2 AND attempt = $3 AND status = 'pending' AND next_attempt_at IS NOT NULL AND final_at IS NULL
        RETURNING recipient, body, encoding`,
      [personId, notificationId, attempt, gw.route],
    );
    // Else start the attempt, only if the previous one failed and nothing settled it since.
    const r =
      resumed.rows.length > 0
        ? resumed
        : await this.d.db.query<{ recipient: string; body: string; encoding: 'gsm7' | 'ucs2' }>(
            `WITH n AS (
               UPDATE notifications
                  SET attempt = $3, status = 'pending', route = $4, gateway_ref = NULL, report_bits = 0, next_attempt_at = NULL,
                      submitted_at = NULL, updated_at = now()
                WHERE person_id = $1 AND id = $2 AND attempt = $3 - 1 AND status IN ('failed', 'expired', 'unknown') AND final_at IS NULL
                RETURNING id, recipient, body, encoding),
             e AS (
               INSERT INTO notification_events (person_id, notification_id, attempt, type, route, status, raw)
               SELECT $1, id, $3, 'retry', $4, 'pending', 'attempt ' || $3 FROM n)
             SELECT recipient, body, encoding FROM n`,
            [personId, notificationId, attempt, gw.route],
          );
    const n = r.rows[0];
    if (!n) return { kind: 'done' };
    await this.sendMany([{ m: { personId, notificationId, attempt, to: n.recipient, text: text ?? n.body, encoding: n.encoding, urgent: k?.kind === 'code' }, gw }]);
    return { kind: 'done' };
  }

  // ---- sms_sweep: attempts without a final report ------------------------------------------

  /**
   * The periodic sweep (one job per SMS_SWEEP_SECONDS, not one per SMS).
   * A missing report is not a failure — what it does:
   *
   * 1. `pending` past the report timeout (and past its job's lease and the
   *    send timeout: its worker cannot still be sending it) with no wait
   *    scheduled: the worker died between saving and sending (or before
   *    storing the gateway's answer). `unknown`, and retried as a failed
   *    attempt, as before.
   * 2. `submitted` past the report timeout: the gateway took it (Kannel keeps
   *    it in its store and resends by itself). `unknown`, counted, **not
   *    resent**: the timeline says whether the SMSC acknowledged it (bit 8).
   *    A late report still settles it (delivered from any state; a failure
   *    report then runs the retry policy).
   * 3. `unknown` since `unknownResendAfterMs` (default 24 h) and never
   *    acknowledged by the SMSC: resent once (never twice for one
   *    notification). Acknowledged by the SMSC, or resent once already: final
   *    `unknown`, no resend, and not on the `unreachable` list (nothing says
   *    the number failed).
   *
   * Each step takes at most `limit` rows per statement (SKIP LOCKED: two
   * sweeps at once share the work) and repeats until none is left.
   */
  async sweep(limit = 500): Promise<{ neverAnswered: number; timedOut: number; resent: number; finalUnknown: number }> {
    const out = { neverAnswered: 0, timedOut: 0, resent: 0, finalUnknown: 0 };
    const timeoutS = this.d.config.reportTimeoutMs / 1000;
    // 2: taken by the gateway, no final report in time (set-based: nearly every row of a sweep is here).
    for (;;) {
      const r = await this.d.db.query<{ route: string | null }>(
        SWEEP_TIMED_OUT,
        [timeoutS, limit],
      );
      for (const x of r.rows) this.count('dosis_sms_report_timeouts_total', { route: x.route ?? '' });
      out.timedOut += r.rows.length;
      if (r.rows.length < limit) break;
    }
    // 1: saved, never answered (a kill); 3: unknown for long. Rare: one locked transaction each.
    const each = async (sql: string, params: unknown[], fn: (tx: Queryable, n: NotificationRow) => Promise<void>) => {
      for (;;) {
        const ids = await this.d.db.query<{ person_id: string; id: string }>(sql, [...params, limit]);
        for (const x of ids.rows) {
          await this.d.db.withTransaction(async (tx) => {
            const n = await lockNotification(tx, x.person_id, x.id);
            if (n) await fn(tx, n);
          });
        }
        if (ids.rows.length < limit) break;
      }
    };
    await each(
      `SELECT person_id, id FROM notifications
        WHERE status = 'pending' AND final_at IS NULL AND next_attempt_at IS NULL AND updated_at < now() - make_interval(secs => $1::float8)
        ORDER BY updated_at LIMIT $2`,
      [Math.max(this.d.config.reportTimeoutMs, this.d.config.inFlightGraceMs ?? 0) / 1000],
      async (tx, n) => {
        if (n.status !== 'pending' || n.final_at || n.next_attempt_at) return;
        await tx.query(`UPDATE notifications SET status = 'unknown', last_error = 'no answer from the gateway recorded', updated_at = now() WHERE person_id = $1 AND id = $2`, [
          n.person_id,
          n.id,
        ]);
        await event(tx, n, { attempt: n.attempt, type: 'timeout', route: n.route, status: 'unknown', raw: `no final report within ${timeoutS} s (no answer from the gateway recorded)` });
        this.count('dosis_sms_report_timeouts_total', { route: n.route ?? '' });
        out.neverAnswered++;
        await this.afterFailedAttempt(tx, { ...n, status: 'unknown' }, 'unknown');
      },
    );
    await each(
      `SELECT person_id, id FROM notifications
        WHERE status = 'unknown' AND final_at IS NULL AND next_attempt_at IS NULL AND updated_at < now() - make_interval(secs => $1::float8)
        ORDER BY updated_at LIMIT $2`,
      [this.d.config.unknownResendAfterMs / 1000],
      async (tx, n) => {
        if (n.status !== 'unknown' || n.final_at || n.next_attempt_at) return;
        const f = await tx.query<{ unknown_resent: boolean }>('SELECT unknown_resent FROM notifications WHERE person_id = $1 AND id = $2', [n.person_id, n.id]);
        const acknowledged = (n.report_bits & 8) !== 0;
        if (!acknowledged && !f.rows[0]?.unknown_resent && n.attempt < this.d.config.maxAttempts) {
          await tx.query('UPDATE notifications SET unknown_resent = true WHERE person_id = $1 AND id = $2', [n.person_id, n.id]);
          out.resent++;
          await this.afterFailedAttempt(tx, n, 'unknown');
          return;
        }
        await tx.query('UPDATE notifications SET final_at = now(), updated_at = now() WHERE person_id = $1 AND id = $2', [n.person_id, n.id]);
        const why = acknowledged ? 'acknowledged by the SMSC, no final report: not resent (it may well have arrived)' : 'no final report after the one resend: not resent again';
        await event(tx, n, { attempt: n.attempt, type: 'gave_up', route: n.route, status: 'unknown', raw: why });
        out.finalUnknown++;
      },
    );
    return out;
  }

  // ---- reminder -----------------------------------------------------------------------------

  private async reminder(job: Job<'reminder'>): Promise<Outcome> {
    const { personId, doseNumber, vaccine, due } = job.payload;
    const r = await this.d.db.query<{ name: string; phone: string | null; phone_status: string; recorded: boolean }>(
      `SELECT p.name, p.phone, p.phone_status,
              EXISTS (SELECT 1 FROM vaccinations v WHERE v.person_id = p.id AND v.dose_number >= $2 AND v.status <> 'void') AS recorded
         FROM people p WHERE p.id = $1`,
      [personId, doseNumber],
    );
    const p = r.rows[0];
    if (!p) return { kind: 'dead', error: `person ${personId} not found` };
    if (p.recorded) return { kind: 'done' }; // the dose was given meanwhile: the reminder is moot
    const base = { personId, sourceKey: job.dedupeKey ?? `job:${job.id}`, certificateId: null, kind: 'reminder' as const };
    if (p.phone === null || p.phone_status !== 'ok') {
      await this.createClosed({ ...base, status: 'held', reason: p.phone_status, template: 'next_dose_reminder' });
      return { kind: 'done' };
    }
    const sms = reminderSms({ lang: langFor(p.phone, this.d.config.language), name: p.name, doseNumber, vaccineName: findVaccine(vaccine)?.name ?? vaccine, due });
    await this.createAndSend({ ...base, recipient: p.phone, sms });
    return { kind: 'done' };
  }

  // ---- recall_notice: a lot the person received was recalled --------------------------------

  /**
   * One SMS per person and recall (the job's dedupe key). Not checked for
   * placeholder numbers: it carries no link, and a safety notice to a shared
   * number is better than none. No usable phone → held, `invalid_phone` case.
   */
  private async recallNotice(job: Job<'recall_notice'>): Promise<Outcome> {
    const recall = await getLotRecall(this.d.db, job.payload.recallId);
    if (!recall) return { kind: 'dead', error: `lot recall ${job.payload.recallId} not found` };
    // A merge since the recall: the surviving person is told (the chain is short; 5 steps at most).
    let personId = job.payload.personId;
    let p: { name: string; phone: string | null; phone_status: string; merged_into: string | null } | undefined;
    for (let hop = 0; hop < 5; hop++) {
      p = (await this.d.db.query<{ name: string; phone: string | null; phone_status: string; merged_into: string | null }>(
        'SELECT name, phone, phone_status, merged_into FROM people WHERE id = $1',
        [personId],
      )).rows[0];
      if (!p?.merged_into) break;
      personId = p.merged_into;
    }
    if (!p) return { kind: 'dead', error: `person ${job.payload.personId} not found` };
    const base = { personId, sourceKey: job.dedupeKey ?? `job:${job.id}`, certificateId: null, kind: 'recall' as const };
    if (p.phone === null || p.phone_status !== 'ok') {
      await this.createClosed({ ...base, status: 'held', reason: p.phone_status, template: 'lot_recalled' });
      return { kind: 'done' };
    }
    const sms = recallSms({ lang: langFor(p.phone, this.d.config.language), name: p.name, vaccineName: findVaccine(recall.vaccine)?.name ?? recall.vaccine, lot: recall.lot });
    await this.createAndSend({ ...base, recipient: p.phone, sms });
    return { kind: 'done' };
  }

  // ---- dose_request_notice: a missing-dose request was declined ------------------------------

  /**
   * One SMS per declined request (the job's dedupe key). No link in it, so not
   * checked for placeholder numbers (like the recall notice); no usable phone
   * → held with an `invalid_phone` case. A request no longer declined sends nothing.
   */
  private async doseRequestNotice(job: Job<'dose_request_notice'>): Promise<Outcome> {
    const r = await this.d.db.query<{
      status: string;
      dose_number: number;
      date: string;
      decline_reason: string | null;
      decline_text: string | null;
      facility_name: string;
      name: string;
      phone: string | null;
      phone_status: string;
    }>(
      `SELECT r.status, r.dose_number, to_char(r.date, 'YYYY-MM-DD') AS date, r.decline_reason, r.decline_text, f.name AS facility_name,
              p.name, p.phone, p.phone_status
         FROM dose_requests r JOIN facilities f ON f.code = r.facility_code JOIN people p ON p.id = r.person_id
        WHERE r.person_id = $1 AND r.id = $2`,
      [job.payload.personId, job.payload.requestId],
    );
    const q = r.rows[0];
    if (!q) return { kind: 'dead', error: `dose request ${job.payload.requestId} not found` };
    if (q.status !== 'declined' || !isDeclineReason(q.decline_reason)) return { kind: 'done' };
    const base = { personId: job.payload.personId, sourceKey: job.dedupeKey ?? `job:${job.id}`, certificateId: null, kind: 'dose_request' as const };
    if (q.phone === null || q.phone_status !== 'ok') {
      await this.createClosed({ ...base, status: 'held', reason: q.phone_status, template: 'dose_request_declined' });
      return { kind: 'done' };
    }
    const sms = doseRequestDeclinedSms({
      lang: langFor(q.phone, this.d.config.language),
      name: q.name,
      doseNumber: q.dose_number,
      date: q.date,
      facilityName: q.facility_name,
      reason: q.decline_reason,
      otherText: q.decline_text,
    });
    await this.createAndSend({ ...base, recipient: q.phone, sms });
    return { kind: 'done' };
  }

  // ---- code_sms: a one-time code (codes.ts) ------------------------------------------------

  private renderCode(req: OtpRequestRow): { code: string; sms: RenderedSms } {
    if (!this.d.otpSecret) throw new Error('no one-time-code secret configured for the notifier');
    const code = codeFor(this.d.otpSecret, req.id);
    const minutes = Math.max(1, Math.round((req.expires_at.getTime() - Date.now()) / 60_000));
    return { code, sms: codeSms({ lang: langFor(req.phone, this.d.config.language), code, minutes }) };
  }

  /** Sends the code of a request; the stored body has the code masked. An expired or used request sends nothing. */
  private async codeSms(job: Job<'code_sms'>): Promise<Outcome> {
    const req = await otpRequest(this.d.db, job.payload.requestId);
    if (!req) return { kind: 'dead', error: `one-time-code request ${job.payload.requestId} not found` };
    const base = { personId: codeNotificationPerson(req), sourceKey: job.dedupeKey ?? `otp:${req.id}`, certificateId: null, kind: 'code' as const };
    if (!req.usable) {
      await this.createClosed({ ...base, status: 'cancelled', reason: 'code_expired', template: 'one_time_code' });
      return { kind: 'done' };
    }
    const { code, sms } = this.renderCode(req);
    await this.createAndSend({ ...base, recipient: req.phone, sms, storedBody: maskCode(sms.text, code) });
    return { kind: 'done' };
  }

  // ---- correction_notice: a phone correction was declined -----------------------------------

  /**
   * The declined SMS to the number that asked (not approved: the text names no
   * one), filed under the request's id as person_id. A request no longer
   * declined sends nothing.
   */
  private async correctionNotice(job: Job<'correction_notice'>): Promise<Outcome> {
    const r = await this.d.db.query<{ status: string; reason: CorrectionDeclineReason | null; new_phone: string }>(
      'SELECT status, reason, new_phone FROM phone_corrections WHERE id = $1',
      [job.payload.requestId],
    );
    const c = r.rows[0];
    if (!c) return { kind: 'dead', error: `phone correction ${job.payload.requestId} not found` };
    if (c.status !== 'declined' || !c.reason) return { kind: 'done' };
    const sms = correctionDeclinedSms({ lang: langFor(c.new_phone, this.d.config.language), reason: c.reason });
    const sourceKey = job.dedupeKey ?? `correction:${job.payload.requestId}`;
    await this.createAndSend({ personId: job.payload.requestId, sourceKey, certificateId: null, kind: 'correction', recipient: c.new_phone, sms });
    return { kind: 'done' };
  }

  /** The number a person's phone was changed from learns that it was replaced (one SMS, no name, no link). */
  private async phoneReplacedNotice(job: Job<'phone_replaced_notice'>): Promise<Outcome> {
    const { personId, phone } = job.payload;
    const sms = phoneReplacedSms({ lang: langFor(phone, this.d.config.language) });
    await this.createAndSend({ personId, sourceKey: job.dedupeKey ?? `job:${job.id}`, certificateId: null, kind: 'phone_replaced', recipient: phone, sms });
    return { kind: 'done' };
  }

  // ---- delivery reports ---------------------------------------------------------------------

  /**
   * Applies a delivery report from the gateway's callback (query parameters
   * of our dlr-url). Checks the signature; idempotent; never moves backwards.
   */
  async handleReport(query: Record<string, string | undefined>): Promise<ReportResult> {
    // A receipt an SMSC sent as UCS-2 reaches us with NUL bytes (%00), which PostgreSQL text refuses.
    const q = Object.fromEntries(Object.entries(query).map(([k, v]) => [k, v?.replace(/\0/g, '')]));
    const personId = q.p ?? '';
    const notificationId = q.n ?? '';
    const attempt = Number(q.a);
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    if (!uuid.test(personId) || !uuid.test(notificationId) || !Number.isInteger(attempt) || attempt < 1) {
      throw new AppError('bad_request', 'bad_report', { en: 'Not a delivery report of ours (p, n, a).', id: 'Bukan laporan pengiriman dari kami (p, n, a).' });
    }
    if (!checkReportSignature(this.d.reportSecret, personId, notificationId, attempt, q.s ?? '')) {
      throw new AppError('forbidden', 'bad_report_signature', { en: 'The report signature does not match.', id: 'Tanda tangan laporan tidak cocok.' });
    }
    let report: DeliveryReport;
    try {
      report = parseKannelReport(q);
    } catch (e) {
      throw new AppError('bad_request', 'bad_report', { en: (e as Error).message, id: 'Status laporan tidak dikenal.' });
    }
    const raw = Object.entries(q)
      .filter(([k]) => k !== 's')
      .map(([k, v]) => `${k}=${v ?? ''}`)
      .join('&');
    let r = await this.applyOutcome(personId, notificationId, attempt, report, raw.slice(0, 2000), q.r);
    if (!r) {
      // A merge moves a person's rows to the surviving person: a report URL written before it names the old id.
      // (The signature was checked on the URL's own values; this lookup by id alone is rare.)
      const moved = await this.d.db.query<{ person_id: string }>('SELECT person_id FROM notifications WHERE id = $1', [notificationId]);
      const now = moved.rows[0]?.person_id;
      if (now && now !== personId) r = await this.applyOutcome(now, notificationId, attempt, report, raw.slice(0, 2000), q.r);
    }
    if (!r)
      throw new AppError('not_found', 'no_such_notification', { en: 'No such notification.', id: 'Notifikasi tidak ditemukan.' });
    this.count('dosis_sms_reports_total', { outcome: report.outcome, applied: String(r.applied) });
    return r;
  }

  /**
   * Applies one report (also used by the sink, which delivers at once).
   * Accepted/buffered and delivered reports — nearly all of them — take one
   * statement: a guarded UPDATE (under READ COMMITTED its WHERE is re-checked
   * on the row as locked, so concurrent reports cannot undo each other) and
   * the event, stored whether or not it applied. A failure, which needs the
   * retry policy, goes through a locked transaction.
   */
  async applyOutcome(personId: string, notificationId: string, attempt: number, rep: DeliveryReport, raw: string, route?: string): Promise<ReportResult | null> {
    if (rep.outcome !== 'delivered' && rep.outcome !== 'intermediate') return this.applyFailure(personId, notificationId, attempt, rep, raw, route);
    const delivered = rep.outcome === 'delivered';
    const r = await this.d.db.query<{ applied: boolean; status: NotificationStatus; duplicate: boolean }>(
      `WITH cur AS (
         SELECT status, route, delivered_attempt FROM notifications WHERE person_id = $1 AND id = $2),
       u AS (
         UPDATE notifications
            SET status = CASE WHEN $3::boolean THEN 'delivered' WHEN status = 'pending' THEN 'submitted' ELSE status END,
                report_bits = CASE WHEN attempt = $4 THEN report_bits | $5 ELSE report_bits END,
                delivered_attempt = CASE WHEN $3::boolean THEN $4 ELSE delivered_attempt END,
                gateway_ref = CASE WHEN attempt = $4 THEN coalesce($6, gateway_ref) ELSE gateway_ref END,
                final_at = CASE WHEN $3::boolean THEN now() ELSE final_at END,
                next_attempt_at = CASE WHEN $3::boolean THEN NULL ELSE next_attempt_at END,
                last_error = CASE WHEN $3::boolean THEN NULL ELSE last_error END,
                submitted_at = CASE WHEN status = 'pending' AND NOT $3::boolean THEN now() ELSE submitted_at END,
                updated_at = now()
          WHERE person_id = $1 AND id = $2 AND status <> 'delivered'
            AND ($3::boolean  -- delivered: from any state and any attempt (a late report after a timeout included)
                 OR (attempt = $4 AND final_at IS NULL AND ((report_bits | $5) <> report_bits OR status = 'pending')))
          RETURNING status),
       c AS (
         -- A person on the unreachable list because of this message is reachable after all.
         UPDATE cases SET status = 'resolved', resolved_at = now(), notes = coalesce(notes || E'\\n', '') || 'delivered after all'
          WHERE $3::boolean AND EXISTS (SELECT 1 FROM u)
            AND person_id = $1 AND kind = 'unreachable' AND subject_id = $2 AND status = 'open'),
       dup AS (
         -- Delivered by another attempt already: the person got it twice (a report repeated for the same attempt is not).
         UPDATE sms_routes SET duplicates = duplicates + 1
          WHERE $3::boolean AND route = (SELECT coalesce($7, cur.route) FROM cur)
            AND EXISTS (SELECT 1 FROM cur WHERE cur.status = 'delivered' AND cur.delivered_attempt IS DISTINCT FROM $4)
            AND NOT EXISTS (SELECT 1 FROM notification_events x
                             WHERE x.person_id = $1 AND x.notification_id = $2 AND x.attempt = $4 AND x.type = 'report' AND x.report_bits & 1 <> 0)
          RETURNING 1),
       e AS (
         INSERT INTO notification_events (person_id, notification_id, attempt, type, route, status, applied, report_bits, gateway_ref, raw)
         SELECT $1, $2, $4, 'report', coalesce($7, cur.route), coalesce((SELECT status FROM u), cur.status), EXISTS (SELECT 1 FROM u), $5, $6, $8
           FROM cur)
       SELECT EXISTS (SELECT 1 FROM u) AS applied, coalesce((SELECT status FROM u), cur.status) AS status, EXISTS (SELECT 1 FROM dup) AS duplicate FROM cur`,
      [personId, notificationId, delivered, attempt, rep.bits, rep.smscId, route ?? null, raw],
    );
    const row = r.rows[0];
    if (row?.duplicate) this.count('dosis_sms_duplicates_seen_total', {});
    return row ? { notificationId, status: row.status, applied: row.applied } : null;
  }

  /**
   * A submit the SMSC rejected for a reason of its own (`classifyFailure`:
   * our bind, our sender id, its system): the SMSC never took the message
   * and nothing is learnt about the number, so the same attempt goes again
   * after a backoff without spending it, as when Kannel is down — at most
   * `maxAttempts` times per attempt (an SMSC that keeps refusing must not be
   * fed for ever); after that it counts as a failed attempt (false).
   */
  private async rejectedByGateway(tx: Queryable, n: NotificationRow, rep: DeliveryReport, ev: { attempt: number; type: string; route: string | null; report_bits: number; gateway_ref: string | null; raw: string }): Promise<boolean> {
    const cfg = this.d.config;
    const before = await tx.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM notification_events
        WHERE person_id = $1 AND notification_id = $2 AND attempt = $3 AND type = 'gateway_wait' AND starts_with(raw, $4)`,
      [n.person_id, n.id, n.attempt, REJECTED_WAIT],
    );
    const waits = Number(before.rows[0]?.n ?? 0);
    if (waits >= cfg.maxAttempts) return false;
    const at = new Date(Date.now() + backoffMs(waits + 1, cfg.retryBaseMs, cfg.retryMaxMs));
    const why = `${rep.outcome} (${rep.error ?? 'no status'}): ${rep.receipt ?? ''}`.slice(0, 400);
    await tx.query(
      `UPDATE notifications SET status = 'pending', report_bits = 0, gateway_ref = NULL, submitted_at = NULL, next_attempt_at = $3, last_error = $4, updated_at = now()
        WHERE person_id = $1 AND id = $2`,
      [n.person_id, n.id, at, why],
    );
    await event(tx, n, { ...ev, status: 'pending', applied: true });
    await event(tx, n, {
      attempt: n.attempt,
      type: 'gateway_wait',
      route: ev.route,
      status: 'pending',
      raw: `${REJECTED_WAIT} (${why}); attempt ${n.attempt} not spent, sent again at ${at.toISOString()} (${waits + 1} of ${cfg.maxAttempts})`,
    });
    await enqueue(tx, {
      kind: 'sms_send',
      payload: { personId: n.person_id, notificationId: n.id, attempt: n.attempt },
      dedupeKey: `sms_send:${n.id}:${n.attempt}:rejected:${waits + 1}`,
      runAt: at,
      personId: n.person_id,
      ...(n.kind === 'code' ? { lane: 'code' as const } : {}),
    });
    return true;
  }

  /** The locked path: a failed/expired/rejected report settles the current attempt and runs the retry policy. */
  private async applyFailure(personId: string, notificationId: string, attempt: number, rep: DeliveryReport, raw: string, route?: string): Promise<ReportResult | null> {
    return this.d.db.withTransaction(async (tx) => {
      const n = await lockNotification(tx, personId, notificationId);
      if (!n) return null;
      const ev = { attempt, type: 'report', route: route ?? n.route, report_bits: rep.bits, gateway_ref: rep.smscId, raw };
      const d = decideReport(n, attempt, rep);
      switch (d.kind) {
        case 'ignore':
          await event(tx, n, { ...ev, status: n.status, applied: false });
          return { notificationId, status: n.status, applied: false };
        case 'update':
          await tx.query(
            `UPDATE notifications
                SET status = $3, report_bits = CASE WHEN $5::boolean THEN report_bits | $4 ELSE report_bits END,
                    gateway_ref = CASE WHEN $5::boolean THEN coalesce($6, gateway_ref) ELSE gateway_ref END,
                    final_at = CASE WHEN $3 = 'delivered' THEN now() ELSE final_at END,
                    next_attempt_at = CASE WHEN $3 = 'delivered' THEN NULL ELSE next_attempt_at END,
                    submitted_at = CASE WHEN $3 = 'submitted' THEN coalesce(submitted_at, now()) ELSE submitted_at END,
                    updated_at = now()
              WHERE person_id = $1 AND id = $2`,
            [personId, notificationId, d.status, rep.bits, attempt === n.attempt, rep.smscId],
          );
          await event(tx, n, { ...ev, status: d.status, applied: true });
          return { notificationId, status: d.status, applied: true };
        case 'failure': {
          const cls = classifyFailure(rep, this.d.config.permanentReceiptErrors);
          if (cls === 'gateway' && (await this.rejectedByGateway(tx, n, rep, ev))) {
            this.count('dosis_sms_failures_total', { class: cls });
            return { notificationId, status: 'pending', applied: true };
          }
          await tx.query(
            `UPDATE notifications SET status = $3, report_bits = report_bits | $4, gateway_ref = coalesce($5, gateway_ref), last_error = $6, updated_at = now()
              WHERE person_id = $1 AND id = $2`,
            [personId, notificationId, d.status, rep.bits, rep.smscId, `${rep.outcome}${rep.error ? ` (${rep.error})` : ''}: ${rep.receipt ?? ''}`.slice(0, 500)],
          );
          await event(tx, n, { ...ev, status: d.status, applied: true });
          this.count('dosis_sms_failures_total', { class: cls });
          await this.afterFailedAttempt(tx, { ...n, status: d.status }, cls);
          return { notificationId, status: d.status, applied: true };
        }
        default:
          return d satisfies never;
      }
    });
  }
}

/** The raw text that starts a `gateway_wait` event of a submit the SMSC rejected for a gateway reason (counted per attempt). */
const REJECTED_WAIT = 'rejected by the SMSC for a gateway reason';

/** What a send that found its route paused answers: the gateway is down, the attempt waits for it. */
function paused(route: RouteName): SendResult {
  return { ok: false, raw: `${route}: paused (the gateway is down; waiting for it)`, error: 'gateway_paused', gatewayDown: true };
}

/**
 * Why a number looks like someone else's than the person's own, for the
 * certificate SMS (its link opens the certificate): a known placeholder
 * (`0000…`, repeated digits, runs), a facility's registered phone, or a number
 * on more people than the limit — this person being past the first `limit`
 * of them (oldest first). "Unrelated" is not inferred: every distinct live
 * person on the number counts, family or not; the limit (6) leaves room for
 * a household, and a case on a real family is closed by correcting the phone.
 */
export function suspicion(r: { phone: string; phoneOfFacility: string | null; shareRank: number }, limit: number): SuspicionReason[] {
  const out: SuspicionReason[] = [];
  if (isPlaceholderPhone(r.phone)) out.push('placeholder');
  if (r.phoneOfFacility) out.push('facility_phone');
  if (r.shareRank > limit) out.push('shared');
  return out;
}

/** What one report does to a notification as it stands. Never backwards: delivered is final; a stale attempt can only deliver. */
export type ReportDecision =
  | { kind: 'ignore' }
  | { kind: 'update'; status: NotificationStatus }
  | { kind: 'failure'; status: NotificationStatus };

export function decideReport(n: Pick<NotificationRow, 'status' | 'attempt' | 'final_at' | 'report_bits' | 'next_attempt_at'>, attempt: number, rep: Pick<DeliveryReport, 'bits' | 'outcome'>): ReportDecision {
  if (n.status === 'delivered') return { kind: 'ignore' };
  // From any state and any attempt: the person has the message (a late report after a timeout included).
  if (rep.outcome === 'delivered') return { kind: 'update', status: 'delivered' };
  if (attempt !== n.attempt || n.final_at) return { kind: 'ignore' };
  if (rep.outcome === 'intermediate') {
    const status: NotificationStatus = n.status === 'pending' ? 'submitted' : n.status;
    const adds = (n.report_bits | rep.bits) !== n.report_bits;
    return adds || status !== n.status ? { kind: 'update', status } : { kind: 'ignore' };
  }
  // failed / expired / rejected settle the current attempt once; a repeat is stored, not acted on.
  // An attempt `unknown` at its timeout and not retried (the gateway had taken it) is still open to its late report.
  if (n.status === 'failed' || n.status === 'expired' || (n.status === 'unknown' && n.next_attempt_at !== null)) return { kind: 'ignore' };
  return { kind: 'failure', status: statusOfFailure(rep.outcome) };
}

function statusOfFailure(o: ReportOutcome): NotificationStatus {
  switch (o) {
    case 'expired':
      return 'expired';
    case 'failed':
    case 'rejected':
      return 'failed';
    case 'delivered':
    case 'intermediate':
      throw new Error(`not a failure: ${o}`);
    default:
      return o satisfies never;
  }
}

async function lockNotification(tx: Queryable, personId: string, id: string): Promise<NotificationRow | undefined> {
  const r = await tx.query<NotificationRow>(
    `SELECT ${NOTIFICATION_COLUMNS} FROM notifications WHERE person_id = $1 AND id = $2 FOR UPDATE`,
    [personId, id],
  );
  return r.rows[0];
}

async function event(
  tx: Queryable,
  n: Pick<NotificationRow, 'person_id' | 'id'>,
  e: { attempt: number; type: string; route?: string | null; status: NotificationStatus; applied?: boolean; report_bits?: number; gateway_ref?: string | null; raw: string },
): Promise<void> {
  await tx.query(
    `INSERT INTO notification_events (person_id, notification_id, attempt, type, route, status, applied, report_bits, gateway_ref, raw)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [n.person_id, n.id, e.attempt, e.type, e.route ?? null, e.status, e.applied ?? true, e.report_bits ?? null, e.gateway_ref ?? null, e.raw],
  );
}
