/** Liveness, readiness, metrics, OpenAPI. */
import type { App, AppDeps } from '../deps.ts';
import { routeHealth } from '../../notify/queries.ts';

export function healthRoutes(app: App, deps: AppDeps): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    try {
      await deps.db.query('SELECT 1 FROM schema_migrations LIMIT 1');
      return { ready: true };
    } catch {
      return reply.status(503).send({ ready: false });
    }
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    const jobs = await deps.db.query<{ kind: string; status: string; n: number }>(
      "SELECT kind, status, count(*)::int8 AS n FROM jobs WHERE status <> 'done' GROUP BY kind, status",
    );
    const gauges: { name: string; help: string; labels: Record<string, string>; value: number }[] = jobs.rows.map((r) => ({ name: 'dosis_jobs', help: 'Outbox jobs not done, by kind and status', labels: { kind: r.kind, status: r.status }, value: Number(r.n) }));
    // SMS: notifications by kind and status (a read of every notification), open work-list cases by kind.
    const sms = await deps.db.query<{ kind: string; status: string; n: number }>('SELECT kind, status, count(*)::int8 AS n FROM notifications GROUP BY kind, status ORDER BY 1, 2');
    for (const r of sms.rows) gauges.push({ name: 'dosis_notifications', help: 'SMS notifications by kind and status', labels: { kind: r.kind, status: r.status }, value: Number(r.n) });
    const cases = await deps.db.query<{ kind: string; n: number }>("SELECT kind, count(*)::int8 AS n FROM cases WHERE status = 'open' GROUP BY kind ORDER BY 1");
    for (const r of cases.rows) gauges.push({ name: 'dosis_cases_open', help: 'Open work-list cases by kind', labels: { kind: r.kind }, value: Number(r.n) });
    // The hand-off to SATUSEHAT (issue 21): doses by sync state (waiting from its partial index; the rest a read of
    // satusehat_sync like the notifications above), the oldest waiting, and the doses SATUSEHAT holds per the totals.
    const sync = await deps.db.query<{ state: string; n: number; oldest_seconds: number | null }>(
      `SELECT state, count(*)::int8 AS n, CASE WHEN state = 'waiting' THEN round(extract(epoch FROM now() - min(queued_at)))::float8 END AS oldest_seconds
         FROM satusehat_sync GROUP BY state ORDER BY 1`,
    );
    for (const r of sync.rows) {
      gauges.push({ name: 'dosis_satusehat_doses', help: 'Doses handed to SATUSEHAT, by sync state (waiting, synced, rejected, patient_not_found)', labels: { state: r.state }, value: Number(r.n) });
      if (r.oldest_seconds !== null) gauges.push({ name: 'dosis_satusehat_oldest_waiting_seconds', help: 'Age of the oldest dose waiting to be handed to SATUSEHAT', labels: {}, value: Number(r.oldest_seconds) });
    }
    // SMS routes (issue 16): each one's breaker state, time since its last success, and the SMS people got twice.
    for (const r of await routeHealth(deps.db)) {
      for (const state of ['closed', 'open', 'half_open'] as const)
        gauges.push({ name: 'dosis_sms_route_state', help: 'SMS route circuit state (1 for the current one): closed = in use, open = paused, gateway down', labels: { route: r.route, state }, value: r.state === state ? 1 : 0 });
      if (r.secondsSinceSuccess !== null)
        gauges.push({ name: 'dosis_sms_route_seconds_since_success', help: 'Seconds since the route last accepted an SMS or answered a probe', labels: { route: r.route }, value: r.secondsSinceSuccess });
      gauges.push({ name: 'dosis_sms_route_outages', help: 'Times the route was paused because its gateway failed', labels: { route: r.route }, value: r.outages });
      gauges.push({ name: 'dosis_sms_duplicates_total', help: 'Delivered reports for an attempt other than the one that had delivered: SMS people received twice', labels: { route: r.route }, value: r.duplicates });
    }
    return reply.type('text/plain; version=0.0.4').send(deps.metrics.render(gauges));
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
