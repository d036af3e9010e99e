/** Liveness, readiness, metrics, OpenAPI. */
import type { App, AppDeps } from '../deps.ts';

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
    return reply.type('text/plain; version=0.0.4').send(deps.metrics.render(gauges));
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
