/**
 * The kinds of outbox job and their payloads, checked at run time: a payload
 * is data from the database, written by another version of the code perhaps,
 * so it is validated before a handler sees it (a bad one goes straight to
 * `dead`, since no retry can fix it).
 *
 * Glossary
 * - **Outbox job** — a row in `jobs`, written in the transaction that causes it, run later by a worker.
 * - **Claim** — a worker takes due jobs with `FOR UPDATE SKIP LOCKED` and holds them under a lock
 *   that expires (`locked_until`); a killed worker's jobs become due again when it does.
 * - **Dead** — a job that failed `max_attempts` times; it stays visible until an operator replays it.
 * - **Notification** — one message to one person about one thing; **attempt** — one hand-over of it
 *   to a gateway. Retries are attempts of the same notification.
 */

export interface JobPayloads {
  /** Send the SMS of a newly issued certificate (written by record-dose, dedupe `notify:<certificateId>`). */
  notify: { personId: string; certificateId: string };
  /** Hand attempt `attempt` of a notification to a gateway (a retry). */
  sms_send: { personId: string; notificationId: string; attempt: number };
  /**
   * Written before migration 026 (one per SMS, for its report timeout): now done at once, the
   * periodic `sms_sweep` finds the attempts without a final report. Kept so old rows still run.
   */
  sms_timeout: { personId: string; notificationId: string; attempt: number };
  /** Next-dose reminder, run on the due date; does nothing when that dose was recorded meanwhile. */
  reminder: { personId: string; doseNumber: number; vaccine: string; due: string };
  /** Tell a person that a lot they received was recalled (written by certificates/revocation.ts `recallLot`, dedupe `recall:<LOT>:<personId>`). */
  recall_notice: { personId: string; recallId: string };
  /** Send a one-time code (written by `enqueueCodeSms`, dedupe `otp:<requestId>`): the payload names the request, never the code. */
  code_sms: { requestId: string };
  /** Tell the number of a declined phone correction (access/phone-corrections.ts, dedupe `correction:<requestId>`). */
  correction_notice: { requestId: string };
  /**
   * Tell the number a person's phone was changed from that it was replaced (records/operations.ts
   * `correctPhone`, dedupe `phone_replaced:<personId>:<time>`): no name, no link.
   */
  phone_replaced_notice: { personId: string; phone: string };
  /** Tell a person their missing-dose request was declined (written by records/dose-requests.ts, dedupe `dose_request_declined:<requestId>`). */
  dose_request_notice: { personId: string; requestId: string };
  /** Periodic: escalate missing-dose requests open too long to the district; each run schedules the next (dedupe by time slot). */
  escalate_dose_requests: Record<string, never>;
  /** Periodic: delete unproven requests, spent codes and lookup traces past keeping (access/housekeeping.ts); each run schedules the next. */
  housekeeping: Record<string, never>;
  /** Periodic: count the pipeline's events of the hours now final, for the pipeline view and series (records/pipeline-rollup.ts); each run schedules the next. */
  pipeline_rollup: Record<string, never>;
  /** Periodic (SMS_SWEEP_SECONDS): attempts without a final report in time → `unknown`, and the missing-report policy (notifier.ts `sweep`); each run schedules the next. */
  sms_sweep: Record<string, never>;
  /** Periodic (every minute, unless DOSIS_QUEUE_VACUUM=false): VACUUM the outbox's tables that collected enough dead row versions (vacuum.ts); each run schedules the next. */
  queue_vacuum: Record<string, never>;
  /**
   * Hand a dose to SATUSEHAT (satusehat/sync.ts): written with the dose (dedupe `satusehat:<vaccinationId>`), again
   * when it is voided, moved by a merge or sent again from the work list (dedupe with a suffix). Reads the dose as it
   * stands when it runs, so any of them sends the current state.
   */
  satusehat_sync: { personId: string; vaccinationId: string };
}

export type JobKind = keyof JobPayloads;
export const JOB_KINDS: readonly JobKind[] = ['notify', 'sms_send', 'sms_timeout', 'reminder', 'recall_notice', 'code_sms', 'correction_notice', 'phone_replaced_notice', 'dose_request_notice', 'escalate_dose_requests', 'housekeeping', 'pipeline_rollup', 'sms_sweep', 'queue_vacuum', 'satusehat_sync'];

/**
 * A lane of the outbox: claimed by its own loop with its own jobs in flight,
 * so a backlog or a slow gateway in one never delays another. In the order
 * `Worker.runOnce` serves them:
 * - `code` — one-time codes (and their retries): seconds, always, or the code dies first;
 * - `periodic` — rollup, housekeeping, escalation, the missing-report sweep, the queue's vacuum: on their schedule whatever waits elsewhere;
 * - `certificate` — certificate SMS, their retries and report timeouts: the bulk of a record day;
 * - `notice` — reminders, recall notices, answers to declined requests;
 * - `sync` — the hand-off of each dose to SATUSEHAT (issue 21): the lowest, claimed after every other lane,
 *   with its own few jobs in flight, so a national backlog never delays a code or a certificate SMS.
 */
export type Lane = 'code' | 'periodic' | 'certificate' | 'notice' | 'sync';
export const LANES: readonly Lane[] = ['code', 'periodic', 'certificate', 'notice', 'sync'];

/** The lane a kind's jobs go in (an `sms_send` retry of a code goes in `code`: the caller says so). */
export function laneOf(kind: JobKind): Lane {
  switch (kind) {
    case 'code_sms':
      return 'code';
    case 'escalate_dose_requests':
    case 'housekeeping':
    case 'pipeline_rollup':
    case 'sms_sweep':
    case 'queue_vacuum':
      return 'periodic';
    case 'notify':
    case 'sms_send':
    case 'sms_timeout':
      return 'certificate';
    case 'reminder':
    case 'recall_notice':
    case 'correction_notice':
    case 'phone_replaced_notice':
    case 'dose_request_notice':
      return 'notice';
    case 'satusehat_sync':
      return 'sync';
    default:
      return kind satisfies never;
  }
}

export function isJobKind(k: string): k is JobKind {
  return (JOB_KINDS as readonly string[]).includes(k);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function obj(p: unknown): Record<string, unknown> {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new PayloadError('payload is not an object');
  return p as Record<string, unknown>;
}
function uuid(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  if (typeof v !== 'string' || !UUID.test(v)) throw new PayloadError(`${k} must be a uuid`);
  return v.toLowerCase();
}
function posInt(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new PayloadError(`${k} must be a positive integer`);
  return v;
}
function str(o: Record<string, unknown>, k: string, re: RegExp): string {
  const v = o[k];
  if (typeof v !== 'string' || !re.test(v)) throw new PayloadError(`${k} is not valid`);
  return v;
}

export class PayloadError extends Error {
  override name = 'PayloadError';
}

/** Validates a stored payload for its kind; throws PayloadError. */
export function parsePayload<K extends JobKind>(kind: K, raw: unknown): JobPayloads[K] {
  const o = obj(raw);
  const k: JobKind = kind;
  switch (k) {
    case 'notify':
      return { personId: uuid(o, 'personId'), certificateId: uuid(o, 'certificateId') } satisfies JobPayloads['notify'] as JobPayloads[K];
    case 'sms_send':
    case 'sms_timeout':
      return { personId: uuid(o, 'personId'), notificationId: uuid(o, 'notificationId'), attempt: posInt(o, 'attempt') } as JobPayloads[K];
    case 'reminder':
      return {
        personId: uuid(o, 'personId'),
        doseNumber: posInt(o, 'doseNumber'),
        vaccine: str(o, 'vaccine', /^[A-Z0-9_-]{1,40}$/),
        due: str(o, 'due', /^\d{4}-\d{2}-\d{2}$/),
      } satisfies JobPayloads['reminder'] as JobPayloads[K];
    case 'recall_notice':
      return { personId: uuid(o, 'personId'), recallId: uuid(o, 'recallId') } satisfies JobPayloads['recall_notice'] as JobPayloads[K];
    case 'code_sms':
    case 'correction_notice':
      return { requestId: uuid(o, 'requestId') } satisfies JobPayloads['code_sms'] as JobPayloads[K];
    case 'phone_replaced_notice':
      return { personId: uuid(o, 'personId'), phone: str(o, 'phone', /^\+\d{6,15}$/) } satisfies JobPayloads['phone_replaced_notice'] as JobPayloads[K];
    case 'dose_request_notice':
      return { personId: uuid(o, 'personId'), requestId: uuid(o, 'requestId') } satisfies JobPayloads['dose_request_notice'] as JobPayloads[K];
    case 'satusehat_sync':
      return { personId: uuid(o, 'personId'), vaccinationId: uuid(o, 'vaccinationId') } satisfies JobPayloads['satusehat_sync'] as JobPayloads[K];
    case 'escalate_dose_requests':
    case 'housekeeping':
    case 'pipeline_rollup':
    case 'sms_sweep':
    case 'queue_vacuum':
      return {} satisfies JobPayloads['escalate_dose_requests'] as JobPayloads[K];
    default:
      return k satisfies never;
  }
}
