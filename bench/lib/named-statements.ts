/**
 * An experiment, not production code: loaded into the server with
 * `npm run bench -- record --server-arg=--import=./bench/lib/named-statements.ts`,
 * it turns every parameterised query of `pg` into a named prepared statement
 * (parsed once per connection, its plan cached), to measure what preparing
 * the hot-path statements would save before anyone changes src/db.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

type Query = (this: unknown, config: unknown, values?: unknown, callback?: unknown) => unknown;
const proto = pg.Client.prototype as unknown as { query: Query };
const original = proto.query;
proto.query = function (this: unknown, config: unknown, values?: unknown, callback?: unknown) {
  if (typeof config === 'string' && Array.isArray(values) && values.length > 0) {
    const name = `q${createHash('sha1').update(config).digest('hex').slice(0, 16)}`;
    return original.call(this, { text: config, values, name }, callback);
  }
  return original.call(this, config, values, callback);
};
