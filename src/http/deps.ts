/** What the HTTP app is built from: everything with I/O is passed in (tests build it with real components). */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger } from 'fastify';
import type { Db } from '../db/client.ts';
import type { Issuer } from '../certificates/issuer.ts';
import type { TokenAuthenticator } from '../access/tokens.ts';
import type { Config } from '../config.ts';
import type { Metrics } from './metrics.ts';
import type { NotifyService } from '../notify/service.ts';

export interface AppDeps {
  db: Db;
  issuer: Issuer;
  auth: TokenAuthenticator;
  linkSecret: Buffer;
  config: Pick<Config, 'publicUrl' | 'smsGateway' | 'http'>;
  metrics: Metrics;
  /** SMS: delivery reports, the sink, counts. */
  notify: NotifyService;
  /** The clock; tests may fix it. */
  now?: () => Date;
  /**
   * How the public lookup and phone-correction answers wait out their floor
   * (access/portal.ts LOOKUP_FLOOR_MS): a timer unless set. Read at each
   * request; tests that are not about the floor set it to skip the wait.
   */
  sleep?: (ms: number) => Promise<void>;
}

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

declare module 'fastify' {
  interface FastifyInstance {
    /** Every registered route (method, url), for tests and documentation. */
    routeList: { method: string; url: string }[];
    /** Compiles every route's validators and serializers now, not at each route's first request; throws if one does not compile (lazy-schemas.ts). */
    compileSchemas(): void;
  }
}
