/**
 * The Fastify app, built in a function from its dependencies: the entry point
 * (cli serve) listens and shuts down; tests build it and use `inject`.
 */
import Fastify, { type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import swagger from '@fastify/swagger';
import type { App, AppDeps } from './deps.ts';
import { authenticate } from './auth.ts';
import { handleError, notFound } from './errors.ts';
import { answerHeaders, checkRequestText, errorForLog, guardBody, requestForLog } from './edge.ts';
import { adminRoutes } from './routes/admin.ts';
import { vaccinationRoutes } from './routes/vaccinations.ts';
import { certificateRoutes } from './routes/certificates.ts';
import { healthRoutes } from './routes/health.ts';
import { healthCardRoutes } from './routes/health-cards.ts';
import { revocationRoutes } from './routes/revocation.ts';
import { fhirRoutes } from './routes/fhir.ts';
import { publicRoutes } from './routes/public.ts';
import { pageRoutes } from './routes/pages.ts';
import { smsRoutes } from './routes/sms.ts';
import { peopleRoutes } from './routes/people.ts';
import { caseRoutes } from './routes/cases.ts';
import { portalRoutes } from './routes/portal.ts';
import { phoneCorrectionRoutes } from './routes/phone-corrections.ts';
import { statsRoutes } from './routes/stats.ts';
import { importRoutes } from './routes/imports.ts';
import { SIGN_IN_URL, sessionRoutes } from './routes/session.ts';
import { doseRequestRoutes } from './routes/dose-requests.ts';
import { consoleRoutes } from './routes/console.ts';
import { lazySchemas } from './lazy-schemas.ts';

/** No request takes longer than this to arrive, whatever its route (an import of 512 MiB at 1 MiB/s). */
export const REQUEST_CEILING_MS = 15 * 60_000;

/** JSON bodies are small: a dose is < 1 KiB. Larger bodies (imports) have their own routes and limits. */
export const JSON_BODY_LIMIT = 1024 * 1024;

export async function buildApp(deps: AppDeps, opts: { logger?: FastifyServerOptions['logger'] } = {}): Promise<App> {
  const schemas = lazySchemas();
  const app = Fastify({
    // Query strings carry NIKs and phone numbers (searches), link paths carry tokens, database
    // errors quote values: logs show the path only, tokens redacted, errors without values (edge.ts).
    logger:
      opts.logger && typeof opts.logger === 'object'
        ? { ...opts.logger, serializers: { req: requestForLog, err: errorForLog } }
        : (opts.logger ?? false),
    bodyLimit: JSON_BODY_LIMIT,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
    // Each route's validators and serializers are compiled at its first request, not at ready() (lazy-schemas.ts).
    schemaController: { compilersFactory: schemas.compilersFactory },
    return503OnClosing: true,
    // The hard ceiling on receiving a request (the body guard below answers slow bodies sooner).
    requestTimeout: REQUEST_CEILING_MS,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Dosis API',
        version: '1',
        description:
          'Records vaccinations and issues each dose a signed EU DCC certificate in the same request. ' +
          'Errors: {"error": {"code", "message", "fields": [{path, code, message}]}}; messages in Indonesian with Accept-Language: id.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.decorateRequest('principal', null);
  app.decorateRequest('staffSession', null);
  // Every route, as registered: the role × scope matrix test checks that none is left unclassified.
  const routes: { method: string; url: string }[] = [];
  app.decorate('routeList', routes);
  app.decorate('compileSchemas', () => schemas.compileAll());
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url });
  });
  // Public routes carry their own credentials (link tokens, portal sessions), never API tokens;
  // signing in needs no session (a stale cookie must not stand in its way).
  const authDeps = { auth: deps.auth, db: deps.db, ...(deps.now ? { now: deps.now } : {}) };
  app.addHook('onRequest', async (req) => {
    if (req.url.startsWith('/api/v1/public/') || (req.method === 'POST' && req.url.split('?')[0] === SIGN_IN_URL)) {
      req.principal = null;
      req.staffSession = null;
      return;
    }
    return authenticate(authDeps, req);
  });
  // A body that trickles in gets 408 (edge.ts); bad text anywhere in a request is a 422 naming the field.
  app.addHook('onRequest', async (req, reply) => guardBody(req, reply, deps.config.http.bodyTimeoutMs));
  app.addHook('preValidation', async (req) => checkRequestText(req));
  const https = deps.config.publicUrl.startsWith('https:');
  app.addHook('onSend', async (req, reply, payload) => {
    answerHeaders(req, reply, { https });
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.inc('dosis_http_requests_total', { route: req.routeOptions.url ?? 'unknown', method: req.method, status: String(reply.statusCode) });
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(notFound);

  healthRoutes(app, deps);
  adminRoutes(app, deps);
  vaccinationRoutes(app, deps);
  certificateRoutes(app, deps);
  healthCardRoutes(app, deps);
  revocationRoutes(app, deps);
  fhirRoutes(app, deps);
  publicRoutes(app, deps);
  pageRoutes(app, deps);
  smsRoutes(app, deps);
  peopleRoutes(app, deps);
  caseRoutes(app, deps);
  portalRoutes(app, deps);
  phoneCorrectionRoutes(app, deps);
  statsRoutes(app, deps);
  importRoutes(app, deps);
  sessionRoutes(app, deps);
  doseRequestRoutes(app, deps);
  consoleRoutes(app, deps);
  await app.ready();
  return app;
}
