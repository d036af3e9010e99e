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
    const gauges = jobs.rows.map((r) => ({ name: 'dosis_jobs', help: 'Outbox jobs not done, by kind and status', labels: { kind: r.kind, status: r.status }, value: r.n }));
    return reply.type('text/plain; version=0.0.4').send(deps.metrics.render(gauges));
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
