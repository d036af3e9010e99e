/**
 * SMS gateways behind one interface: `send` hands a message over and answers
 * with the gateway's reference (or why not); `parseReport` reads a delivery
 * report into a status. One adapter per gateway: Kannel's HTTP sendsms, and a
 * local sink that stores messages in the database for the embedded default.
 *
 * Kannel facts (../shared/SMS-GATEWAY.md, checked against Kannel 1.4.5 here):
 * - sendsms answers 202 `0: Accepted for delivery`, or 202 `3: Queued for
 *   later delivery` when the SMSC is down. With Kannel's message store
 *   (`store-type = spool`, deploy/kannel.conf) a queued message is kept on
 *   disk and sent when the SMSC returns: both are accepted submits.
 * - Connection refused, no answer, or any other HTTP answer: the gateway is
 *   down (or misconfigured), which says nothing about the number.
 * - No message id comes back, so our notification id, the attempt and a
 *   signature ride in the `dlr-url`; Kannel adds %d (status bits), %F (the
 *   SMSC's id), %A (receipt text), %T (time), %p (destination).
 * - Report status is a bit set: 1 delivered, 2 failed, 4 buffered, 8 accepted
 *   by the SMSC, 16 rejected by the SMSC (`NACK/0x0000000b/…`), 32
 *   intermediate. Expired arrives as 34: test bits, never equality.
 * - Non-GSM text becomes `?` unless `coding=2&charset=UTF-8` is sent.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../db/client.ts';
import type { SmsEncoding } from './gsm7.ts';

export type RouteName = 'sink' | 'primary' | 'fallback';

export interface OutgoingSms {
  personId: string;
  notificationId: string;
  attempt: number;
  to: string;
  text: string;
  encoding: SmsEncoding;
  /** A one-time code: under SMS_MAX_PER_SECOND it takes the next send slot ahead of the messages already waiting for theirs. */
  urgent?: boolean;
}

export type SendResult =
  /**
   * Handed over. `ref`: the gateway's id when it gives one at once; `delivered`: the sink delivers
   * on the spot; `queued`: Kannel kept it in its store for an SMSC that is down (`3: Queued`).
   */
  | { ok: true; raw: string; ref: string | null; delivered?: boolean; queued?: boolean }
  /**
   * Not handed over. `gatewayDown`: the gateway itself failed (connection refused, no answer,
   * an HTTP error): nothing was accepted and it says nothing about the number.
   */
  | { ok: false; raw: string; error: string; gatewayDown: boolean };

export type ReportOutcome = 'delivered' | 'failed' | 'expired' | 'rejected' | 'intermediate';

export interface DeliveryReport {
  bits: number;
  outcome: ReportOutcome;
  /** The SMSC's message id (Kannel %F), when known. */
  smscId: string | null;
  /** Receipt or NACK text (Kannel %A). */
  receipt: string | null;
  /** Error code from the receipt (`err:001`) or the NACK (`0x0000000b`). */
  error: string | null;
}

export interface SmsGateway {
  readonly type: 'kannel' | 'sink';
  readonly route: RouteName;
  send(m: OutgoingSms): Promise<SendResult>;
  /**
   * Sends several at once, one answer per message in order (a gateway that can: the sink, in one statement).
   * A throw is a gateway failure of them all, as a throw of `send` is of one.
   */
  sendMany?(ms: readonly OutgoingSms[]): Promise<SendResult[]>;
  /** Whether the gateway answers, without sending anything: null when it does, else why not. */
  probe(): Promise<string | null>;
}

/** Reads Kannel's report bits (and receipt text) into an outcome. Bits, not equality: 34 = failed|intermediate = expired. */
export function outcomeOfBits(bits: number, receipt: string | null): ReportOutcome {
  if (bits & 1) return 'delivered';
  if (bits & 16) return 'rejected';
  if (bits & 2) return bits & 32 || /stat:EXPIRED/i.test(receipt ?? '') ? 'expired' : 'failed';
  return 'intermediate';
}

/** Parses the query Kannel sends to our dlr-url (`d`, `f`, `rc`). Throws RangeError on a status that is not a bit set. */
export function parseKannelReport(q: Record<string, string | undefined>): DeliveryReport {
  const bits = Number(q.d);
  if (!Number.isInteger(bits) || bits < 0 || bits > 63) throw new RangeError(`report status "${q.d ?? ''}" is not a Kannel DLR bit set`);
  const receipt = q.rc ? q.rc : null;
  const err = /\berr:(\w+)/.exec(receipt ?? '')?.[1] ?? /^NACK\/(0x[0-9a-f]+)/i.exec(receipt ?? '')?.[1] ?? null;
  return { bits, outcome: outcomeOfBits(bits, receipt), smscId: q.f ? q.f : null, receipt, error: err };
}

/**
 * What a failed attempt says about the number. `permanent`: no retry to this
 * number can succeed (the person goes on the `unreachable` list at once);
 * `temporary`: the number may work later (retried by the SMS policy);
 * `gateway`: the SMSC or our link failed, not the number (retried, and never
 * puts the person on the list).
 */
export type FailureClass = 'permanent' | 'temporary' | 'gateway';

/**
 * SMPP command statuses (SMPP 3.4 §5.1.3) that Kannel reports as a NACK
 * (bit 16, `NACK/0x0000000b/…`). Permanent: the destination itself is wrong or
 * refused for good. Gateway: our bind, our sender or the SMSC's own system.
 * Everything else (queue full, throttled, temporary application error, submit
 * failed, …) is temporary.
 */
const SMPP_PERMANENT: ReadonlySet<number> = new Set([
  0x0b, // ESME_RINVDSTADR invalid destination address
  0x50, // ESME_RINVDSTTON
  0x51, // ESME_RINVDSTNPI
  0x65, // ESME_RX_P_APPN permanent application error
  0x66, // ESME_RX_R_APPN rejected by the application (e.g. barred)
]);
const SMPP_GATEWAY: ReadonlySet<number> = new Set([
  0x04, // ESME_RINVBNDSTS incorrect bind status
  0x05, // ESME_RALYBND already bound
  0x08, // ESME_RSYSERR system error
  0x0a, // ESME_RINVSRCADR our sender id refused
  0x0d, // ESME_RBINDFAIL
  0x0e, // ESME_RINVPASWD
  0x0f, // ESME_RINVSYSID
]);

/**
 * Receipt `err:` codes that mean the number cannot receive come from the
 * configuration (SMS_PERMANENT_RECEIPT_ERRORS, default in config.ts: GSM MAP
 * unknown 001, unidentified 005, illegal subscriber 009, teleservice not
 * provisioned 011, illegal equipment 012, barred 013). Absent subscriber,
 * memory full, system failure and the rest are temporary.
 */
/** Classifies a failed, expired or rejected report (see FailureClass). */
export function classifyFailure(rep: Pick<DeliveryReport, 'outcome' | 'receipt' | 'error'>, permanentReceiptErrors: ReadonlySet<string>): FailureClass {
  if (rep.outcome === 'expired') return 'temporary'; // the phone was off for the validity period
  if (rep.outcome === 'rejected') {
    const code = /^0x[0-9a-f]+$/i.test(rep.error ?? '') ? Number.parseInt(rep.error as string, 16) : null;
    if (code === null) return 'gateway'; // rejected by Kannel or the SMSC without a status: not about the number
    if (SMPP_PERMANENT.has(code)) return 'permanent';
    if (SMPP_GATEWAY.has(code)) return 'gateway';
    return 'temporary';
  }
  if (/\bstat:REJECTD\b/i.test(rep.receipt ?? '')) return 'permanent';
  const err = rep.error && /^\d+$/.test(rep.error) ? rep.error.padStart(3, '0') : null;
  return err !== null && permanentReceiptErrors.has(err) ? 'permanent' : 'temporary';
}

/** The signature in a report URL: HMAC-SHA-256 over person, notification and attempt, 128 bits, base64url. */
export function reportSignature(secret: Buffer, personId: string, notificationId: string, attempt: number): string {
  return createHmac('sha256', secret).update(`${personId}.${notificationId}.${attempt}`).digest().subarray(0, 16).toString('base64url');
}

export function checkReportSignature(secret: Buffer, personId: string, notificationId: string, attempt: number, sig: string): boolean {
  const want = Buffer.from(reportSignature(secret, personId, notificationId, attempt));
  const got = Buffer.from(sig);
  return got.length === want.length && timingSafeEqual(got, want);
}

export interface KannelRoute {
  url: string;
  user: string;
  password: string;
  sender: string;
  /** Force this Kannel smsc-id (`smsc=`), e.g. one operator's link. */
  smsc?: string | undefined;
}

export interface KannelOptions {
  route: RouteName;
  kannel: KannelRoute;
  /** `${PUBLIC_URL}/api/v1/sms/reports` */
  reportUrl: string;
  reportSecret: Buffer;
  timeoutMs: number;
}

/** Kannel's HTTP sendsms, with a delivery report for every state (dlr-mask 31). */
export class KannelGateway implements SmsGateway {
  readonly type = 'kannel';
  readonly route: RouteName;
  private readonly o: KannelOptions;

  constructor(o: KannelOptions) {
    this.o = o;
    this.route = o.route;
  }

  /** The dlr-url for one attempt: our ids and signature, plus Kannel's escapes. */
  dlrUrl(m: Pick<OutgoingSms, 'personId' | 'notificationId' | 'attempt'>): string {
    const sig = reportSignature(this.o.reportSecret, m.personId, m.notificationId, m.attempt);
    // Kannel substitutes %d %F %A %T %p; our own values contain no '%'.
    return `${this.o.reportUrl}?p=${m.personId}&n=${m.notificationId}&a=${m.attempt}&r=${this.route}&s=${sig}&d=%d&f=%F&rc=%A&t=%T&to=%p`;
  }

  sendUrl(m: OutgoingSms): string {
    const k = this.o.kannel;
    const q = new URLSearchParams({
      username: k.user,
      password: k.password,
      from: k.sender,
      to: m.to,
      text: m.text,
      'dlr-mask': '31',
      'dlr-url': this.dlrUrl(m),
    });
    if (m.encoding === 'ucs2') {
      q.set('coding', '2');
      q.set('charset', 'UTF-8');
    }
    if (k.smsc) q.set('smsc', k.smsc);
    return `${k.url}?${q.toString()}`;
  }

  async send(m: OutgoingSms): Promise<SendResult> {
    let res: Response;
    let body: string;
    try {
      res = await fetch(this.sendUrl(m), { signal: AbortSignal.timeout(this.o.timeoutMs) });
      body = (await res.text()).trim();
    } catch (e) {
      const what = fetchFailure(e, this.o.timeoutMs);
      return { ok: false, raw: `${this.route}: ${what}`, error: `kannel_unreachable: ${what}`, gatewayDown: true };
    }
    const raw = `${res.status} ${body}`.slice(0, 1000);
    if (res.status === 202 && body.startsWith('0:')) return { ok: true, raw, ref: null };
    // `3: Queued for later delivery`: the SMSC is down and Kannel keeps the message in its store
    // (store-type = spool: it survives a restart of bearerbox) until the SMSC is back. Accepted:
    // sending it again would give the person every copy.
    if (res.status === 202 && body.startsWith('3:')) return { ok: true, raw, ref: null, queued: true };
    // Anything else (4xx: our credentials or Kannel's configuration; 5xx) is the gateway's, not the number's.
    return { ok: false, raw, error: `kannel_refused: ${raw}`, gatewayDown: true };
  }

  /**
   * sendsms with our credentials and no receiver: smsbox answers `400 Missing receiver number`
   * without sending anything (403 when the credentials are wrong). smsbox exits with its
   * bearerbox, so an answer means both are up.
   */
  async probe(): Promise<string | null> {
    const k = this.o.kannel;
    try {
      const res = await fetch(`${k.url}?${new URLSearchParams({ username: k.user, password: k.password }).toString()}`, { signal: AbortSignal.timeout(this.o.timeoutMs) });
      const body = (await res.text()).trim();
      if (res.status === 400 || res.status === 202) return null;
      return `${res.status} ${body}`.slice(0, 500);
    } catch (e) {
      return fetchFailure(e, this.o.timeoutMs);
    }
  }
}

function fetchFailure(e: unknown, timeoutMs: number): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return (e as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (cause?.code ?? cause?.message ?? (e as Error).message);
}

/**
 * The local sink: "sends" by storing the message in `sms_sink` (shown by
 * `dosis sms tail` and GET /api/v1/sms/sink) and delivers at once.
 */
export class SinkGateway implements SmsGateway {
  readonly type = 'sink';
  readonly route = 'sink';
  private readonly db: Queryable;
  private readonly onMessage: ((m: { id: number; to: string; text: string; at: Date }) => void) | undefined;

  constructor(db: Queryable, onMessage?: (m: { id: number; to: string; text: string; at: Date }) => void) {
    this.db = db;
    this.onMessage = onMessage;
  }

  async send(m: OutgoingSms): Promise<SendResult> {
    return (await this.sendMany([m]))[0] as SendResult;
  }

  /** A batch's messages stored in one statement (a round trip per batch, not per SMS). */
  async sendMany(ms: readonly OutgoingSms[]): Promise<SendResult[]> {
    if (ms.length === 0) return [];
    const r = await this.db.query<{ id: string; at: Date; notification_id: string }>(
      `INSERT INTO sms_sink (person_id, recipient, body, notification_id)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[])
       RETURNING id, at, notification_id`,
      [ms.map((m) => m.personId), ms.map((m) => m.to), ms.map((m) => m.text), ms.map((m) => m.notificationId)],
    );
    // Each message's row found by its notification (one row per message, taken in turn should one come twice).
    const byNotification = new Map<string, { id: string; at: Date }[]>();
    for (const row of r.rows) byNotification.set(row.notification_id, [...(byNotification.get(row.notification_id) ?? []), row]);
    return ms.map((m) => {
      const row = byNotification.get(m.notificationId)?.shift();
      if (!row) throw new Error(`sink: no message stored for notification ${m.notificationId}`);
      this.onMessage?.({ id: Number(row.id), to: m.to, text: m.text, at: row.at });
      return { ok: true, raw: `sink: stored as message ${row.id}`, ref: `sink-${row.id}`, delivered: true };
    });
  }

  async probe(): Promise<string | null> {
    return null;
  }
}

/** The routes of a deployment: attempts 1…fallbackAfter go to the primary, later ones to the fallback (when there is one). */
export interface Routes {
  primary: SmsGateway;
  fallback?: SmsGateway | undefined;
  fallbackAfter: number;
}

export function routeFor(routes: Routes, attempt: number): SmsGateway {
  return routes.fallback && attempt > routes.fallbackAfter ? routes.fallback : routes.primary;
}
