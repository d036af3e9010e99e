/**
 * Route validators and response serializers compiled at a route's first use
 * instead of all at `app.ready()` (issue 19). Compiling the schemas of all 92
 * routes (ajv for bodies, queries and params; fast-json-stringify for answers)
 * cost ~0.25 CPU-s of a first build of the app, paid by every `dosis serve`
 * start and every test file, though a process answers few of its routes; now
 * each route pays its own compile once, at its first request: a few ms, ~30
 * more for the first ajv compile of a process (ajv's code warming up).
 *
 * The compilers are Fastify's own defaults (@fastify/ajv-compiler with the
 * app's `ajv` options, @fastify/fast-json-stringify-compiler), called with
 * the same arguments Fastify gives them; only the moment changes. What Fastify
 * gets back stands in for the compiled function in every way it uses one
 * (lib/validation.js `validateParam`, lib/schemas.js `getSchemaSerializer`):
 * a validator is called as `fn(data, { parentData, parentDataProperty })`
 * when it has a `schemaEnv` (ajv's, so coercion can replace the root value),
 * and after a `false` its `errors` are read; a serializer is called as
 * `fn(data)`. A schema that does not compile now fails at its route's first
 * request (a 500) instead of at `ready()`: `app.compileSchemas()` compiles
 * every one at once, and test/http/scope-matrix.test.ts calls it, so a broken
 * schema still fails before it ships.
 */
import AjvCompiler from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type Compilers = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
/** What Fastify passes a compiler for one schema of one route. */
interface RouteSchema {
  schema: unknown;
  method: string;
  url: string;
  httpPart?: string;
  httpStatus?: string;
  contentType?: string;
}
type Fn = (...args: unknown[]) => unknown;
type Compiler = (route: RouteSchema) => Fn;

export interface LazySchemas {
  compilersFactory: Compilers;
  /** Compiles every schema not compiled yet; throws the first that does not compile, naming its route. */
  compileAll(): void;
}

export function lazySchemas(): LazySchemas {
  const pending = new Set<() => Fn>();

  /** `compile(route)` when first needed, remembered; until then listed for compileAll. */
  function once(compile: Compiler, route: RouteSchema): () => Fn {
    let fn: Fn | undefined;
    const get = (): Fn => {
      if (!fn) {
        try {
          fn = compile(route);
        } catch (e) {
          const part = route.httpPart ?? `response ${route.httpStatus ?? ''}`;
          throw new Error(`the ${part} schema of ${route.method} ${route.url} does not compile: ${(e as Error).message}`, { cause: e });
        }
        pending.delete(get);
      }
      return fn;
    };
    pending.add(get);
    return get;
  }

  /** A compiler built at its first use too (ajv's instance and formats cost a few ms). */
  function deferred(build: () => Compiler): Compiler {
    let c: Compiler | undefined;
    return (route) => (c ??= build())(route);
  }

  const validators = AjvCompiler();
  const serializers = SerializerSelector();
  const factory = {
    buildValidator: (externalSchemas: never, options: never) => {
      const compiler = deferred(() => validators(externalSchemas, options) as unknown as Compiler);
      return (route: RouteSchema) => {
        refuseMixedCaseHeaders(route);
        const get = once(compiler, route);
        return Object.defineProperties((...args: unknown[]) => get()(...args), {
          // Read by Fastify before each call: compiling here keeps the answer exact for any compiler.
          schemaEnv: { get: () => (get() as { schemaEnv?: unknown }).schemaEnv },
          errors: { get: () => (get() as { errors?: unknown }).errors },
        });
      };
    },
    buildSerializer: (externalSchemas: never, options: never) => {
      const compiler = deferred(() => serializers(externalSchemas, options) as unknown as Compiler);
      return (route: RouteSchema) => {
        const get = once(compiler, route);
        return (data: unknown) => get()(data);
      };
    },
  };

  return {
    compilersFactory: factory as unknown as Compilers,
    compileAll() {
      for (const get of [...pending]) get();
    },
  };
}

/**
 * Fastify lowercases the property names of a headers schema (request headers
 * arrive lowercased) only when its own default compiler is in use, and a
 * compilers factory counts as custom (lib/validation.js). No route of ours has
 * a headers schema under this compiler (the one headers schema, POST
 * /api/v1/vaccinations, has a compiler of its own); one that names a header
 * in capitals would silently never match, so it is refused at `ready()`.
 */
function refuseMixedCaseHeaders(route: RouteSchema): void {
  if (route.httpPart !== 'headers') return;
  const names: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (k === 'properties' && x && typeof x === 'object') names.push(...Object.keys(x));
        if (k === 'required' && Array.isArray(x)) names.push(...x.filter((n): n is string => typeof n === 'string'));
        walk(x);
      }
    }
  };
  walk(route.schema);
  const upper = names.find((n) => n !== n.toLowerCase());
  if (upper) throw new Error(`the headers schema of ${route.method} ${route.url} names "${upper}": write header names in lowercase`);
}
