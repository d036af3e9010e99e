/**
 * Reading and steering notifications from elsewhere: the sink's messages,
 * counts by state, a person's SMS history (for the timeline), a new send
 * after a phone correction. (Next-dose reminders are scheduled by records/ in
 * the dose's own statement; the `reminder` job is run by the notifier.)
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/client.ts';
import { enqueue } from './outbox.ts';
import type { NotificationStatus } from './notifier.ts';

export interface SinkRow {
  id: number;
  to: string;
  text: string;
  at: Date;
  notificationId: string;
}

/** Messages of the local sink, oldest first after `after` (an id), or the latest `limit` when `after` is absent. */
export async function listSink(db: Queryable, o: { after?: number; limit?: number } = {}): Promise<SinkRow[]> {
  const limit = Math.min(Math.max(o.limit ?? 50, 1), 1000);
  const r =
    o.after === undefined
      ? await db.query<{ id: number; recipient: string; body: string; at: Date; notification_id: string }>(
          'SELECT * FROM (SELECT id, recipient, body, at, notification_id FROM sms_sink ORDER BY id DESC LIMIT $1) s ORDER BY id',
          [limit],
        )
      : await db.query<{ id: number; recipient: string; body: string; at: Date; notification_id: string }>(
          'SELECT id, recipient, body, at, notification_id FROM sms_sink WHERE id > $1 ORDER BY id LIMIT $2',
          [o.after, limit],
        );
  return r.rows.map((x) => ({ id: x.id, to: x.recipient, text: x.body, at: x.at, notificationId: x.notification_id }));
}

export interface SmsStats {
  byStatus: Record<NotificationStatus, number>;
  /** Attempts that got no final report in time (each counted once). */
  timedOut: number;
  /** Notifications waiting for a retry. */
  retrying: number;
  /** Open work-list cases this capability opens. */
  openCases: { invalid_phone: number; unreachable: number };
  /** Notifications waiting for their gateway to come back (their attempt not spent). */
  waitingForGateway: number;
  /** Each route's health as the processes sending through it last wrote it (health.ts). */
  routes: RouteHealthView[];
}

export interface RouteHealthView {
  route: string;
  /** closed: in use; open: paused (the gateway failed), waiting for a probe; half_open: being probed. */
  state: 'closed' | 'open' | 'half_open';
  since: Date;
  lastSuccessAt: Date | null;
  /** Seconds since the last accepted send or answered probe (null: never). */
  secondsSinceSuccess: number | null;
  lastFailureAt: Date | null;
  lastError: string | null;
  /** Times the route was paused. */
  outages: number;
  /** Delivered reports for an attempt other than the one that had delivered: SMS people got twice. */
  duplicates: number;
}

/** The routes that were ever used (a success, a failure or a duplicate). */
export async function routeHealth(db: Queryable): Promise<RouteHealthView[]> {
  const r = await db.query<{
    route: string;
    state: RouteHealthView['state'];
    since: Date;
    last_success_at: Date | null;
    seconds: number | null;
    last_failure_at: Date | null;
    last_error: string | null;
    outages: number;
    duplicates: number;
  }>(
    `SELECT route, state, since, last_success_at, extract(epoch FROM now() - last_success_at)::float8 AS seconds, last_failure_at, last_error, outages, duplicates
       FROM sms_routes WHERE last_success_at IS NOT NULL OR last_failure_at IS NOT NULL OR duplicates > 0 ORDER BY route`,
  );
  return r.rows.map((x) => ({
    route: x.route,
    state: x.state,
    since: x.since,
    lastSuccessAt: x.last_success_at,
    secondsSinceSuccess: x.seconds === null ? null : Math.round(Number(x.seconds)),
    lastFailureAt: x.last_failure_at,
    lastError: x.last_error,
    outages: Number(x.outages),
    duplicates: Number(x.duplicates),
  }));
}

/** Counts for operators (and the benchmark): by status, timeouts, retries waiting, open cases. */
export async function smsStats(db: Queryable): Promise<SmsStats> {
  const s = await db.query<{ status: NotificationStatus; n: number }>('SELECT status, count(*)::int8 AS n FROM notifications GROUP BY status');
  const byStatus: Record<NotificationStatus, number> = { pending: 0, submitted: 0, delivered: 0, failed: 0, expired: 0, unknown: 0, held: 0, cancelled: 0 };
  for (const r of s.rows) byStatus[r.status] = r.n;
  const t = await db.query<{ timed_out: number; retrying: number; waiting: number }>(
    `SELECT (SELECT count(*) FROM notification_events WHERE type = 'timeout')::int8 AS timed_out,
            (SELECT count(*) FROM notifications WHERE next_attempt_at IS NOT NULL AND final_at IS NULL AND status <> 'pending')::int8 AS retrying,
            (SELECT count(*) FROM notifications WHERE next_attempt_at IS NOT NULL AND final_at IS NULL AND status = 'pending')::int8 AS waiting`,
  );
  const c = await db.query<{ kind: 'invalid_phone' | 'unreachable'; n: number }>(
    "SELECT kind, count(*)::int8 AS n FROM cases WHERE status = 'open' AND kind IN ('invalid_phone', 'unreachable') GROUP BY kind",
  );
  const openCases = { invalid_phone: 0, unreachable: 0 };
  for (const r of c.rows) openCases[r.kind] = r.n;
  return {
    byStatus,
    timedOut: t.rows[0]?.timed_out ?? 0,
    retrying: t.rows[0]?.retrying ?? 0,
    openCases,
    waitingForGateway: Number(t.rows[0]?.waiting ?? 0),
    routes: await routeHealth(db),
  };
}

export interface NotificationView {
  id: string;
  kind: string;
  certificateId: string | null;
  recipient: string | null;
  status: NotificationStatus;
  holdReason: string | null;
  attempt: number;
  route: string | null;
  gatewayRef: string | null;
  lastError: string | null;
  createdAt: Date;
  finalAt: Date | null;
  /** The attempt whose report delivered it. */
  deliveredAttempt: number | null;
  /** Attempts the SMSC acknowledged (report bit 8): a resend of those risks a duplicate. */
  acknowledgedAttempts: number[];
  /** Other attempts reported delivered as well ("also delivered: attempt 2"): the person got it more than once. */
  alsoDelivered: number[];
  events: { at: Date; attempt: number; type: string; route: string | null; status: string | null; applied: boolean; reportBits: number | null; raw: string | null }[];
}

/** A person's notifications with every event, newest first (for the timeline and support staff). */
export async function notificationsOf(db: Queryable, personId: string): Promise<NotificationView[]> {
  const r = await db.query<{
    id: string;
    kind: string;
    certificate_id: string | null;
    recipient: string | null;
    status: NotificationStatus;
    hold_reason: string | null;
    attempt: number;
    route: string | null;
    gateway_ref: string | null;
    last_error: string | null;
    created_at: Date;
    final_at: Date | null;
    delivered_attempt: number | null;
    events: { at: string; attempt: number; type: string; route: string | null; status: string | null; applied: boolean; report_bits: number | null; raw: string | null }[] | null;
  }>(
    `SELECT n.id, n.kind, n.certificate_id, n.recipient, n.status, n.hold_reason, n.attempt, n.route, n.gateway_ref, n.last_error, n.created_at, n.final_at, n.delivered_attempt,
            (SELECT json_agg(json_build_object('at', e.at, 'attempt', e.attempt, 'type', e.type, 'route', e.route, 'status', e.status,
                                               'applied', e.applied, 'report_bits', e.report_bits, 'raw', e.raw) ORDER BY e.id)
               FROM notification_events e WHERE e.person_id = n.person_id AND e.notification_id = n.id) AS events
       FROM notifications n WHERE n.person_id = $1 ORDER BY n.created_at DESC`,
    [personId],
  );
  return r.rows.map((x) => ({
    id: x.id,
    kind: x.kind,
    certificateId: x.certificate_id,
    recipient: x.recipient,
    status: x.status,
    holdReason: x.hold_reason,
    attempt: x.attempt,
    route: x.route,
    gatewayRef: x.gateway_ref,
    lastError: x.last_error,
    createdAt: x.created_at,
    finalAt: x.final_at,
    deliveredAttempt: x.delivered_attempt,
    ...reportedAttempts(x.events ?? [], x.delivered_attempt),
    events: (x.events ?? []).map((e) => ({ at: new Date(e.at), attempt: e.attempt, type: e.type, route: e.route, status: e.status, applied: e.applied, reportBits: e.report_bits, raw: e.raw })),
  }));
}

/** From a notification's reports: the attempts the SMSC acknowledged, and those delivered besides the one that delivered it. */
export function reportedAttempts(events: readonly { type: string; attempt: number; report_bits: number | null }[], deliveredAttempt: number | null): { acknowledgedAttempts: number[]; alsoDelivered: number[] } {
  const with_ = (bit: number) => [...new Set(events.filter((e) => e.type === 'report' && ((e.report_bits ?? 0) & bit) !== 0).map((e) => e.attempt))].sort((a, b) => a - b);
  return { acknowledgedAttempts: with_(8), alsoDelivered: with_(1).filter((a) => a !== deliveredAttempt) };
}

/**
 * After a person's phone was corrected (support staff or the person): every
 * valid certificate without a delivered SMS is sent again, to the new number.
 * Notifications still open (held, or in flight to the old number) are
 * cancelled; the open `invalid_phone` case is resolved. Call it in the
 * transaction that changes the phone. Returns the certificates queued.
 */
export async function resendAfterPhoneChange(tx: Queryable, personId: string, actor: string): Promise<string[]> {
  const certs = await tx.query<{ id: string }>(
    `SELECT c.id FROM certificates c
      WHERE c.person_id = $1 AND c.status = 'valid'
        AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.person_id = c.person_id AND n.certificate_id = c.id AND n.status = 'delivered')
      ORDER BY c.issued_at`,
    [personId],
  );
  await tx.query(
    `WITH c AS (
       UPDATE notifications SET status = 'cancelled', hold_reason = 'phone_changed', final_at = now(), next_attempt_at = NULL, updated_at = now()
        WHERE person_id = $1 AND (final_at IS NULL OR status = 'held')
        RETURNING person_id, id, attempt)
     INSERT INTO notification_events (person_id, notification_id, attempt, type, status, raw)
     SELECT person_id, id, attempt, 'cancelled', 'cancelled', 'phone changed by ' || $2 FROM c`,
    [personId, actor],
  );
  await tx.query(
    `UPDATE cases SET status = 'resolved', resolved_at = now(), notes = coalesce(notes || E'\\n', '') || 'phone corrected'
      WHERE person_id = $1 AND kind IN ('invalid_phone', 'unreachable') AND status = 'open'`,
    [personId],
  );
  for (const c of certs.rows) {
    await enqueue(tx, { kind: 'notify', payload: { personId, certificateId: c.id }, dedupeKey: `notify:${c.id}:resend:${randomUUID()}`, personId });
  }
  return certs.rows.map((c) => c.id);
}

