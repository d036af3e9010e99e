/**
 * A gateway's health, apart from a person's fate (issue 16): a circuit breaker
 * per route. Connection refused, no answer or an HTTP error from the gateway
 * says the gateway is down, not the number: after `failuresToOpen` such
 * failures in a row the route opens, and no SMS goes to it until a probe (the
 * gateway's `probe()`, which sends nothing) answers. The first probe comes
 * `probeBaseMs` after opening, then at doubling intervals up to `probeMaxMs`.
 * Messages caught meanwhile wait without spending an attempt, or take the
 * other route when it is healthy.
 *
 * Each process keeps its own breakers (a worker learns of an outage from its
 * own sends) and writes every change of state to `sms_routes`, where the
 * dashboard and /metrics read it; a success refreshes `last_success_at` at
 * most every few seconds, so the row is not a hot spot.
 */
import type { Queryable } from '../db/client.ts';
import type { Routes, RouteName, SmsGateway } from './gateways.ts';
import { routeFor } from './gateways.ts';

export type RouteState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** Gateway failures in a row that open the route (default 3). */
  failuresToOpen: number;
  /** First probe after opening; doubles up to probeMaxMs. */
  probeBaseMs: number;
  probeMaxMs: number;
  /**
   * Sends in flight to a Kannel route from this process at most (SMS_SENDS_IN_FLIGHT, default 16),
   * whatever the worker's concurrency: the others wait their turn here, a one-time code first.
   * 0: no bound. The sink is never bounded.
   */
  sendsInFlight?: number;
}

/**
 * A window of sends in flight: `acquire` resolves when one of `size` places is
 * free; waiting urgent sends (one-time codes) go before the others, each kind
 * in the order it came. Kannel fed a steady few requests at a time over
 * kept-alive connections delivers more than when flooded with every job in
 * flight at once (bench/notify.ts, issue 16).
 */
export class SendWindow {
  readonly size: number;
  private used = 0;
  private readonly urgent: (() => void)[] = [];
  private readonly normal: (() => void)[] = [];

  constructor(size: number) {
    this.size = size;
  }

  /** Sends in flight now, and waiting for a place. */
  get inFlight(): number {
    return this.used;
  }
  get waiting(): number {
    return this.urgent.length + this.normal.length;
  }

  /** Waits for a place; returns its release (call it once). */
  async acquire(urgent = false): Promise<() => void> {
    if (this.size > 0) {
      if (this.used < this.size) this.used++;
      else await new Promise<void>((r) => (urgent ? this.urgent : this.normal).push(r)); // the place is handed over by a release
    }
    let released = false;
    return () => {
      if (released || this.size <= 0) return;
      released = true;
      const next = this.urgent.shift() ?? this.normal.shift();
      if (next) next();
      else this.used--;
    };
  }
}

/** How often a success or a failure that changes no state is written to `sms_routes`. */
const WRITE_EVERY_MS = 5000;

export class RouteBreaker {
  readonly gateway: SmsGateway;
  private readonly db: Queryable;
  private readonly o: BreakerOptions;
  private readonly onError: (e: unknown) => void;
  state: RouteState = 'closed';
  private failures = 0;
  private openUntil = 0;
  private probeDelay: number;
  private probing: Promise<boolean> | undefined;
  private lastWrite = 0;
  private writes: Promise<void> = Promise.resolve();
  /** The route's sends in flight from this process (SendWindow). */
  readonly window: SendWindow;

  constructor(gateway: SmsGateway, db: Queryable, o: BreakerOptions, onError: (e: unknown) => void) {
    this.gateway = gateway;
    this.db = db;
    this.o = o;
    this.onError = onError;
    this.probeDelay = o.probeBaseMs;
    this.window = new SendWindow(gateway.type === 'kannel' ? (o.sendsInFlight ?? 16) : 0);
  }

  get route(): RouteName {
    return this.gateway.route;
  }

  /**
   * Whether a send may go to this route now. An open route whose probe time
   * came is probed (once, whoever asks first; the others wait for its answer).
   */
  async ready(): Promise<boolean> {
    if (this.state === 'closed') return true;
    if (Date.now() < this.openUntil) return false;
    this.probing ??= this.probe().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private async probe(): Promise<boolean> {
    this.state = 'half_open';
    const why = await this.gateway.probe().catch((e: unknown) => String(e));
    if (why === null) {
      this.close();
      return true;
    }
    this.probeDelay = Math.min(this.o.probeMaxMs, this.probeDelay * 2);
    this.openUntil = Date.now() + this.probeDelay;
    this.state = 'open';
    this.write({ error: `probe: ${why}`, failure: true, force: true });
    return false;
  }

  /** The time a message waiting for this route should look again (ms from now), spread so waiting messages do not all come at once. */
  waitMs(): number {
    const until = this.state === 'closed' ? 0 : Math.max(0, this.openUntil - Date.now());
    return until + this.o.probeBaseMs * (0.5 + Math.random());
  }

  success(): void {
    if (this.state !== 'closed' || this.failures > 0) this.close();
    else this.write({ success: true });
  }

  private close(): void {
    const changed = this.state !== 'closed';
    this.state = 'closed';
    this.failures = 0;
    this.probeDelay = this.o.probeBaseMs;
    this.write({ success: true, force: changed });
  }

  /** Pauses the route now (a probe at start found the gateway down). */
  trip(error: string): void {
    if (this.state !== 'closed') return;
    this.state = 'open';
    this.openUntil = Date.now() + this.probeDelay;
    this.write({ error, failure: true, force: true, opened: true });
  }

  /** A gateway failure (not a failure of a number). */
  failure(error: string): void {
    this.failures++;
    if (this.state === 'closed' && this.failures >= this.o.failuresToOpen) {
      this.state = 'open';
      this.openUntil = Date.now() + this.probeDelay;
      this.write({ error, failure: true, force: true, opened: true });
      return;
    }
    if (this.state === 'half_open') return; // the probe decides
    this.write({ error, failure: true });
  }

  /** Writes the state to `sms_routes` (in order; errors told, not thrown: health must never stop a send). */
  private write(o: { error?: string; success?: boolean; failure?: boolean; force?: boolean; opened?: boolean }): void {
    const now = Date.now();
    if (!o.force && now - this.lastWrite < WRITE_EVERY_MS) return;
    this.lastWrite = now;
    const args = [this.route, this.state, this.failures, o.error?.slice(0, 500) ?? null, o.success ?? false, o.failure ?? false, o.opened ?? false];
    this.writes = this.writes
      .then(async () => {
        await this.db.query(
          `UPDATE sms_routes
              SET since = CASE WHEN state <> $2 THEN now() ELSE since END, state = $2, failures = $3,
                  last_error = coalesce($4, last_error),
                  last_success_at = CASE WHEN $5::boolean THEN now() ELSE last_success_at END,
                  last_failure_at = CASE WHEN $6::boolean THEN now() ELSE last_failure_at END,
                  outages = outages + CASE WHEN $7::boolean THEN 1 ELSE 0 END
            WHERE route = $1`,
          args,
        );
      })
      .catch(this.onError);
  }

  /** Waits for the writes begun so far (tests, shutdown). */
  flush(): Promise<void> {
    return this.writes;
  }
}

/** The breakers of a deployment's routes, and the choice of route for an attempt. */
export class RouteHealth {
  private readonly routes: Routes;
  private readonly breakers = new Map<RouteName, RouteBreaker>();

  constructor(routes: Routes, db: Queryable, o: BreakerOptions, onError: (e: unknown) => void = () => {}) {
    this.routes = routes;
    for (const gw of [routes.primary, routes.fallback]) if (gw) this.breakers.set(gw.route, new RouteBreaker(gw, db, o, onError));
  }

  breaker(route: RouteName): RouteBreaker | undefined {
    return this.breakers.get(route);
  }

  /**
   * The gateway for an attempt: the route the policy gives (routeFor), or the
   * other one when that route is paused and the other is healthy; null when
   * none may be used now (the message waits, its attempt not spent).
   */
  async pick(attempt: number): Promise<SmsGateway | null> {
    const preferred = routeFor(this.routes, attempt);
    if ((await this.breakers.get(preferred.route)?.ready()) ?? true) return preferred;
    const other = preferred === this.routes.primary ? this.routes.fallback : this.routes.primary;
    if (other && ((await this.breakers.get(other.route)?.ready()) ?? true)) return other;
    return null;
  }

  /** How long a message that found no route waits before looking again. */
  waitMs(attempt: number): number {
    const b = this.breakers.get(routeFor(this.routes, attempt).route);
    return b ? b.waitMs() : 1000;
  }

  /** Probes every route once (the worker's first contact): the routes that do not answer, with why. */
  async check(): Promise<{ route: RouteName; problem: string | null }[]> {
    return Promise.all(
      [...this.breakers.values()].map(async (b) => {
        const problem = await b.gateway.probe();
        if (problem === null) b.success();
        else b.trip(`probe: ${problem}`);
        return { route: b.route, problem };
      }),
    );
  }

  async flush(): Promise<void> {
    await Promise.all([...this.breakers.values()].map((b) => b.flush()));
  }
}
