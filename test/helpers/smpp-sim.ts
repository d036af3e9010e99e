/**
 * Our SMPP simulator (an SMSC) for tests and benchmarks, on npm `smpp`.
 *
 * Kannel's own `fakesmsc` always reports "delivered" at once, so it cannot
 * test failures. This one answers `submit_sm` and later sends a `deliver_sm`
 * receipt, and can be told per destination number what to do:
 *
 * - `deliver`  — accept, receipt `stat:DELIVRD` (after `delayMs`, default 0)
 * - `undeliv`  — accept, receipt `stat:UNDELIV err:001`
 * - `expire`   — accept, receipt `stat:EXPIRED`
 * - `reject`   — refuse at submit (`ESME_RINVDSTADR`, permanent)
 * - `silent`   — accept, never send a receipt
 * - `slow`     — accept, receipt `stat:DELIVRD` after `delayMs`
 * - `throttle` — answer `ESME_RTHROTTLED` to the first `times` submits, then deliver
 *
 * `times` on undeliv/expire/reject/silent limits the failure to the first
 * `times` submits to that number; later ones are delivered.
 *
 * Every submit is counted per destination, so tests can count duplicate sends.
 * Like a real SMSC, a receipt whose session has gone (Kannel restarting) is
 * kept and sent on the next bound session.
 */
import smpp, { type Pdu, type Server, type Session } from 'smpp';

export type Behaviour =
  | { kind: 'deliver'; delayMs?: number }
  | { kind: 'undeliv'; delayMs?: number; times?: number; /** receipt `err:` (default 001, unknown subscriber: permanent) */ err?: string }
  | { kind: 'expire'; delayMs?: number; times?: number }
  | { kind: 'reject'; times?: number; /** SMPP command status (default 0x0B, invalid destination address: permanent) */ status?: number }
  | { kind: 'silent'; times?: number }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'throttle'; times: number };

export interface Submitted {
  messageId: string | null;
  to: string;
  from: string;
  text: string;
  dataCoding: number;
  at: number;
  /** What the simulator answered: 0 = accepted, else the SMPP error status. */
  status: number;
}

const ESME_RTHROTTLED = 0x58;

/** `YYMMDDhhmm` as SMPP receipts write dates. */
function receiptDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}`;
}

function decodeText(pdu: Pdu): string {
  const sm = pdu.short_message as { message?: unknown } | Buffer | string | undefined;
  if (typeof sm === 'string') return sm;
  if (Buffer.isBuffer(sm)) return sm.toString('latin1');
  if (sm && typeof sm === 'object') {
    const m = sm.message;
    if (typeof m === 'string') return m;
    if (Buffer.isBuffer(m)) return m.toString('latin1');
  }
  return '';
}

export class SmppSimulator {
  private server: Server | undefined;
  private readonly rules = new Map<string, Behaviour>();
  private readonly seen = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sessions = new Set<Session>();
  /** Receipts whose session closed before they could go: sent on the next bind. */
  private readonly heldReceipts: Record<string, unknown>[] = [];
  private nextId = 1_000_000;
  private defaultBehaviour: Behaviour = { kind: 'deliver' };
  /** Every submit_sm seen, in order. */
  readonly submitted: Submitted[] = [];
  /** Receipts sent back (deliver_sm), by message id. */
  readonly receipts: { messageId: string; stat: string; at: number }[] = [];
  port = 0;

  /** Sets what happens to messages for `to` (E.164 with or without `+`). */
  behave(to: string, b: Behaviour): this {
    this.rules.set(to.replace(/^\+/, ''), b);
    return this;
  }

  /** What happens to numbers without a rule. */
  behaveByDefault(b: Behaviour): this {
    this.defaultBehaviour = b;
    return this;
  }

  behaviourFor(to: string): Behaviour {
    return this.rules.get(to.replace(/^\+/, '')) ?? this.defaultBehaviour;
  }

  /** submit_sm counts per destination (accepted or not). */
  submitsTo(to: string): Submitted[] {
    const n = to.replace(/^\+/, '');
    return this.submitted.filter((s) => s.to.replace(/^\+/, '') === n);
  }

  /** Destinations that were accepted more than once, with the number of extra copies. */
  duplicates(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const s of this.submitted) if (s.status === 0) counts.set(s.to, (counts.get(s.to) ?? 0) + 1);
    const dups = new Map<string, number>();
    for (const [to, n] of counts) if (n > 1) dups.set(to, n - 1);
    return dups;
  }

  /** Destinations that received more than one delivered copy (DELIVRD receipts), with the number of extra copies: what people got twice. */
  deliveredTwice(): Map<string, number> {
    const to = new Map(this.submitted.filter((x) => x.messageId).map((x) => [x.messageId as string, x.to]));
    const counts = new Map<string, number>();
    for (const r of this.receipts) if (r.stat === 'DELIVRD') counts.set(to.get(r.messageId) ?? '?', (counts.get(to.get(r.messageId) ?? '?') ?? 0) + 1);
    const dups = new Map<string, number>();
    for (const [n, c] of counts) if (c > 1) dups.set(n, c - 1);
    return dups;
  }

  /** Receipts waiting for a session (sent when Kannel binds again). */
  get heldReceiptCount(): number {
    return this.heldReceipts.length;
  }

  get boundSessions(): number {
    return this.sessions.size;
  }

  /** Listens on 127.0.0.1:`port` (0 → a free port). */
  async start(port = 0): Promise<this> {
    const server = smpp.createServer((session) => this.onSession(session));
    server.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('SMPP simulator: no address');
    this.port = addr.port;
    this.server = server;
    return this;
  }

  /** Closes every session and the listener (Kannel then sees the SMSC as down). */
  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.down();
  }

  /**
   * An outage of the SMSC: sessions and listener closed, but receipts due are
   * kept for when it is back (`up()` listens on the same port again).
   */
  async down(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    this.sessions.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async up(): Promise<void> {
    await this.start(this.port);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private onSession(session: Session): void {
    // Without this, the kernel's delayed ACKs stall each PDU by ~40 ms.
    session.socket.setNoDelay(true);
    session.on('error', () => {});
    session.on('close', () => this.sessions.delete(session));
    const bind = (pdu: Pdu) => {
      this.sessions.add(session);
      session.send(pdu.response({ system_id: 'SIM' }));
      if (pdu.command !== 'bind_transmitter') for (const r of this.heldReceipts.splice(0)) session.deliver_sm(r);
    };
    session.on('bind_transceiver', bind);
    session.on('bind_transmitter', bind);
    session.on('bind_receiver', bind);
    session.on('enquire_link', (pdu: Pdu) => session.send(pdu.response()));
    session.on('unbind', (pdu: Pdu) => {
      session.send(pdu.response());
      session.close();
    });
    session.on('deliver_sm_resp', () => {});
    session.on('submit_sm', (pdu: Pdu) => this.onSubmit(session, pdu));
  }

  private onSubmit(session: Session, pdu: Pdu): void {
    const to = typeof pdu.destination_addr === 'string' ? pdu.destination_addr : '';
    const from = typeof pdu.source_addr === 'string' ? pdu.source_addr : '';
    const text = decodeText(pdu);
    const dataCoding = Number(pdu.data_coding ?? 0);
    const nth = (this.seen.get(to) ?? 0) + 1; // this is the nth submit to `to`
    this.seen.set(to, nth);
    const rule = this.behaviourFor(to);
    const limited = rule.kind === 'undeliv' || rule.kind === 'expire' || rule.kind === 'reject' || rule.kind === 'silent';
    const b: Behaviour = limited && rule.times !== undefined && nth > rule.times ? { kind: 'deliver' } : rule;
    const record = (messageId: string | null, status: number) =>
      this.submitted.push({ messageId, to, from, text, dataCoding, at: Date.now(), status });

    if (b.kind === 'reject') {
      const status = b.status ?? smpp.errors.ESME_RINVDSTADR ?? 0x0b;
      record(null, status);
      session.send(pdu.response({ command_status: status }));
      return;
    }
    if (b.kind === 'throttle') {
      if (nth <= b.times) {
        record(null, ESME_RTHROTTLED);
        session.send(pdu.response({ command_status: ESME_RTHROTTLED }));
        return;
      }
    }
    const messageId = String(this.nextId++);
    record(messageId, 0);
    session.send(pdu.response({ message_id: messageId }));
    const submitDate = new Date();
    const receipt = (stat: 'DELIVRD' | 'UNDELIV' | 'EXPIRED', err: string, state: number) => {
      const done = new Date();
      const body =
        `id:${messageId} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:${receiptDate(submitDate)} ` +
        `done date:${receiptDate(done)} stat:${stat} err:${err} text:${text.replace(/[^\x20-\x7e]/g, '?').slice(0, 20)}`;
      this.receipts.push({ messageId, stat, at: Date.now() });
      const pdu = {
        source_addr: to,
        destination_addr: from,
        esm_class: 0x04, // SMSC delivery receipt
        short_message: body,
        receipted_message_id: messageId,
        message_state: state,
      };
      // The submitting session may have gone (bearerbox restarting): any bound session takes it, or the next one.
      const live = this.sessions.has(session) && !session.socket.destroyed ? session : [...this.sessions].find((x) => !x.socket.destroyed);
      if (live) live.deliver_sm(pdu);
      else this.heldReceipts.push(pdu);
    };
    switch (b.kind) {
      case 'deliver':
      case 'throttle':
        this.after(b.kind === 'deliver' ? (b.delayMs ?? 0) : 0, () => receipt('DELIVRD', '000', 2));
        break;
      case 'slow':
        this.after(b.delayMs, () => receipt('DELIVRD', '000', 2));
        break;
      case 'undeliv':
        this.after(b.delayMs ?? 0, () => receipt('UNDELIV', b.err ?? '001', 5));
        break;
      case 'expire':
        this.after(b.delayMs ?? 0, () => receipt('EXPIRED', '000', 3));
        break;
      case 'silent':
        break;
      default:
        b satisfies never;
    }
  }

  private after(ms: number, fn: () => void): void {
    // Even "at once" goes after the submit_sm_resp has been written.
    if (ms <= 0) setImmediate(fn);
    else this.later(ms, fn);
  }
}
