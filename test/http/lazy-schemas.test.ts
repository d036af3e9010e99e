/**
 * Schemas compiled at a route's first request (src/http/lazy-schemas.ts)
 * answer exactly as Fastify's compilers at ready() do: the same errors for
 * bad input (all of them, with the app's ajv options), the same coercion of
 * query strings, the same serialised answers; and a schema that does not
 * compile is found by compileAll.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { lazySchemas, type LazySchemas } from '../../src/http/lazy-schemas.ts';

const AJV = { customOptions: { removeAdditional: false as const, coerceTypes: 'array' as const, allErrors: true } };

const Body = Type.Object(
  { name: Type.String({ minLength: 2 }), dose: Type.Integer({ minimum: 1 }), tags: Type.Optional(Type.Array(Type.String())) },
  { additionalProperties: false },
);
const Query = Type.Object({ ids: Type.Optional(Type.Array(Type.String())), limit: Type.Optional(Type.Integer()) });
const Answer = Type.Object({ id: Type.String(), n: Type.Integer() });

function build(lazy: LazySchemas | null): FastifyInstance {
  const app = Fastify({ ajv: AJV, ...(lazy ? { schemaController: { compilersFactory: lazy.compilersFactory } } : {}) });
  app.post('/things/:id', { schema: { params: Type.Object({ id: Type.String({ maxLength: 4 }) }), body: Body, querystring: Query, response: { 200: Answer, '4xx': Type.Object({ message: Type.String() }) } } }, async (req) => ({
    id: (req.params as { id: string }).id,
    n: (req.body as { dose: number }).dose,
    secret: 'not in the schema',
    query: req.query,
  }));
  app.get('/echo', { schema: { querystring: Query } }, async (req) => req.query);
  return app;
}

const REQUESTS = [
  { method: 'POST', url: '/things/ab?limit=3', payload: { name: 'Budi', dose: 2 } },
  { method: 'POST', url: '/things/ab', payload: { name: 'B', dose: 0, extra: true } },
  { method: 'POST', url: '/things/abcdef', payload: { name: 'Budi', dose: 1 } },
  { method: 'POST', url: '/things/ab?limit=x', payload: { name: 'Budi', dose: 1 } },
  { method: 'POST', url: '/things/ab', payload: { name: 'Budi', dose: '2', tags: 'one' } },
  { method: 'POST', url: '/things/ab', payload: '[]', headers: { 'content-type': 'application/json' } },
  { method: 'GET', url: '/echo?ids=a&limit=5' },
  { method: 'GET', url: '/echo?ids=a&ids=b' },
] as const;

describe('lazy schemas', () => {
  it('answer every request as the schemas compiled at ready() do', async () => {
    const eager = build(null);
    const lazy = build(lazySchemas());
    await Promise.all([eager.ready(), lazy.ready()]);
    for (const req of REQUESTS) {
      const [a, b] = [await eager.inject(req), await lazy.inject(req)];
      assert.equal(b.statusCode, a.statusCode, `${req.method} ${req.url}`);
      assert.equal(b.body, a.body, `${req.method} ${req.url}`);
    }
    // Not a vacuous comparison: errors were found, and a query coerced to an array.
    const bad = await lazy.inject(REQUESTS[1]);
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().message, 'body must NOT have additional properties, body/name must NOT have fewer than 2 characters, body/dose must be >= 1');
    assert.deepEqual((await lazy.inject(REQUESTS[6])).json(), { ids: ['a'], limit: 5 });
    await Promise.all([eager.close(), lazy.close()]);
  });

  it('compileAll compiles what no request has, and names a schema that does not compile', async () => {
    const lazy = lazySchemas();
    const app = build(lazy);
    app.get('/broken', { schema: { querystring: Type.Object({ q: Type.String({ pattern: '(' }) }) } }, async () => 'never');
    await app.ready();
    assert.throws(() => lazy.compileAll(), /querystring schema of GET \/broken does not compile/);
    assert.equal((await app.inject({ method: 'GET', url: '/broken?q=x' })).statusCode, 500);
    await app.close();
  });

  it('refuses a headers schema with a capital in a header name (Fastify lowercases them only for its own compiler)', async () => {
    const app = Fastify({ ajv: AJV, schemaController: { compilersFactory: lazySchemas().compilersFactory } });
    app.get('/h', { schema: { headers: Type.Object({ 'X-Key': Type.String() }) } }, async () => 'x');
    await assert.rejects(async () => {
      await app.ready();
    }, /names "X-Key": write header names in lowercase/);
  });
});
